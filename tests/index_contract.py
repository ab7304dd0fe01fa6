"""The contract every SearchIndex must pass, written once.

A test module subclasses `IndexContract` and provides two fixtures: `store`, an
`IndexStore` that opens handles on one fresh, empty index (every handle sees the same
data, as separate processes would), and `corpus` (from `tests/test_index_contract.py`).
Implementations without transactions set `atomic_replace = False`; they must still keep
a whole version of a document visible while it is replaced (it never vanishes) to every
query that reads one state of the index. Those whose queries are not snapshots (Weaviate
picks its candidates, then reads them) set `snapshot_reads = False`: a query that straddles
a whole replace can miss that document, whatever the order of writes, so they check the
order itself in their own tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import numpy as np
import pytest

from knowledge.documents import Chunk
from knowledge.index import IndexModelMismatch, SearchFilters, SearchIndex

MODEL = "all-MiniLM-L6-v2"
NO_FILTERS = SearchFilters()


@dataclass
class IndexStore:
    open: Callable[[], Awaitable[SearchIndex]]
    dimension: int


def code_chunk(document_id: str, ordinal: int, symbol: str, text: str, keywords: str, source: str = "repo") -> Chunk:
    return Chunk(
        source=source,
        document_id=document_id,
        ordinal=ordinal,
        kind="code",
        title=f"{document_id} {symbol}",
        url=f"https://git.example/{document_id}#L{ordinal}",
        path=document_id,
        text=text,
        keywords=f"{document_id} {keywords}",
        symbol=symbol,
        start_line=ordinal * 10 + 1,
        end_line=ordinal * 10 + 9,
    )


def page_chunk(document_id: str, ordinal: int, title: str, text: str, source: str = "wiki") -> Chunk:
    return Chunk(
        source=source,
        document_id=document_id,
        ordinal=ordinal,
        kind="page",
        title=title,
        url=f"https://wiki.example/{document_id}",
        path="",
        text=text,
        keywords=title,
        anchor=f"s{ordinal}",
    )


# A small team's knowledge: code in "repo", pages in "wiki". Document id → chunks.
DOCUMENTS: dict[str, list[Chunk]] = {
    "billing/retry.py": [
        code_chunk(
            "billing/retry.py",
            0,
            "billing.retry.retry_with_backoff",
            "def retry_with_backoff(call, attempts=5):\n    delay = 0.5\n    for attempt in range(attempts):\n"
            "        try:\n            return call()\n        except TransientError:\n"
            "            time.sleep(delay)\n            delay *= 2\n",
            "billing retry retry with backoff call attempts delay transient error",
        ),
    ],
    "auth/tokens.py": [
        code_chunk(
            "auth/tokens.py",
            0,
            "auth.tokens.refresh_access_token",
            "def refresh_access_token(session):\n    response = session.post(TOKEN_URL, data={'grant_type': "
            "'refresh_token', 'refresh_token': session.refresh_token})\n    session.access_token = "
            "response.json()['access_token']\n",
            "auth tokens refresh access token session response grant type",
        ),
        code_chunk(
            "auth/tokens.py",
            1,
            "auth.tokens.revoke",
            "def revoke(session):\n    session.post(REVOKE_URL, data={'token': session.access_token})\n",
            "auth tokens revoke session",
        ),
    ],
    "quota/limits.py": [
        code_chunk(
            "quota/limits.py",
            0,
            "quota.limits.check_quota",
            "def check_quota(account, requested):\n    if account.used + requested > account.limit:\n"
            "        raise QuotaExceeded('ERR_QUOTA_4711', account.id)\n",
            "quota limits check quota account requested used limit exceeded",
        ),
    ],
    "deploy": [
        page_chunk(
            "deploy",
            0,
            "Deploying to production",
            "Releases go out through the release pipeline. Merge to main, wait for the green build, "
            "then approve the rollout in the deployment dashboard. Canary first, then all regions.",
        ),
        page_chunk(
            "deploy",
            1,
            "Deploying to production",
            "Rolling back: open the deployment dashboard and pick the previous release.",
        ),
    ],
    "oncall": [
        page_chunk(
            "oncall",
            0,
            "On-call handbook",
            "When you are paged at night, acknowledge the alert within five minutes, open an incident "
            "channel and post a status update every thirty minutes.",
        ),
    ],
    "onboarding": [
        page_chunk(
            "onboarding",
            0,
            "Welcome aboard",
            "Your first week: get a laptop from IT, request access to the VPN and join the team "
            "channels. Your buddy will pair with you on a starter ticket.",
        ),
    ],
}


# Pages of an "hr" space with read restrictions (knowledge/restrictions.py): salaries only
# for the hr group; the offsite under a page only ann and bob may open, inside salaries.
HR_GROUP, ANN, BOB = "hr/group:hr", "hr/user:ann", "hr/user:bob"
RESTRICTED: dict[str, list[Chunk]] = {
    "salaries": [
        replace(
            page_chunk("salaries", 0, "Salary bands", "Salary bands and the deployment bonus.", source="hr"),
            restrictions=((HR_GROUP,),),
        )
    ],
    "offsite": [
        replace(
            page_chunk("offsite", 0, "Offsite salary review", "The salary review at the offsite.", source="hr"),
            restrictions=((ANN, BOB), (ANN, HR_GROUP)),
        )
    ],
}


@dataclass
class Corpus:
    vectors: dict[str, np.ndarray]  # chunk hash → vector
    embed: Callable[[str], np.ndarray]

    def of(self, chunks: list[Chunk]) -> np.ndarray:
        return np.stack([self.vectors[chunk.hash] for chunk in chunks])


async def fill(index: SearchIndex, corpus: Corpus, documents: dict[str, list[Chunk]] = DOCUMENTS) -> None:
    for document_id, chunks in documents.items():
        await index.replace_document(chunks[0].source, document_id, chunks, corpus.of(chunks))


def paths(hits) -> list[str]:
    return [hit.chunk.document_id for hit in hits]


def release_notes(document: str, n: int) -> list[Chunk]:
    """Version n of a release-notes page: n % 4 + 1 chunks, so versions differ in length."""
    return [
        page_chunk(document, i, "Release notes", f"release notes version v{n} part {i}", source="notes")
        for i in range(n % 4 + 1)
    ]


async def write_release_notes(
    index, documents: list[str], vector: np.ndarray, versions: range, written: dict[str, set[str]] | None = None
) -> None:
    """Replace each document with each version in turn; `written` collects every chunk text written."""
    for n in versions:
        for document in documents:
            chunks = release_notes(document, n)
            if written is not None:
                written[document].update(chunk.text for chunk in chunks)
            await index.replace_document("notes", document, chunks, np.tile(vector, (len(chunks), 1)))


class IndexContract:
    atomic_replace = True
    snapshot_reads = True

    @pytest.fixture
    async def index(self, store: IndexStore, corpus: Corpus):
        index = await store.open()
        await index.bind_model(MODEL, store.dimension)
        await fill(index, corpus)
        yield index
        await index.close()

    async def search(
        self,
        index: SearchIndex,
        corpus: Corpus,
        text: str,
        k: int = 5,
        alpha: float = 0.5,
        filters: SearchFilters = NO_FILTERS,
    ):
        return await index.query(text, corpus.embed(text), k, alpha, filters)

    async def test_finds_code_by_identifier_and_by_its_words(self, index, corpus):
        assert paths(await self.search(index, corpus, "retry_with_backoff", alpha=0.0))[0] == "billing/retry.py"
        assert paths(await self.search(index, corpus, "refresh access token"))[0] == "auth/tokens.py"
        assert paths(await self.search(index, corpus, "where is ERR_QUOTA_4711 raised?"))[0] == "quota/limits.py"

    async def test_finds_by_meaning(self, index, corpus):
        question = "how do we ship a new version to prod?"
        assert paths(await self.search(index, corpus, question, alpha=1.0))[0] == "deploy"
        assert paths(await self.search(index, corpus, question))[0] == "deploy"

    async def test_hybrid_beats_each_weak_side(self, index, corpus):
        paraphrase = "what should I do when my pager goes off late"  # no shared keyword worth much
        code = "where do we raise 4711"  # an opaque number: vectors alone are weak
        assert paths(await self.search(index, corpus, paraphrase, alpha=0.0))[:1] != ["oncall"]
        assert paths(await self.search(index, corpus, code, alpha=1.0))[:1] != ["quota/limits.py"]
        assert paths(await self.search(index, corpus, paraphrase))[0] == "oncall"
        assert paths(await self.search(index, corpus, code))[0] == "quota/limits.py"

    @pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
    async def test_filters_by_source_and_kind_on_both_sides(self, index, corpus, alpha):
        question = "deployment dashboard access token"
        wiki = await self.search(index, corpus, question, k=20, alpha=alpha, filters=SearchFilters(sources=("wiki",)))
        code = await self.search(index, corpus, question, k=20, alpha=alpha, filters=SearchFilters(kinds=("code",)))
        neither = await self.search(
            index, corpus, question, alpha=alpha, filters=SearchFilters(sources=("wiki",), kinds=("code",))
        )
        assert wiki and {hit.chunk.source for hit in wiki} == {"wiki"}
        assert code and {hit.chunk.kind for hit in code} == {"code"}
        assert neither == []

    @pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
    @pytest.mark.parametrize(
        ("readers", "visible"),
        [
            (None, {"salaries", "offsite"}),
            (frozenset(), set()),
            (frozenset({HR_GROUP}), {"salaries"}),
            (frozenset({BOB}), set()),
            (frozenset({BOB, HR_GROUP}), {"salaries", "offsite"}),
            (frozenset({ANN}), {"offsite"}),
            (frozenset({"other/group:hr"}), set()),
        ],
    )
    async def test_filters_by_readers_inside_the_query(self, index, corpus, alpha, readers, visible):
        for chunks in RESTRICTED.values():
            await index.replace_document("hr", chunks[0].document_id, chunks, self.vectors(corpus, chunks))
        question = "salary bands at the offsite"
        hits = await self.search(index, corpus, question, k=3, alpha=alpha, filters=SearchFilters(readers=readers))
        found = {hit.chunk.document_id for hit in hits}
        assert found & set(RESTRICTED) == visible
        if alpha > 0:  # k stays k: unrestricted chunks take the places of the filtered ones
            assert len(hits) == 3
        stored = [chunk for chunks in (*DOCUMENTS.values(), *RESTRICTED.values()) for chunk in chunks]
        assert all(hit.chunk in stored for hit in hits)  # restrictions come back as written

    async def test_restrictions_changed_in_place_are_filtered_at_once(self, index, corpus):
        chunks = RESTRICTED["salaries"]
        vectors = self.vectors(corpus, chunks)
        await index.replace_document("hr", "salaries", chunks, vectors)
        everyone = SearchFilters(readers=frozenset())
        assert "salaries" not in paths(await self.search(index, corpus, "salary bands", k=3, filters=everyone))
        opened = [replace(chunk, restrictions=()) for chunk in chunks]
        await index.replace_document("hr", "salaries", opened, vectors)
        assert "salaries" in paths(await self.search(index, corpus, "salary bands", k=3, filters=everyone))
        closed = [replace(chunk, restrictions=((ANN,),)) for chunk in chunks]
        await index.replace_document("hr", "salaries", closed, vectors)
        assert "salaries" not in paths(await self.search(index, corpus, "salary bands", k=3, filters=everyone))
        mine = SearchFilters(readers=frozenset({ANN}))
        hit = (await self.search(index, corpus, "salary bands", k=1, filters=mine))[0]
        assert hit.chunk == closed[0]

    @staticmethod
    def vectors(corpus: Corpus, chunks: list[Chunk]) -> np.ndarray:
        return np.stack([corpus.embed(chunk.embedding_text) for chunk in chunks])

    async def test_scores_are_normalized_and_sorted(self, index, corpus):
        for alpha in (0.0, 0.3, 0.5, 1.0):
            hits = await self.search(index, corpus, "rollback the release", k=4, alpha=alpha)
            assert 0 < len(hits) <= 4
            assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
            for hit in hits:
                assert 0.0 <= hit.score <= 1.0 and 0.0 <= hit.keyword_score <= 1.0 and 0.0 <= hit.vector_score <= 1.0
                # the ranking stage fuses a document's best side scores again, so they must add up
                assert hit.score == pytest.approx(alpha * hit.vector_score + (1 - alpha) * hit.keyword_score, abs=1e-3)
                assert -1.0 <= hit.similarity <= 1.0
            if alpha in (0.0, 1.0):  # one side only: its best candidate normalizes to 1
                assert hits[0].score == pytest.approx(1.0)

    @pytest.mark.parametrize("question", ["???", "the of and is", '"', "AND OR NOT NEAR(", "*", "", "a-b:c^d"])
    async def test_questions_without_keywords_do_not_crash(self, index, corpus, question):
        hits = await index.query(question, corpus.embed(question or "?"), 3, 0.5)
        assert len(hits) <= 3 and all(0.0 <= hit.score <= 1.0 for hit in hits)

    async def test_replace_is_idempotent_and_drops_stale_chunks(self, index, corpus):
        chunks = DOCUMENTS["deploy"]
        before = await index.stats()
        await index.replace_document("wiki", "deploy", chunks, corpus.of(chunks))
        assert await index.stats() == before
        rollback = await self.search(index, corpus, "rolling back", k=20, alpha=0.0)
        assert [hit.chunk.ordinal for hit in rollback if hit.chunk.document_id == "deploy"] == [1]

        await index.replace_document("wiki", "deploy", chunks[:1], corpus.of(chunks[:1]))
        after = await index.stats()
        assert after.chunks == before.chunks - 1 and after.documents == before.documents
        hits = await self.search(index, corpus, "rolling back", k=20, alpha=0.0)
        assert all(hit.chunk.ordinal == 0 for hit in hits if hit.chunk.document_id == "deploy")

    async def test_delete_document_and_source(self, index, store, corpus):
        await index.delete_document("repo", "auth/tokens.py")
        assert "auth/tokens.py" not in paths(await self.search(index, corpus, "refresh access token", k=20))
        stats = await index.stats()
        assert (stats.chunks, stats.documents) == (6, 5)
        await index.delete_source("wiki")
        hits = await self.search(index, corpus, "deployment dashboard on-call", k=20)
        assert hits and {hit.chunk.source for hit in hits} == {"repo"}
        assert (await index.stats()).sources == {"repo": 2}
        assert (await index.stats()).source_documents == {"repo": 2}
        await index.replace_document("repo", "quota/limits.py", [], np.zeros((0, store.dimension)))
        assert (await index.stats()).sources == {"repo": 1}

    async def test_returns_whole_chunks(self, index, corpus):
        hit = (await self.search(index, corpus, "retry_with_backoff", alpha=0.0))[0]
        assert hit.chunk == DOCUMENTS["billing/retry.py"][0]

    async def test_neighbours_are_the_documents_chunks_near_one(self, index, corpus):
        windows = [
            code_chunk("jobs/nightly.py", i, "jobs.nightly.run", f"settle batch {i}", "settle") for i in range(6)
        ]
        await index.replace_document("repo", "jobs/nightly.py", windows, np.tile(corpus.embed("settle"), (6, 1)))
        assert await index.neighbours(windows[2], 1) == windows[1:4]  # whole chunks, in order
        assert await index.neighbours(windows[0], 3) == windows[:4]
        assert await index.neighbours(DOCUMENTS["billing/retry.py"][0], 2) == DOCUMENTS["billing/retry.py"]
        await index.delete_document("repo", "jobs/nightly.py")
        assert await index.neighbours(windows[2], 1) == []

    async def test_vectors_by_hash(self, index, corpus):
        chunk = DOCUMENTS["oncall"][0]
        found = await index.vectors_by_hash([chunk.hash, "0" * 64, chunk.hash])
        assert set(found) == {chunk.hash}
        np.testing.assert_allclose(found[chunk.hash], corpus.vectors[chunk.hash], rtol=1e-5, atol=1e-6)
        assert await index.vectors_by_hash([]) == {}

    async def test_export_documents_gives_back_what_was_stored(self, index, store, corpus):
        await index.delete_document("repo", "quota/limits.py")
        exported = {(doc.source, doc.document_id): doc async for doc in index.export_documents()}
        expected = {key: chunks for key, chunks in DOCUMENTS.items() if key != "quota/limits.py"}
        assert set(exported) == {(chunks[0].source, key) for key, chunks in expected.items()}
        for (_, document_id), document in exported.items():
            assert document.chunks == tuple(expected[document_id])  # every field, in ordinal order
            np.testing.assert_array_equal(document.vectors, corpus.of(expected[document_id]))
        other = await store.open()  # another handle reads the very same versions
        try:
            assert {(doc.source, doc.document_id): doc.version async for doc in other.export_documents()} == {
                key: document.version for key, document in exported.items()
            }
            stats = await other.stats()
            assert (stats.model, stats.dimension) == (MODEL, store.dimension)
        finally:
            await other.close()

    async def test_bind_model(self, store, corpus):
        index = await store.open()
        try:
            await index.bind_model("other-model", 8)  # an empty index takes any model
            await index.bind_model(MODEL, store.dimension)
            await fill(index, corpus, {"oncall": DOCUMENTS["oncall"]})
            await index.bind_model(MODEL, store.dimension)
            assert (await index.stats()).model == MODEL
            with pytest.raises(IndexModelMismatch, match="other-model"):
                await index.bind_model("other-model", store.dimension)
            with pytest.raises(IndexModelMismatch):
                await index.bind_model(MODEL, store.dimension + 1)
        finally:
            await index.close()

    async def test_clear_empties_the_index_for_another_model(self, store, corpus):
        index = await store.open()
        try:
            await index.bind_model(MODEL, store.dimension)
            await fill(index, corpus, {"oncall": DOCUMENTS["oncall"]})
            await index.clear()
            assert (await index.stats()).chunks == 0
            await index.bind_model("smaller-model", 4)
            chunk = DOCUMENTS["oncall"][0]
            await index.replace_document(chunk.source, chunk.document_id, [chunk], np.eye(1, 4, dtype=np.float32))
            hits = await index.query("on-call", np.eye(1, 4, dtype=np.float32)[0], 5, 0.5)
            assert [hit.chunk.document_id for hit in hits] == [chunk.document_id]
        finally:
            await index.close()

    async def test_another_handle_sees_committed_changes(self, index, store, corpus):
        other = await store.open()
        try:
            assert paths(await self.search(other, corpus, "paged at night", alpha=1.0))[0] == "oncall"
            await index.delete_document("wiki", "oncall")
            news = [page_chunk("incidents", 0, "Incident reviews", "Every incident gets a blameless postmortem.")]
            corpus.vectors[news[0].hash] = corpus.embed(f"{news[0].title}\n{news[0].text}")
            await index.replace_document("wiki", "incidents", news, corpus.of(news))
            hits = await self.search(other, corpus, "blameless postmortem", k=20, alpha=1.0)
            assert paths(hits)[0] == "incidents" and "oncall" not in paths(hits)
            assert paths(await self.search(other, corpus, "postmortem", alpha=0.0)) == ["incidents"]
            assert (await other.stats()).documents == 6
        finally:
            await other.close()

    async def test_reader_sees_each_document_wholly_old_or_new(self, index, store, corpus):
        if not self.atomic_replace:
            pytest.skip("this index cannot replace a document atomically")
        vector = corpus.embed("release notes")

        documents = ["alpha", "beta", "gamma"]
        await write_release_notes(index, documents, vector, range(1))
        reader = await store.open()
        done = asyncio.Event()

        async def write() -> None:
            await write_release_notes(index, documents, vector, range(1, 25))
            done.set()

        async def read(handle: SearchIndex) -> int:
            checks = 0
            while not done.is_set() or checks == 0:
                hits = await handle.query("release notes", vector, 50, 0.5, SearchFilters(sources=("notes",)))
                seen: dict[str, set[str]] = {}
                for hit in hits:
                    seen.setdefault(hit.chunk.document_id, set()).add(hit.chunk.text)
                assert set(seen) == set(documents)
                for document, texts in seen.items():
                    versions = {text.split()[3] for text in texts}
                    assert len(versions) == 1, f"{document} mixes versions {versions}"
                    assert len(texts) == int(versions.pop()[1:]) % 4 + 1
                checks += 1
            return checks

        try:
            results = await asyncio.gather(write(), read(index), read(reader))
        finally:
            await reader.close()
        assert all(checks > 0 for checks in results[1:])

    async def test_keywords_alone_find_a_term_exactly_when_a_chunk_holds_it(self, index, corpus):
        """What knowledge.coverage relies on to tell a word the sources never use."""
        assert await self.search(index, corpus, "backoff", k=1, alpha=0.0)
        assert await self.search(index, corpus, "nushell", k=1, alpha=0.0) == []
        in_wiki_only = SearchFilters(sources=("wiki",))
        assert await self.search(index, corpus, "backoff", k=1, alpha=0.0, filters=in_wiki_only) == []

    async def test_splits_identifiers_in_questions_like_the_indexed_keywords(self, index, corpus):
        assert paths(await self.search(index, corpus, "refreshAccessToken", alpha=0.0))[0] == "auth/tokens.py"
        assert paths(await self.search(index, corpus, "CheckQuota limits", alpha=0.0))[0] == "quota/limits.py"

    async def test_accents_fold_on_both_sides(self, index, corpus):
        page = [page_chunk("cafe", 0, "Café menu", "The naïve barista's crème brûlée recipe.")]
        corpus.vectors[page[0].hash] = corpus.embed(page[0].embedding_text)
        await index.replace_document("wiki", "cafe", page, corpus.of(page))
        assert paths(await self.search(index, corpus, "cafe naive creme brulee", alpha=0.0))[:1] == ["cafe"]
        assert paths(await self.search(index, corpus, "CAFÉ", alpha=0.0))[:1] == ["cafe"]

    async def test_stats_count_every_source(self, store, corpus):
        index = await store.open()
        try:
            await index.bind_model(MODEL, store.dimension)
            chunk = DOCUMENTS["oncall"][0]
            vector = corpus.of([chunk])
            for n in range(120):  # more sources than a server's default group limit (100)
                await index.replace_document(f"source-{n}", "oncall", [replace(chunk, source=f"source-{n}")], vector)
            stats = await index.stats()
            assert (stats.chunks, stats.documents, len(stats.sources)) == (120, 120, 120)
        finally:
            await index.close()

    async def test_other_handles_carry_on_after_a_clear(self, index, store, corpus):
        other = await store.open()
        try:
            assert paths(await self.search(other, corpus, "paged at night", alpha=1.0))[0] == "oncall"
            await index.clear()
            assert await self.search(other, corpus, "paged at night") == []
            assert await other.vectors_by_hash([DOCUMENTS["oncall"][0].hash]) == {}
            assert (await other.stats()).chunks == 0
            await other.delete_document("wiki", "oncall")  # nothing to delete is not an error
            await other.bind_model(MODEL, store.dimension)
            chunks = DOCUMENTS["oncall"]
            await other.replace_document("wiki", "oncall", chunks, corpus.of(chunks))  # written again
            assert paths(await self.search(index, corpus, "paged at night", alpha=1.0)) == ["oncall"]
            assert (await index.stats()).model == MODEL
        finally:
            await other.close()

    async def test_bind_another_dimension_once_empty(self, store, corpus):
        index = await store.open()
        try:
            chunk = DOCUMENTS["oncall"][0]
            await index.bind_model("small-model", 4)
            await index.replace_document("wiki", "oncall", [chunk], np.eye(1, 4, dtype=np.float32))
            await index.delete_document("wiki", "oncall")
            await index.bind_model("wider-model", 8)  # empty again: another dimension is fine
            await index.replace_document("wiki", "oncall", [chunk], np.eye(1, 8, dtype=np.float32))
            hits = await index.query("paged at night", np.eye(1, 8, dtype=np.float32)[0], 5, 0.5)
            assert [hit.chunk for hit in hits] == [chunk] and hits[0].similarity == pytest.approx(1.0)
            assert (await index.stats()).model == "wider-model"
        finally:
            await index.close()

    async def test_a_document_being_replaced_never_vanishes(self, index, store, corpus):
        vector = corpus.embed("release notes")

        documents = ["alpha", "beta", "gamma"]
        written: dict[str, set[str]] = {document: set() for document in documents}
        await write_release_notes(index, documents, vector, range(1), written)
        reader = await store.open()
        done = asyncio.Event()

        async def write() -> None:
            await write_release_notes(index, documents, vector, range(1, 25), written)
            done.set()

        async def read(handle: SearchIndex) -> int:
            checks = 0
            while not done.is_set() or checks == 0:
                hits = await handle.query("release notes", vector, 50, 0.5, SearchFilters(sources=("notes",)))
                assert all(hit.chunk.text in written[hit.chunk.document_id] for hit in hits)
                if not self.snapshot_reads:
                    checks += 1
                    continue
                assert set(paths(hits)) == set(documents)
                for document in documents:  # and one whole version of it is always there
                    parts: dict[int, set[int]] = {}
                    for hit in hits:
                        if hit.chunk.document_id == document:
                            parts.setdefault(int(hit.chunk.text.split()[3][1:]), set()).add(hit.chunk.ordinal)
                    assert any(len(seen) == n % 4 + 1 for n, seen in parts.items()), f"{document}: {parts}"
                checks += 1
            return checks

        try:
            results = await asyncio.gather(write(), read(index), read(reader))
        finally:
            await reader.close()
        assert all(checks > 0 for checks in results[1:])
        final = await index.query("release notes", vector, 50, 0.5, SearchFilters(sources=("notes",)))
        assert sorted(hit.chunk.text for hit in final) == sorted(
            chunk.text for document in documents for chunk in release_notes(document, 24)
        )

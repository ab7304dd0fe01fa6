"""`lorebot reindex`: the embedded index copied into a real Weaviate server and back, with its
vectors, resumable, counts checked.

The indexes hold random vectors bound to a model name no embedder can load: a copy that
embedded anything would fail, or store vectors other than these.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from bot.cli import app
from knowledge.index import SearchIndex, StoredDocument
from knowledge.index.reindex import WRITES_IN_FLIGHT, Endpoint, ReindexError, copy_index
from knowledge.index.sqlite import SqliteIndex
from tests.index_contract import DOCUMENTS, code_chunk, page_chunk
from tests.weaviate_server import fresh_collection

MODEL = "random-vectors-16"  # not a model anything can load
DIMENSION = 16
QUESTIONS = ["deployment dashboard rollback", "refresh access token", "paged at night", "retry with backoff"]


def random_vectors(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(count, DIMENSION)).astype(np.float32)


async def fill(index: SearchIndex, documents: dict = DOCUMENTS) -> None:
    await index.bind_model(MODEL, DIMENSION)
    for n, (document_id, chunks) in enumerate(documents.items()):
        await index.replace_document(chunks[0].source, document_id, chunks, random_vectors(len(chunks), n))


async def exported(index: SearchIndex) -> dict[tuple[str, str], StoredDocument]:
    return {(doc.source, doc.document_id): doc async for doc in index.export_documents()}


async def versions(index: SearchIndex) -> dict[tuple[str, str], str]:
    return {key: document.version for key, document in (await exported(index)).items()}


async def nearest(index: SearchIndex) -> list[list[tuple[str, float]]]:
    """For each question's vector, the three nearest chunks and their cosine similarity."""
    found = []
    for n, question in enumerate(QUESTIONS):
        hits = await index.query(question, random_vectors(1, 100 + n)[0], 3, 1.0)
        found.append([(hit.chunk.id, round(hit.similarity, 5)) for hit in hits])
    return found


async def results(index: SearchIndex, alpha: float) -> list[set[tuple[str, float]]]:
    """For each question, the chunks found and their scores (a set: ties may come in any order)."""
    found = []
    for n, question in enumerate(QUESTIONS):
        hits = await index.query(question, random_vectors(1, 100 + n)[0], 10, alpha)
        found.append({(hit.chunk.id, round(hit.score, 5)) for hit in hits})
    return found


class Steps:
    """Progress that records each step and its documents; `stop_after` documents copied, it
    raises `Interrupted`, as a Ctrl-C or a lost connection would stop the copy."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.stop_after = stop_after
        self.done: dict[str, int] = {}
        self.totals: dict[str, int] = {}
        self.current = ""

    def step(self, description: str, total: int) -> None:
        self.current = description.split()[0]
        self.totals[self.current], self.done[self.current] = total, 0

    def advance(self) -> None:
        self.done[self.current] += 1
        if self.current == "Copying" and self.done[self.current] == self.stop_after:
            raise Interrupted


class Interrupted(Exception):
    pass


@pytest.fixture
async def embedded(tmp_path: Path):
    index = SqliteIndex(tmp_path / "data" / "index")
    await fill(index)
    yield index
    await index.close()


@pytest.fixture
async def weaviate(weaviate_server):
    index = weaviate_server.index(fresh_collection())
    yield index
    await index.clear()
    await index.close()


def lorebot(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


async def test_round_trip_through_weaviate_keeps_documents_vectors_and_results(weaviate_server, embedded, tmp_path):
    if not weaviate_server.own:
        pytest.skip("writes the default collection: only on a server started for the tests")
    before = await exported(embedded)
    env = {
        "DATA_DIR": str(tmp_path / "data"),
        "WEAVIATE_URL": weaviate_server.url,
        "WEAVIATE_GRPC_URL": weaviate_server.grpc_url,
        "EMBEDDING_MODEL": str(tmp_path / "no-such-model"),  # loading an embedder would fail
    }
    weaviate = weaviate_server.index("LorebotChunk")
    try:
        there = await asyncio.to_thread(lorebot, env, "reindex", "--to", "weaviate")
        assert there.exit_code == 0, there.output
        assert there.stdout.splitlines()[-1].startswith(
            f"Copied 6 documents to Weaviate at {weaviate_server.url} (0 already there, 0 removed); "
            f"both hold 6 documents and 8 chunks of {MODEL}, in "
        )
        stats = await weaviate.stats()
        assert (stats.documents, stats.chunks, stats.model, stats.dimension) == (6, 8, MODEL, DIMENSION)
        assert await versions(weaviate) == await versions(embedded)
        assert await nearest(weaviate) == await nearest(embedded)  # the same vectors, searched there

        back_env = {**env, "DATA_DIR": str(tmp_path / "back")}
        back = await asyncio.to_thread(lorebot, back_env, "reindex", "--to", "embedded")
        assert back.exit_code == 0, back.output
        assert f"Copied 6 documents to the embedded index in {tmp_path / 'back' / 'index'} " in back.stdout
        returned = SqliteIndex(tmp_path / "back" / "index")
        try:
            assert await returned.stats() == await embedded.stats()
            for key, document in (await exported(returned)).items():
                assert document.chunks == before[key].chunks
                np.testing.assert_array_equal(document.vectors, before[key].vectors)
            assert await results(returned, 0.5) == await results(embedded, 0.5)
        finally:
            await returned.close()

        again = await asyncio.to_thread(lorebot, env, "reindex", "--to", "weaviate")
        assert again.exit_code == 0, again.output
        assert "Copied 0 documents to Weaviate at " in again.stdout and "(6 already there, 0 removed)" in again.stdout
    finally:
        await weaviate.clear()
        await weaviate.close()


async def test_an_interrupted_copy_resumes_where_it_stopped(weaviate, tmp_path):
    files = {
        f"f{n}.py": [code_chunk(f"f{n}.py", i, "s", f"def f{n}_{i}(): ...", "") for i in (0, 1)] for n in range(40)
    }
    embedded = SqliteIndex(tmp_path / "index")
    try:
        await fill(embedded, files)
        source, target = Endpoint(embedded, "the embedded index"), Endpoint(weaviate, "Weaviate")
        with pytest.raises(Interrupted):
            await copy_index(source, target, Steps(stop_after=3))
        wanted, held = await versions(embedded), await versions(weaviate)
        whole = sum(1 for key, version in held.items() if wanted[key] == version)
        assert 3 <= whole <= 3 + WRITES_IN_FLIGHT  # what was done, and what was in flight then

        steps = Steps()
        summary = await copy_index(source, target, steps)
        assert (summary.copied, summary.unchanged, summary.removed) == (40 - whole, whole, 0)
        assert (summary.documents, summary.chunks) == (40, 80)
        assert steps.done == steps.totals == {"Reading": len(held), "Copying": 40}
        assert await versions(weaviate) == wanted
    finally:
        await embedded.close()


async def test_the_target_ends_a_mirror_of_the_source(weaviate, tmp_path):
    await fill(weaviate)
    edited = [page_chunk("oncall", 0, "On-call handbook", "Acknowledge pages within ten minutes.")]
    target = SqliteIndex(tmp_path / "index")
    try:
        await fill(target)  # the same six documents, then: one edited, one the source never had
        await target.replace_document("wiki", "oncall", edited, random_vectors(1, 99))
        extra = [page_chunk("retired", 0, "Retired page", "Nobody reads this.")]
        await target.replace_document("wiki", "retired", extra, random_vectors(1, 98))
        summary = await copy_index(Endpoint(weaviate, "Weaviate"), Endpoint(target, "the embedded index"), Steps())
        assert (summary.copied, summary.unchanged, summary.removed) == (1, 5, 1)
        assert await versions(target) == await versions(weaviate)
    finally:
        await target.close()


async def test_a_target_of_another_model_is_cleared_and_bound_to_the_source_model(embedded, weaviate):
    await weaviate.bind_model("another-model", 4)
    chunk = DOCUMENTS["oncall"][0]
    await weaviate.replace_document("wiki", "stale", [chunk], np.ones((1, 4), dtype=np.float32))
    summary = await copy_index(Endpoint(embedded, "the embedded index"), Endpoint(weaviate, "Weaviate"), Steps())
    assert (summary.copied, summary.removed, summary.documents) == (6, 0, 6)
    stats = await weaviate.stats()
    assert (stats.model, stats.dimension, stats.chunks) == (MODEL, DIMENSION, 8)


async def test_counts_that_differ_at_the_end_fail_with_one_clear_sentence(embedded, weaviate, tmp_path):
    async def write_news() -> None:
        writer = SqliteIndex(tmp_path / "data" / "index")  # another handle, as another process's
        news = [page_chunk("incidents", 0, "Incident reviews", "Every incident gets a postmortem.")]
        await writer.replace_document("wiki", "incidents", news, random_vectors(1, 50))
        await writer.close()

    class SyncMeanwhile(Steps):
        """A sync writes a new document into the source once the copy has listed what to copy."""

        def advance(self) -> None:
            super().advance()
            if self.current == "Copying" and self.done["Copying"] == 1:
                with ThreadPoolExecutor(1) as other_process:  # done before the copy goes on
                    other_process.submit(asyncio.run, write_news()).result()

    with pytest.raises(ReindexError) as failed:
        await copy_index(Endpoint(embedded, "the embedded index"), Endpoint(weaviate, "Weaviate"), SyncMeanwhile())
    assert str(failed.value) == (
        "The copy does not match: Weaviate holds 6 documents and 8 chunks, the embedded index 7 and 9; "
        "run the copy again (it resumes) while nothing else writes to either."
    )


def test_reindex_names_the_missing_setting_and_an_empty_source(tmp_path):
    env = {"DATA_DIR": str(tmp_path / "data")}
    unset = lorebot(env, "reindex", "--to", "weaviate")
    assert unset.exit_code == 1
    assert unset.stderr.strip() == (
        "lorebot: WEAVIATE_URL is not set: name the Weaviate server with it (and WEAVIATE_API_KEY, "
        "WEAVIATE_GRPC_URL when needed)."
    )
    empty = lorebot({**env, "WEAVIATE_URL": "http://127.0.0.1:9"}, "reindex", "--to", "weaviate")
    assert empty.exit_code == 1
    assert empty.stderr.strip() == (
        f"lorebot: Nothing to copy: the embedded index in {tmp_path / 'data' / 'index'} is empty "
        "(are DATA_DIR and WEAVIATE_URL right?)."
    )

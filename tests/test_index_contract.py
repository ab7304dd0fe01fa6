"""The SearchIndex contract on every implementation: the embedded SQLite index and a real
Weaviate server (the `weaviate_server` fixture: WEAVIATE_URL, or one built and started here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge.index.sqlite import SqliteIndex, query_terms
from tests.index_contract import IndexContract, IndexStore
from tests.weaviate_server import fresh_collection


class TestSqliteIndex(IndexContract):
    @pytest.fixture
    def store(self, tmp_path: Path, embedder) -> IndexStore:
        async def open_index() -> SqliteIndex:
            return SqliteIndex(tmp_path / "index")

        return IndexStore(open_index, embedder.dimension)


class TestWeaviateIndex(IndexContract):
    atomic_replace = False  # no transactions: a replace inserts the new version, then deletes the old
    snapshot_reads = False  # a query picks its candidates, then reads them (knowledge/index/weaviate.py)

    @pytest.fixture
    async def store(self, weaviate_server, embedder):
        collection = fresh_collection()

        async def open_index():
            return weaviate_server.index(collection)

        yield IndexStore(open_index, embedder.dimension)
        cleanup = await open_index()
        await cleanup.clear()
        await cleanup.close()


# SQLite specifics: the keyword query built from free text, and the in-memory matrix.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Where is the retry logic?", '"retry" OR "logic"'),
        ("getUserName", '"getusername" OR "user" OR "name"'),
        ("parse_HTTPResponse v2", '"parse" OR "httpresponse" OR "http" OR "response" OR "v2"'),
        ('AND "OR" NEAR(x, y) * -', '"near"'),
        ("??? !!", ""),
        ("how is it and what", ""),
    ],
)
def test_query_terms_are_quoted_without_stopwords(text, expected):
    assert " OR ".join(query_terms(text)) == expected


async def test_matrix_updated_in_place_matches_a_fresh_load(tmp_path: Path):
    from knowledge.index import SearchFilters
    from tests.index_contract import code_chunk

    rng = np.random.default_rng(7)
    writer = SqliteIndex(tmp_path)
    await writer.bind_model("m", 8)
    query = rng.normal(size=8).astype(np.float32)
    await writer.query("x", query, 1, 0.5)  # loads the (empty) matrix: later writes update it in place
    for n in range(40):
        document = f"f{n % 7}.py"
        chunks = [code_chunk(document, i, "s", f"body {n} {i}", "k") for i in range(n % 3 + 1)]
        await writer.replace_document("repo", document, chunks, rng.normal(size=(len(chunks), 8)))
        if n % 5 == 0:
            await writer.delete_document("repo", f"f{(n + 3) % 7}.py")
    fresh = SqliteIndex(tmp_path)
    for alpha in (1.0, 0.5):
        kept = await writer.query("body", query, 50, alpha, SearchFilters(kinds=("code",)))
        loaded = await fresh.query("body", query, 50, alpha, SearchFilters(kinds=("code",)))
        assert [(h.chunk, round(h.score, 5)) for h in kept] == [(h.chunk, round(h.score, 5)) for h in loaded]
    assert len(writer._vectors.slot_of) == (await writer.stats()).chunks
    await writer.close()
    await fresh.close()


async def test_keyword_budget_leaves_out_the_most_common_terms(tmp_path: Path):
    from tests.index_contract import code_chunk

    index = SqliteIndex(tmp_path, keyword_budget=10)
    await index.bind_model("m", 4)
    chunks = [
        code_chunk(f"f{n}.py", 0, "s", "common words everywhere" + (" rare" if n == 3 else ""), "") for n in range(30)
    ]
    for chunk in chunks:
        await index.replace_document("repo", chunk.document_id, [chunk], np.ones((1, 4)))
    kept = index._read(lambda conn: index._within_budget(conn, query_terms("common rare words")))
    assert kept == ['"rare"']
    hits = await index.query("common rare words", np.ones(4), 5, 0.0)
    assert [hit.chunk.document_id for hit in hits] == ["f3.py"]
    assert len(await index.query("common", np.ones(4), 50, 0.0)) == 30  # a lone term is always searched
    await index.close()


async def test_weaviate_index_constructs_without_a_server_and_reads_explain_scores():
    from knowledge.index.weaviate import WeaviateIndex, side_scores

    index = WeaviateIndex("http://127.0.0.1:9", None, collection="LorebotTest", grpc_url="http://127.0.0.1:10")
    assert index.name == "LorebotTest"
    await index.close()
    explain = (
        "Hybrid (Result Set keyword,bm25) Document a: original score 3.1, normalized score: 0.2 - \n"
        "Hybrid (Result Set vector,hybridVector) Document a: original score 0.9, normalized score: 0.6"
    )
    assert side_scores(explain, 0.6) == pytest.approx((0.5, 1.0))
    assert side_scores("", 0.5) == (0.0, 0.0)


async def test_an_index_of_an_older_schema_is_rebuilt(tmp_path: Path, caplog):
    import sqlite3

    directory = tmp_path / "index"
    directory.mkdir()
    old = sqlite3.connect(directory / "index.sqlite3")  # the tables as lorebot made them before schema 2
    old.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('generation', '7'), ('model', 'm'), ('dimension', '8');"
        "CREATE TABLE chunks (id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT, vector BLOB);"
        "INSERT INTO chunks (source, vector) VALUES ('repo', x'00');"
    )
    old.commit()
    old.close()
    with caplog.at_level("WARNING"):
        index = SqliteIndex(directory)
    assert "built by an older lorebot (schema 1, now 2)" in caplog.text
    assert (await index.stats()).chunks == 0
    await index.close()

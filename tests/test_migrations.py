"""Alembic upgrades an empty database to head on SQLite and PostgreSQL, is idempotent, and
any number of processes can run it at once on a fresh database."""

from sqlalchemy import inspect, text

from bot.db.engine import create_engine, upgrade
from bot.db.models import Base
from tests.processes import lorebot_process

STARTING_AT_ONCE = 4


async def _tables(database_url: str) -> set[str]:
    engine = create_engine(database_url)
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    return tables


async def _head(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    async with engine.connect() as connection:
        versions = list((await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    await engine.dispose()
    return versions


async def test_upgrade_from_empty_creates_every_model_table(database_url: str) -> None:
    await upgrade(database_url)
    await upgrade(database_url)  # a second run (as at every start) changes nothing

    tables = await _tables(database_url)
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


async def test_processes_upgrading_a_fresh_database_at_once_all_succeed(database_url: str, tmp_path) -> None:
    processes = [
        lorebot_process({"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "data")}, "db", "upgrade")
        for _ in range(STARTING_AT_ONCE)
    ]
    outcomes = [(process.wait(120), *process.communicate()) for process in processes]

    assert [(code, err) for code, _, err in outcomes] == [(0, "")] * STARTING_AT_ONCE
    assert all(out == "Database is up to date.\n" for _, out, _ in outcomes)
    assert set(Base.metadata.tables) <= await _tables(database_url)
    assert len(await _head(database_url)) == 1

"""Alembic upgrades an empty database to head on SQLite and PostgreSQL, and is idempotent."""

from sqlalchemy import inspect

from bot.db.engine import create_engine, upgrade
from bot.db.models import Base


async def test_upgrade_from_empty_creates_every_model_table(database_url: str) -> None:
    await upgrade(database_url)
    await upgrade(database_url)  # a second run (as at every start) changes nothing

    engine = create_engine(database_url)
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()

    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables

"""Sync leases in the database: who syncs a source now, until when.

One row per source being synced. Taking a lease is one atomic upsert that succeeds only
when no row exists or the row's lease has expired, so of any number of replicas exactly
one wins, and a crashed holder blocks the others only until its lease runs out. Times
come from PostgreSQL's clock when there is one (replicas on several machines then agree
on what "expired" means); SQLite serves one machine, whose clock is the process's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import models
from bot.db.models import as_utc


@dataclass(frozen=True)
class Lease:
    source: str
    holder: str
    acquired_at: datetime
    expires_at: datetime


class SqlLeases:
    """`bot.source_locks.LeaseStore` over SQLAlchemy (SQLite or PostgreSQL)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def acquire(self, source: str, holder: str, seconds: float) -> Lease:
        """Take the lease when it is free or expired; the lease as it stands after (held by
        `holder` when taken, else by whoever holds it)."""
        async with self.sessions.begin() as session:
            now = await _now(session)
            insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
            values = {"holder": holder, "acquired_at": now, "expires_at": now + timedelta(seconds=seconds)}
            statement = insert(models.SyncLease).values(source=source, **values)
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=[models.SyncLease.source], set_=values, where=models.SyncLease.expires_at <= now
                )
            )
            row = await session.get_one(models.SyncLease, source, populate_existing=True)
            return Lease(source, row.holder, as_utc(row.acquired_at), as_utc(row.expires_at))

    async def renew(self, source: str, holder: str, seconds: float) -> bool:
        """Extend `holder`'s lease; False when it holds it no longer (expired and taken)."""
        async with self.sessions.begin() as session:
            now = await _now(session)
            result = await session.execute(
                update(models.SyncLease)
                .where(models.SyncLease.source == source, models.SyncLease.holder == holder)
                .values(expires_at=now + timedelta(seconds=seconds))
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def release(self, source: str, holder: str) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                delete(models.SyncLease).where(models.SyncLease.source == source, models.SyncLease.holder == holder)
            )

    async def held(self) -> dict[str, Lease]:
        """Every unexpired lease by source."""
        async with self.sessions() as session:
            now = await _now(session)
            rows = await session.scalars(select(models.SyncLease).where(models.SyncLease.expires_at > now))
            return {
                row.source: Lease(row.source, row.holder, as_utc(row.acquired_at), as_utc(row.expires_at))
                for row in rows
            }


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def _now(session: AsyncSession) -> datetime:
    if _dialect(session) == "postgresql":
        moment = await session.scalar(select(func.clock_timestamp(type_=DateTime(timezone=True))))
        assert moment is not None
        return as_utc(moment)
    return datetime.now(UTC)

"""Claims on Slack events in `processed_events`, shared by every replica through the database.

A question is `claimed` by one replica (its owner) and becomes `answered` once the reply is
in the thread. While it works, the owner renews the claim's heartbeat; a claim whose
heartbeat is older than the cut-off belongs to a replica that died (or was stopped before
it finished), and another replica takes it over. Taking over is one conditional UPDATE
(`… WHERE state = 'claimed' AND heartbeat_at < cut-off`): of several replicas trying at
once exactly one changes the row, on PostgreSQL and SQLite alike, so a question is
answered once. Times are the replicas' own clocks (UTC); the claim timeout is far above
any clock skew between hosts kept by NTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import models
from bot.db.models import utcnow

CLAIMED = "claimed"
ANSWERED = "answered"
RELEASED_AT = datetime(1970, 1, 1, tzinfo=UTC)
"""The heartbeat of a claim its owner gave up at shutdown: stale for every cut-off."""
KEY_LENGTH = 200


@dataclass(frozen=True)
class Claim:
    """A question this replica now owns, with what an earlier owner left of its work."""

    key: str
    question: dict[str, Any]
    attempts: int
    created_at: datetime
    reply_ts: list[str]
    reply: list[dict[str, Any]] | None
    answer_id: int | None

    @property
    def late(self) -> bool:
        """Taken over from a replica that did not finish it."""
        return self.attempts > 1


def _claim(row: models.ProcessedEvent) -> Claim:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)  # SQLite: naive UTC
    return Claim(row.key, row.question or {}, row.attempts, created, row.reply_ts or [], row.reply, row.answer_id)


def _changed(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount


class SqlEventClaims:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def once(self, key: str) -> bool:
        """True the first time a key is seen, False ever after: at most once, for what is never retried
        (a reaction, a welcome)."""
        async with self.sessions() as session:
            session.add(models.ProcessedEvent(key=key[:KEY_LENGTH], state=ANSWERED))
            try:
                await session.commit()
            except IntegrityError:
                return False
        return True

    async def claim(self, key: str, owner: str, question: dict[str, Any], stale_before: datetime) -> Claim | None:
        """The claim on a new question, or on a redelivered one whose owner is gone; None for a duplicate
        (answered, or claimed by a live owner)."""
        now = utcnow()
        row = models.ProcessedEvent(
            key=key[:KEY_LENGTH], state=CLAIMED, owner=owner, heartbeat_at=now, created_at=now, question=question
        )
        async with self.sessions() as session:
            session.add(row)
            try:
                await session.commit()
            except IntegrityError:
                return await self.take_over(key, owner, stale_before)
        return _claim(row)

    async def take_over(self, key: str, owner: str, stale_before: datetime) -> Claim | None:
        """The claim, if it is still unanswered and its heartbeat older than `stale_before`; None when
        another replica holds it or got it first."""
        async with self.sessions() as session:
            result = await session.execute(
                update(models.ProcessedEvent)
                .where(
                    models.ProcessedEvent.key == key[:KEY_LENGTH],
                    models.ProcessedEvent.state == CLAIMED,
                    models.ProcessedEvent.heartbeat_at < stale_before,
                )
                .values(owner=owner, heartbeat_at=utcnow(), attempts=models.ProcessedEvent.attempts + 1)
            )
            await session.commit()
            if _changed(result) != 1:
                return None
            row = await session.get(models.ProcessedEvent, key[:KEY_LENGTH])
            assert row is not None
            return _claim(row)

    async def stale(self, stale_before: datetime, max_attempts: int, limit: int = 100) -> list[str]:
        """Keys of unanswered questions whose owner stopped renewing them, oldest first."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(models.ProcessedEvent.key)
                .where(
                    models.ProcessedEvent.state == CLAIMED,
                    models.ProcessedEvent.heartbeat_at < stale_before,
                    models.ProcessedEvent.attempts < max_attempts,
                )
                .order_by(models.ProcessedEvent.created_at)
                .limit(limit)
            )
            return list(rows)

    async def heartbeat(self, owner: str, keys: list[str]) -> None:
        await self._set(owner, keys, heartbeat_at=utcnow())

    async def release(self, owner: str, keys: list[str]) -> None:
        """Give unfinished claims up (at shutdown), so the next replica to look takes them at once."""
        await self._set(owner, keys, heartbeat_at=RELEASED_AT)

    async def replied_in(self, key: str, owner: str, reply_ts: list[str]) -> None:
        """The owner's messages in the thread so far."""
        await self._set(owner, [key], reply_ts=reply_ts)

    async def store_reply(self, key: str, owner: str, reply: list[dict[str, Any]], answer_id: int | None) -> None:
        """The finished reply, before it is posted."""
        await self._set(owner, [key], reply=reply, answer_id=answer_id)

    async def answered(self, key: str, owner: str) -> bool:
        """Mark the question answered; False if this owner no longer held it (another replica took over)."""
        return await self._set(owner, [key], state=ANSWERED, answered_at=utcnow()) == 1

    async def prune(self, before: datetime) -> int:
        """Forget events first seen before `before`; returns how many."""
        async with self.sessions() as session:
            result = await session.execute(
                delete(models.ProcessedEvent).where(models.ProcessedEvent.created_at < before)
            )
            await session.commit()
            return _changed(result)

    async def _set(self, owner: str, keys: list[str], **values: Any) -> int:
        if not keys:
            return 0
        async with self.sessions() as session:
            result = await session.execute(
                update(models.ProcessedEvent)
                .where(
                    models.ProcessedEvent.key.in_([key[:KEY_LENGTH] for key in keys]),
                    models.ProcessedEvent.owner == owner,
                    models.ProcessedEvent.state == CLAIMED,
                )
                .values(**values)
            )
            await session.commit()
            return _changed(result)

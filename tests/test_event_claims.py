"""Event claims on SQLite and PostgreSQL: at most once, taken over from a stopped owner exactly once, pruned."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.db.engine import create_engine, session_factory
from bot.db.event_claims import SqlEventClaims
from bot.db.models import utcnow
from bot.slack.claims import ReplicaClaims

QUESTION = {"channel_id": "C1", "text": "where is the retry logic?"}


@pytest.fixture
def claims(sessions: async_sessionmaker) -> SqlEventClaims:
    return SqlEventClaims(sessions)


def later() -> object:
    """A cut-off after every heartbeat so far: each claim not renewed since counts as stale."""
    return utcnow() + timedelta(seconds=1)


async def test_once_is_true_once_also_for_a_new_store(claims: SqlEventClaims, database_url: str) -> None:
    assert await claims.once("event:Ev1")
    assert not await claims.once("event:Ev1")
    engine = create_engine(database_url)
    try:
        restarted = SqlEventClaims(session_factory(engine))
        assert not await restarted.once("event:Ev1")
        assert await restarted.once("event:Ev2")
    finally:
        await engine.dispose()


async def test_a_live_owners_claim_is_a_duplicate_a_stale_one_is_taken_over(claims: SqlEventClaims) -> None:
    first = await claims.claim("message:C1:1.0", "a", QUESTION, utcnow() - timedelta(seconds=60))
    assert first is not None and not first.late and first.question == QUESTION

    assert await claims.claim("message:C1:1.0", "b", QUESTION, utcnow() - timedelta(seconds=60)) is None
    taken = await claims.claim("message:C1:1.0", "b", QUESTION, later())  # a redelivery after a dies
    assert taken is not None and taken.late and taken.attempts == 2 and taken.question == QUESTION
    assert not await claims.answered("message:C1:1.0", "a")  # a woke up: no longer its claim
    assert await claims.answered("message:C1:1.0", "b")
    assert await claims.claim("message:C1:1.0", "c", QUESTION, later()) is None  # answered: never again
    assert await claims.stale(later(), max_attempts=10) == []


async def test_a_renewed_heartbeat_keeps_the_claim(claims: SqlEventClaims) -> None:
    await claims.claim("message:C1:1.0", "a", QUESTION, utcnow())
    cut_off = utcnow()
    await claims.heartbeat("a", ["message:C1:1.0"])
    assert await claims.take_over("message:C1:1.0", "b", cut_off) is None
    assert await claims.stale(cut_off, max_attempts=10) == []
    await claims.release("a", ["message:C1:1.0"])  # a stops: stale for any cut-off
    assert await claims.stale(cut_off, max_attempts=10) == ["message:C1:1.0"]


async def test_the_reply_so_far_passes_to_whoever_takes_over(claims: SqlEventClaims) -> None:
    await claims.claim("message:C1:1.0", "a", QUESTION, utcnow())
    await claims.replied_in("message:C1:1.0", "a", ["1.1"])
    await claims.store_reply("message:C1:1.0", "a", [{"text": "It retries [1].", "blocks": []}], 7)
    taken = await claims.take_over("message:C1:1.0", "b", later())
    assert taken is not None
    assert taken.reply_ts == ["1.1"] and taken.reply == [{"text": "It retries [1].", "blocks": []}]
    assert taken.answer_id == 7


async def test_many_replicas_taking_over_at_once_one_wins(claims: SqlEventClaims, database_url: str) -> None:
    await claims.claim("message:C1:1.0", "dead", QUESTION, utcnow())
    await claims.release("dead", ["message:C1:1.0"])
    cut_off = utcnow() - timedelta(seconds=60)  # as replicas compute it: now minus the claim timeout
    engines = [create_engine(database_url) for _ in range(8)]
    try:
        stores = [SqlEventClaims(session_factory(engine)) for engine in engines]
        won = await asyncio.gather(
            *(store.take_over("message:C1:1.0", f"replica-{n}", cut_off) for n, store in enumerate(stores))
        )
    finally:
        for engine in engines:
            await engine.dispose()
    assert len([claim for claim in won if claim is not None]) == 1


async def test_a_question_is_tried_max_attempts_times(claims: SqlEventClaims) -> None:
    await claims.claim("message:C1:1.0", "a", QUESTION, utcnow())
    assert await claims.take_over("message:C1:1.0", "b", later()) is not None
    assert await claims.stale(later(), max_attempts=3) == ["message:C1:1.0"]
    assert await claims.take_over("message:C1:1.0", "c", later()) is not None
    assert await claims.stale(later(), max_attempts=3) == []


async def test_pruning_removes_old_rows_only(claims: SqlEventClaims) -> None:
    await claims.once("event:old")
    await claims.claim("message:C1:old", "a", QUESTION, utcnow())
    cut_off = utcnow()
    await asyncio.sleep(0.01)  # distinct timestamps on either side of the cut-off
    await claims.once("event:new")
    await claims.claim("message:C1:new", "a", QUESTION, utcnow())

    assert await claims.prune(cut_off) == 2
    assert await claims.once("event:old")  # forgotten
    assert not await claims.once("event:new")
    assert await claims.claim("message:C1:new", "b", QUESTION, utcnow() - timedelta(seconds=60)) is None
    assert await claims.prune(cut_off) == 0


async def test_a_replica_never_takes_over_a_question_it_is_still_answering(claims: SqlEventClaims) -> None:
    replica = ReplicaClaims(claims, "a", timeout=0.0)  # every heartbeat already stale
    claim = await replica.claim("message:C1:1.0", QUESTION)
    assert claim is not None
    async with replica.held(claim):
        assert await replica.take_over_stale(max_attempts=3) == []  # late heartbeat, live work
    [again] = await replica.take_over_stale(max_attempts=3)  # its task ended without an answer
    assert again.key == "message:C1:1.0" and again.late

"""Sync leases on SQLite and real PostgreSQL: one holder at a time, expiry, renewal, release,
and `SourceLocks` stopping a sync whose lease another replica took over."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.db import models
from bot.db.engine import create_engine, session_factory
from bot.db.leases import SqlLeases
from bot.source_locks import LeaseLost, SourceLocked, SourceLocks
from tests.waiting import eventually


@pytest.fixture
def leases(sessions: async_sessionmaker) -> SqlLeases:
    return SqlLeases(sessions)


async def test_one_holder_at_a_time_until_released(leases: SqlLeases) -> None:
    first = await leases.acquire("backend", "a:1", 60)
    assert first.holder == "a:1" and first.expires_at > first.acquired_at
    refused = await leases.acquire("backend", "b:2", 60)
    assert refused == first  # the lease as it stands: a's
    assert (await leases.acquire("backend", "a:1", 60)).acquired_at == first.acquired_at  # not re-entrant
    assert (await leases.acquire("wiki", "b:2", 60)).holder == "b:2"  # other sources are free
    assert set(await leases.held()) == {"backend", "wiki"}

    await leases.release("backend", "b:2")  # not b's to release
    assert (await leases.held())["backend"].holder == "a:1"
    await leases.release("backend", "a:1")
    assert (await leases.acquire("backend", "b:2", 60)).holder == "b:2"


async def test_an_expired_lease_is_taken_over_and_its_holder_cannot_renew(leases: SqlLeases) -> None:
    crashed = await leases.acquire("backend", "a:1", 0.2)
    async with asyncio.timeout(30):
        while (taken := await leases.acquire("backend", "b:2", 60)).holder != "b:2":
            await asyncio.sleep(0.05)
    assert taken.acquired_at >= crashed.expires_at
    assert not await leases.renew("backend", "a:1", 60)
    assert await leases.renew("backend", "b:2", 60)
    assert (await leases.held())["backend"].expires_at > taken.expires_at


async def test_expired_leases_are_not_listed_as_held(leases: SqlLeases) -> None:
    gone = await leases.acquire("backend", "a:1", 0.1)
    await leases.acquire("wiki", "a:1", 60)
    async with asyncio.timeout(30):
        while "backend" in (held := await leases.held()):
            await asyncio.sleep(0.05)
    assert set(held) == {"wiki"}
    assert (await leases.acquire("backend", "b:2", 60)).acquired_at >= gone.expires_at


async def test_source_locks_hold_renew_and_release(leases: SqlLeases) -> None:
    ours = SourceLocks(leases, "a:1", lease_seconds=0.3)
    theirs = SourceLocks(leases, "b:2", lease_seconds=0.3)
    async with ours.hold("backend"):
        first = (await leases.held())["backend"]

        async def renewed() -> bool:
            return (await leases.held())["backend"].expires_at > first.expires_at

        await eventually(renewed, timeout=30)
        with pytest.raises(SourceLocked, match="backend is being synced by a:1"):
            async with theirs.hold("backend"):
                pytest.fail("two holders")
    assert theirs.waits == {"backend": 1} and not ours.waits
    assert "backend" not in await leases.held()


async def test_a_waiting_holder_gets_the_lease_once_it_is_released(leases: SqlLeases) -> None:
    ours = SourceLocks(leases, "a:1", lease_seconds=30)
    theirs = SourceLocks(leases, "b:2", lease_seconds=30, poll_seconds=0.05)
    order: list[str] = []
    release = asyncio.Event()

    async def hold_until_released() -> None:
        async with ours.hold("backend"):
            order.append("a holds")
            await release.wait()
            order.append("a releases")

    holding = asyncio.create_task(hold_until_released())

    async def holds() -> bool:
        return bool(order)

    await eventually(holds, timeout=30)

    async def wait_for_it() -> None:
        async with theirs.hold("backend", wait=True):
            order.append("b holds")

    waiting = asyncio.create_task(wait_for_it())

    async def waits() -> bool:
        return bool(theirs.waits)

    await eventually(waits, timeout=30)
    release.set()
    await asyncio.gather(holding, waiting)
    assert order == ["a holds", "a releases", "b holds"]
    assert theirs.waits == {"backend": 1}  # counted once per wait, however many polls


async def test_a_sync_whose_lease_was_taken_over_is_stopped(leases: SqlLeases, database_url: str) -> None:
    locks = SourceLocks(leases, "a:1", lease_seconds=0.3)
    engine = create_engine(database_url)
    with pytest.raises(LeaseLost, match="another replica took it over"):
        async with locks.hold("backend"):
            async with session_factory(engine).begin() as session:  # what a takeover after expiry writes
                await session.execute(
                    update(models.SyncLease).where(models.SyncLease.source == "backend").values(holder="b:2")
                )
            await asyncio.Event().wait()  # a sync that would run for ever
    await engine.dispose()
    assert (await leases.held())["backend"].holder == "b:2"  # the new holder's lease is left alone


async def test_cancelling_a_holder_releases_the_lease(leases: SqlLeases) -> None:
    locks = SourceLocks(leases, "a:1", lease_seconds=30)
    entered = asyncio.Event()

    async def sync_for_ever() -> None:
        async with locks.hold("backend"):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(sync_for_ever())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "backend" not in await leases.held()

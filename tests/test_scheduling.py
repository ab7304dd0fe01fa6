"""The scheduler in one process on SQLite, with the real sync pipeline, index and model: a
short interval syncs on schedule, slot after slot; a trigger while a sync runs starts no
second run (max_instances) and a second caller finds the source's lease held."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobExecutionEvent
from sqlalchemy import select

from bot.db import models
from bot.db.engine import create_engine, session_factory, upgrade
from bot.db.leases import SqlLeases
from bot.db.models import as_utc
from bot.db.sync_state import SqlSyncState
from bot.observability.metrics import Metrics
from bot.scheduling import SyncScheduler
from bot.source_locks import SourceLocked, SourceLocks
from bot.syncing import SyncService
from knowledge.documents import Document
from knowledge.index.sqlite import SqliteIndex
from knowledge.schedule import Schedule
from knowledge.sources import Change, Checkpoint, Source
from knowledge.sources.connectors import SourceContext, build_sources
from knowledge.sync import SyncPipeline
from tests.sample_repo import SampleRepo
from tests.waiting import eventually

EVERY_SECOND = Schedule(interval_seconds=1)


class GatedSource:
    """A source whose sync waits until the test opens the gate; counts syncs in flight."""

    name = "gated"
    kind = "test"

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0
        self.started = 0

    async def changes(self, cursor: str | None, indexed: Mapping[str, str]) -> AsyncIterator[Change]:
        self.started += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.gate.wait()
            yield Document("gated", "notes.txt", "code", "notes", "https://example.com", "gated notes\n", "1", "text")
            yield Checkpoint("1")
        finally:
            self.in_flight -= 1


@pytest.fixture
async def parts(tmp_path: Path, embedder) -> AsyncIterator[tuple[SyncPipeline, SqlSyncState, SqlLeases]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lorebot.db'}"
    await upgrade(url)
    engine = create_engine(url)
    index = SqliteIndex(tmp_path / "index")
    await index.bind_model(embedder.model_name, embedder.dimension)
    state = SqlSyncState(session_factory(engine), "replica-a")
    yield SyncPipeline(index, embedder, state), state, SqlLeases(session_factory(engine))
    await index.close()
    await engine.dispose()


def service_of(sources: list[Source], parts, holder: str = "replica-a") -> SyncService:
    pipeline, state, leases = parts
    return SyncService(sources, pipeline, SourceLocks(leases, holder, lease_seconds=30), state)


async def test_a_short_interval_syncs_on_schedule(parts, tmp_path: Path) -> None:
    repo = SampleRepo.with_sample_files(tmp_path / "widgets")
    (configured,) = build_sources([{"kind": "git", "url": str(repo.path)}], SourceContext(tmp_path / "data", 10**6))
    state = parts[1]
    scheduler = SyncScheduler(service_of([configured.source], parts), {"widgets": EVERY_SECOND}, 0.0, Metrics())
    scheduler.start()
    try:

        async def finished_runs() -> list[models.SyncRun]:
            # Every run, not the latest: a slot missed while the first run embedded fires as soon
            # as it ends, so polling the latest run alone can miss the first one.
            async with state.sessions() as session:
                finished = models.SyncRun.finished_at.is_not(None)
                query = select(models.SyncRun).where(finished).order_by(models.SyncRun.id)
                return list((await session.scalars(query)).all())

        async def three_runs() -> bool:
            return len(await finished_runs()) >= 3

        await eventually(three_runs)
    finally:
        await scheduler.close()
    runs = await finished_runs()
    assert runs[0].added > 0 and runs[0].error is None  # the first run at start indexes the repository
    for earlier, later in zip(runs, runs[1:], strict=False):
        # one run per slot, never early
        assert as_utc(later.started_at) >= EVERY_SECOND.next_fire(as_utc(earlier.started_at))
        assert (later.added, later.updated, later.deleted, later.error) == (0, 0, 0, None)  # incremental


async def test_an_overlapping_trigger_starts_no_second_run(parts) -> None:
    source = GatedSource()
    service = service_of([source], parts)
    scheduler = SyncScheduler(service, {"gated": EVERY_SECOND}, 0.0, Metrics())
    skipped: list[JobExecutionEvent] = []
    scheduler.scheduler.add_listener(skipped.append, EVENT_JOB_MAX_INSTANCES)
    scheduler.start()
    try:

        async def triggered_twice_while_running() -> bool:
            return source.started == 1 and len(skipped) >= 2

        await eventually(triggered_twice_while_running)
        with pytest.raises(SourceLocked, match="gated is being synced by replica-a"):  # another caller: the lease
            await service_of([source], parts, holder="replica-b").sync_if_due("gated", EVERY_SECOND)
        source.gate.set()

        async def finished() -> bool:
            run = (await parts[1].last_runs()).get("gated")
            return run is not None and run.finished is not None

        await eventually(finished)
    finally:
        await scheduler.close()
    assert source.most_in_flight == 1


async def test_closing_the_scheduler_cancels_a_sync_and_releases_its_lease(parts) -> None:
    source = GatedSource()
    scheduler = SyncScheduler(service_of([source], parts), {"gated": EVERY_SECOND}, 0.0, Metrics())
    scheduler.start()
    leases = parts[2]

    async def held() -> bool:
        return "gated" in await leases.held()

    await eventually(held)
    await scheduler.close()
    assert source.in_flight == 0
    assert not await leases.held()

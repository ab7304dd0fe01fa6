"""Syncing the configured sources: one service for `lorebot sync` and the scheduler.

Every sync of a source runs while this replica holds the source's lease
(`bot.source_locks`): `lorebot sync` waits for another replica's sync to finish, the
scheduler skips a source another replica is syncing and, under the lease, syncs only
when the schedule says it is due since the last run, whoever ran it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from bot.source_locks import SourceLocks
from knowledge.schedule import Schedule
from knowledge.sources import Source, SourceConfigError
from knowledge.sync import SyncPipeline, SyncSummary

logger = logging.getLogger(__name__)

NO_SOURCES = (
    "No sources are configured: set REPOS (git URLs or local paths) and/or CONFLUENCE_URL with CONFLUENCE_SPACES."
)


class StartedRun(Protocol):
    @property
    def started(self) -> datetime: ...


class RunHistory(Protocol):
    async def last_runs(self) -> Mapping[str, StartedRun]:
        """Every source's latest sync run, by name."""
        ...


class SyncService:
    def __init__(
        self, sources: Sequence[Source], pipeline: SyncPipeline, locks: SourceLocks, history: RunHistory
    ) -> None:
        self.sources = {source.name: source for source in sources}
        self.pipeline = pipeline
        self.locks = locks
        self.history = history

    def select(self, names: Sequence[str] = ()) -> list[Source]:
        if not self.sources:
            raise SourceConfigError(NO_SOURCES)
        unknown = [name for name in names if name not in self.sources]
        if unknown:
            raise SourceConfigError(
                f"No source named {', '.join(unknown)}; configured: {', '.join(self.sources) or 'none'}."
            )
        return [self.sources[name] for name in names] if names else list(self.sources.values())

    async def sync(self, names: Sequence[str] = (), full: bool = False) -> list[SyncSummary]:
        """Sync the named sources (all when none are named), each once no other replica is
        syncing it; syncing all also removes from the index every source that is no longer
        configured."""
        summaries = []
        for source in self.select(names):
            async with self.locks.hold(source.name, wait=True):
                summaries.append(await self.pipeline.sync(source, full))
        if not names:
            summaries += await self.remove_unconfigured()
        return summaries

    async def sync_if_due(self, name: str, schedule: Schedule) -> SyncSummary | None:
        """Sync `name` if `schedule` says it is due since its last run; None when it is not.
        Raises `SourceLocked` when another replica is syncing it."""
        async with self.locks.hold(name):
            last = (await self.history.last_runs()).get(name)
            if not schedule.due(last.started if last else None, datetime.now(UTC)):
                return None
            return await self.pipeline.sync(self.sources[name])

    async def remove_unconfigured(self) -> list[SyncSummary]:
        return await self.pipeline.remove_sources_except(set(self.sources))

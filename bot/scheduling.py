"""Re-syncing every source on its schedule while the bot runs (APScheduler, one job per source).

Each replica runs a job per source on the source's grid (knowledge/schedule.py) with
jitter. A job never overlaps itself (max_instances=1), missed runs collapse into one
(coalesce), and another replica's sync of the same source is skipped (the lease), as is
a slot another replica has synced already (the due check under the lease).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.observability.metrics import Metrics
from bot.source_locks import SourceLocked
from bot.syncing import SyncService
from knowledge.errors import LorebotError
from knowledge.schedule import Schedule

logger = logging.getLogger(__name__)


class SyncScheduler:
    def __init__(
        self, service: SyncService, schedules: Mapping[str, Schedule], max_jitter_seconds: float, metrics: Metrics
    ) -> None:
        self.service = service
        self.metrics = metrics
        self.schedules = schedules
        self.max_jitter_seconds = max_jitter_seconds
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._running: set[asyncio.Task] = set()
        self._closing = False

    def start(self) -> None:
        """A job per source: a first check now (a run missed while nothing ran happens at
        once), then on the source's schedule."""
        now = datetime.now(UTC)
        for name in self.service.sources:
            trigger = self.schedules[name].trigger(self.max_jitter_seconds, now)
            self.scheduler.add_job(
                self._sync_one,
                trigger,
                args=[name],
                id=f"sync:{name}",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
                next_run_time=now,
            )
            logger.info("scheduled %s: %s", name, trigger)
        self.scheduler.start()

    async def close(self) -> None:
        """Stop scheduling and cancel syncs in flight, which releases their leases; a
        cancelled sync resumes from its last checkpoint at the next run, on any replica."""
        self._closing = True
        self.scheduler.shutdown(wait=False)
        for task in self._running:
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    async def _sync_one(self, name: str) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        try:
            summary = await self.service.sync_if_due(name, self.schedules[name])
        except SourceLocked as exc:
            logger.info("scheduled sync skipped: %s", exc)
            return
        except LorebotError as exc:
            logger.warning("scheduled sync of %s stopped: %s", name, exc)
            return
        except asyncio.CancelledError:
            if not self._closing:
                raise
            logger.info("scheduled sync of %s cancelled: shutting down", name)
            return
        finally:
            self._running.discard(task)
        if summary is not None:
            self.metrics.synced(summary)
        if summary is None:
            logger.debug("scheduled sync of %s: not due, synced since its last slot", name)
        elif summary.error:
            logger.warning("scheduled sync of %s failed: %s", name, summary.error)
        else:
            logger.info(
                "scheduled sync of %s: +%d ~%d -%d, %d secrets redacted, %d chunks embedded in %.1fs",
                name,
                summary.added,
                summary.updated,
                summary.deleted,
                summary.redacted,
                summary.chunks_embedded,
                summary.seconds,
            )

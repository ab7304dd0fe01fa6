"""Re-syncing every source on a schedule while the bot runs (APScheduler, one job per source)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.observability.metrics import Metrics
from bot.syncing import SyncService

logger = logging.getLogger(__name__)


def start_sync_scheduler(service: SyncService, interval_minutes: int, metrics: Metrics) -> AsyncIOScheduler:
    """Start a job per source: first run now, then every `interval_minutes`.

    A job never overlaps itself (max_instances=1) and missed runs collapse into one.
    """
    scheduler = AsyncIOScheduler(timezone=UTC)
    for name in service.sources:
        scheduler.add_job(
            _sync_one,
            "interval",
            minutes=interval_minutes,
            args=[service, name, metrics],
            id=f"sync:{name}",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
    scheduler.start()
    return scheduler


async def _sync_one(service: SyncService, name: str, metrics: Metrics) -> None:
    (summary,) = await service.sync([name])
    metrics.synced(summary)
    if summary.error:
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

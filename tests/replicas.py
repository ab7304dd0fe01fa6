"""Several `lorebot run` replicas as real processes against one PostgreSQL, the Slack
emulator and shared sources, and what their sync runs recorded (tests and bench)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from bot.db import models
from bot.db.engine import create_engine, session_factory
from bot.db.models import as_utc
from tests.fakes.slack_server import FakeSlack
from tests.processes import lorebot_process


@dataclass(frozen=True)
class RecordedRun:
    source: str
    holder: str | None
    started: datetime
    finished: datetime | None


def replica_env(fake: FakeSlack, database_url: str, data_dir: Path, config: Path, lease_seconds: float) -> dict:
    return {
        "DATABASE_URL": database_url,
        "DATA_DIR": str(data_dir),  # shared: one embedded index, as one Weaviate would be
        "LOREBOT_CONFIG": str(config),
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_APP_TOKEN": fake.app_token,
        "SLACK_API_URL": fake.base_url,
        "SYNC_LEASE_SECONDS": str(lease_seconds),
        "SYNC_JITTER_SECONDS": "0.2",
        "HTTP_PORT": "0",  # two replicas on one host: no health server each on one port
    }


def start_replica(env: dict, log: Path) -> subprocess.Popen[str]:
    return lorebot_process(env, "-v", "run", log=log)


async def stop(process: subprocess.Popen[str], timeout: float = 60) -> int:
    """SIGTERM, then wait (without blocking the event loop the Slack emulator runs on)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(timeout):
        while process.poll() is None:
            await asyncio.sleep(0.1)
    return process.returncode


async def recorded_runs(database_url: str) -> list[RecordedRun]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(
                select(models.Source.name, models.SyncRun)
                .join(models.SyncRun, models.SyncRun.source_id == models.Source.id)
                .order_by(models.SyncRun.id)
            )
            return [
                RecordedRun(
                    name, run.holder, as_utc(run.started_at), as_utc(run.finished_at) if run.finished_at else None
                )
                for name, run in rows.tuples()
            ]
    finally:
        await engine.dispose()


def overlapping(runs: list[RecordedRun], until: datetime) -> list[tuple[RecordedRun, RecordedRun]]:
    """Pairs of runs of one source whose spans cross (an unfinished run lasts until `until`)."""
    pairs = []
    for source in {run.source for run in runs}:
        spans = sorted((run for run in runs if run.source == source), key=lambda run: run.started)
        for earlier, later in zip(spans, spans[1:], strict=False):
            if later.started < (earlier.finished or until):
                pairs.append((earlier, later))
    return pairs

"""When a source is synced: every `interval_seconds`, or on a 5-field cron string.

Fire times lie on a grid every replica shares (intervals count from the Unix epoch, cron
is wall-clock UTC), so replicas wake together and the source's lease picks one. A sync
is due when the schedule's first fire time after the last run's start has come: the
replicas that wake for the same slot after it ran find it not due, a run missed while
nothing was running happens once at start, and `next_run` is what `lorebot sources`
shows. Jitter delays each wake-up by up to a tenth of the period (at most the setting),
never earlier, and never shifts the grid.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class Schedule:
    interval_seconds: int | None = None
    cron: str | None = None

    def __post_init__(self) -> None:
        if (self.interval_seconds is None) == (self.cron is None):
            raise ValueError("give interval_seconds or cron, not both")
        if self.interval_seconds is not None and self.interval_seconds < 1:
            raise ValueError("interval_seconds must be at least 1")
        self.grid()  # a cron string that does not parse fails here, when the config is read

    def grid(self) -> BaseTrigger:
        """The fire times without jitter."""
        if self.cron is not None:
            return CronTrigger.from_crontab(self.cron, timezone=UTC)
        return IntervalTrigger(seconds=self.interval_seconds, start_date=EPOCH, timezone=UTC)

    def next_fire(self, after: datetime) -> datetime:
        """The first fire time strictly after `after`."""
        fire = self.grid().get_next_fire_time(None, after + _TICK)
        assert fire is not None  # neither trigger ends
        return fire

    def next_run(self, last_started: datetime | None, now: datetime) -> datetime:
        """When the source is due: the first fire time after its last run started (now if it never ran)."""
        return now if last_started is None else self.next_fire(last_started)

    def due(self, last_started: datetime | None, now: datetime) -> bool:
        return self.next_run(last_started, now) <= now

    def period(self, now: datetime) -> timedelta:
        first = self.next_fire(now)
        return self.next_fire(first) - first

    def trigger(self, max_jitter_seconds: float, now: datetime) -> JitteredTrigger:
        jitter = min(max_jitter_seconds, self.period(now).total_seconds() / 10)
        return JitteredTrigger(self, jitter)

    def describe(self) -> str:
        return f"cron {self.cron}" if self.cron is not None else f"every {self.interval_seconds}s"


class JitteredTrigger(BaseTrigger):
    """The schedule's grid, each fire delayed by up to `jitter` seconds without drifting:
    APScheduler's own jitter on an interval adds up from one fire to the next."""

    def __init__(self, schedule: Schedule, jitter: float) -> None:
        self.schedule = schedule
        self.jitter = jitter

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime:
        slot = self.schedule.next_fire(previous_fire_time) if previous_fire_time else self.schedule.next_fire(now)
        return slot + timedelta(seconds=random.uniform(0, self.jitter))

    def __str__(self) -> str:
        return f"{self.schedule.describe()}, jitter up to {self.jitter:g}s"

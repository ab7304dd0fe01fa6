"""How many questions one person may ask: at most `limit` in any `window` seconds (a sliding window).

Kept in memory, per process: with several replicas each counts the questions it answers, so
a person may get up to `limit` per replica in a window (Slack hands each event to one
connection, so usually one replica sees a person's burst). A question refused is not counted.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0


class RateLimiter:
    def __init__(self, limit: int, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        """`limit` 0: no limit."""
        self.limit = limit
        self.window = window
        self.clock = clock
        self._asked: dict[str, deque[float]] = {}

    def check(self, key: str) -> float:
        """0 when `key` may ask now (the question is counted), else the seconds until it may."""
        if not self.limit:
            return 0.0
        now = self.clock()
        asked = self._asked.setdefault(key, deque())
        while asked and asked[0] <= now - self.window:
            asked.popleft()
        if len(asked) >= self.limit:
            return asked[0] + self.window - now
        asked.append(now)
        return 0.0

    def refusal(self, wait: float) -> str:
        """The one line a person over the limit gets, in the thread of the question."""
        seconds = max(1, math.ceil(wait))
        return (
            f":hourglass: You've asked {self.limit} questions in the last minute, which is as many as I take "
            f"from one person. Please ask again in {seconds} second{'s' if seconds != 1 else ''}."
        )

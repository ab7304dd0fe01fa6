"""A small in-memory cache whose entries expire, for what Slack and Confluence tell us about people."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic, size: int = 10_000) -> None:
        self.seconds = seconds
        self._clock = clock
        self._size = size
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        if len(self._entries) >= self._size:  # full: drop the oldest entry
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (self._clock() + self.seconds, value)

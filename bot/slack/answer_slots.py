"""A cap on answers worked on at once, so a burst of questions cannot starve the event loop.

Questions over the cap wait their turn in arrival order (an `asyncio.Semaphore` wakes its
waiters first come, first served); none is dropped. Per process, like the rate limit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

logger = logging.getLogger(__name__)


class AnswerSlots:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._semaphore = asyncio.Semaphore(capacity)
        self._waiting = 0

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """One slot for the length of the block, waiting for one when all are taken."""
        queued = self._semaphore.locked()
        if queued:
            self._waiting += 1
            logger.info(
                "answer queued: %d answers running (MAX_CONCURRENT_ANSWERS), %d waiting", self.capacity, self._waiting
            )
        try:
            await self._semaphore.acquire()
        finally:
            if queued:
                self._waiting -= 1
        try:
            yield
        finally:
            self._semaphore.release()

"""One replica syncs a source at a time: a lease held while the sync runs, renewed as it goes.

`SourceLocks.hold(name)` takes the source's lease or raises `SourceLocked` naming the
holder (`wait=True` polls until it is free instead). While held, a background task renews
the lease every third of its length; if a renewal finds the lease gone (this process
stalled past its expiry and another replica took over), the sync is cancelled and
`LeaseLost` raised, so two replicas never go on writing one source. Leaving the block
releases the lease, also on cancellation (shutdown).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Protocol

from knowledge.errors import LorebotError

logger = logging.getLogger(__name__)


class Holding(Protocol):
    @property
    def holder(self) -> str: ...

    @property
    def expires_at(self) -> datetime: ...


class LeaseStore(Protocol):
    async def acquire(self, source: str, holder: str, seconds: float) -> Holding:
        """Take the lease if free or expired; the lease as it stands after."""
        ...

    async def renew(self, source: str, holder: str, seconds: float) -> bool:
        """Extend the holder's lease; False when it is no longer theirs."""
        ...

    async def release(self, source: str, holder: str) -> None: ...


class SourceLocked(LorebotError):
    """Another replica is syncing this source now."""

    def __init__(self, source: str, holder: str, expires_at: datetime) -> None:
        super().__init__(f"{source} is being synced by {holder} (lease until {expires_at:%H:%M:%S} UTC).")
        self.source, self.holder = source, holder


class LeaseLost(LorebotError):
    """This replica's lease ran out mid-sync and another took the source over."""


class SourceLocks:
    def __init__(
        self,
        store: LeaseStore,
        holder: str,
        lease_seconds: float,
        poll_seconds: float = 1.0,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        """`on_wait(source)` is called once per lock wait (the `lock_waits` metric)."""
        self.store = store
        self.on_wait = on_wait
        self.holder = holder
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.waits: Counter[str] = Counter()
        """Times a source's lease was found held by another replica, by source."""

    @asynccontextmanager
    async def hold(self, source: str, wait: bool = False) -> AsyncIterator[None]:
        await self._acquire(source, wait)
        owner = asyncio.current_task()
        assert owner is not None
        lost = asyncio.Event()
        renewing = asyncio.create_task(self._renew(source, owner, lost))
        try:
            yield
        except asyncio.CancelledError:
            if lost.is_set() and owner.uncancel() == 0:
                raise LeaseLost(
                    f"The sync of {source} stopped: its lease expired and another replica took it over."
                ) from None
            raise
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
            await self.store.release(source, self.holder)

    async def _acquire(self, source: str, wait: bool) -> None:
        announced = False
        while True:
            lease = await self.store.acquire(source, self.holder, self.lease_seconds)
            if lease.holder == self.holder:
                return
            if not announced:
                self._waited(source, lease.holder)
                announced = True
            if not wait:
                raise SourceLocked(source, lease.holder, lease.expires_at)
            await asyncio.sleep(self.poll_seconds)

    def _waited(self, source: str, holder: str) -> None:
        """The one place a lock wait is counted."""
        self.waits[source] += 1
        if self.on_wait is not None:
            self.on_wait(source)
        logger.info("lock wait: %s is being synced by %s", source, holder)

    async def _renew(self, source: str, owner: asyncio.Task, lost: asyncio.Event) -> None:
        """Renew every third of the lease; a failed renewal is retried until the lease would
        have expired, a refused one cancels the sync at once."""
        deadline = time.monotonic() + self.lease_seconds
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                renewed = await self.store.renew(source, self.holder, self.lease_seconds)
            except Exception:
                logger.warning("renewing the lease of %s failed", source, exc_info=True)
                if time.monotonic() < deadline:
                    continue
                renewed = False
            if not renewed:
                logger.error("lost the lease of %s: stopping its sync", source)
                lost.set()
                owner.cancel()
                return
            deadline = time.monotonic() + self.lease_seconds

"""This replica's claims on Slack events: recent keys in memory, every claim in the database.

The memory layer makes `app_mention` + `message` for one mention answer once even when the
database is down; the database layer (`bot/db/event_claims.py`) holds across restarts and
replicas. Questions this replica works on are `held`: their heartbeats are renewed, and at
shutdown the unfinished ones are released for another replica to take over.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from bot.db.event_claims import Claim, SqlEventClaims
from bot.db.models import utcnow

logger = logging.getLogger(__name__)


class ReplicaClaims:
    def __init__(self, store: SqlEventClaims, owner: str, timeout: float, remember: int = 10_000) -> None:
        self.store = store
        self.owner = owner
        self.timeout = timeout
        """A claim whose heartbeat is older than this many seconds belongs to a replica that is gone."""
        self.remember = remember
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._held: set[str] = set()

    def _first_sight(self, key: str) -> bool:
        if key in self._recent:
            return False
        self._recent[key] = None
        if len(self._recent) > self.remember:
            self._recent.popitem(last=False)
        return True

    def _stale_before(self) -> datetime:
        return utcnow() - timedelta(seconds=self.timeout)

    async def once(self, key: str) -> bool:
        """At most once, for what is not worth answering late (a reaction, a welcome, an `/ask` trigger)."""
        return self._first_sight(key) and await self.store.once(key)

    async def claim(self, key: str, question: dict[str, Any]) -> Claim | None:
        """The claim on a question to answer now; None for a duplicate delivery."""
        if not self._first_sight(key):
            return None
        return await self.store.claim(key, self.owner, question, self._stale_before())

    async def take_over_stale(self, max_attempts: int) -> list[Claim]:
        """Claims of questions whose replica stopped working on them, now this replica's."""
        taken = []
        for key in await self.store.stale(self._stale_before(), max_attempts):
            if key in self._held:  # still this replica's work, its heartbeat only late (a busy database)
                continue
            claim = await self.store.take_over(key, self.owner, self._stale_before())
            if claim is not None:
                self._first_sight(key)  # a redelivery reaching this replica now is a duplicate
                taken.append(claim)
        return taken

    @asynccontextmanager
    async def held(self, claim: Claim) -> AsyncIterator[None]:
        """While working on `claim`: its heartbeat is renewed."""
        self._held.add(claim.key)
        try:
            yield
        finally:
            self._held.discard(claim.key)

    @property
    def held_keys(self) -> list[str]:
        return sorted(self._held)

    async def heartbeat(self) -> None:
        await self.store.heartbeat(self.owner, self.held_keys)

    async def release(self, keys: list[str]) -> None:
        """Give these claims up (unfinished at shutdown): the next replica to look takes them over."""
        await self.store.release(self.owner, keys)

    async def replied_in(self, claim: Claim, reply_ts: list[str]) -> None:
        """Best effort: whoever takes over updates these messages rather than posting new ones."""
        try:
            await self.store.replied_in(claim.key, self.owner, reply_ts)
        except Exception:
            logger.warning("cannot note the reply's messages on claim %s", claim.key, exc_info=True)

    async def store_reply(self, claim: Claim, reply: list[dict[str, Any]], answer_id: int | None) -> None:
        await self.store.store_reply(claim.key, self.owner, reply, answer_id)

    async def answered(self, claim: Claim) -> None:
        if not await self.store.answered(claim.key, self.owner):
            logger.warning("%s was taken over by another replica while this one answered it", claim.key)

    async def prune(self, retention: timedelta) -> int:
        return await self.store.prune(utcnow() - retention)

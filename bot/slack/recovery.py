"""No question lost to a stopped replica: heartbeats for the claims this replica holds, and,
now and then, the questions of replicas that stopped, answered late by this one.

A claim's heartbeat is renewed every quarter of the claim timeout; every half of it this
replica looks for claims whose heartbeat is older than the timeout (a replica killed, or
one stopped before it finished and released its claims) and answers them. A question is
tried `max_attempts` times in all, so one that brings every replica down does not go
round for ever. Old claims are pruned after the retention period.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from bot.slack.claims import ReplicaClaims
from bot.slack.responder import Responder
from bot.slack.tasks import BackgroundTasks

logger = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600.0


class Recovery:
    def __init__(
        self,
        claims: ReplicaClaims,
        responder: Responder,
        tasks: BackgroundTasks,
        *,
        retention: timedelta,
        max_attempts: int = 3,
    ) -> None:
        self.claims = claims
        self.responder = responder
        self.tasks = tasks
        self.retention = retention
        self.max_attempts = max_attempts

    async def keep_alive(self) -> None:
        """Renew the held claims' heartbeats, until cancelled."""
        while True:
            await asyncio.sleep(self.claims.timeout / 4)
            try:
                await self.claims.heartbeat()
            except Exception:
                logger.warning("cannot renew the claims of answers in flight", exc_info=True)

    async def take_over(self) -> None:
        """Answer what stopped replicas left, now and every half claim timeout; prune; until cancelled."""
        loop = asyncio.get_running_loop()
        pruned_at: float | None = None
        while True:
            try:
                for claim in await self.claims.take_over_stale(self.max_attempts):
                    self.tasks.spawn(self.responder.resume(claim), name=f"late answer {claim.key}")
                if pruned_at is None or loop.time() - pruned_at >= PRUNE_EVERY_SECONDS:
                    removed = await self.claims.prune(self.retention)
                    pruned_at = loop.time()
                    if removed:
                        logger.info("pruned %d handled events older than %s", removed, self.retention)
            except Exception:
                logger.warning("cannot look for questions that stopped replicas left", exc_info=True)
            await asyncio.sleep(self.claims.timeout / 2)

"""Watching the socket-mode connection from outside the SDK.

The SDK reconnects by itself, but after some failed reconnects it can sit
disconnected without trying again. The watchdog checks the client's own view
(open session, recent pong) on an interval, asks for a reconnect when it is down,
and gives up with `ConnectionLost` after `max_down` seconds so a supervisor restarts us.
"""

from __future__ import annotations

import asyncio
import logging
import time

from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient

from knowledge.errors import LorebotError

logger = logging.getLogger(__name__)


class ConnectionLost(LorebotError):
    """Socket mode stayed disconnected too long."""


class ConnectionWatchdog:
    def __init__(self, client: AsyncBaseSocketModeClient, interval: float = 10.0, max_down: float = 120.0) -> None:
        self.client = client
        self.interval = interval
        self.max_down = max_down

    async def run(self) -> None:
        """Runs until cancelled; raises `ConnectionLost` when reconnecting keeps failing."""
        down_since: float | None = None
        while True:
            await asyncio.sleep(self.interval)
            if await self.client.is_connected():
                if down_since is not None:
                    logger.info("Slack connection is back")
                down_since = None
                continue
            now = time.monotonic()
            down_since = down_since or now
            if now - down_since >= self.max_down:
                raise ConnectionLost(
                    f"the Slack socket-mode connection has been down for {now - down_since:.0f} s; "
                    "exiting so that a supervisor restarts lorebot"
                )
            logger.warning("Slack connection is down (%.0f s); reconnecting", now - down_since)
            try:
                await asyncio.wait_for(self.client.connect_to_new_endpoint(), timeout=max(self.interval, 10.0))
            except Exception:
                logger.warning("reconnect attempt failed", exc_info=True)

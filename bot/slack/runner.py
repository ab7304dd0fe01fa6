"""Socket mode for the app: connect, keep the connection watched, shut down cleanly."""

from __future__ import annotations

import asyncio
import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.slack.bot import SlackBot
from bot.slack.watchdog import ConnectionWatchdog

logger = logging.getLogger(__name__)


class SocketModeRunner:
    def __init__(
        self,
        bot: SlackBot,
        app_token: str,
        check_interval: float = 10.0,
        max_down: float = 120.0,
        ping_interval: float = 10.0,
        drain_seconds: float = 20.0,
    ) -> None:
        self.bot = bot
        self.app_token = app_token
        self.check_interval = check_interval
        self.max_down = max_down
        self.ping_interval = ping_interval
        self.drain_seconds = drain_seconds
        self.handler: AsyncSocketModeHandler | None = None
        self._watchdog: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # Built here, not in __init__: the SDK client starts tasks on the running loop.
        self.handler = AsyncSocketModeHandler(
            self.bot.app,
            self.app_token,
            web_client=self.bot.client,
            ping_interval=self.ping_interval,
            logger=logging.getLogger("bot.slack.socket_mode"),
        )
        await self.handler.connect_async()
        watchdog = ConnectionWatchdog(self.handler.client, self.check_interval, self.max_down)
        self._watchdog = asyncio.get_running_loop().create_task(watchdog.run(), name="slack watchdog")
        logger.info("connected to Slack in socket mode")

    async def is_connected(self) -> bool:
        """Whether the socket-mode connection is open now (readiness)."""
        return self.handler is not None and await self.handler.client.is_connected()

    async def run_until(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; raises `ConnectionLost` if the connection cannot be kept."""
        assert self._watchdog is not None, "start() first"
        stopping = asyncio.get_running_loop().create_task(stop.wait())
        try:
            await asyncio.wait({stopping, self._watchdog}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if self._watchdog.done():
            self._watchdog.result()

    async def close(self) -> None:
        """Stop taking events, then give answers in flight `drain_seconds` to finish."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self.handler is not None:
            await self.handler.close_async()
        if not await self.bot.tasks.join(self.drain_seconds):
            logger.warning("%d answers still running at shutdown; cancelled", len(self.bot.tasks))
            await self.bot.tasks.cancel()

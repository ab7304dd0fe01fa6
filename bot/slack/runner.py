"""Socket mode for the app: connect, keep the connection watched, shut down cleanly.

Shutting down, the replica first stops taking events (the socket closes, so Slack sends
them to the other replicas' connections, or redelivers them), then gives the answers in
flight `grace_seconds` to finish while their claims stay renewed; what is still running
then is cancelled and its claims released for another replica to answer.
"""

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
        *,
        grace_seconds: float,
        check_interval: float = 10.0,
        max_down: float = 120.0,
        ping_interval: float = 10.0,
    ) -> None:
        self.bot = bot
        self.app_token = app_token
        self.check_interval = check_interval
        self.max_down = max_down
        self.ping_interval = ping_interval
        self.grace_seconds = grace_seconds
        self.handler: AsyncSocketModeHandler | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._keep_alive: asyncio.Task[None] | None = None
        self._take_over: asyncio.Task[None] | None = None

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
        loop = asyncio.get_running_loop()
        self._watchdog = loop.create_task(watchdog.run(), name="slack watchdog")
        self._keep_alive = loop.create_task(self.bot.recovery.keep_alive(), name="claim heartbeats")
        self._take_over = loop.create_task(self.bot.recovery.take_over(), name="late answers")
        logger.info("connected to Slack in socket mode as replica %s", self.bot.claims.owner)

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
        """Stop taking events, then give answers in flight `grace_seconds` to finish."""
        for task in (self._watchdog, self._take_over):
            if task is not None:
                task.cancel()
        if self.handler is not None:
            await self.handler.close_async()
        finished = await self.bot.tasks.join(self.grace_seconds)
        if self._keep_alive is not None:
            self._keep_alive.cancel()
            await asyncio.gather(self._keep_alive, return_exceptions=True)
        if finished:
            return
        unfinished = self.bot.claims.held_keys
        logger.warning("%d answers still running at shutdown; cancelled, left to another replica", len(unfinished))
        await self.bot.tasks.cancel()
        try:
            await self.bot.claims.release(unfinished)
        except Exception:
            logger.warning(
                "cannot release the unfinished claims; they are taken over after the claim timeout", exc_info=True
            )

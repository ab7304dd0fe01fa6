"""One answer's messages in its thread: the working indicator, streamed growth, the final parts."""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.formatting import SlackMessage, render_stream

logger = logging.getLogger(__name__)

STATUS = "is looking through the sources…"
PLACEHOLDER = ":hourglass_flowing_sand: Looking through the sources…"


class ReplyWriter:
    """Shows lorebot working (thread status where Slack allows it, else a placeholder message),
    grows the reply as text streams in (at most one update per `interval` seconds), and
    finally replaces it with the rendered answer, split across messages when long."""

    def __init__(self, client: AsyncWebClient, channel: str, thread_ts: str, *, interval: float, limit: int) -> None:
        self.client = client
        self.channel = channel
        self.thread_ts = thread_ts
        self.interval = interval
        self.limit = limit
        self.ts: list[str] = []
        self._shown: list[str] = []
        self._last_update = 0.0

    async def show_working(self) -> None:
        try:
            await self.client.assistant_threads_setStatus(
                channel_id=self.channel, thread_ts=self.thread_ts, status=STATUS
            )
        except SlackApiError as exc:
            logger.info("no thread status here (%s); posting a placeholder", exc.response.get("error"))
            await self._show([SlackMessage(PLACEHOLDER)])

    async def stream(self, text: str) -> None:
        now = time.monotonic()
        if self.ts and self._shown[0] != PLACEHOLDER and now - self._last_update < self.interval:
            return
        self._last_update = now
        await self._show([SlackMessage(part) for part in render_stream(text, self.limit)])

    async def finish(self, messages: list[SlackMessage]) -> list[str]:
        """Show the final messages; returns their ts, first one first."""
        await self._show(messages, final=True)
        for ts in self.ts[len(messages) :]:
            await self.client.chat_delete(channel=self.channel, ts=ts)
        self.ts = self.ts[: len(messages)]
        self._shown = self._shown[: len(messages)]
        return list(self.ts)

    async def replace_with(self, text: str) -> None:
        """Replace whatever was shown with `text` (or post it when nothing was)."""
        await self.finish([SlackMessage(text)])

    async def _show(self, messages: list[SlackMessage], final: bool = False) -> None:
        for index, message in enumerate(messages):
            extra: dict[str, Any] = {"blocks": message.blocks} if message.blocks else {}
            if index < len(self.ts):
                if final or self._shown[index] != message.text:
                    await self.client.chat_update(channel=self.channel, ts=self.ts[index], text=message.text, **extra)
                    self._shown[index] = message.text
            else:
                posted = await self.client.chat_postMessage(
                    channel=self.channel, thread_ts=self.thread_ts, text=message.text, unfurl_links=False, **extra
                )
                self.ts.append(posted["ts"])
                self._shown.append(message.text)

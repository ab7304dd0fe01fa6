"""One answer's messages in its thread: the working indicator, streamed growth, the final parts.

Only the final messages matter: a streamed update or the placeholder that Slack rate limits
is skipped (the next one shows the same text), while the final messages are retried for
429s until `patience` seconds after `finish` began.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.formatting import SlackMessage, render_stream
from bot.slack.retry_after import patiently, rate_limited

logger = logging.getLogger(__name__)

STATUS = "is looking through the sources…"
PLACEHOLDER = ":hourglass_flowing_sand: Looking through the sources…"
LATE_PLACEHOLDER = (
    ":hourglass_flowing_sand: Sorry for the wait: lorebot restarted while answering this. Looking through the sources…"
)

Posted = Callable[[list[str]], Awaitable[None]]


class ReplyWriter:
    """Shows lorebot working (thread status where Slack allows it, else a placeholder message),
    grows the reply as text streams in (at most one update per `interval` seconds), and
    finally replaces it with the rendered answer, split across messages when long.

    `ts` are messages of this reply posted before (by a replica that stopped): they are
    updated rather than posted again. `on_post` hears of every new message."""

    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        thread_ts: str,
        *,
        interval: float,
        limit: int,
        patience: float,
        ts: Sequence[str] = (),
        on_post: Posted | None = None,
    ) -> None:
        self.client = client
        self.channel = channel
        self.thread_ts = thread_ts
        self.interval = interval
        self.limit = limit
        self.patience = patience
        self.on_post = on_post
        self.ts: list[str] = list(ts)
        self._shown: list[str] = [""] * len(self.ts)
        self._placeholder = PLACEHOLDER
        self._last_update = 0.0

    async def show_working(self, late: bool = False) -> None:
        """The status or a placeholder; answering `late`, a placeholder that says so (over the stopped
        replica's messages when there are some)."""
        if late:
            self._placeholder = LATE_PLACEHOLDER
        try:
            if self.ts or late or not await self._status():
                await self._show([SlackMessage(self._placeholder)])
        except SlackApiError as exc:
            if not rate_limited(exc):
                raise
            logger.info("Slack rate limits the working indicator; the answer comes without it")

    async def _status(self) -> bool:
        try:
            await self.client.assistant_threads_setStatus(
                channel_id=self.channel, thread_ts=self.thread_ts, status=STATUS
            )
        except SlackApiError as exc:
            if rate_limited(exc):
                raise
            logger.info("no thread status here (%s); posting a placeholder", exc.response.get("error"))
            return False
        return True

    async def stream(self, text: str) -> None:
        now = time.monotonic()
        if self.ts and self._shown[0] != self._placeholder and now - self._last_update < self.interval:
            return
        self._last_update = now
        try:
            await self._show([SlackMessage(part) for part in render_stream(text, self.limit)])
        except SlackApiError as exc:
            if not rate_limited(exc):
                raise
            logger.info("Slack rate limits the growing reply; showing it later")

    async def finish(self, messages: list[SlackMessage]) -> list[str]:
        """Show the final messages; returns their ts, first one first. Raises the last 429 when
        Slack still rate limits after `patience` seconds."""
        deadline = time.monotonic() + self.patience
        await self._show(messages, final=True, deadline=deadline)
        for ts in self.ts[len(messages) :]:
            await patiently(partial(self.client.chat_delete, channel=self.channel, ts=ts), deadline)
        self.ts = self.ts[: len(messages)]
        self._shown = self._shown[: len(messages)]
        return list(self.ts)

    async def replace_with(self, text: str) -> None:
        """Replace whatever was shown with `text` (or post it when nothing was)."""
        await self.finish([SlackMessage(text)])

    async def _show(self, messages: list[SlackMessage], final: bool = False, deadline: float = 0.0) -> None:
        for index, message in enumerate(messages):
            extra: dict[str, Any] = {"blocks": message.blocks} if message.blocks else {}
            if index < len(self.ts):
                if final or self._shown[index] != message.text:
                    ts = self.ts[index]
                    update = partial(self.client.chat_update, channel=self.channel, ts=ts, text=message.text, **extra)
                    await patiently(update, deadline)
                    self._shown[index] = message.text
            else:
                post = partial(
                    self.client.chat_postMessage,
                    channel=self.channel,
                    thread_ts=self.thread_ts,
                    text=message.text,
                    unfurl_links=False,
                    **extra,
                )
                posted = await patiently(post, deadline)
                self.ts.append(posted["ts"])
                self._shown.append(message.text)
                if self.on_post is not None:
                    await self.on_post(list(self.ts))

"""Suggested prompts: in assistant threads, and a one-time welcome in the Messages tab."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.claims import ReplicaClaims

logger = logging.getLogger(__name__)

PROMPTS: tuple[tuple[str, str], ...] = (
    ("Find code", "Where is the retry logic implemented?"),
    ("Set up", "How do I set up a development environment?"),
    ("Deploy", "How do we deploy to production?"),
)
WELCOME = "Hi! Ask me about our code and Confluence pages and I will answer with links to the sources. For example:"


class Welcome:
    def __init__(self, client: AsyncWebClient, claims: ReplicaClaims) -> None:
        self.client = client
        self.claims = claims

    async def home_opened(self, team_id: str, event: dict[str, Any]) -> None:
        """The first time someone opens lorebot's Messages tab: a short welcome with prompts."""
        if event.get("tab") != "messages" or not event.get("channel") or not event.get("user"):
            return
        try:
            if not await self.claims.once(f"welcome:{team_id}:{event['user']}"):
                return
            lines = [WELCOME, *(f"• {message}" for _, message in PROMPTS)]
            await self.client.chat_postMessage(channel=event["channel"], text="\n".join(lines))
        except Exception:
            logger.exception("cannot post the welcome message")

    async def assistant_thread_started(self, event: dict[str, Any]) -> None:
        thread = event.get("assistant_thread") or {}
        try:
            await self.client.assistant_threads_setSuggestedPrompts(
                channel_id=thread["channel_id"],
                thread_ts=thread["thread_ts"],
                prompts=[{"title": title, "message": message} for title, message in PROMPTS],
            )
        except Exception:
            logger.exception("cannot set the suggested prompts")

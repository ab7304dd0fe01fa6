"""What kind of conversation a Slack channel id is, and its name (`conversations.info`, cached)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.ttl import TtlCache

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Channel:
    id: str
    name: str | None
    """Without the "#"; None for a DM."""
    direct: bool
    """A DM with lorebot (the Messages tab is one): one person, who may see their own restricted pages."""


class SlackChannels:
    def __init__(self, client: AsyncWebClient, cache_seconds: float) -> None:
        self.client = client
        self._cache: TtlCache[str, Channel] = TtlCache(cache_seconds)

    async def channel(self, channel_id: str) -> Channel:
        cached = self._cache.get(channel_id)
        if cached is None:
            try:
                info = (await self.client.conversations_info(channel=channel_id))["channel"]
            except SlackApiError as exc:  # e.g. missing_scope: match by id only, a "D…" id is a DM
                logger.warning("conversations.info failed for %s (%s): matching it by id only", channel_id, exc)
                return Channel(channel_id, None, channel_id.startswith("D"))
            cached = Channel(channel_id, info.get("name"), bool(info.get("is_im")))
            self._cache.put(channel_id, cached)
        return cached

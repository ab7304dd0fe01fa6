"""What kind of conversation a Slack channel id is, and its name (`conversations.info`, cached)."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.access.ttl import TtlCache


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
            info = (await self.client.conversations_info(channel=channel_id))["channel"]
            cached = Channel(channel_id, info.get("name"), bool(info.get("is_im")))
            self._cache.put(channel_id, cached)
        return cached

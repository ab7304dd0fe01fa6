"""The scope of one question: the policy's sources for its conversation and the readers allowed."""

from __future__ import annotations

from bot.access import NoSourcesHere, Scope
from bot.access.channels import SlackChannels
from bot.access.policy import AccessPolicy
from bot.access.readers import SlackReaders


class ScopeResolver:
    def __init__(self, policy: AccessPolicy, channels: SlackChannels, readers: SlackReaders) -> None:
        self.policy = policy
        self.channels = channels
        self.readers = readers

    async def scope(self, channel_id: str, user_id: str) -> Scope:
        """In a channel: its policy's sources, unrestricted content only (everyone there reads the
        answer). In a DM: the DM sources, and what the asker may open. `NoSourcesHere` when none."""
        if not self.policy.configured:  # `lorebot run` on an index built before: unrestricted content of it
            return Scope((), frozenset())
        channel = await self.channels.channel(channel_id)
        if not channel.direct:
            sources = self.policy.for_channel(channel.id, channel.name)
            if not sources:
                raise NoSourcesHere()
            return Scope(sources, frozenset())
        if not self.policy.dm:
            raise NoSourcesHere()
        readers = await self.readers.readers(user_id, self.policy.dm)
        return Scope(self.policy.dm, readers.principals, readers.unmapped)

"""At most one handling per Slack event: recent keys in memory, every key in the database.

The memory layer makes `app_mention` + `message` for one mention answer once even when
the database is down; the database layer survives restarts.
"""

from __future__ import annotations

from collections import OrderedDict

from bot.conversations import ConversationStore


class Deduper:
    def __init__(self, store: ConversationStore, remember: int = 10_000) -> None:
        self.store = store
        self.remember = remember
        self._recent: OrderedDict[str, None] = OrderedDict()

    async def claim(self, key: str) -> bool:
        if key in self._recent:
            return False
        self._recent[key] = None
        if len(self._recent) > self.remember:
            self._recent.popitem(last=False)
        return await self.store.claim_event(key)

"""Reactions on lorebot's answers become feedback rows; reactions elsewhere are ignored."""

from __future__ import annotations

import logging
from typing import Any

from bot.conversations import ConversationStore, reaction_polarity
from bot.observability.metrics import Metrics
from bot.slack import correlation
from bot.slack.claims import ReplicaClaims

logger = logging.getLogger(__name__)


class FeedbackRecorder:
    def __init__(self, store: ConversationStore, claims: ReplicaClaims, metrics: Metrics) -> None:
        self.store = store
        self.claims = claims
        self.metrics = metrics

    async def record(self, event_id: str, event: dict[str, Any], bot_user_id: str | None) -> None:
        correlation.begin()
        item = event.get("item") or {}
        if item.get("type") != "message" or event.get("item_user") not in (None, bot_user_id):
            return
        try:
            answer_id = await self.store.find_answer(item.get("channel", ""), item.get("ts", ""))
            if answer_id is None or not await self.claims.once(f"event:{event_id}"):
                return
            reaction, user = event.get("reaction", ""), event.get("user", "")
            added = event.get("type") == "reaction_added"
            if added:
                await self.store.add_reaction(answer_id, user, reaction)
            else:
                await self.store.remove_reaction(answer_id, user, reaction)
            self.metrics.reacted(reaction, added)
            logger.info(
                "feedback %s %s (%+d) on answer %d", event.get("type"), reaction, reaction_polarity(reaction), answer_id
            )
        except Exception:  # nothing to reply to: a reaction is not a question
            logger.exception("cannot record feedback for event %s", event_id)

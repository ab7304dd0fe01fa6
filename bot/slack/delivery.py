"""A finished answer reaches its thread: stored first, then posted (patient with 429s), then the
question's claim is marked answered. Taken over from a stopped replica, it says it is late.

What cannot be posted in time stays claimed with the stored reply, so the replica that takes
the claim over posts that reply instead of answering again.
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from bot.conversations import AnswerRecord, ConversationStore
from bot.db.event_claims import Claim
from bot.slack.claims import ReplicaClaims
from bot.slack.formatting import SlackMessage
from bot.slack.reply import ReplyWriter
from bot.slack.retry_after import rate_limited

logger = logging.getLogger(__name__)


LATE_NOTE = "_Answered late: lorebot restarted while answering this._"


def late(messages: list[SlackMessage]) -> list[SlackMessage]:
    """The reply with a note under its last message that it comes late."""
    *first, last = messages
    note = {"type": "context", "elements": [{"type": "mrkdwn", "text": LATE_NOTE}]}
    return [*first, SlackMessage(f"{last.text}\n\n{LATE_NOTE}", [*last.blocks, note])]


def stored_reply(claim: Claim) -> list[SlackMessage] | None:
    """The reply a stopped replica finished, if it got that far."""
    return None if claim.reply is None else [SlackMessage(**message) for message in claim.reply]


class Delivery:
    def __init__(self, store: ConversationStore, claims: ReplicaClaims) -> None:
        self.store = store
        self.claims = claims

    async def deliver(
        self, writer: ReplyWriter, claim: Claim, messages: list[SlackMessage], record: AnswerRecord
    ) -> None:
        answer_id = None
        try:
            answer_id = await self.store.record_answer(record)
            await self.claims.store_reply(claim, [asdict(message) for message in messages], answer_id)
        except Exception:  # the person still gets the answer; only its feedback link may be lost
            logger.exception("answer not stored before posting; posting it anyway")
        await self.post(writer, claim, messages, answer_id)

    async def post(
        self, writer: ReplyWriter, claim: Claim, messages: list[SlackMessage], answer_id: int | None
    ) -> None:
        try:
            posted = await writer.finish(late(messages) if claim.late else messages)
        except Exception as exc:
            logger.error(
                "finished answer to %s not posted (%s); it stays claimed, so a later attempt posts it",
                claim.key,
                "Slack kept rate limiting it" if rate_limited(exc) else "Slack refused it",
                exc_info=not rate_limited(exc),
            )
            return
        try:
            if answer_id is not None:
                await self.store.answer_posted(answer_id, posted[0])
            await self.claims.answered(claim)
        except Exception:
            logger.exception("answer to %s posted, but not marked answered", claim.key)

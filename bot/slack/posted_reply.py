"""The reply a stopped replica posted but had not yet noted on its claim (killed right after
Slack took the message): lorebot's own messages right after the question in its thread.

Read with `conversations.replies` (the `*:history` scopes lorebot has for follow-ups), so
the replica answering late updates those messages instead of posting the answer twice.
"""

from __future__ import annotations

import dataclasses
import logging
from decimal import Decimal

from slack_sdk.web.async_client import AsyncWebClient

from bot.db.event_claims import Claim
from bot.slack.events import Question

logger = logging.getLogger(__name__)


async def with_posted_reply(client: AsyncWebClient, question: Question, claim: Claim) -> Claim:
    """`claim` with the messages found in the thread, when it is taken over and notes none."""
    if not claim.late or claim.reply_ts:
        return claim
    try:
        bot_user = (await client.auth_test())["user_id"]
        thread = await client.conversations_replies(channel=question.channel_id, ts=question.thread_ts, limit=200)
    except Exception:
        logger.warning("cannot read thread %s for a reply already posted", question.thread_ts, exc_info=True)
        return claim
    found: list[str] = []
    for message in thread.get("messages") or []:
        if Decimal(message["ts"]) <= Decimal(question.ts):
            continue
        if message.get("user") != bot_user:
            break  # someone else spoke: later bot messages answer something else
        found.append(message["ts"])
    if found:
        logger.info("the stopped replica had posted %d message(s) in thread %s", len(found), question.thread_ts)
    return dataclasses.replace(claim, reply_ts=found)

"""Turning a follow-up in a thread into a query that stands on its own."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence

from bot.answering import Turn
from bot.answering.markers import strip_markers
from bot.answering.token_budget import TokenBudget

logger = logging.getLogger(__name__)

REWRITE_SYSTEM_PROMPT = """\
You rewrite the latest message of a conversation as one standalone search query for a \
search engine over a team's code and documentation. Resolve pronouns and references \
("it", "that function", "the second one") from the conversation. Keep names, identifiers \
and error messages exactly. Reply with the query only, on one line, without quotes or comments."""

REWRITE_TURNS = 6
MAX_REWRITE_CHARS = 300

Complete = Callable[[list[dict[str, str]]], Awaitable[str | None]]
"""One short model call: messages in, reply text out, None when the model failed."""

_PREFIX = re.compile(r"^(?:standalone\s+)?(?:search\s+)?query\s*:\s*", re.IGNORECASE)


def join_recent_user_turns(question: str, history: Sequence[Turn], turns: int = 2) -> str:
    """Without an LLM: the last few questions of the thread joined with the new one,
    so "and where is it configured?" keeps the subject of the question before it."""
    earlier = [turn.text for turn in history if turn.role == "user"][-turns:]
    earlier = [text for text in earlier if text.strip() != question.strip()]
    return " ".join([*earlier, question]).strip()


def rewrite_messages(question: str, history: Sequence[Turn], budget: TokenBudget) -> list[dict[str, str]]:
    """The rewrite request: the latest turns within `budget`, and the question cut to it."""
    turns = budget.history([Turn(turn.role, strip_markers(turn.text)) for turn in history[-REWRITE_TURNS:]])
    transcript = "\n".join(f"{'User' if turn.role == 'user' else 'Assistant'}: {turn.text}" for turn in turns)
    latest = budget.cut(question)
    return [
        {"role": "system", "content": REWRITE_SYSTEM_PROMPT},
        {"role": "user", "content": f"Conversation:\n{transcript}\n\nLatest message: {latest}\n\nStandalone query:"},
    ]


def clean_rewrite(reply: str) -> str | None:
    """The query in a model's reply: its first line without labels or quotes; None if empty."""
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    if not lines:
        return None
    query = _PREFIX.sub("", lines[0]).strip().strip("\"'`“”").strip()
    return query[:MAX_REWRITE_CHARS] or None


async def standalone_query(question: str, history: Sequence[Turn], complete: Complete, budget: TokenBudget) -> str:
    """The search query for `question`: as is without history, else rewritten by one short
    model call (sent within `budget`); the joined user turns when that call fails."""
    if not history:
        return question
    reply = await complete(rewrite_messages(question, history, budget))
    query = clean_rewrite(reply) if reply else None
    if query is None:
        logger.info("follow-up rewrite unavailable; joining recent user turns")
        return join_recent_user_turns(question, history)
    logger.debug("follow-up %r rewritten as %r", question, query)
    return query

"""Turning a follow-up in a thread into a query that stands on its own."""

from __future__ import annotations

from collections.abc import Sequence

from bot.answering import Turn


def join_recent_user_turns(question: str, history: Sequence[Turn], turns: int = 2) -> str:
    """Without an LLM: the last few questions of the thread joined with the new one,
    so "and where is it configured?" keeps the subject of the question before it."""
    earlier = [turn.text for turn in history if turn.role == "user"][-turns:]
    earlier = [text for text in earlier if text.strip() != question.strip()]
    return " ".join([*earlier, question]).strip()

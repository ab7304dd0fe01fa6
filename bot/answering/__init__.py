"""Answering: from a question (and a thread's history) to an answer with citations.

`ExtractiveAnswerer` (no LLM) and `LLMAnswerer` (litellm) both satisfy `Answerer`.
Answer text carries `[n]` markers; each presentation layer (CLI, Slack) renders
them as links from `Answer.citations`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from knowledge.index import SearchHit


@dataclass(frozen=True)
class Turn:
    """One message of a conversation's history."""

    role: Literal["user", "assistant"]
    text: str


@dataclass(frozen=True)
class Citation:
    n: int
    title: str
    url: str


@dataclass(frozen=True)
class Answer:
    text: str
    abstained: bool
    citations: list[Citation]
    sources: list[SearchHit]
    """Every retrieved source, in rank order (cited or not)."""
    standalone_query: str
    model: str | None = None
    note: str | None = None
    """A one-line remark for the reader, e.g. that the model was unavailable."""
    cited_ranks: frozenset[int] = field(default_factory=frozenset)
    """1-based ranks in `sources` that the answer cites."""


@dataclass(frozen=True)
class AnswerDelta:
    """Text produced so far while an answer streams (the whole text, not an increment)."""

    text: str


class Answerer(Protocol):
    async def answer(self, question: str, history: Sequence[Turn] = ()) -> Answer: ...

    def stream(self, question: str, history: Sequence[Turn] = ()) -> AsyncIterator[AnswerDelta | Answer]:
        """Zero or more `AnswerDelta`s, then exactly one final `Answer`."""
        ...

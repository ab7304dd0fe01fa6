"""Answering: from a question (and a thread's history) to an answer with citations.

`ExtractiveAnswerer` (no LLM) and `LLMAnswerer` (litellm) are both an `Answerer`.
Answer text carries `[n]` markers (grammar in `markers.py`); each presentation layer
(CLI, Slack) renders them as links from `Answer.citations`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, final

from knowledge.index import SearchFilters, SearchHit

EVERYTHING = SearchFilters()


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


class Answerer(ABC):
    """The one method to write is `stream`; `answer` is derived from it, so an answerer has
    one code path (and one fallback loop) whether its reader watches the answer grow or not."""

    @abstractmethod
    def stream(
        self, question: str, history: Sequence[Turn] = (), filters: SearchFilters = EVERYTHING
    ) -> AsyncIterator[AnswerDelta | Answer]:
        """Zero or more `AnswerDelta`s, then exactly one final `Answer`, from what `filters`
        lets the index return (the asker's access scope; everything for the operator's CLI)."""

    @final
    async def answer(self, question: str, history: Sequence[Turn] = (), filters: SearchFilters = EVERYTHING) -> Answer:
        """The final `Answer` of `stream`, for a reader who sees nothing before it (the CLI)."""
        return await await_answer(self.stream(question, history, filters))


async def await_answer(
    items: AsyncIterator[AnswerDelta | Answer], on_delta: Callable[[AnswerDelta], Awaitable[None]] | None = None
) -> Answer:
    """Read a `stream` to its final `Answer`, handing each delta before it to `on_delta`."""
    try:
        async for item in items:
            if isinstance(item, Answer):
                return item
            if on_delta is not None:
                await on_delta(item)
    finally:
        close = getattr(items, "aclose", None)  # an async generator: finish it now, not at garbage collection
        if close is not None:
            await close()
    raise RuntimeError("the answerer's stream ended without an answer")

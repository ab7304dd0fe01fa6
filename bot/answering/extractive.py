"""Extractive answers (no LLM): the best passages quoted briefly, each with its link."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from bot.answering import EVERYTHING, Answer, AnswerDelta, Answerer, Citation, Turn
from bot.answering.followup import join_recent_user_turns
from knowledge.index import SearchFilters, SearchHit
from knowledge.retriever import Retrieval, Retriever
from knowledge.snippets import best_snippet

NOT_FOUND = "I could not find this in the indexed sources."


def _quote(hit: SearchHit, query: str) -> str:
    """Code in a fence; prose, and snippets that hold a fence of their own, as a quote."""
    snippet = best_snippet(hit.chunk.text, query)
    if hit.chunk.kind == "code" and "```" not in snippet:
        return f"```\n{snippet}\n```"
    return "\n".join(f"> {line}" for line in snippet.splitlines())


def compose_extractive(retrieval: Retrieval, quoted: int = 3, note: str | None = None) -> Answer:
    """The extractive answer for a retrieval; also the fallback when an LLM fails."""
    query, hits = retrieval.query, retrieval.hits
    citations = [Citation(n, hit.chunk.title, hit.chunk.url) for n, hit in enumerate(hits[:quoted], 1)]
    if retrieval.abstain:
        nearest = ", ".join(f"[{c.n}]" for c in citations)
        text = _absent_words(retrieval.absent) + NOT_FOUND + (f" The nearest matches: {nearest}." if citations else "")
        return Answer(text, True, citations, list(hits), query, note=note)
    parts = [_lead(retrieval.absent)]
    for citation, hit in zip(citations, hits, strict=False):
        parts.append(f"[{citation.n}] {citation.title}\n{_quote(hit, query)}")
    cited = frozenset(c.n for c in citations)
    return Answer("\n\n".join(parts), False, citations, list(hits), query, note=note, cited_ranks=cited)


def _absent_words(absent: Sequence[str]) -> str:
    return "No indexed source mentions " + ", ".join(f"“{word}”" for word in absent) + ". " if absent else ""


def _lead(absent: Sequence[str]) -> str:
    return _absent_words(absent) + "The most relevant passages:"


class ExtractiveAnswerer(Answerer):
    def __init__(self, retriever: Retriever, *, k: int) -> None:
        self.retriever = retriever
        self.k = k

    async def stream(
        self, question: str, history: Sequence[Turn] = (), filters: SearchFilters = EVERYTHING
    ) -> AsyncIterator[AnswerDelta | Answer]:
        """No deltas: the whole answer at once."""
        query = join_recent_user_turns(question, history)
        yield compose_extractive(await self.retriever.retrieve(query, self.k, filters))

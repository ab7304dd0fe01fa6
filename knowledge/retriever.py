"""Retrieval: clean the question, embed it, take hybrid candidates from the index, rank them."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from knowledge.coverage import absent_terms, unseen_terms
from knowledge.embedding import Embedder
from knowledge.errors import LorebotError
from knowledge.index import EmptyIndexError, SearchFilters, SearchHit, SearchIndex
from knowledge.query import expand_query
from knowledge.ranking import Ranking
from knowledge.reranking import Reranker, rerank

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 4000


class QueryError(LorebotError):
    """A query that cannot be searched; the message is one sentence for a person."""


# Control characters (not tab or newline), zero-width and bidi marks, and U+FFFD.
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\ufffd]")


def clean_question(text: str) -> str:
    """Text as typed, made safe for tokenizers: undecodable bytes (a terminal's `\\xff`
    arrives as a lone surrogate), control and invisible characters removed."""
    text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return _INVISIBLE.sub("", text).strip()


def validate_query(text: str) -> str:
    """The cleaned question, or `QueryError` when it is empty or too long to search."""
    cleaned = clean_question(text)
    if not cleaned:
        raise QueryError("The question is empty; ask something like “where is the retry logic?”.")
    if len(cleaned) > MAX_QUERY_CHARS:
        raise QueryError(
            f"The question is {len(cleaned):,} characters long; please keep it under "
            f"{MAX_QUERY_CHARS:,} (quote only the relevant part)."
        )
    return cleaned


@dataclass(frozen=True)
class Retrieval:
    """The passages for a question, best first, and whether they likely do not answer it."""

    query: str
    hits: list[SearchHit]
    abstain: bool
    absent: tuple[str, ...] = ()
    """Uncommon words of the question that no source in scope contains (knowledge.coverage)."""


class Retriever:
    """Embed the query, take candidates from the index, order them in the ranking stage.

    With a `reranker`, the best `rerank_depth` candidates are scored by it before the ranking
    stage (knowledge/reranking.py). `observe`, when given, is told the seconds each retrieval
    took (a latency histogram)."""

    def __init__(
        self,
        index: SearchIndex,
        embedder: Embedder,
        alpha: float,
        ranking: Ranking,
        observe: Callable[[float], None] | None = None,
        reranker: Reranker | None = None,
        rerank_depth: int = 20,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.alpha = alpha
        self.ranking = ranking
        self.observe = observe
        self.reranker = reranker
        self.rerank_depth = rerank_depth

    async def candidates(
        self, query: str, n: int, filters: SearchFilters = SearchFilters(), alpha: float | None = None
    ) -> list[SearchHit]:
        """The index's own top `n` for the query, before the ranking stage."""
        query = validate_query(query)
        return await self._candidates(query, await self._embed(query), n, filters, alpha)

    async def _embed(self, query: str) -> np.ndarray:
        return (await self.embedder.embed([query]))[0]

    async def _candidates(
        self,
        query: str,
        vector: np.ndarray,
        n: int,
        filters: SearchFilters,
        alpha: float | None,
        corrections: Iterable[str] = (),
    ) -> list[SearchHit]:
        # Spelled-out abbreviations and corrected typos help the keyword side; the embedding
        # was measured better without the abbreviations.
        keywords = " ".join([expand_query(query), *corrections])
        hits = await self.index.query(keywords, vector, n, self.alpha if alpha is None else alpha, filters)
        if not hits and not (await self.index.stats()).chunks:
            raise EmptyIndexError()
        return hits

    async def retrieve(
        self, query: str, k: int, filters: SearchFilters = SearchFilters(), alpha: float | None = None
    ) -> Retrieval:
        started = time.perf_counter()
        query = validate_query(query)
        alpha = self.alpha if alpha is None else alpha  # the same weight finds and ranks the candidates
        vector = await self._embed(query)
        n = max(k, self.ranking.candidates)
        candidates = await self._candidates(query, vector, n, filters, alpha)
        unseen = unseen_terms(query, candidates)
        if unseen.corrections:
            candidates = await self._candidates(query, vector, n, filters, alpha, unseen.corrections.values())
        if self.reranker is None:
            hits = self.ranking.rank(query, candidates, k, alpha)
        else:
            reranked = await rerank(self.reranker, query, candidates, max(k, self.rerank_depth))
            hits = self.ranking.rank(query, reranked, k)
        absent = await absent_terms(unseen.names, vector, self.index, filters) if unseen.names else ()
        abstain = self.ranking.abstains(hits, absent)
        seconds = time.perf_counter() - started
        logger.debug("retrieved %d hits in %.1f ms", len(hits), seconds * 1000)
        if self.observe is not None:
            self.observe(seconds)
        return Retrieval(query, hits, abstain, absent)

    async def search(self, query: str, k: int, filters: SearchFilters = SearchFilters()) -> list[SearchHit]:
        return (await self.retrieve(query, k, filters)).hits

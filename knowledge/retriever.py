"""Retrieval: embed the query, then hybrid search in the index."""

from __future__ import annotations

import logging
import time

from knowledge.embedding import Embedder
from knowledge.index import SearchFilters, SearchHit, SearchIndex

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 4000
# Hybrid weighting (0: keywords only, 1: vectors only), tuned on the dev set: docs/benchmarks.md.
DEFAULT_ALPHA = 0.6


class QueryError(ValueError):
    """A query that cannot be searched; the message is one sentence for a person."""


def validate_query(text: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise QueryError("The question is empty; ask something like “where is the retry logic?”.")
    if len(cleaned) > MAX_QUERY_CHARS:
        raise QueryError(
            f"The question is {len(cleaned):,} characters long; please keep it under "
            f"{MAX_QUERY_CHARS:,} (quote only the relevant part)."
        )
    return cleaned


class Retriever:
    def __init__(self, index: SearchIndex, embedder: Embedder, alpha: float = DEFAULT_ALPHA) -> None:
        self.index = index
        self.embedder = embedder
        self.alpha = alpha

    async def search(
        self, query: str, k: int = 5, filters: SearchFilters = SearchFilters(), alpha: float | None = None
    ) -> list[SearchHit]:
        query = validate_query(query)
        started = time.perf_counter()
        vector = (await self.embedder.embed([query]))[0]
        hits = await self.index.query(query, vector, k, self.alpha if alpha is None else alpha, filters)
        logger.debug("retrieved %d hits in %.1f ms", len(hits), (time.perf_counter() - started) * 1000)
        return hits

"""An optional cross-encoder that re-scores the best candidates against the question (`RERANK_MODEL`).

A cross-encoder reads the question and a passage together, so it judges relevance better
than a bi-encoder's two separate vectors, at a cost per passage: on this project's 2-core
machine a MiniLM-sized cross-encoder takes about 80 ms per candidate of up to 512 tokens
(docs/benchmarks.md). It is off by default: no cross-encoder model ships with lorebot, and
none is downloaded at run time; point `RERANK_MODEL` at a local sentence-transformers
CrossEncoder directory to turn it on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Protocol

from knowledge.errors import LorebotError
from knowledge.index import SearchHit


class RerankModelError(LorebotError):
    """The cross-encoder cannot be loaded; the message names the setting to change."""


class Reranker(Protocol):
    async def relevance(self, question: str, passages: Sequence[str]) -> list[float]:
        """A relevance in [0, 1] per passage, higher is better."""
        ...


class CrossEncoderReranker:
    """sentence-transformers `CrossEncoder` on the CPU, loaded offline, on a thread of its own."""

    def __init__(self, model: str, batch_size: int = 32) -> None:
        from sentence_transformers import CrossEncoder  # torch: only when a reranker is configured

        try:
            self._model = CrossEncoder(model, device="cpu", local_files_only=True, num_labels=1)
        except Exception as exc:  # the library raises many kinds; all mean the same here
            raise RerankModelError(
                f"Cannot load the cross-encoder {model!r} offline; set RERANK_MODEL to a local "
                "sentence-transformers CrossEncoder directory, or leave it empty to rank without one."
            ) from exc
        self.batch_size = batch_size
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lorebot-rerank")

    def relevance_sync(self, question: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        scores = self._model.predict(
            [(question, passage) for passage in passages], batch_size=self.batch_size, show_progress_bar=False
        )
        return [float(score) for score in scores]

    async def relevance(self, question: str, passages: Sequence[str]) -> list[float]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self.relevance_sync, question, list(passages))


async def rerank(reranker: Reranker, question: str, candidates: Sequence[SearchHit], depth: int) -> list[SearchHit]:
    """The best `depth` candidates, each scored by the reranker instead of the index."""
    best = list(candidates[:depth])
    scores = await reranker.relevance(question, [f"{hit.chunk.title}\n{hit.chunk.text}" for hit in best])
    return [replace(hit, score=score) for hit, score in zip(best, scores, strict=True)]

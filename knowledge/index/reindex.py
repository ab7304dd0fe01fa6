"""Copying one search index into another with its stored vectors (`lorebot reindex`).

Nothing is embedded again: every document goes over whole, as `export_documents` reads it
(every stored field of every chunk, and the vectors), through the target's
`replace_document`, and the target is bound to the source's model first. The copy is
resumable and leaves the target a mirror of the source: a document the target already
stores alike (the same `StoredDocument.version`) is skipped, one it stores differently is
replaced, one the source does not hold is removed. At the end both must count the same
documents and chunks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

from knowledge.errors import LorebotError
from knowledge.index import IndexModelMismatch, SearchIndex

logger = logging.getLogger(__name__)

WRITES_IN_FLIGHT = 4  # overlaps a remote server's round trips; docs/benchmarks.md, `lorebot reindex`


class ReindexError(LorebotError):
    """Nothing to copy, or the copy does not match its source."""


class ReindexProgress(Protocol):
    def step(self, description: str, total: int) -> None:
        """A new step of `total` documents."""
        ...

    def advance(self) -> None:
        """One more document of the current step is done."""
        ...


@dataclass(frozen=True)
class ReindexSummary:
    documents: int  # in each index at the end
    chunks: int
    copied: int  # documents written to the target
    unchanged: int  # documents the target already stored alike
    removed: int  # documents only the target held
    model: str
    seconds: float


@dataclass(frozen=True)
class Endpoint:
    """An index and how messages name it ("Weaviate at http://…")."""

    index: SearchIndex
    name: str


async def copy_index(source: Endpoint, target: Endpoint, progress: ReindexProgress) -> ReindexSummary:
    started = time.monotonic()
    stats = await source.index.stats()
    if not stats.chunks or stats.model is None or stats.dimension is None:
        raise ReindexError(f"Nothing to copy: {source.name} is empty (are DATA_DIR and WEAVIATE_URL right?).")
    await _bind(target, stats.model, stats.dimension)

    progress.step(f"Reading what {target.name} holds", (await target.index.stats()).documents)
    held: dict[tuple[str, str], str] = {}
    async for document in target.index.export_documents():
        held[document.source, document.document_id] = document.version
        progress.advance()

    progress.step(f"Copying to {target.name}", stats.documents)
    copied = unchanged = 0
    writes = _Writes(WRITES_IN_FLIGHT, progress)
    try:
        async for document in source.index.export_documents():
            key = (document.source, document.document_id)
            if held.pop(key, None) == document.version:
                unchanged += 1
                progress.advance()
            else:
                await writes.add(target.index.replace_document(*key, document.chunks, document.vectors))
                copied += 1
        await writes.finish()
        if held:
            progress.step(f"Removing what only {target.name} holds", len(held))
        for source_name, document_id in held:
            await writes.add(target.index.delete_document(source_name, document_id))
        await writes.finish()
    finally:
        await writes.cancel()

    return ReindexSummary(
        *await _same_counts(source, target), copied, unchanged, len(held), stats.model, time.monotonic() - started
    )


class _Writes:
    """At most `limit` writes in flight (a server's round trips overlap); the first failure
    is raised as it is, and `cancel` stops the rest."""

    def __init__(self, limit: int, progress: ReindexProgress) -> None:
        self.limit, self.progress = limit, progress
        self.pending: set[asyncio.Future[None]] = set()

    async def add(self, write: Awaitable[None]) -> None:
        async def done() -> None:
            await write
            self.progress.advance()

        self.pending.add(asyncio.ensure_future(done()))
        if len(self.pending) >= self.limit:
            await self._settle(asyncio.FIRST_COMPLETED)

    async def finish(self) -> None:
        if self.pending:
            await self._settle(asyncio.ALL_COMPLETED)

    async def _settle(self, when: str) -> None:
        done, self.pending = await asyncio.wait(self.pending, return_when=when)
        for task in done:
            task.result()

    async def cancel(self) -> None:
        for task in self.pending:
            task.cancel()
        await asyncio.gather(*self.pending, return_exceptions=True)


async def _bind(target: Endpoint, model: str, dimension: int) -> None:
    """Bind the target to the source's model; a target of another model is cleared first
    (the copy would replace or remove every document it holds anyway)."""
    try:
        await target.index.bind_model(model, dimension)
    except IndexModelMismatch:
        logger.warning("%s holds vectors of another model: clearing it to copy %s", target.name, model)
        await target.index.clear()
        await target.index.bind_model(model, dimension)


async def _same_counts(source: Endpoint, target: Endpoint) -> tuple[int, int]:
    ours, theirs = await source.index.stats(), await target.index.stats()
    if (ours.documents, ours.chunks) != (theirs.documents, theirs.chunks):
        raise ReindexError(
            f"The copy does not match: {target.name} holds {theirs.documents} documents and {theirs.chunks} "
            f"chunks, {source.name} {ours.documents} and {ours.chunks}; run the copy again (it resumes) "
            "while nothing else writes to either."
        )
    return ours.documents, ours.chunks

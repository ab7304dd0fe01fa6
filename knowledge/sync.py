"""The sync pipeline: a source's changes → redaction → chunks → embeddings (only new content) → index.

Every document, from every source, has its secrets replaced by markers
(`knowledge.redaction`) before it is chunked: nothing after this point (the index, an
answer, a prompt) ever holds one. The sync state keeps the hash of the document as the
source gave it, so an unchanged file is not read again.

Sync state (cursor, what is indexed at which version) lives behind `SyncStateStore`;
the pipeline stores a cursor only at a `Checkpoint`, after everything yielded before
it is in the index, so a crash never skips a change. One source failing is a value in
its summary, never an exception that stops the other sources.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, assert_never

import numpy as np

from knowledge.chunking import CHUNKING_VERSION, chunk_document
from knowledge.documents import Chunk, Document
from knowledge.embedding import Embedder
from knowledge.index import SearchIndex
from knowledge.sources import Change, Checkpoint, Deletion, Listing, Notice, Skipped, Source, SourceError

if TYPE_CHECKING:
    from knowledge.redaction import Finding

logger = logging.getLogger(__name__)

FLUSH_DOCUMENTS = 64


def indexed_hash(document: Document) -> str:
    """What the sync state records of an indexed document: the chunking version and its
    content hash (64 characters in all, the column's width)."""
    return f"{CHUNKING_VERSION}:{document.hash}"[:64]


def _chunked_by_older_version(indexed: Mapping[str, IndexedDocument]) -> bool:
    return any(not doc.hash.startswith(f"{CHUNKING_VERSION}:") for doc in indexed.values())


@dataclass(frozen=True)
class IndexedDocument:
    version: str
    hash: str


@dataclass
class SyncSummary:
    name: str
    kind: str
    added: int = 0
    updated: int = 0
    deleted: int = 0
    skipped: int = 0
    redacted: int = 0
    """Secrets replaced by a marker in the documents indexed by this run."""
    chunks_embedded: int = 0
    seconds: float = 0.0
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    skipped_files: list[Skipped] = field(default_factory=list)

    def as_json(self) -> dict:
        """The per-source shape of the `sync --json` contract, plus `skipped_files` (what and why)
        and `redacted` (secrets replaced by a marker)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "added": self.added,
            "updated": self.updated,
            "deleted": self.deleted,
            "skipped": self.skipped,
            "skipped_files": [{"path": s.external_id, "reason": s.reason} for s in self.skipped_files],
            "redacted": self.redacted,
            "chunks_embedded": self.chunks_embedded,
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }


@dataclass(frozen=True)
class StoredDocument:
    document: Document
    chunks: int


class SyncStateStore(Protocol):
    async def begin(self, source: str, kind: str) -> tuple[str | None, dict[str, IndexedDocument]]:
        """The stored cursor and the documents indexed now (external id → state)."""
        ...

    async def save_documents(self, source: str, documents: Sequence[StoredDocument]) -> None: ...

    async def mark_deleted(self, source: str, external_ids: Sequence[str]) -> None: ...

    async def save_cursor(self, source: str, cursor: str) -> None: ...

    async def finish(self, summary: SyncSummary, full: bool) -> None: ...

    async def sources(self) -> dict[str, str]:
        """Every source with recorded state: name → kind."""
        ...

    async def forget(self, source: str) -> int:
        """Drop a source's state (cursor, documents, runs); how many live documents it had."""
        ...


class SyncProgress(Protocol):
    def advance(self, source: str, documents: int, chunks_embedded: int) -> None: ...


class _Run:
    """The state of one source's sync while its changes stream in."""

    def __init__(self, source: Source, indexed: dict[str, IndexedDocument], full: bool) -> None:
        self.summary = SyncSummary(source.name, source.kind)
        self.indexed = indexed
        self.full = full
        self.pending: dict[str, Document] = {}
        self.pending_deletions: set[str] = set()
        self.seen: set[str] = set()


def _redact_and_chunk(document: Document) -> tuple[tuple[Finding, ...], list[Chunk]]:
    from knowledge.redaction import redact_document  # detect-secrets: loaded by a sync only

    redacted, findings = redact_document(document)
    return findings, chunk_document(redacted)


class SyncPipeline:
    def __init__(
        self,
        index: SearchIndex,
        embedder: Embedder,
        state: SyncStateStore,
        progress: SyncProgress | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.state = state
        self.progress = progress

    async def sync(self, source: Source, full: bool = False) -> SyncSummary:
        started = time.perf_counter()
        stored_cursor, indexed = await self.state.begin(source.name, source.kind)
        if indexed and not full and not (await self.index.stats()).sources.get(source.name):
            logger.warning(
                "the index holds nothing of %s though %d documents are recorded (rebuilt or lost?): "
                "re-reading everything",
                source.name,
                len(indexed),
            )
            full = True
        elif indexed and not full and _chunked_by_older_version(indexed):
            # The chunkers changed since: re-read and re-chunk everything once; unchanged
            # chunk texts keep their vectors, so little is embedded again.
            logger.warning("%s was chunked by an older lorebot: re-reading everything once", source.name)
            full = True
        run = _Run(source, indexed, full)
        try:
            cursor = None if full else stored_cursor
            versions = {} if full else {key: doc.version for key, doc in indexed.items()}
            async for change in source.changes(cursor, versions):
                await self._apply(run, change)
            await self._flush(run)
        except SourceError as exc:
            run.summary.error = str(exc)
            logger.warning("sync of %s failed: %s", source.name, exc)
        except Exception as exc:  # a bug or an unexpected fault: record it, keep other sources going
            run.summary.error = f"unexpected error: {type(exc).__name__}: {exc}"
            logger.exception("sync of %s failed unexpectedly", source.name)
        run.summary.seconds = time.perf_counter() - started
        await self.state.finish(run.summary, full)
        return run.summary

    async def _apply(self, run: _Run, change: Change) -> None:
        match change:
            case Document():
                run.pending_deletions.discard(change.external_id)
                run.pending[change.external_id] = change
                run.seen.add(change.external_id)
                if len(run.pending) >= FLUSH_DOCUMENTS:
                    await self._flush(run)
            case Deletion():
                run.pending.pop(change.external_id, None)
                run.pending_deletions.add(change.external_id)
            case Listing():
                gone = set(run.indexed) - change.external_ids - run.seen
                run.pending_deletions.update(gone)
            case Skipped():
                run.summary.skipped += 1
                run.summary.skipped_files.append(change)
                logger.info("%s: skipped %s (%s)", run.summary.name, change.external_id, change.reason)
            case Checkpoint():
                await self._flush(run)
                await self.state.save_cursor(run.summary.name, change.cursor)
            case Notice():
                if change.text not in run.summary.notes:
                    run.summary.notes.append(change.text)
            case _:
                assert_never(change)

    async def remove_sources_except(self, configured: set[str]) -> list[SyncSummary]:
        """Remove every source not in `configured` from the index and the sync state, so a
        repository taken out of REPOS stops being searchable; one summary per removed source."""
        recorded = await self.state.sources()
        indexed = (await self.index.stats()).sources
        summaries = []
        for name in sorted((set(recorded) | set(indexed)) - configured):
            started = time.perf_counter()
            await self.index.delete_source(name)  # first: a crash before forgetting only repeats this
            documents = await self.state.forget(name)
            logger.warning("source %s is no longer configured: removed %d documents from the index", name, documents)
            summaries.append(
                SyncSummary(
                    name,
                    recorded.get(name, "unknown"),
                    deleted=documents,
                    seconds=time.perf_counter() - started,
                    notes=["no longer configured: removed from the index"],
                )
            )
        return summaries

    async def _flush(self, run: _Run) -> None:
        """Index pending documents, then apply pending deletions (after, so a renamed
        file's unchanged chunks can reuse the vectors of its old path)."""
        documents = [doc for doc in run.pending.values() if self._changed(run, doc)]
        run.pending.clear()
        if documents:
            await self._index_documents(run, documents)
        deletions = sorted(run.pending_deletions & set(run.indexed))
        run.pending_deletions.clear()
        if deletions:
            for external_id in deletions:
                await self.index.delete_document(run.summary.name, external_id)
                del run.indexed[external_id]
            await self.state.mark_deleted(run.summary.name, deletions)
            run.summary.deleted += len(deletions)

    @staticmethod
    def _changed(run: _Run, document: Document) -> bool:
        known = run.indexed.get(document.external_id)
        return run.full or known is None or known.hash != indexed_hash(document)

    async def _index_documents(self, run: _Run, documents: list[Document]) -> None:
        prepared = await asyncio.to_thread(lambda: [_redact_and_chunk(doc) for doc in documents])
        chunked = []
        for document, (findings, chunks) in zip(documents, prepared, strict=True):
            if findings:
                run.summary.redacted += len(findings)
                logger.info(
                    "%s: redacted %d secrets in %s (%s)",
                    run.summary.name,
                    len(findings),
                    document.external_id,
                    ", ".join(f"{f.kind} at line {f.line}" for f in findings),
                )
            chunked.append(chunks)
        vectors = await self._vectors_for(run, [chunk for chunks in chunked for chunk in chunks])
        stored = []
        for document, chunks in zip(documents, chunked, strict=True):
            matrix = (
                np.stack([vectors[c.hash] for c in chunks])
                if chunks
                else np.zeros((0, self.embedder.dimension), dtype=np.float32)
            )
            await self.index.replace_document(run.summary.name, document.external_id, chunks, matrix)
            if document.external_id in run.indexed:
                run.summary.updated += 1
            else:
                run.summary.added += 1
            run.indexed[document.external_id] = IndexedDocument(document.version, indexed_hash(document))
            stored.append(StoredDocument(document, len(chunks)))
        await self.state.save_documents(run.summary.name, stored)
        if self.progress:
            self.progress.advance(run.summary.name, len(documents), 0)

    async def _vectors_for(self, run: _Run, chunks: list[Chunk]) -> Mapping[str, np.ndarray]:
        """Vectors by content hash: reused from the index where that content is embedded
        already, embedded now only where it is new."""
        texts = {chunk.hash: chunk.embedding_text for chunk in chunks}
        vectors = dict(await self.index.vectors_by_hash(list(texts)))
        missing = [h for h in texts if h not in vectors]
        if missing:
            embedded = await self.embedder.embed([texts[h] for h in missing])
            vectors.update(zip(missing, embedded, strict=True))
            run.summary.chunks_embedded += len(missing)
            if self.progress:
                self.progress.advance(run.summary.name, 0, len(missing))
        return vectors

"""The search index: one protocol, an embedded SQLite implementation and a Weaviate one."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import astuple, dataclass, field
from typing import Protocol

import numpy as np

from knowledge.documents import Chunk, Kind
from knowledge.errors import LorebotError


@dataclass(frozen=True)
class SearchFilters:
    """What a query may return, applied inside the index query on every backend (so k stays k).

    `sources`, `kinds`: empty means any. `readers`: None means no read check (the
    operator's CLI); a set of principals means only chunks they may read
    (knowledge/restrictions.py), and the empty set only unrestricted chunks.
    """

    sources: tuple[str, ...] = ()
    kinds: tuple[Kind, ...] = ()
    readers: frozenset[str] | None = None

    @property
    def narrows(self) -> bool:
        return bool(self.sources or self.kinds) or self.readers is not None


@dataclass(frozen=True)
class SearchHit:
    """A chunk with its fused score in [0, 1] and the two normalized scores it was fused from.

    Fused scores are relative to one result list; `similarity` (raw cosine of query and
    chunk) is the absolute signal for deciding whether anything matched well at all.
    """

    chunk: Chunk
    score: float
    keyword_score: float = 0.0
    vector_score: float = 0.0
    similarity: float = 0.0


@dataclass(frozen=True)
class IndexStats:
    chunks: int
    documents: int
    model: str | None = None
    sources: dict[str, int] = field(default_factory=dict)
    """Chunks by source."""
    source_documents: dict[str, int] = field(default_factory=dict)
    """Documents by source."""
    dimension: int | None = None  # of the bound model's vectors


@dataclass(frozen=True, eq=False)  # compare versions, not arrays
class StoredDocument:
    """One document as an index stores it: its chunks in ordinal order, row i with vector i."""

    source: str
    document_id: str
    chunks: tuple[Chunk, ...]
    vectors: np.ndarray

    @property
    def version(self) -> str:
        """A digest of every stored field of every chunk and of the vectors: equal in two
        indexes exactly when they store the document alike."""
        digest = hashlib.sha256()
        for chunk in self.chunks:
            digest.update(repr(astuple(chunk)).encode("utf-8", "surrogatepass"))
        digest.update(np.ascontiguousarray(self.vectors, dtype=np.float32).tobytes())
        return digest.hexdigest()


class EmptyIndexError(LorebotError):
    """Nothing has been synced yet."""

    def __init__(self) -> None:
        super().__init__("The index is empty: set REPOS (or the CONFLUENCE_* settings) and run `lorebot sync` first.")


class IndexModelMismatch(LorebotError):
    """The index holds vectors of another embedding model; a full re-sync rebuilds it."""


class SearchIndexUnavailable(LorebotError):
    """The index's server cannot be reached or did not answer in time; the message is one
    sentence for a person ("The search index (Weaviate at …) is unreachable: …")."""


class SearchIndex(Protocol):
    async def bind_model(self, model: str, dimension: int) -> None:
        """Record the embedding model of an empty index; raise `IndexModelMismatch` if
        the index already holds vectors of another model or dimension."""
        ...

    async def replace_document(
        self, source: str, document_id: str, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        """Atomically make `chunks` (row i has vector i) the only chunks of that document."""
        ...

    async def delete_document(self, source: str, document_id: str) -> None: ...

    async def delete_source(self, source: str) -> None: ...

    async def clear(self) -> None:
        """Remove every chunk and the model binding (the index is derived data; a full sync refills it)."""
        ...

    async def vectors_by_hash(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors already stored for these chunk content hashes (for skipping re-embedding)."""
        ...

    async def query(
        self,
        text: str,
        vector: np.ndarray,
        k: int,
        alpha: float,
        filters: SearchFilters = SearchFilters(),
    ) -> list[SearchHit]:
        """Hybrid search: relative score fusion of BM25 and cosine, `alpha` weighting vectors."""
        ...

    async def neighbours(self, chunk: Chunk, reach: int) -> list[Chunk]:
        """The chunks of `chunk`'s document at most `reach` ordinals from it, itself included,
        in order, as the index holds them now (none once the document is deleted)."""
        ...

    async def stats(self) -> IndexStats: ...

    def export_documents(self) -> AsyncIterator[StoredDocument]:
        """Every document with its whole stored chunks and vectors, one at a time (each read
        whole; documents written meanwhile may be missed or included)."""
        ...

    async def close(self) -> None: ...

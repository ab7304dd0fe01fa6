"""The vector side of the embedded index: exact cosine search over one in-memory matrix.

Each chunk's unit vector is a row ("slot") of one growable float32 matrix, with its row
id, source, kind and encoded read restrictions in parallel arrays beside it; a deleted chunk's slot is marked free
and reused. Search is exact in its result: a scan of every slot in a coarse copy, then the
shortlist scored again in float32 (see `top`).

The matrix is a copy of the `chunks` table (see sqlite.py) as of one value of
`meta.generation`, the counter every write transaction bumps. It is kept current two ways:

- `apply`: a write of this process hands over what it changed (a `Delta`), and the matrix
  moves to that write's generation if it reflected the one just before it;
- `catch_up`: otherwise (first query, another process wrote, the dimension changed), from
  the snapshot of a read transaction. Vanished rows are dropped and rows above the highest
  row id seen are loaded: ids only grow (AUTOINCREMENT), so those are exactly the new rows,
  and nothing already in the matrix is read again.

Not thread-safe: SqliteIndex calls it only under its read lock.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from knowledge.cpu import seconds_for
from knowledge.index import SearchFilters
from knowledge.restrictions import Restrictions, decode, readable

logger = logging.getLogger(__name__)

SHORTLIST_FACTOR = 4
"""The coarse scan keeps this many times the rows asked for (plus `SHORTLIST_EXTRA`) for the exact scoring."""
SHORTLIST_EXTRA = 64
SCAN_PROBE_ROWS = 65_536
"""Rows of the matrix `scan_dtype` times each format on: more than a CPU cache holds, as an index's matrix is."""
SCAN_PROBE_ROUNDS = 3


@cache
def _torch() -> Any:
    import torch  # with the first rows; a process that queries has it loaded for the embedder anyway

    return torch


@cache
def scan_dtype(dimension: int) -> Any:
    """The number format the coarse scan runs fastest in on this CPU, measured once per process.

    The scan is bound by memory, so a 16-bit copy halves the bytes it reads, but CPUs differ
    in which 16-bit format they multiply fast: at 100k rows bfloat16 took 1.7 ms on an Intel
    machine with AMX and 10.5 ms on an AMD EPYC with AVX512-BF16, where float16 took 3.1 ms
    and float32 12 ms (docs/benchmarks.md). Which format wins changes no result: the
    shortlist is scored again in float32 (`VectorStore.top`)."""
    torch = _torch()

    def seconds(dtype: Any) -> float:
        matrix = torch.full((SCAN_PROBE_ROWS, dimension), 0.05, dtype=dtype)  # values do not change the time
        vector = torch.full((dimension,), 0.05, dtype=dtype)
        return seconds_for(lambda: torch.mv(matrix, vector), SCAN_PROBE_ROUNDS)

    fastest = min((torch.bfloat16, torch.float16, torch.float32), key=seconds)
    logger.debug("the vector scan runs in %s on this CPU", fastest)
    return fastest


@dataclass(frozen=True)
class Delta:
    """What one committed write changed, for updating the matrix without reloading it."""

    removed: list[int]
    added: list[int]
    sources: list[str]
    kinds: list[str]
    restrictions: list[str]
    vectors: np.ndarray


class VectorStore:
    """Unit vectors by chunk row id in one growable float32 matrix; freed slots are reused."""

    def __init__(self) -> None:
        self.generation = -1  # the generation the matrix reflects; -1: not loaded
        self._reset(0)

    def _reset(self, dimension: int) -> None:
        self.dimension = dimension
        self.matrix = np.zeros((0, dimension), dtype=np.float32)
        self.coarse: Any = None  # the matrix in the scan's dtype (a torch tensor), made with the first rows
        self.row_ids = np.zeros(0, dtype=np.int64)  # 0 marks a free slot
        self.sources = np.zeros(0, dtype=np.int32)
        self.kinds = np.zeros(0, dtype=np.int32)
        self.restrictions = np.zeros(0, dtype=np.int32)
        self.codes: dict[str, int] = {}
        self.restriction_codes: dict[str, int] = {}  # encoded restrictions → code, for every value seen
        self._decoded: dict[str, Restrictions] = {}
        self.slot_of: dict[int, int] = {}
        self.free: list[int] = []
        self.size = 0  # slots in use or freed; the rest is spare capacity
        self.max_row_id = 0

    # -- keeping up with the database -----------------------------------------------------

    def apply(self, generation: int, delta: Delta | None) -> None:
        """Bring the matrix to `generation` if it reflected the one before; else leave it stale
        (not loaded yet, another process wrote in between, or the model changed)."""
        if delta is None or self.generation != generation - 1:
            return
        if delta.added and delta.vectors.shape[1] != self.dimension:
            return
        self.remove(delta.removed)
        self.add(delta.added, delta.sources, delta.kinds, delta.restrictions, delta.vectors)
        self.generation = generation

    def catch_up(self, conn: sqlite3.Connection, generation: int) -> None:
        """Bring the matrix to the snapshot of `conn`'s read transaction, at `generation`."""
        stored = conn.execute("SELECT value FROM meta WHERE key = 'dimension'").fetchone()
        dimension = int(stored[0]) if stored else 0
        if self.dimension != dimension:
            self._reset(dimension)
        present = np.fromiter((row[0] for row in conn.execute("SELECT id FROM chunks")), dtype=np.int64)
        known = np.fromiter(self.slot_of, dtype=np.int64, count=len(self.slot_of))
        self.remove(np.setdiff1d(known, present, assume_unique=True).tolist())
        newer = (self.max_row_id,)
        self.reserve(conn.execute("SELECT count(*) FROM chunks WHERE id > ?", newer).fetchone()[0])
        cursor = conn.execute(
            "SELECT id, source, kind, restrictions, vector FROM chunks WHERE id > ? ORDER BY id", newer
        )
        loaded = 0
        while rows := cursor.fetchmany(4096):  # in batches: a copy of every blob at once would double the memory
            row_ids, sources, kinds, restrictions, blobs = zip(*rows, strict=True)
            matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(rows), dimension)
            self.add(row_ids, sources, kinds, restrictions, matrix)
            loaded += len(rows)
        logger.debug("index matrix refreshed to generation %d: %d rows loaded", generation, loaded)
        self.generation = generation

    # -- slots ----------------------------------------------------------------------------

    def _code(self, value: str) -> int:
        return self.codes.setdefault(value, len(self.codes))

    def _restriction_code(self, value: str) -> int:
        if value not in self.restriction_codes:
            self.restriction_codes[value] = len(self.restriction_codes)
            self._decoded[value] = decode(value)
        return self.restriction_codes[value]

    def readable_values(self, readers: frozenset[str]) -> tuple[str, ...]:
        """The encoded restrictions seen (a superset of those stored now) these readers may read:
        a handful of values, checked once per query instead of once per row."""
        return tuple(value for value, levels in self._decoded.items() if readable(levels, readers))

    def remove(self, row_ids: Iterable[int]) -> None:
        for row_id in row_ids:
            slot = self.slot_of.pop(int(row_id), None)
            if slot is not None:
                self.row_ids[slot] = 0
                self.free.append(slot)

    def add(
        self,
        row_ids: Sequence[int],
        sources: Sequence[str],
        kinds: Sequence[str],
        restrictions: Sequence[str],
        vectors: np.ndarray,
    ) -> None:
        if not len(row_ids):
            return
        reused = [self.free.pop() for _ in range(min(len(self.free), len(row_ids)))]
        fresh = len(row_ids) - len(reused)
        self.reserve(fresh)
        slots = np.array(reused + list(range(self.size, self.size + fresh)), dtype=np.int64)
        self.size += fresh
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.matrix[slots] = vectors / np.where(norms == 0, 1.0, norms)
        torch = _torch()
        self.coarse[torch.from_numpy(slots)] = torch.from_numpy(self.matrix[slots]).to(self.coarse.dtype)
        self.row_ids[slots] = row_ids
        self.sources[slots] = [self._code(source) for source in sources]
        self.kinds[slots] = [self._code(kind) for kind in kinds]
        self.restrictions[slots] = [self._restriction_code(value) for value in restrictions]
        self.slot_of.update(zip(map(int, row_ids), slots.tolist(), strict=True))
        self.max_row_id = max(self.max_row_id, int(max(row_ids)))

    def reserve(self, more: int) -> None:
        """Room for `more` rows beyond the used slots (grows by half, to amortize copies)."""
        needed = self.size + more
        if needed <= len(self.row_ids):
            return
        capacity = max(needed, int(len(self.row_ids) * 1.5) + 1024)
        grown = np.zeros((capacity, self.dimension), dtype=np.float32)
        grown[: self.size] = self.matrix[: self.size]
        self.matrix = grown
        coarse = _torch().zeros((capacity, self.dimension), dtype=scan_dtype(self.dimension))
        if self.coarse is not None:
            coarse[: self.size] = self.coarse[: self.size]
        self.coarse = coarse
        for name in ("row_ids", "sources", "kinds", "restrictions"):
            old = getattr(self, name)
            new = np.zeros(capacity, dtype=old.dtype)
            new[: self.size] = old[: self.size]
            setattr(self, name, new)

    # -- search ---------------------------------------------------------------------------

    def top(
        self, query: np.ndarray, n: int, filters: SearchFilters, permitted: Sequence[str] | None = None
    ) -> dict[int, float]:
        """The n best row ids passing the filters, with their cosine similarity; `permitted`
        (when not None) lists the encoded restrictions a row may have (`readable_values`).

        Every row is scored in the coarse copy, the best `SHORTLIST_FACTOR` × n of them again in
        float32, and those scores decide: only a row the rounding of the coarse copy pushed out
        of the whole shortlist could be missed (a 16-bit format moves a cosine by under 0.001; on the
        benchmark's 297 dev questions the top 50 were exactly those of a float32 scan)."""
        if self.coarse is None:
            return {}
        torch = _torch()
        coarse = torch.mv(self.coarse[: self.size], torch.from_numpy(query).to(self.coarse.dtype))
        scores = coarse.float().numpy()
        checks: list[tuple[np.ndarray, Sequence[str]]] = [
            (values, wanted)
            for values, wanted in ((self.sources, filters.sources), (self.kinds, filters.kinds))
            if wanted
        ]
        if checks or permitted is not None:
            allowed = self.row_ids[: self.size] != 0
            for values, wanted in checks:
                codes = [self.codes[value] for value in wanted if value in self.codes]
                allowed &= np.isin(values[: self.size], codes)
            if permitted is not None:  # empty: no row passes
                codes = [self.restriction_codes[value] for value in permitted if value in self.restriction_codes]
                allowed &= np.isin(self.restrictions[: self.size], codes)
            scores[~allowed] = -np.inf
            live = int(np.count_nonzero(allowed))
        else:
            scores[self.free] = -np.inf
            live = len(self.slot_of)
        n = min(n, live)
        if n == 0:
            return {}
        shortlist = _best(scores, min(live, SHORTLIST_FACTOR * n + SHORTLIST_EXTRA))
        shortlist = shortlist[np.isfinite(scores[shortlist])]
        exact = self.matrix[shortlist] @ query
        keep = _best(exact, n)
        return dict(zip(self.row_ids[shortlist[keep]].tolist(), exact[keep].tolist(), strict=True))

    def similarity(self, row_ids: Sequence[int], query: np.ndarray) -> dict[int, float]:
        """Cosine similarity of the query to a few rows."""
        known = [row_id for row_id in row_ids if row_id in self.slot_of]
        found = self.matrix[[self.slot_of[row_id] for row_id in known]] @ query if known else []
        return dict(zip(known, map(float, found), strict=True))


def _best(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the n highest scores, in no order."""
    return np.argpartition(scores, -n)[-n:] if n < len(scores) else np.arange(len(scores))

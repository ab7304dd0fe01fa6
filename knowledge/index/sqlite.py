"""The embedded search index: SQLite FTS5 (BM25) plus exact vector search in numpy.

`<directory>/index.sqlite3` holds `chunks` (every Chunk field and its float32 vector),
`chunks_fts` (FTS5 over title, text and keywords, kept in step by triggers) and `meta`
(model, dimension, generation). Vectors are searched in memory: one matrix of unit rows.

Consistency: WAL mode; one connection writes, another reads. Every write transaction
bumps `meta.generation`. A query runs inside one read transaction; when the stored
generation is not the one the matrix reflects (another process committed), the matrix is
refreshed from that same snapshot first, so both sides of a query see one committed state.
This instance's own writes update the matrix incrementally, under the lock that also
guards their COMMIT, so a reader never sees the database and the matrix disagree.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from knowledge.documents import Chunk
from knowledge.index import IndexModelMismatch, IndexStats, SearchFilters, SearchHit
from knowledge.index.fusion import KEYWORD_FIELD_WEIGHTS, fuse

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_QUERY_TERMS = 32
_BM25 = "bm25({})".format(", ".join(str(KEYWORD_FIELD_WEIGHTS[name]) for name in ("title", "text", "keywords")))

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('generation', '0');
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL, document_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
    kind TEXT NOT NULL, title TEXT NOT NULL, url TEXT NOT NULL, path TEXT NOT NULL,
    text TEXT NOT NULL, keywords TEXT NOT NULL, symbol TEXT NOT NULL,
    start_line INTEGER, end_line INTEGER, anchor TEXT NOT NULL, hash TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_document ON chunks (source, document_id);
CREATE INDEX IF NOT EXISTS chunks_hash ON chunks (hash);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5 (
    title, text, keywords, content='chunks', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, title, text, keywords)
    VALUES (new.id, new.title, new.text, new.keywords);
END;
CREATE TRIGGER IF NOT EXISTS chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, title, text, keywords)
    VALUES ('delete', old.id, old.title, old.text, old.keywords);
END;
"""

_CHUNK_COLUMNS = (
    "source, document_id, ordinal, kind, title, url, path, text, keywords, symbol, "
    "start_line, end_line, anchor, hash"
)

_STOPWORDS = frozenset("""
a about above after again all also am an and any are as at be because been before being
below between both but by can could did do does doing done down during each else few for
from further get got had has have having he her here hers him his how i if in into is it its
itself just let like me more most my no nor not now of off on once only or other our ours out
over own please same she should so some such than that the their theirs them then there these
they this those through to too under until up us very was we were what when where which while
who whom why will with would you your yours
""".split())

_WORD = re.compile(r"[^\W_]+")
_CAMEL_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def query_terms(text: str) -> list[str]:
    """Free text → FTS5 terms: its words and camelCase parts, quoted, without stopwords.

    Quoting makes every term a plain string, so FTS5 syntax in a question (AND, NEAR, `*`,
    quotes, parentheses) is searched for, never parsed. Empty when nothing is left.
    """
    terms: dict[str, None] = {}
    for word in _WORD.findall(text):
        for term in (word, *_CAMEL_PART.findall(word)):
            term = term.lower()
            if len(term) > 1 and term not in _STOPWORDS:
                terms.setdefault(f'"{term}"')
    return list(terms)[:MAX_QUERY_TERMS]


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")  # the index is derived data
    return connection


class _Vectors:
    """Unit vectors by chunk row id in one growable float32 matrix; freed slots are reused."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self.matrix = np.zeros((0, dimension), dtype=np.float32)
        self.row_ids = np.zeros(0, dtype=np.int64)  # 0 marks a free slot
        self.sources = np.zeros(0, dtype=np.int32)
        self.kinds = np.zeros(0, dtype=np.int32)
        self.codes: dict[str, int] = {}
        self.slot_of: dict[int, int] = {}
        self.free: list[int] = []
        self.size = 0  # slots in use or freed; the rest is spare capacity
        self.max_row_id = 0

    def _code(self, value: str) -> int:
        return self.codes.setdefault(value, len(self.codes))

    def remove(self, row_ids: Iterable[int]) -> None:
        for row_id in row_ids:
            slot = self.slot_of.pop(int(row_id), None)
            if slot is not None:
                self.row_ids[slot] = 0
                self.free.append(slot)

    def add(self, row_ids: Sequence[int], sources: Sequence[str], kinds: Sequence[str], vectors: np.ndarray) -> None:
        if not len(row_ids):
            return
        reused = [self.free.pop() for _ in range(min(len(self.free), len(row_ids)))]
        fresh = len(row_ids) - len(reused)
        self.reserve(fresh)
        slots = np.array(reused + list(range(self.size, self.size + fresh)), dtype=np.int64)
        self.size += fresh
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.matrix[slots] = vectors / np.where(norms == 0, 1.0, norms)
        self.row_ids[slots] = row_ids
        self.sources[slots] = [self._code(source) for source in sources]
        self.kinds[slots] = [self._code(kind) for kind in kinds]
        self.slot_of.update(zip(map(int, row_ids), slots.tolist()))
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
        for name in ("row_ids", "sources", "kinds"):
            old = getattr(self, name)
            new = np.zeros(capacity, dtype=old.dtype)
            new[: self.size] = old[: self.size]
            setattr(self, name, new)

    def top(self, query: np.ndarray, n: int, filters: SearchFilters) -> dict[int, float]:
        """The n best row ids passing the filters, with their cosine similarity.

        einsum, not `@`: a matrix-vector product is memory-bound, and multi-threaded BLAS
        only adds thread hand-offs (badly so on a busy 2-core machine).
        """
        scores = np.einsum("ij,j->i", self.matrix[: self.size], query)
        if filters.sources or filters.kinds:
            allowed = self.row_ids[: self.size] != 0
            for values, wanted in ((self.sources, filters.sources), (self.kinds, filters.kinds)):
                if wanted:
                    codes = [self.codes[value] for value in wanted if value in self.codes]
                    allowed &= np.isin(values[: self.size], codes)
            scores[~allowed] = -np.inf
            live = int(np.count_nonzero(allowed))
        else:
            scores[self.free] = -np.inf
            live = len(self.slot_of)
        n = min(n, live)
        if n == 0:
            return {}
        best = np.argpartition(scores, -n)[-n:] if n < len(scores) else np.arange(len(scores))
        best = best[np.isfinite(scores[best])]
        return dict(zip(self.row_ids[best].tolist(), scores[best].tolist()))

    def similarity(self, row_ids: Sequence[int], query: np.ndarray) -> dict[int, float]:
        """Cosine similarity of the query to a few rows."""
        known = [row_id for row_id in row_ids if row_id in self.slot_of]
        found = self.matrix[[self.slot_of[row_id] for row_id in known]] @ query if known else []
        return dict(zip(known, map(float, found)))


@dataclass(frozen=True)
class _Delta:
    """What one committed write changed, for updating the matrix without reloading it."""

    removed: list[int]
    added: list[int]
    sources: list[str]
    kinds: list[str]
    vectors: np.ndarray


class SqliteIndex:
    """SearchIndex in `directory`: BM25 from SQLite FTS5, cosine from numpy, relative score fusion.

    `candidates` is how many results each side contributes to fusion (at least k).
    `keyword_budget` bounds the BM25 work: FTS5 scores every row that matches any term,
    so the most common terms of a question are left out once the rows matching the rarer
    ones add up to this many (the rarest term is always kept). Common terms carry little
    BM25 weight (low IDF); in a 100k-chunk index they would match half of it.
    """

    def __init__(self, directory: Path, candidates: int = 100, keyword_budget: int = 5000) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "index.sqlite3"
        self.candidates = candidates
        self.keyword_budget = keyword_budget
        self._writer = _connect(self.path)
        self._writer.executescript(_SCHEMA)
        self._reader = _connect(self.path)
        # Keyword search runs here while the calling thread does the vector side.
        self._keyword_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lorebot-fts")
        self._write_lock = threading.Lock()  # one write transaction at a time in this process
        self._read_lock = threading.Lock()  # guards the reader, the matrix and our COMMITs
        self._vectors: _Vectors | None = None
        self._generation = -1  # the generation the matrix reflects; -1: not loaded

    # -- writes ---------------------------------------------------------------------------

    async def bind_model(self, model: str, dimension: int) -> None:
        await asyncio.to_thread(self._write, lambda conn: self._bind(conn, model, dimension))

    async def replace_document(
        self, source: str, document_id: str, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if chunks and (vectors.ndim != 2 or len(vectors) != len(chunks)):
            raise ValueError(f"{len(chunks)} chunks need {len(chunks)} vectors, got an array of shape {vectors.shape}")
        await asyncio.to_thread(
            self._write, lambda conn: self._replace(conn, source, document_id, chunks, vectors)
        )

    async def delete_document(self, source: str, document_id: str) -> None:
        await asyncio.to_thread(
            self._write, lambda conn: self._delete(conn, "source = ? AND document_id = ?", (source, document_id))
        )

    async def delete_source(self, source: str) -> None:
        await asyncio.to_thread(self._write, lambda conn: self._delete(conn, "source = ?", (source,)))

    def _write(self, change: Callable[[sqlite3.Connection], _Delta | None]) -> None:
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                delta = change(conn)
                generation = int(conn.execute(
                    "UPDATE meta SET value = value + 1 WHERE key = 'generation' RETURNING value"
                ).fetchone()[0])
                with self._read_lock:
                    conn.execute("COMMIT")
                    self._apply(generation, delta)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _apply(self, generation: int, delta: _Delta | None) -> None:
        """Bring the matrix to `generation` if it reflected the one before; else leave it stale
        (not loaded yet, another process wrote in between, or the model changed)."""
        vectors = self._vectors
        if delta is None or vectors is None or self._generation != generation - 1:
            return
        if delta.added and delta.vectors.shape[1] != vectors.dimension:
            return
        vectors.remove(delta.removed)
        vectors.add(delta.added, delta.sources, delta.kinds, delta.vectors)
        self._generation = generation

    def _bind(self, conn: sqlite3.Connection, model: str, dimension: int) -> None:
        stored = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('model', 'dimension')").fetchall())
        filled = conn.execute("SELECT EXISTS (SELECT 1 FROM chunks)").fetchone()[0]
        stored_dimension = int(stored["dimension"]) if "dimension" in stored else None
        differs = stored.get("model", model) != model or (stored_dimension or dimension) != dimension
        if filled and differs:
            raise IndexModelMismatch(
                f"The index in {self.path.parent} holds vectors of model {stored.get('model', 'unknown')!r} "
                f"(dimension {stored_dimension}), not {model!r} (dimension {dimension}); delete that "
                "directory and run a full sync to rebuild it with the new model."
            )
        conn.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [("model", model), ("dimension", str(dimension))],
        )

    def _replace(
        self, conn: sqlite3.Connection, source: str, document_id: str, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> _Delta:
        removed = self._delete(conn, "source = ? AND document_id = ?", (source, document_id)).removed
        if not chunks:
            return _Delta(removed, [], [], [], vectors)
        stored = conn.execute("SELECT value FROM meta WHERE key = 'dimension'").fetchone()
        if stored is None:
            conn.execute("INSERT INTO meta (key, value) VALUES ('dimension', ?)", (str(vectors.shape[1]),))
        elif int(stored[0]) != vectors.shape[1]:
            raise ValueError(f"vectors have dimension {vectors.shape[1]}; the index holds {stored[0]}")
        last = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'chunks'").fetchone()
        first = (last[0] if last else 0) + 1
        row_ids = list(range(first, first + len(chunks)))
        conn.executemany(
            f"INSERT INTO chunks (id, {_CHUNK_COLUMNS}, vector) VALUES ({', '.join('?' * 16)})",
            [
                (row_id, source, document_id, c.ordinal, c.kind, c.title, c.url, c.path, c.text,
                 c.keywords, c.symbol, c.start_line, c.end_line, c.anchor, c.hash, vector.tobytes())
                for row_id, c, vector in zip(row_ids, chunks, vectors)
            ],
        )
        return _Delta(removed, row_ids, [source] * len(chunks), [c.kind for c in chunks], vectors)

    @staticmethod
    def _delete(conn: sqlite3.Connection, where: str, args: tuple[str, ...]) -> _Delta:
        removed = [row[0] for row in conn.execute(f"DELETE FROM chunks WHERE {where} RETURNING id", args)]
        return _Delta(removed, [], [], [], np.zeros((0, 0), dtype=np.float32))

    # -- reads ----------------------------------------------------------------------------

    def _read(self, work: Callable[[sqlite3.Connection], T], needs_vectors: bool = False) -> T:
        """Run `work(conn)` in one read transaction; with `needs_vectors`, on a matrix that
        matches its snapshot."""
        with self._read_lock:
            conn = self._reader
            conn.execute("BEGIN")
            try:
                if needs_vectors:
                    generation = int(conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
                    if generation != self._generation:
                        self._refresh(conn, generation)
                return work(conn)
            finally:
                conn.execute("COMMIT")

    def _refresh(self, conn: sqlite3.Connection, generation: int) -> None:
        """Catch the matrix up with the snapshot: drop vanished rows, load rows newer than any seen.

        Row ids only grow (AUTOINCREMENT), so new rows are exactly those above the highest seen.
        """
        stored = conn.execute("SELECT value FROM meta WHERE key = 'dimension'").fetchone()
        dimension = int(stored[0]) if stored else 0
        if self._vectors is None or self._vectors.dimension != dimension:
            self._vectors = _Vectors(dimension)
        vectors = self._vectors
        present = np.fromiter((row[0] for row in conn.execute("SELECT id FROM chunks")), dtype=np.int64)
        known = np.fromiter(vectors.slot_of, dtype=np.int64, count=len(vectors.slot_of))
        vectors.remove(np.setdiff1d(known, present, assume_unique=True).tolist())
        newer = (vectors.max_row_id,)
        vectors.reserve(conn.execute("SELECT count(*) FROM chunks WHERE id > ?", newer).fetchone()[0])
        cursor = conn.execute("SELECT id, source, kind, vector FROM chunks WHERE id > ? ORDER BY id", newer)
        loaded = 0
        while rows := cursor.fetchmany(4096):  # in batches: a copy of every blob at once would double the memory
            row_ids, sources, kinds, blobs = zip(*rows)
            matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(rows), dimension)
            vectors.add(row_ids, sources, kinds, matrix)
            loaded += len(rows)
        logger.debug("index matrix refreshed to generation %d: %d rows loaded", generation, loaded)
        self._generation = generation

    async def query(
        self, text: str, vector: np.ndarray, k: int, alpha: float, filters: SearchFilters = SearchFilters()
    ) -> list[SearchHit]:
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be between 0 and 1, not {alpha}")
        if k <= 0:
            return []
        terms = query_terms(text) if alpha < 1.0 else []
        query_vector = np.asarray(vector, dtype=np.float32).ravel()
        norm = float(np.linalg.norm(query_vector))
        if norm > 0:
            query_vector = query_vector / norm
        return await asyncio.to_thread(
            self._read, lambda conn: self._search(conn, terms, query_vector, k, alpha, filters), True
        )

    def _search(
        self, conn: sqlite3.Connection, terms: list[str], query: np.ndarray, k: int, alpha: float,
        filters: SearchFilters,
    ) -> list[SearchHit]:
        n = max(k, self.candidates)
        keyword = self._keyword_thread.submit(self._keyword_candidates, conn, terms, n, filters) if terms else None
        vectors = self._vectors
        usable = vectors is not None and vectors.dimension == len(query)
        try:
            by_vector = vectors.top(query, n, filters) if usable and alpha > 0.0 else {}
        finally:  # the keyword side must be done with `conn` before the read transaction ends
            by_keyword = keyword.result() if keyword else {}
        fused = fuse(by_keyword, by_vector, alpha, k)
        keys = [item.key for item in fused]
        chunks = self._chunks(conn, keys)
        similarity = vectors.similarity(keys, query) if usable else {}
        return [
            SearchHit(chunks[item.key], item.score, item.keyword, item.vector, similarity.get(item.key, 0.0))
            for item in fused
            if item.key in chunks
        ]

    def _keyword_candidates(
        self, conn: sqlite3.Connection, terms: list[str], n: int, filters: SearchFilters
    ) -> dict[int, float]:
        expression = " OR ".join(self._within_budget(conn, terms))
        sql = "SELECT chunks_fts.rowid, rank FROM chunks_fts"
        where, args = ["chunks_fts MATCH ?", "rank MATCH ?"], [expression, _BM25]
        if filters.sources or filters.kinds:
            sql += " JOIN chunks ON chunks.id = chunks_fts.rowid"
            for column, values in (("source", filters.sources), ("kind", filters.kinds)):
                if values:
                    where.append(f"chunks.{column} IN ({', '.join('?' * len(values))})")
                    args.extend(values)
        sql += f" WHERE {' AND '.join(where)} ORDER BY rank LIMIT ?"
        # bm25() is lower-is-better; negate so higher is better, as fusion expects.
        return {row_id: -rank for row_id, rank in conn.execute(sql, (*args, n))}

    def _within_budget(self, conn: sqlite3.Connection, terms: list[str]) -> list[str]:
        """The rarest terms whose matching rows add up to at most `keyword_budget`."""
        if len(terms) < 2:
            return terms
        counted = sorted(
            (conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)",
                (term, self.keyword_budget + 1),
            ).fetchone()[0], position, term)
            for position, term in enumerate(terms)
        )
        kept, rows = [], 0
        for count, _, term in counted:
            if kept and rows + count > self.keyword_budget:
                break
            kept.append(term)
            rows += count
        return kept

    @staticmethod
    def _chunks(conn: sqlite3.Connection, row_ids: list[int]) -> dict[int, Chunk]:
        if not row_ids:
            return {}
        rows = conn.execute(
            f"SELECT id, {_CHUNK_COLUMNS} FROM chunks WHERE id IN ({', '.join('?' * len(row_ids))})", row_ids
        )
        return {row[0]: Chunk(*row[1:]) for row in rows}

    async def vectors_by_hash(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        unique = list(dict.fromkeys(hashes))

        def lookup(conn: sqlite3.Connection) -> dict[str, np.ndarray]:
            found: dict[str, np.ndarray] = {}
            for start in range(0, len(unique), 500):
                batch = unique[start : start + 500]
                for content_hash, blob in conn.execute(
                    f"SELECT hash, vector FROM chunks WHERE hash IN ({', '.join('?' * len(batch))})", batch
                ):
                    found.setdefault(content_hash, np.frombuffer(blob, dtype=np.float32).copy())
            return found

        return await asyncio.to_thread(self._read, lookup) if unique else {}

    async def stats(self) -> IndexStats:
        """Chunk and document counts, the bound model, and chunks per source."""

        def count(conn: sqlite3.Connection) -> IndexStats:
            sources = dict(conn.execute("SELECT source, count(*) FROM chunks GROUP BY source").fetchall())
            documents = conn.execute(
                "SELECT count(*) FROM (SELECT DISTINCT source, document_id FROM chunks)"
            ).fetchone()[0]
            model = conn.execute("SELECT value FROM meta WHERE key = 'model'").fetchone()
            return IndexStats(sum(sources.values()), documents, model[0] if model else None, sources)

        return await asyncio.to_thread(self._read, count)

    async def close(self) -> None:
        def close_all() -> None:
            with self._write_lock, self._read_lock:
                self._writer.close()
                self._reader.close()
            self._keyword_thread.shutdown()

        await asyncio.to_thread(close_all)

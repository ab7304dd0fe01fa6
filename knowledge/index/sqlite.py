"""The embedded search index: SQLite FTS5 (BM25) plus exact vector search in numpy.

`<directory>/index.sqlite3` (owner-only, like its directory: knowledge/private_files.py)
holds `chunks` (every Chunk field and its float32 vector), `chunks_fts` (FTS5 over title,
text and keywords, kept in step by triggers) and `meta` (model, dimension, generation,
schema). An index of an older `SCHEMA` is dropped and rebuilt empty, with a warning: the
next sync re-reads every source into it.

Read restrictions are one encoded column (knowledge/restrictions.py); a readers filter
checks the few distinct values (known to the matrix, vectors.py) once per query and keeps
the rows whose value passes, on both sides (SQL `IN` for keywords, a per-row code for vectors).
Vectors are searched in memory: one matrix of unit rows (vectors.py). The keyword query
is built from free text in keywords.py; the two result lists are combined by relative
score fusion (fusion.py).

Consistency: WAL mode; one connection writes, another reads. Every write transaction
bumps `meta.generation`. A query runs inside one read transaction; when the stored
generation is not the one the matrix reflects (another process committed), the matrix is
refreshed from that same snapshot first, so both sides of a query see one committed state.
This instance's own writes update the matrix incrementally, under the lock that also
guards their COMMIT, so a reader never sees the database and the matrix disagree.

A counter in the database, not `PRAGMA data_version`: data_version only tells a connection
that another connection committed, so the reader could not tell this instance's own writes
(already applied to the matrix) from another process's. The generation is read inside the
query's own read transaction, so it names exactly the state that query sees, and each
write knows the generation it committed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np

from knowledge.documents import Chunk
from knowledge.index import IndexModelMismatch, IndexStats, SearchFilters, SearchHit, StoredDocument
from knowledge.index.fusion import KEYWORD_FIELD_WEIGHTS, fuse
from knowledge.index.keywords import query_terms, within_budget
from knowledge.index.vectors import Delta, VectorStore
from knowledge.private_files import private_directory, private_sqlite_file
from knowledge.restrictions import decode, encode
from knowledge.sqlite_wal import enable_wal

logger = logging.getLogger(__name__)

T = TypeVar("T")

SCHEMA = 2
"""Bump when the tables change. 2: chunks carry read restrictions."""

_BM25 = "bm25({})".format(", ".join(str(KEYWORD_FIELD_WEIGHTS[name]) for name in ("title", "text", "keywords")))

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('generation', '0');
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', '{schema}');
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL, document_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
    kind TEXT NOT NULL, title TEXT NOT NULL, url TEXT NOT NULL, path TEXT NOT NULL,
    text TEXT NOT NULL, keywords TEXT NOT NULL, symbol TEXT NOT NULL,
    start_line INTEGER, end_line INTEGER, anchor TEXT NOT NULL, hash TEXT NOT NULL,
    restrictions TEXT NOT NULL DEFAULT '', vector BLOB NOT NULL
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
""".replace("{schema}", str(SCHEMA))

_DROP_OLD = """
DROP TRIGGER IF EXISTS chunks_fts_insert;
DROP TRIGGER IF EXISTS chunks_fts_delete;
DROP TABLE IF EXISTS chunks_fts;
DROP TABLE IF EXISTS chunks;
DROP TABLE IF EXISTS meta;
"""

_CHUNK_COLUMNS = (
    "source, document_id, ordinal, kind, title, url, path, text, keywords, symbol, start_line, end_line, anchor, hash, "
    "restrictions"
)


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    enable_wal(connection)
    connection.execute("PRAGMA synchronous = NORMAL")  # the index is derived data
    return connection


def _chunk(row: tuple) -> Chunk:
    """A `chunks` row in `_CHUNK_COLUMNS` order as a Chunk."""
    chunk = Chunk(*row[:-1])
    return dataclasses.replace(chunk, restrictions=decode(row[-1])) if row[-1] else chunk


class SqliteIndex:
    """SearchIndex in `directory`: BM25 from SQLite FTS5, cosine from numpy, relative score fusion.

    `candidates` is how many results each side contributes to fusion (at least k).
    `keyword_budget` bounds the BM25 work: the most common terms of a question are left
    out once the rows matching the rarer ones add up to this many (the rarest term is
    always kept); keywords.py says why.
    """

    def __init__(self, directory: Path, candidates: int = 100, keyword_budget: int = 5000) -> None:
        private_directory(directory)
        self.path = private_sqlite_file(directory / "index.sqlite3")
        self.candidates = candidates
        self.keyword_budget = keyword_budget
        self._writer = _connect(self.path)
        self._upgrade()
        self._writer.executescript(_SCHEMA)
        self._reader = _connect(self.path)
        # Keyword search runs here while the calling thread does the vector side.
        self._keyword_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lorebot-fts")
        self._write_lock = threading.Lock()  # one write transaction at a time in this process
        self._read_lock = threading.Lock()  # guards the reader, the matrix and our COMMITs
        self._vectors = VectorStore()  # the matrix, at the generation it reflects

    def _upgrade(self) -> None:
        """Drop an index of an older schema (derived data: the next sync refills it)."""
        conn = self._writer
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'chunks'").fetchone():
            return
        stored = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if stored and int(stored[0]) == SCHEMA:
            return
        logger.warning(
            "the index in %s was built by an older lorebot (schema %s, now %d): rebuilding it; "
            "the next `lorebot sync` re-reads every source",
            self.path.parent,
            stored[0] if stored else 1,
            SCHEMA,
        )
        conn.executescript(_DROP_OLD)

    # -- writes ---------------------------------------------------------------------------

    async def bind_model(self, model: str, dimension: int) -> None:
        await asyncio.to_thread(self._write, lambda conn: self._bind(conn, model, dimension))

    async def replace_document(
        self, source: str, document_id: str, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if chunks and (vectors.ndim != 2 or len(vectors) != len(chunks)):
            raise ValueError(f"{len(chunks)} chunks need {len(chunks)} vectors, got an array of shape {vectors.shape}")
        await asyncio.to_thread(self._write, lambda conn: self._replace(conn, source, document_id, chunks, vectors))

    async def delete_document(self, source: str, document_id: str) -> None:
        await asyncio.to_thread(
            self._write, lambda conn: self._delete(conn, "source = ? AND document_id = ?", (source, document_id))
        )

    async def delete_source(self, source: str) -> None:
        await asyncio.to_thread(self._write, lambda conn: self._delete(conn, "source = ?", (source,)))

    async def clear(self) -> None:
        await asyncio.to_thread(self._write, self._clear)

    def _write(self, change: Callable[[sqlite3.Connection], Delta | None]) -> None:
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                delta = change(conn)
                generation = int(
                    conn.execute(
                        "UPDATE meta SET value = value + 1 WHERE key = 'generation' RETURNING value"
                    ).fetchone()[0]
                )
                with self._read_lock:
                    conn.execute("COMMIT")
                    self._vectors.apply(generation, delta)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _bind(self, conn: sqlite3.Connection, model: str, dimension: int) -> None:
        stored = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('model', 'dimension')").fetchall())
        filled = conn.execute("SELECT EXISTS (SELECT 1 FROM chunks)").fetchone()[0]
        stored_dimension = int(stored["dimension"]) if "dimension" in stored else None
        differs = stored.get("model", model) != model or (stored_dimension or dimension) != dimension
        if filled and differs:
            raise IndexModelMismatch(
                f"The index in {self.path.parent} holds vectors of model {stored.get('model', 'unknown')!r} "
                f"(dimension {stored_dimension}), not {model!r} (dimension {dimension}); run `lorebot sync --full` "
                "to rebuild it with the new model."
            )
        conn.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [("model", model), ("dimension", str(dimension))],
        )

    def _replace(
        self, conn: sqlite3.Connection, source: str, document_id: str, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> Delta:
        removed = self._delete(conn, "source = ? AND document_id = ?", (source, document_id)).removed
        if not chunks:
            return Delta(removed, [], [], [], [], vectors)
        stored = conn.execute("SELECT value FROM meta WHERE key = 'dimension'").fetchone()
        if stored is None:
            conn.execute("INSERT INTO meta (key, value) VALUES ('dimension', ?)", (str(vectors.shape[1]),))
        elif int(stored[0]) != vectors.shape[1]:
            raise ValueError(f"vectors have dimension {vectors.shape[1]}; the index holds {stored[0]}")
        last = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'chunks'").fetchone()
        first = (last[0] if last else 0) + 1
        row_ids = list(range(first, first + len(chunks)))
        conn.executemany(
            f"INSERT INTO chunks (id, {_CHUNK_COLUMNS}, vector) VALUES ({', '.join('?' * 17)})",
            [
                (
                    row_id,
                    source,
                    document_id,
                    c.ordinal,
                    c.kind,
                    c.title,
                    c.url,
                    c.path,
                    c.text,
                    c.keywords,
                    c.symbol,
                    c.start_line,
                    c.end_line,
                    c.anchor,
                    c.hash,
                    encode(c.restrictions),
                    vector.tobytes(),
                )
                for row_id, c, vector in zip(row_ids, chunks, vectors, strict=True)
            ],
        )
        restrictions = [encode(c.restrictions) for c in chunks]
        return Delta(removed, row_ids, [source] * len(chunks), [c.kind for c in chunks], restrictions, vectors)

    def _clear(self, conn: sqlite3.Connection) -> Delta:
        conn.execute("DELETE FROM meta WHERE key IN ('model', 'dimension')")
        return self._delete(conn, "1 = 1", ())

    @staticmethod
    def _delete(conn: sqlite3.Connection, where: str, args: tuple[str, ...]) -> Delta:
        removed = [row[0] for row in conn.execute(f"DELETE FROM chunks WHERE {where} RETURNING id", args)]
        return Delta(removed, [], [], [], [], np.zeros((0, 0), dtype=np.float32))

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
                    if generation != self._vectors.generation:
                        self._vectors.catch_up(conn, generation)
                return work(conn)
            finally:
                conn.execute("COMMIT")

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
        self,
        conn: sqlite3.Connection,
        terms: list[str],
        query: np.ndarray,
        k: int,
        alpha: float,
        filters: SearchFilters,
    ) -> list[SearchHit]:
        n = max(k, self.candidates)
        allowed = None if filters.readers is None else self._vectors.readable_values(filters.readers)
        keyword = (
            self._keyword_thread.submit(self._keyword_candidates, conn, terms, n, filters, allowed) if terms else None
        )
        vectors = self._vectors
        usable = vectors.dimension == len(query)
        try:
            by_vector = vectors.top(query, n, filters, allowed) if usable and alpha > 0.0 else {}
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
        self,
        conn: sqlite3.Connection,
        terms: list[str],
        n: int,
        filters: SearchFilters,
        allowed: tuple[str, ...] | None,
    ) -> dict[int, float]:
        if allowed is not None and not allowed:
            return {}  # nothing these readers may read
        expression = " OR ".join(self._within_budget(conn, terms))
        sql = "SELECT chunks_fts.rowid, rank FROM chunks_fts"
        where, args = ["chunks_fts MATCH ?", "rank MATCH ?"], [expression, _BM25]
        if filters.narrows:
            sql += " JOIN chunks ON chunks.id = chunks_fts.rowid"
            for column, values in (("source", filters.sources), ("kind", filters.kinds), ("restrictions", allowed)):
                if values:
                    where.append(f"chunks.{column} IN ({', '.join('?' * len(values))})")
                    args.extend(values)
        sql += f" WHERE {' AND '.join(where)} ORDER BY rank LIMIT ?"
        # bm25() is lower-is-better; negate so higher is better, as fusion expects.
        return {row_id: -rank for row_id, rank in conn.execute(sql, (*args, n))}

    def _within_budget(self, conn: sqlite3.Connection, terms: list[str]) -> list[str]:
        """The rarest terms whose matching rows add up to at most `keyword_budget`."""

        def count_matches(term: str, limit: int) -> int:
            return conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)", (term, limit)
            ).fetchone()[0]

        return within_budget(terms, self.keyword_budget, count_matches)

    @staticmethod
    def _chunks(conn: sqlite3.Connection, row_ids: list[int]) -> dict[int, Chunk]:
        if not row_ids:
            return {}
        rows = conn.execute(
            f"SELECT id, {_CHUNK_COLUMNS} FROM chunks WHERE id IN ({', '.join('?' * len(row_ids))})", row_ids
        )
        return {row[0]: _chunk(row[1:]) for row in rows}

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
        """Chunk and document counts, the bound model and its dimension, and both per source."""

        def count(conn: sqlite3.Connection) -> IndexStats:
            rows = conn.execute("SELECT source, count(*), count(DISTINCT document_id) FROM chunks GROUP BY source")
            sources, source_documents = {}, {}
            for source, chunks, documents in rows.fetchall():
                sources[source], source_documents[source] = chunks, documents
            meta = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('model', 'dimension')").fetchall())
            return IndexStats(
                sum(sources.values()),
                sum(source_documents.values()),
                meta.get("model"),
                sources,
                source_documents,
                int(meta["dimension"]) if "dimension" in meta else None,
            )

        return await asyncio.to_thread(self._read, count)

    async def neighbours(self, chunk: Chunk, reach: int) -> list[Chunk]:
        def read(conn: sqlite3.Connection) -> list[Chunk]:
            rows = conn.execute(
                f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE source = ? AND document_id = ? "
                "AND ordinal BETWEEN ? AND ? ORDER BY ordinal",
                (chunk.source, chunk.document_id, chunk.ordinal - reach, chunk.ordinal + reach),
            ).fetchall()
            return [_chunk(row) for row in rows]

        return await asyncio.to_thread(self._read, read)

    async def export_documents(self) -> AsyncIterator[StoredDocument]:
        keys = await asyncio.to_thread(
            self._read,
            lambda conn: conn.execute("SELECT DISTINCT source, document_id FROM chunks ORDER BY 1, 2").fetchall(),
        )
        for source, document_id in keys:
            document = await asyncio.to_thread(self._read, partial(self._stored_document, source, document_id))
            if document is not None:  # else deleted since the listing
                yield document

    @staticmethod
    def _stored_document(source: str, document_id: str, conn: sqlite3.Connection) -> StoredDocument | None:
        rows = conn.execute(
            f"SELECT {_CHUNK_COLUMNS}, vector FROM chunks WHERE source = ? AND document_id = ? ORDER BY ordinal",
            (source, document_id),
        ).fetchall()
        if not rows:
            return None
        vectors = np.frombuffer(b"".join(row[-1] for row in rows), dtype=np.float32).reshape(len(rows), -1)
        return StoredDocument(source, document_id, tuple(_chunk(row[:-1]) for row in rows), vectors)

    async def close(self) -> None:
        def close_all() -> None:
            with self._write_lock, self._read_lock:
                self._writer.close()
                self._reader.close()
            self._keyword_thread.shutdown()

        await asyncio.to_thread(close_all)

"""Sync state in the database: sources with their cursors, indexed documents, sync runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import models
from bot.db.models import as_utc
from knowledge.sync import IndexedDocument, StoredDocument, SyncSummary, indexed_hash

_IN_BATCH = 1000


@dataclass(frozen=True)
class RunRecord:
    """A source's latest sync run (`finished` None: still running, or its process died)."""

    started: datetime
    finished: datetime | None
    added: int
    updated: int
    deleted: int
    chunks_embedded: int
    error: str | None
    holder: str | None


class SqlSyncState:
    """`knowledge.sync.SyncStateStore` over SQLAlchemy (SQLite or PostgreSQL); each run
    records `holder`, the replica that ran it."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], holder: str) -> None:
        self.sessions = sessions
        self.holder = holder
        self._source_ids: dict[str, int] = {}
        self._runs: dict[str, int] = {}

    async def _source_id(self, session: AsyncSession, name: str, kind: str | None = None) -> int:
        if name in self._source_ids:
            return self._source_ids[name]
        source = await session.scalar(select(models.Source).where(models.Source.name == name))
        if source is None:
            if kind is None:
                raise KeyError(name)
            source = models.Source(name=name, kind=kind)
            session.add(source)
            await session.flush()
        self._source_ids[name] = source.id
        return source.id

    async def begin(self, source: str, kind: str) -> tuple[str | None, dict[str, IndexedDocument]]:
        async with self.sessions.begin() as session:
            source_id = await self._source_id(session, source, kind)
            run = models.SyncRun(source_id=source_id, holder=self.holder)
            session.add(run)
            await session.flush()
            self._runs[source] = run.id
            cursor = await session.scalar(select(models.Source.cursor).where(models.Source.id == source_id))
            rows = await session.execute(
                select(models.Document.external_id, models.Document.version, models.Document.content_hash).where(
                    models.Document.source_id == source_id, models.Document.deleted.is_(False)
                )
            )
            return cursor, {external_id: IndexedDocument(version, hash_) for external_id, version, hash_ in rows}

    async def save_documents(self, source: str, documents: Sequence[StoredDocument]) -> None:
        async with self.sessions.begin() as session:
            source_id = await self._source_id(session, source)
            ids = [stored.document.external_id for stored in documents]
            existing = {
                row.external_id: row
                for row in await session.scalars(
                    select(models.Document).where(
                        models.Document.source_id == source_id, models.Document.external_id.in_(ids)
                    )
                )
            }
            for stored in documents:
                doc = stored.document
                row = existing.get(doc.external_id) or models.Document(source_id=source_id, external_id=doc.external_id)
                row.title, row.url, row.version = doc.title, doc.url, doc.version
                row.content_hash, row.chunks, row.deleted = indexed_hash(doc), stored.chunks, False
                session.add(row)

    async def mark_deleted(self, source: str, external_ids: Sequence[str]) -> None:
        async with self.sessions.begin() as session:
            source_id = await self._source_id(session, source)
            for start in range(0, len(external_ids), _IN_BATCH):  # stay under bind-parameter limits
                batch = list(external_ids[start : start + _IN_BATCH])
                await session.execute(
                    update(models.Document)
                    .where(models.Document.source_id == source_id, models.Document.external_id.in_(batch))
                    .values(deleted=True, chunks=0)
                )

    async def save_cursor(self, source: str, cursor: str) -> None:
        async with self.sessions.begin() as session:
            source_id = await self._source_id(session, source)
            await session.execute(update(models.Source).where(models.Source.id == source_id).values(cursor=cursor))

    async def finish(self, summary: SyncSummary, full: bool) -> None:
        async with self.sessions.begin() as session:
            run = await session.get(models.SyncRun, self._runs.pop(summary.name))
            assert run is not None
            run.finished_at = models.utcnow()
            run.full = full
            run.added, run.updated, run.deleted = summary.added, summary.updated, summary.deleted
            run.skipped, run.chunks_embedded = summary.skipped, summary.chunks_embedded
            run.error, run.notes = summary.error, list(summary.notes)
            if summary.error is None:
                await session.execute(
                    update(models.Source)
                    .where(models.Source.id == run.source_id)
                    .values(last_synced_at=run.finished_at)
                )

    async def last_runs(self) -> dict[str, RunRecord]:
        """Every source's latest run, by source name."""
        latest = (
            select(models.SyncRun.source_id, func.max(models.SyncRun.id).label("run_id"))
            .group_by(models.SyncRun.source_id)
            .subquery()
        )
        async with self.sessions() as session:
            rows = await session.execute(
                select(models.Source.name, models.SyncRun)
                .join(latest, latest.c.source_id == models.Source.id)
                .join(models.SyncRun, models.SyncRun.id == latest.c.run_id)
            )
            return {
                name: RunRecord(
                    as_utc(run.started_at),
                    as_utc(run.finished_at) if run.finished_at else None,
                    run.added,
                    run.updated,
                    run.deleted,
                    run.chunks_embedded,
                    run.error,
                    run.holder,
                )
                for name, run in rows.tuples()
            }

    async def sources(self) -> dict[str, str]:
        async with self.sessions() as session:
            return dict((await session.execute(select(models.Source.name, models.Source.kind))).tuples().all())

    async def forget(self, source: str) -> int:
        async with self.sessions.begin() as session:
            source_id = await session.scalar(select(models.Source.id).where(models.Source.name == source))
            if source_id is None:
                return 0
            documents = await session.scalar(
                select(func.count()).where(models.Document.source_id == source_id, models.Document.deleted.is_(False))
            )
            await session.execute(
                delete(models.Source).where(models.Source.id == source_id)
            )  # documents and runs cascade
        self._source_ids.pop(source, None)
        return int(documents or 0)

    async def holds_any(self, entries: Sequence[str]) -> bool:
        """Whether a live document's path (external id) or link contains any of `entries`."""
        async with self.sessions() as session:
            for entry in dict.fromkeys(entries):
                found = await session.scalar(
                    select(models.Document.id)
                    .where(
                        models.Document.deleted.is_(False),
                        models.Document.external_id.contains(entry, autoescape=True)
                        | models.Document.url.contains(entry, autoescape=True),
                    )
                    .limit(1)
                )
                if found is not None:
                    return True
        return False

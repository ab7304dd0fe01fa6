"""The sync pipeline against the real embedded index, the real model, and the sync state
in SQLite and PostgreSQL. A scripted source stands in at the `Source` seam (the git and
Confluence sources have tests of their own)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.db import models
from bot.db.engine import create_engine, session_factory, upgrade
from bot.db.sync_state import SqlSyncState
from knowledge.documents import Document
from knowledge.index import SearchFilters
from knowledge.index.sqlite import SqliteIndex
from knowledge.sources import Change, Checkpoint, Deletion, Listing, Notice, Skipped, SourceError
from knowledge.sync import IndexedDocument, SyncPipeline, _chunked_by_older_version, indexed_hash


def doc(external_id: str, text: str, version: str = "1") -> Document:
    return Document(
        source="notes",
        external_id=external_id,
        kind="code",
        title=external_id,
        url=f"https://example.com/{external_id}",
        content=text,
        version=version,
        format="text",
        path=external_id,
    )


class ScriptedSource:
    """Yields a given list of changes; can fail after a number of them."""

    name = "notes"
    kind = "test"

    def __init__(self, changes: list[Change], fail_after: int | None = None) -> None:
        self.script = changes
        self.fail_after = fail_after
        self.cursors: list[str | None] = []
        self.indexed_seen: list[Mapping[str, str]] = []

    async def changes(self, cursor: str | None, indexed: Mapping[str, str]) -> AsyncIterator[Change]:
        self.cursors.append(cursor)
        self.indexed_seen.append(dict(indexed))
        for n, change in enumerate(self.script):
            if self.fail_after is not None and n == self.fail_after:
                raise SourceError("The notes server went away.")
            yield change


ALPHA = "def retry_with_backoff(call):\n    # retries a flaky call with exponential backoff\n    return call()\n"
BETA = "Deployment runbook: roll back by redeploying the previous release tag.\n"
GAMMA = "The cache is invalidated whenever the user profile changes.\n"


@pytest.fixture
async def pipeline(database_url: str, tmp_path: Path, embedder):
    await upgrade(database_url)
    engine = create_engine(database_url)
    index = SqliteIndex(tmp_path / "index")
    await index.bind_model(embedder.model_name, embedder.dimension)
    sessions = session_factory(engine)
    yield SyncPipeline(index, embedder, SqlSyncState(sessions, holder="test")), index, sessions
    await index.close()
    await engine.dispose()


async def paths_found(index: SqliteIndex, embedder, query: str) -> list[str]:
    vector = (await embedder.embed([query]))[0]
    hits = await index.query(query, vector, 10, 0.5, SearchFilters())
    return [hit.chunk.path for hit in hits]


async def test_first_sync_indexes_and_a_resync_with_no_changes_embeds_nothing(pipeline, embedder) -> None:
    sync, index, _ = pipeline
    first = await sync.sync(ScriptedSource([doc("a.py", ALPHA), doc("b.md", BETA), Checkpoint("c1")]))
    assert (first.added, first.updated, first.deleted, first.error) == (2, 0, 0, None)
    assert first.chunks_embedded >= 2
    assert "a.py" in await paths_found(index, embedder, "exponential backoff retries")

    source = ScriptedSource([doc("a.py", ALPHA), doc("b.md", BETA), Checkpoint("c2")])
    again = await sync.sync(source)
    assert (again.added, again.updated, again.chunks_embedded) == (0, 0, 0)
    assert source.cursors == ["c1"]
    assert source.indexed_seen == [{"a.py": "1", "b.md": "1"}]


async def test_an_edit_reembeds_only_the_changed_content(pipeline) -> None:
    sync, _, _ = pipeline
    await sync.sync(ScriptedSource([doc("a.py", ALPHA), doc("b.md", BETA), Checkpoint("c1")]))
    edited = await sync.sync(
        ScriptedSource([doc("b.md", BETA + "\nAlso page the on-call engineer.\n", "2"), Checkpoint("c2")])
    )
    assert (edited.added, edited.updated, edited.chunks_embedded) == (0, 1, 1)


async def test_renames_and_deletions_leave_the_index(pipeline, embedder) -> None:
    sync, index, sessions = pipeline
    await sync.sync(ScriptedSource([doc("a.py", ALPHA), doc("b.md", BETA), doc("c.txt", GAMMA), Checkpoint("c1")]))

    renamed = doc("lib/a.py", ALPHA)
    summary = await sync.sync(ScriptedSource([Deletion("a.py"), renamed, Deletion("b.md"), Checkpoint("c2")]))
    assert (summary.added, summary.deleted) == (1, 2)

    listed = await sync.sync(ScriptedSource([Listing(frozenset({"lib/a.py"})), Checkpoint("c3")]))
    assert listed.deleted == 1  # c.txt is no longer listed

    assert await paths_found(index, embedder, "roll back a deployment") == ["lib/a.py"]
    async with sessions() as session:
        rows = {d.external_id: d.deleted for d in await session.scalars(select(models.Document))}
    assert rows == {"a.py": True, "b.md": True, "c.txt": True, "lib/a.py": False}


async def test_a_failure_mid_sync_keeps_the_last_checkpoint_and_records_the_error(pipeline) -> None:
    sync, _, sessions = pipeline
    changes = [doc("a.py", ALPHA), Checkpoint("c1"), doc("b.md", BETA), Checkpoint("c2")]
    failed = await sync.sync(ScriptedSource(changes, fail_after=2))
    assert failed.error == "The notes server went away."
    assert failed.added == 1

    resumed = ScriptedSource(changes)
    summary = await sync.sync(resumed)
    assert resumed.cursors == ["c1"]  # resumes after what was safely indexed
    assert (summary.added, summary.error) == (1, None)

    async with sessions() as session:
        runs = list(await session.scalars(select(models.SyncRun).order_by(models.SyncRun.id)))
        cursor = await session.scalar(select(models.Source.cursor))
    assert [r.error for r in runs] == ["The notes server went away.", None]
    assert all(r.finished_at is not None for r in runs)
    assert cursor == "c2"


async def test_skips_are_counted_named_and_logged_and_notices_kept_once(pipeline, caplog) -> None:
    sync, _, _ = pipeline
    with caplog.at_level(logging.INFO, logger="knowledge.sync"):
        summary = await sync.sync(
            ScriptedSource(
                [
                    Skipped(".env", "looks like a secret"),
                    Skipped("logo.png", "binary"),
                    Notice("no web host: links are paths"),
                    Notice("no web host: links are paths"),
                    doc("a.py", ALPHA),
                    Checkpoint("c1"),
                ]
            )
        )
    assert (summary.skipped, summary.notes) == (2, ["no web host: links are paths"])
    assert summary.as_json()["skipped_files"] == [
        {"path": ".env", "reason": "looks like a secret"},
        {"path": "logo.png", "reason": "binary"},
    ]
    assert "notes: skipped logo.png (binary)" in caplog.messages


async def test_full_sync_rereads_everything_but_embeds_nothing_new(pipeline) -> None:
    sync, _, _ = pipeline
    await sync.sync(ScriptedSource([doc("a.py", ALPHA), Checkpoint("c1")]))
    source = ScriptedSource([doc("a.py", ALPHA), Listing(frozenset({"a.py"})), Checkpoint("c2")])
    full = await sync.sync(source, full=True)
    assert source.cursors == [None] and source.indexed_seen == [{}]
    assert (full.updated, full.chunks_embedded, full.deleted) == (1, 0, 0)


async def test_a_lost_index_is_refilled_by_a_plain_sync(pipeline, tmp_path: Path, embedder) -> None:
    sync, index, _ = pipeline
    await sync.sync(ScriptedSource([doc("a.py", ALPHA), Checkpoint("c1")]))
    await index.delete_source("notes")  # as if the index directory had been removed

    source = ScriptedSource([doc("a.py", ALPHA), Checkpoint("c2")])
    summary = await sync.sync(source)
    assert source.cursors == [None]
    assert (summary.updated, summary.chunks_embedded) == (1, 1)
    assert await paths_found(index, embedder, "exponential backoff retries") == ["a.py"]


def test_documents_chunked_by_an_older_lorebot_are_rechunked_once() -> None:
    """The sync state records the chunking version with each document's hash; an upgrade re-reads."""
    doc = Document("s", "a.py", "code", "a.py", "u", "x = 1\n", "v1", "python", path="a.py")
    assert not _chunked_by_older_version({"a.py": IndexedDocument("v1", indexed_hash(doc))})
    assert _chunked_by_older_version({"a.py": IndexedDocument("v1", doc.hash)})
    assert len(indexed_hash(doc)) <= 64

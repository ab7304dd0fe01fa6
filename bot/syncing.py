"""Syncing the configured sources: one service for `lorebot sync` and the scheduler."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from bot.db.engine import create_engine, session_factory, upgrade
from bot.db.sync_state import SqlSyncState
from bot.settings import Settings
from bot.wiring import build_sources, load_embedder, open_index
from knowledge.embedding import Embedder
from knowledge.index import SearchIndex
from knowledge.sources import Source, SourceConfigError
from knowledge.sync import SyncPipeline, SyncProgress, SyncSummary


class SyncService:
    def __init__(self, sources: Sequence[Source], pipeline: SyncPipeline) -> None:
        self.sources = {source.name: source for source in sources}
        self.pipeline = pipeline

    def select(self, names: Sequence[str] = ()) -> list[Source]:
        unknown = [name for name in names if name not in self.sources]
        if unknown:
            raise SourceConfigError(
                f"No source named {', '.join(unknown)}; configured: {', '.join(self.sources) or 'none'}."
            )
        return [self.sources[name] for name in names] if names else list(self.sources.values())

    async def sync(self, names: Sequence[str] = (), full: bool = False) -> list[SyncSummary]:
        return [await self.pipeline.sync(source, full) for source in self.select(names)]


@asynccontextmanager
async def open_sync_service(
    settings: Settings,
    index: SearchIndex | None = None,
    embedder: Embedder | None = None,
    progress: SyncProgress | None = None,
) -> AsyncIterator[SyncService]:
    """A ready SyncService: database migrated, sources built, the index bound to the model.

    Pass the `index` and `embedder` a running bot already holds, so both share them.
    """
    sources = build_sources(settings)
    if not sources:
        raise SourceConfigError(
            "No sources are configured: set REPOS (git URLs or local paths) and/or "
            "CONFLUENCE_URL with CONFLUENCE_SPACES."
        )
    await upgrade(settings.resolved_database_url)
    engine = create_engine(settings.resolved_database_url)
    own_index = index is None
    index = index or open_index(settings)
    try:
        embedder = embedder or load_embedder(settings)
        await index.bind_model(embedder.model_name, embedder.dimension)
        state = SqlSyncState(session_factory(engine))
        yield SyncService(sources, SyncPipeline(index, embedder, state, progress))
    finally:
        if own_index:
            await index.close()
        await engine.dispose()

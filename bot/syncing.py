"""Syncing the configured sources: one service for `lorebot sync` and the scheduler."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from bot.db.engine import create_engine, session_factory, upgrade
from bot.db.sync_state import SqlSyncState
from bot.settings import Settings
from bot.wiring import build_sources, load_embedder, open_index
from knowledge.embedding import Embedder
from knowledge.index import IndexModelMismatch, SearchIndex
from knowledge.sources import Source, SourceConfigError
from knowledge.sync import SyncPipeline, SyncProgress, SyncSummary

logger = logging.getLogger(__name__)


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
    rebuild_for_new_model: bool = False,
) -> AsyncIterator[SyncService]:
    """A ready SyncService: database migrated, sources built, the index bound to the model.

    Pass the `index` and `embedder` a running bot already holds, so both share them.
    With `rebuild_for_new_model` (a full sync), an index of another embedding model is
    cleared rather than refused.
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
        try:
            await index.bind_model(embedder.model_name, embedder.dimension)
        except IndexModelMismatch:
            if not rebuild_for_new_model:
                raise
            logger.warning("the embedding model changed to %s: clearing the index to rebuild it", embedder.model_name)
            await index.clear()
            await index.bind_model(embedder.model_name, embedder.dimension)
        state = SqlSyncState(session_factory(engine))
        yield SyncService(sources, SyncPipeline(index, embedder, state, progress))
    finally:
        if own_index:
            await index.close()
        await engine.dispose()

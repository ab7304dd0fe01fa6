"""Syncing the configured sources: one service for `lorebot sync` and the scheduler."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from knowledge.sources import Source, SourceConfigError
from knowledge.sync import SyncPipeline, SyncSummary

logger = logging.getLogger(__name__)

NO_SOURCES = (
    "No sources are configured: set REPOS (git URLs or local paths) and/or CONFLUENCE_URL with CONFLUENCE_SPACES."
)


class SyncService:
    def __init__(self, sources: Sequence[Source], pipeline: SyncPipeline) -> None:
        self.sources = {source.name: source for source in sources}
        self.pipeline = pipeline

    def select(self, names: Sequence[str] = ()) -> list[Source]:
        if not self.sources:
            raise SourceConfigError(NO_SOURCES)
        unknown = [name for name in names if name not in self.sources]
        if unknown:
            raise SourceConfigError(
                f"No source named {', '.join(unknown)}; configured: {', '.join(self.sources) or 'none'}."
            )
        return [self.sources[name] for name in names] if names else list(self.sources.values())

    async def sync(self, names: Sequence[str] = (), full: bool = False) -> list[SyncSummary]:
        """Sync the named sources (all when none are named); syncing all also removes from
        the index every source that is no longer configured."""
        selected = self.select(names)
        summaries = [await self.pipeline.sync(source, full) for source in selected]
        if not names:
            summaries += await self.remove_unconfigured()
        return summaries

    async def remove_unconfigured(self) -> list[SyncSummary]:
        return await self.pipeline.remove_sources_except(set(self.sources))

"""The one place that builds lorebot from `Settings`: `open_runtime`.

Every command and the Slack bot open one runtime and take what they need from it. It
migrates the database once and makes one engine; everything else is built on first
use, once, so `lorebot feedback` never loads the embedding model and `lorebot ask`
never builds the sources. Closing the runtime closes what it built. `build_index` builds
either backend's index from the same settings, for `lorebot reindex`, which needs both and
no database.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cached_property

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.access.policy import AccessPolicy
from bot.access.scope import ScopeResolver
from bot.answering import Answerer
from bot.conversations import SqlConversationStore
from bot.db.engine import create_engine, session_factory, upgrade
from bot.db.event_claims import SqlEventClaims
from bot.db.leases import SqlLeases
from bot.db.sync_state import SqlSyncState
from bot.observability.metrics import Metrics
from bot.replica import new_replica_id
from bot.settings import IndexBackend, Settings, SettingsError, secret_value
from bot.slack.claims import ReplicaClaims
from bot.source_locks import SourceLocks
from bot.syncing import SyncService
from knowledge.embedding import Embedder
from knowledge.index import IndexModelMismatch, SearchIndex
from knowledge.private_files import restrict
from knowledge.ranking import Ranking
from knowledge.reranking import CrossEncoderReranker, Reranker
from knowledge.retriever import Retriever
from knowledge.schedule import Schedule
from knowledge.sources import Source
from knowledge.sources.connectors import (
    ConfiguredSource,
    SourceContext,
    SourceEntry,
    build_sources,
    configure_sources,
)
from knowledge.sync import SyncPipeline, SyncProgress

logger = logging.getLogger(__name__)


def build_index(settings: Settings, backend: IndexBackend) -> SearchIndex:
    """The index of `backend` as the settings name it: WEAVIATE_URL (+ WEAVIATE_API_KEY,
    WEAVIATE_GRPC_URL), or DATA_DIR/index."""
    if backend is IndexBackend.WEAVIATE:
        if not settings.weaviate_url:
            raise SettingsError(
                "WEAVIATE_URL is not set: name the Weaviate server with it (and WEAVIATE_API_KEY, "
                "WEAVIATE_GRPC_URL when needed)."
            )
        from knowledge.index.weaviate import WeaviateIndex

        return WeaviateIndex(
            settings.weaviate_url, secret_value(settings.weaviate_api_key), grpc_url=settings.weaviate_grpc_url
        )
    from knowledge.index.sqlite import SqliteIndex

    return SqliteIndex(settings.index_dir)


class Runtime:
    def __init__(self, settings: Settings, engine: AsyncEngine, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.replica_id = new_replica_id()
        """This process among the replicas: holder of its sync leases and owner of its event claims."""
        self.conversations = SqlConversationStore(engine)
        self.sync_state = SqlSyncState(session_factory(engine), self.replica_id)
        self.leases = SqlLeases(session_factory(engine))
        self.metrics = Metrics()
        self._embedder = embedder
        self._reranker: Reranker | None = None
        self._bound = False

    @cached_property
    def claims(self) -> ReplicaClaims:
        """The Slack events this replica answers, claimed in the database against the others."""
        store = SqlEventClaims(session_factory(self.engine))
        return ReplicaClaims(store, self.replica_id, self.settings.claim_timeout_seconds)

    @cached_property
    def index(self) -> SearchIndex:
        return build_index(self.settings, self.settings.index_backend)

    @cached_property
    def source_entries(self) -> list[SourceEntry]:
        """Every configured source's validated entry, not built: its name and its options."""
        return configure_sources(self.settings.source_entries())

    @cached_property
    def configured_sources(self) -> list[ConfiguredSource]:
        """REPOS, the CONFLUENCE_* settings and LOREBOT_CONFIG's `[[sources]]`, built by their connectors."""
        context = SourceContext(self.settings.data_dir, self.settings.max_file_bytes)
        return build_sources(self.settings.source_entries(), context)

    @property
    def sources(self) -> list[Source]:
        return [configured.source for configured in self.configured_sources]

    @property
    def schedules(self) -> dict[str, Schedule]:
        """Each source's schedule: its own, else every SYNC_INTERVAL_MINUTES."""
        default = Schedule(interval_seconds=self.settings.sync_interval_minutes * 60)
        return {configured.source.name: configured.schedule or default for configured in self.configured_sources}

    @cached_property
    def access_policy(self) -> AccessPolicy:
        """LOREBOT_CONFIG's `[access]` over the configured sources; `SettingsError` when it names others."""
        private = {entry.name: entry.config.private for entry in self.source_entries}
        return AccessPolicy.build(self.settings.access, private)

    def scopes(self, client: AsyncWebClient) -> ScopeResolver:
        """Each Slack question's access scope: the policy, the channel's name, the asker's Confluence groups."""
        from bot.access.channels import SlackChannels
        from bot.access.readers import SlackReaders
        from knowledge.sources.confluence import ConfluenceSource
        from knowledge.sources.confluence_accounts import ConfluenceAccounts

        seconds = self.settings.access_cache_seconds
        accounts = {s.name: ConfluenceAccounts(s) for s in self.sources if isinstance(s, ConfluenceSource)}
        return ScopeResolver(
            self.access_policy, SlackChannels(client, seconds), SlackReaders(client, accounts, seconds)
        )

    async def embedder(self, rebuild_for_new_model: bool = False) -> Embedder:
        """The embedding model, loaded once, with the index bound to it.

        With `rebuild_for_new_model` (a full sync), an index of another model is cleared
        rather than refused.
        """
        if self._embedder is None:
            from knowledge.embedding import SentenceTransformerEmbedder  # torch: only when used

            self._embedder = SentenceTransformerEmbedder(
                self.settings.embedding_model, self.settings.embedding_batch_size
            )
        if not self._bound:
            try:
                await self.index.bind_model(self._embedder.model_name, self._embedder.dimension)
            except IndexModelMismatch:
                if not rebuild_for_new_model:
                    raise
                logger.warning(
                    "the embedding model changed to %s: clearing the index to rebuild it", self._embedder.model_name
                )
                await self.index.clear()
                await self.index.bind_model(self._embedder.model_name, self._embedder.dimension)
            self._bound = True
        return self._embedder

    async def retriever(self) -> Retriever:
        ranking = Ranking(
            candidates=self.settings.search_candidates,
            abstain_threshold=self.settings.abstain_threshold,
            absent_ceiling=self.settings.absent_words_ceiling,
            source_role_weights={e.name: e.config.role_weights for e in self.source_entries if e.config.role_weights},
        )
        return Retriever(
            self.index,
            await self.embedder(),
            self.settings.search_alpha,
            ranking,
            observe=self.metrics.retrieved,
            reranker=self.reranker(),
            rerank_depth=self.settings.rerank_candidates,
        )

    def reranker(self) -> Reranker | None:
        """The cross-encoder of RERANK_MODEL, loaded once; None when the setting is empty."""
        if self.settings.rerank_model and self._reranker is None:
            self._reranker = CrossEncoderReranker(self.settings.rerank_model)
        return self._reranker

    async def answerer(self) -> Answerer:
        settings, retriever = self.settings, await self.retriever()
        if not settings.llm_model:
            from bot.answering.extractive import ExtractiveAnswerer

            return ExtractiveAnswerer(retriever, k=settings.search_k)
        from bot.answering.llm import LLMAnswerer  # litellm takes seconds to import: only when used

        return LLMAnswerer(
            retriever,
            settings.llm_model,
            fallback_models=settings.llm_fallback_models,
            api_base=settings.llm_api_base,
            api_key=secret_value(settings.llm_api_key),
            timeout=settings.llm_timeout_seconds,
            max_retries=settings.llm_max_retries,
            history_tokens=settings.history_token_budget,
            k=settings.search_k,
        )

    async def sync_service(
        self, progress: SyncProgress | None = None, rebuild_for_new_model: bool = False
    ) -> SyncService:
        embedder = await self.embedder(rebuild_for_new_model)
        pipeline = SyncPipeline(self.index, embedder, self.sync_state, progress)
        locks = SourceLocks(
            self.leases, self.replica_id, self.settings.sync_lease_seconds, on_wait=self.metrics.lock_waited
        )
        return SyncService(self.sources, pipeline, locks, self.sync_state)

    async def close(self) -> None:
        if "index" in self.__dict__:
            await self.index.close()
        await self.engine.dispose()


@asynccontextmanager
async def open_runtime(settings: Settings, embedder: Embedder | None = None) -> AsyncIterator[Runtime]:
    """A runtime on a migrated database; pass `embedder` to use another model (benchmarks, tests)."""
    restrict(settings.data_dir)  # made by an older lorebot with the umask's permissions; new ones are 0700
    await upgrade(settings.resolved_database_url)
    runtime = Runtime(settings, create_engine(settings.resolved_database_url), embedder)
    try:
        yield runtime
    finally:
        await runtime.close()

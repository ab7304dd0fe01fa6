"""Building the components from Settings, once, at start-up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.answering import Answerer
from bot.answering.extractive import ExtractiveAnswerer
from bot.settings import Settings, SourceConfig, secret_value
from knowledge.embedding import Embedder, SentenceTransformerEmbedder
from knowledge.index import SearchIndex
from knowledge.retriever import Retriever
from knowledge.sources import Source, SourceConfigError


def load_embedder(settings: Settings) -> Embedder:
    return SentenceTransformerEmbedder(settings.embedding_model, settings.embedding_batch_size)


def open_index(settings: Settings) -> SearchIndex:
    if settings.weaviate_url:
        from knowledge.index.weaviate import WeaviateIndex

        return WeaviateIndex(settings.weaviate_url, secret_value(settings.weaviate_api_key), grpc_url=settings.weaviate_grpc_url)
    from knowledge.index.sqlite import SqliteIndex

    return SqliteIndex(settings.index_dir)


def build_retriever(settings: Settings, index: SearchIndex, embedder: Embedder) -> Retriever:
    return Retriever(index, embedder, alpha=settings.search_alpha)


def build_answerer(settings: Settings, retriever: Retriever) -> Answerer:
    if not settings.llm_model:
        return ExtractiveAnswerer(retriever, k=settings.search_k, abstain_threshold=settings.abstain_threshold)
    from bot.answering.llm import LLMAnswerer  # litellm takes seconds to import: only when used

    return LLMAnswerer(
        retriever,
        settings.llm_model,
        fallback_models=settings.llm_fallback_models,
        api_base=settings.llm_api_base,
        api_key=secret_value(settings.llm_api_key),
        timeout=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
        k=settings.search_k,
        abstain_threshold=settings.abstain_threshold,
    )


@asynccontextmanager
async def open_retriever(settings: Settings, require_content: bool = True) -> AsyncIterator[Retriever]:
    """The index and embedder for answering; closes the index afterwards."""
    index = open_index(settings)
    try:
        if require_content and (await index.stats()).chunks == 0:
            raise EmptyIndexError(
                "The index is empty: set REPOS (or the CONFLUENCE_* settings) and run `lorebot sync` first."
            )
        embedder = load_embedder(settings)
        await index.bind_model(embedder.model_name, embedder.dimension)
        yield build_retriever(settings, index, embedder)
    finally:
        await index.close()


class EmptyIndexError(Exception):
    """Nothing has been synced yet."""


def build_sources(settings: Settings) -> list[Source]:
    """Sources from REPOS, the CONFLUENCE_* settings and the TOML file's `[[sources]]`."""
    from knowledge.sources.git import GitSource, parse_repo_spec, repo_name

    configs = list(settings.sources)
    configs += [SourceConfig(kind="git", url=spec) for spec in settings.repos]
    configured_in_file = any(config.kind == "confluence" for config in configs)
    if settings.confluence_spaces or (settings.confluence_url and not configured_in_file):
        configs.append(SourceConfig(kind="confluence", name="confluence", spaces=settings.confluence_spaces))

    sources: list[Source] = []
    names: set[str] = set()
    for config in configs:
        if config.kind == "git":
            if not config.url:
                raise SourceConfigError("A git source in LOREBOT_CONFIG has no `url`.")
            location, branch = parse_repo_spec(config.url)
            name = _unique(config.name or repo_name(location), names)
            sources.append(
                GitSource(name, location, config.branch or branch, settings.repos_dir, settings.max_file_bytes)
            )
        else:
            sources.append(_confluence_source(settings, config, _unique(config.name or "confluence", names)))
    return sources


def _confluence_source(settings: Settings, config: SourceConfig, name: str) -> Source:
    from knowledge.sources.confluence import ConfluenceSource

    if not settings.confluence_url:
        raise SourceConfigError("CONFLUENCE_URL is not set; it is needed to sync Confluence spaces.")
    spaces = config.spaces or settings.confluence_spaces
    if not spaces:
        raise SourceConfigError("CONFLUENCE_SPACES is empty; list the space keys to index, comma-separated.")
    blogposts = settings.confluence_include_blogposts if config.include_blogposts is None else config.include_blogposts
    return ConfluenceSource(
        name,
        settings.confluence_url,
        spaces,
        username=settings.confluence_username,
        api_token=secret_value(settings.confluence_api_token),
        token=secret_value(settings.confluence_token),
        include_blogposts=blogposts,
    )


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate)
    return candidate

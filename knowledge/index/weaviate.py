"""SearchIndex on Weaviate (weaviate-client v4, async): bring-your-own vectors, hybrid search.

One collection holds the chunks (no vectorizer: lorebot embeds); a small `<collection>Meta`
collection remembers the embedding model and dimension. The schema, object ids, keyword
query and error kinds are in weaviate_schema.py.

Replacing a document inserts the new chunks first and deletes the old ones after, so a
query that starts once the new chunks are in finds a whole version. Weaviate has no
transactions, though, so a reader can see a half-replaced document: between the two steps
it finds old and new chunks side by side (the same passage can come back twice, once per
version), and while a large document is inserted or deleted in batches, part of the new
chunks beside all of the old, or all of the new beside part of the old. Nor is a query a
snapshot: the server picks its candidates first (the filter's allow list, the BM25 postings,
the vectors) and reads their objects after (v1.39 `Shard.ObjectSearch`,
`Shard.ObjectVectorSearch`). A query that stalls between the two while a whole replace
runs (the new chunks inserted after its allow list, the old deleted before its reads)
misses that document, wholly or in part, and no order of writes avoids it. On a loaded
server it takes a stall of a few milliseconds; the next query finds the document. An
unchanged chunk keeps its object id (the id covers everything stored), so re-sending it
rewrites nothing.

Other handles may delete the collections at any time (`clear()` in another process, for
`lorebot sync --full`). Reads then answer as an empty index; writes create the collections
again. That needs the server's `AUTOSCHEMA_ENABLED=false`: with auto-schema on, Weaviate
would create a missing collection itself on the first insert, with a schema it guesses.

A server that is down or mute raises `SearchIndexUnavailable` within the caller's timeouts
(`init_timeout` to connect, `query_timeout` per read, `insert_timeout` per write batch);
each call also has that deadline on this side, since the client retries an unavailable
gRPC server with back-off for about a minute.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np
import weaviate
from weaviate.classes.aggregate import GroupByAggregate
from weaviate.classes.config import Configure
from weaviate.classes.data import DataObject
from weaviate.classes.init import AdditionalConfig, Auth, Timeout
from weaviate.classes.query import Filter, HybridFusion, MetadataQuery
from weaviate.exceptions import UnexpectedStatusCodeError, WeaviateBaseError

from knowledge.documents import Chunk
from knowledge.index import (
    IndexModelMismatch,
    IndexStats,
    SearchFilters,
    SearchHit,
    SearchIndexUnavailable,
    StoredDocument,
)
from knowledge.index.weaviate_schema import (
    META_ID,
    QUERY_PROPERTIES,
    SCHEMA,
    already_exists,
    chunk_properties,
    document_filter,
    grpc_endpoint,
    inverted_index,
    keyword_query,
    meta_properties,
    object_uuid,
    search_filter,
    side_scores,
    source_filter,
    still_loading,
    to_chunk,
    to_properties,
    unreachable,
)

__all__ = ["WeaviateIndex", "grpc_endpoint", "side_scores"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_BATCH = 200
_NO_FILTERS = SearchFilters()
_MAX_SOURCES = 100_000  # groups asked for when counting chunks per source (the server's default is 100)
_MAX_DOCUMENTS = 1_000_000  # groups asked for when counting one source's documents
_CLOUD_HOSTS = (".weaviate.cloud", ".weaviate.network")


class WeaviateIndex:
    """SearchIndex in the Weaviate collection `collection` at `url`.

    `grpc_url` names the gRPC API when it is not on the HTTP host at port 50051 (e.g.
    `https://grpc.example.com:443`). The timeouts are in seconds.
    """

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        collection: str = "LorebotChunk",
        grpc_url: str | None = None,
        *,
        init_timeout: float = 5.0,
        query_timeout: float = 15.0,
        insert_timeout: float = 60.0,
    ) -> None:
        self.url = url
        self.name = collection
        self.meta_name = f"{collection}Meta"
        self._init_timeout, self._query_timeout, self._insert_timeout = init_timeout, query_timeout, insert_timeout
        parsed = urlparse(url)
        secure = parsed.scheme == "https"
        host = parsed.hostname or "localhost"
        auth = Auth.api_key(api_key) if api_key else None
        config = AdditionalConfig(timeout=Timeout(init=init_timeout, query=query_timeout, insert=insert_timeout))
        if not grpc_url and host.endswith(_CLOUD_HOSTS) and auth is not None:  # Weaviate Cloud needs a key
            self._client = weaviate.use_async_with_weaviate_cloud(url, auth_credentials=auth, additional_config=config)
        else:
            grpc_host, grpc_port, grpc_secure = grpc_endpoint(url, grpc_url)
            self._client = weaviate.use_async_with_custom(
                http_host=host,
                http_port=parsed.port or (443 if secure else 8080),
                http_secure=secure,
                grpc_host=grpc_host,
                grpc_port=grpc_port,
                grpc_secure=grpc_secure,
                auth_credentials=auth,
                additional_config=config,
            )
        self._ready = asyncio.Lock()
        self._prepared = False  # connected, and both collections known to exist
        self._bound: tuple[str, int] | None = None  # the model this handle bound, rewritten on re-creation

    # -- the conversation with the server -----------------------------------------------------

    async def _call(self, awaitable: Awaitable[T], timeout: float) -> T:
        """One client call with a deadline; unreachable or mute → SearchIndexUnavailable."""
        try:
            return await asyncio.wait_for(awaitable, timeout)
        except TimeoutError:
            raise self._unavailable(f"no answer within {timeout:g} s") from None
        except Exception as error:
            detail = unreachable(error)
            if detail is None:
                raise
            raise self._unavailable(detail) from error

    def _unavailable(self, detail: str) -> SearchIndexUnavailable:
        return SearchIndexUnavailable(
            f"The search index (Weaviate at {self.url}) is unreachable: {detail}. Is the server running, "
            "and are its HTTP and gRPC addresses right?"
        )

    async def _collections(self):
        """The chunk and meta collections, connecting and creating them on first use."""
        async with self._ready:
            if not self._prepared:
                await self._call(self._client.connect(), self._init_timeout)
                await self._create_missing()
                self._prepared = True
        return self._client.collections.use(self.name), self._client.collections.use(self.meta_name)

    async def _create_missing(self) -> None:
        for name, properties, extra in (
            (self.name, chunk_properties(), {"inverted_index_config": inverted_index()}),
            (self.meta_name, meta_properties(), {}),
        ):
            if not await self._call(self._client.collections.exists(name), self._query_timeout):
                try:
                    await self._call(
                        self._client.collections.create(
                            name,
                            properties=properties,
                            vector_config=Configure.Vectors.self_provided(),
                            **extra,
                        ),
                        self._query_timeout,
                    )
                except UnexpectedStatusCodeError as error:
                    if not already_exists(error):  # else another handle created it between exists and create
                        raise
            await self._until_searchable(name)

    async def _until_searchable(self, name: str) -> None:
        """A collection another handle has just created is in the schema a moment before it can
        be searched ("tried to browse non-existing index"): wait for that moment."""
        deadline = asyncio.get_running_loop().time() + self._query_timeout
        while True:
            try:
                await self._call(
                    self._client.collections.use(name).aggregate.over_all(total_count=True), self._query_timeout
                )
                return
            except WeaviateBaseError as error:
                if not still_loading(error) or asyncio.get_running_loop().time() > deadline:
                    raise
            await asyncio.sleep(0.05)

    async def _gone(self) -> bool:
        """Whether the collections were deleted under this handle (clear() in another one)."""
        for name in (self.name, self.meta_name):
            if not await self._call(self._client.collections.exists(name), self._query_timeout):
                return True
        return False

    async def _read(self, call: Callable[[Any, Any], Awaitable[T]], empty: T) -> T:
        """`call(chunks, meta)`, answering `empty` when the collections were deleted meanwhile."""
        chunks, meta = await self._collections()
        try:
            return await self._call(call(chunks, meta), self._query_timeout)
        except WeaviateBaseError as error:
            if still_loading(error) or await self._gone():  # just created again elsewhere, or deleted
                return empty
            raise

    async def _write(self, write: Callable[[Any, Any], Awaitable[T]]) -> T:
        """`write(chunks, meta)`; when the collections were deleted meanwhile, create them again
        (with this handle's model binding) and write once more."""
        chunks, meta = await self._collections()
        try:
            return await write(chunks, meta)
        except WeaviateBaseError as error:
            if not still_loading(error) and not await self._gone():
                raise
        logger.info("Weaviate collection %s was deleted or re-created by another handle: writing again", self.name)
        await self._create_missing()
        if self._bound:
            await self._store_binding(meta, *self._bound)
        return await write(chunks, meta)

    async def _delete(self, where) -> None:
        """Delete every chunk matching `where`: the server removes at most QUERY_MAXIMUM_RESULTS
        objects per request, so repeat until nothing matches."""
        chunks, _ = await self._collections()
        while True:
            try:
                result = await self._call(chunks.data.delete_many(where=where), self._insert_timeout)
            except WeaviateBaseError as error:
                if still_loading(error) or await self._gone():  # nothing there to delete
                    return
                raise
            if result.failed:
                raise RuntimeError(
                    f"Weaviate failed to delete {result.failed} of {result.matches} chunks in collection {self.name}"
                )
            if result.matches == 0:
                return
            if result.successful == 0:
                raise RuntimeError(
                    f"Weaviate matched {result.matches} chunks to delete in collection {self.name} but deleted none"
                )

    # -- SearchIndex ---------------------------------------------------------------------------

    async def bind_model(self, model: str, dimension: int) -> None:
        stored = await self._read(lambda _, meta: meta.query.fetch_object_by_id(META_ID), None)
        if stored is not None and stored.properties.get("schema") != SCHEMA:
            logger.warning(
                "Weaviate collection %s was built by an older lorebot (schema %s, now %d): rebuilding it; "
                "the next `lorebot sync` re-reads every source",
                self.name,
                stored.properties.get("schema") or 1,
                SCHEMA,
            )
            await self.clear()
            stored = None
        if stored is not None:
            bound = (stored.properties.get("model"), stored.properties.get("dimension"))
            if bound != (model, dimension):
                if await self._count():
                    raise IndexModelMismatch(
                        f"Weaviate collection {self.name} holds vectors of model {bound[0]!r} (dimension "
                        f"{bound[1]}), not {model!r} (dimension {dimension}); run `lorebot sync --full` to "
                        "rebuild it with the new model."
                    )
                await self._recreate_chunks()  # empty, but its vector index keeps the old dimension
        self._bound = (model, dimension)
        await self._write(lambda _, meta: self._store_binding(meta, model, dimension))

    async def _store_binding(self, meta, model: str, dimension: int) -> None:
        stored = DataObject(uuid=META_ID, properties={"model": model, "dimension": dimension, "schema": SCHEMA})
        result = await self._call(meta.data.insert_many([stored]), self._insert_timeout)  # a batch upserts
        if result.has_errors:
            raise RuntimeError(f"Weaviate rejected the model binding of {self.name}: {result.errors}")

    async def _recreate_chunks(self) -> None:
        await self._call(self._client.collections.delete(self.name), self._query_timeout)
        await self._create_missing()

    async def _count(self) -> int:
        result = await self._read(lambda chunks, _: chunks.aggregate.over_all(total_count=True), None)
        return (result.total_count or 0) if result else 0

    async def replace_document(
        self, source: str, document_id: str, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if chunks and (vectors.ndim != 2 or len(vectors) != len(chunks)):
            raise ValueError(f"{len(chunks)} chunks need {len(chunks)} vectors, got an array of shape {vectors.shape}")
        objects = [
            DataObject(uuid=object_uuid(chunk, vector), properties=to_properties(chunk), vector=vector.tolist())
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]

        async def insert(collection, _) -> None:
            for start in range(0, len(objects), _BATCH):
                result = await self._call(
                    collection.data.insert_many(objects[start : start + _BATCH]), self._insert_timeout
                )
                if result.has_errors:
                    error = next(iter(result.errors.values()))
                    raise RuntimeError(f"Weaviate rejected chunks of {source}:{document_id}: {error.message}")

        stale = document_filter(source, document_id)
        if objects:
            await self._write(insert)  # first the new version, then whatever else the document held
            stale = stale & Filter.by_id().contains_none([str(obj.uuid) for obj in objects])
        await self._delete(stale)

    async def delete_document(self, source: str, document_id: str) -> None:
        await self._delete(document_filter(source, document_id))

    async def delete_source(self, source: str) -> None:
        await self._delete(source_filter(source))

    async def vectors_by_hash(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        unique, found = list(dict.fromkeys(hashes)), dict[str, np.ndarray]()
        for start in range(0, len(unique), _BATCH):
            batch = unique[start : start + _BATCH]

            def fetch(chunks: Any, _: Any, batch: list[str] = batch) -> Awaitable[Any]:
                return chunks.query.fetch_objects(
                    filters=Filter.by_property("hash").contains_any(batch),
                    include_vector=True,
                    limit=len(batch) * 4,
                    return_properties=["hash"],
                )

            response = await self._read(fetch, None)
            for obj in response.objects if response else ():
                found.setdefault(obj.properties["hash"], np.asarray(obj.vector["default"], dtype=np.float32))
        return found

    async def query(
        self, text: str, vector: np.ndarray, k: int, alpha: float, filters: SearchFilters = _NO_FILTERS
    ) -> list[SearchHit]:
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be between 0 and 1, not {alpha}")
        keywords = keyword_query(text) if alpha < 1.0 else ""
        if k <= 0 or (alpha == 0.0 and not keywords):
            return []
        query_vector = np.asarray(vector, dtype=np.float32).ravel()
        response = await self._read(
            lambda chunks, _: chunks.query.hybrid(
                query=keywords,
                vector=query_vector.tolist(),
                alpha=alpha,
                fusion_type=HybridFusion.RELATIVE_SCORE,
                query_properties=QUERY_PROPERTIES,
                limit=k,
                filters=search_filter(filters),
                include_vector=True,
                return_metadata=MetadataQuery(score=True, explain_score=True),
            ),
            None,
        )
        if response is None:
            return []
        norm = float(np.linalg.norm(query_vector)) or 1.0
        hits = []
        for obj in response.objects:
            stored = np.asarray(obj.vector["default"], dtype=np.float32)
            similarity = float(stored @ query_vector) / (norm * (float(np.linalg.norm(stored)) or 1.0))
            keyword, vector_score = side_scores(obj.metadata.explain_score or "", alpha)
            score = min(1.0, max(0.0, obj.metadata.score or 0.0))
            hits.append(SearchHit(to_chunk(obj.properties), score, keyword, vector_score, similarity))
        return hits

    async def stats(self) -> IndexStats:
        sources = await self._chunks_per("source", _MAX_SOURCES)
        source_documents = {
            source: len(await self._chunks_per("document_id", _MAX_DOCUMENTS, source_filter(source)))
            for source in sources
        }
        stored = await self._read(lambda _, meta: meta.query.fetch_object_by_id(META_ID), None)
        model = stored.properties.get("model") if stored else None
        dimension = stored.properties.get("dimension") if stored else None
        return IndexStats(
            sum(sources.values()), sum(source_documents.values()), model, sources, source_documents, dimension
        )

    async def _chunks_per(self, prop: str, limit: int, where: Any = None) -> dict[str, int]:
        """Chunks per value of `prop` (of the chunks matching `where`), for at most `limit` values."""
        grouped = await self._read(
            lambda chunks, _: chunks.aggregate.over_all(
                filters=where, group_by=GroupByAggregate(prop=prop, limit=limit), total_count=True
            ),
            None,
        )
        return {str(group.grouped_by.value): group.total_count or 0 for group in grouped.groups} if grouped else {}

    async def neighbours(self, chunk: Chunk, reach: int) -> list[Chunk]:
        ordinal = Filter.by_property("ordinal")
        nearby = ordinal.greater_or_equal(chunk.ordinal - reach) & ordinal.less_or_equal(chunk.ordinal + reach)
        response = await self._read(
            lambda chunks, _: chunks.query.fetch_objects(
                filters=document_filter(chunk.source, chunk.document_id) & nearby, limit=2 * reach + 1
            ),
            None,
        )
        found = [to_chunk(obj.properties) for obj in response.objects] if response else []
        return sorted(found, key=lambda c: c.ordinal)

    async def export_documents(self) -> AsyncIterator[StoredDocument]:
        """Each document is one fetch of as many objects as it had chunks when listed, so a
        document must have at most the server's QUERY_MAXIMUM_RESULTS chunks."""
        for source in await self._chunks_per("source", _MAX_SOURCES):
            listed = await self._chunks_per("document_id", _MAX_DOCUMENTS, source_filter(source))
            for document_id, count in listed.items():
                document = await self._stored_document(source, document_id, count)
                if document is not None:  # else deleted since the listing
                    yield document

    async def _stored_document(self, source: str, document_id: str, count: int) -> StoredDocument | None:
        response = await self._read(
            lambda chunks, _: chunks.query.fetch_objects(
                filters=document_filter(source, document_id), include_vector=True, limit=count
            ),
            None,
        )
        objects = sorted(response.objects if response else (), key=lambda obj: obj.properties["ordinal"])
        if not objects:
            return None
        vectors = np.array([obj.vector["default"] for obj in objects], dtype=np.float32)
        return StoredDocument(source, document_id, tuple(to_chunk(obj.properties) for obj in objects), vectors)

    async def clear(self) -> None:
        """Delete the collections (the index is derived data: a full sync rebuilds it)."""
        await self._collections()
        await self._call(self._client.collections.delete([self.name, self.meta_name]), self._query_timeout)
        self._prepared = False
        self._bound = None

    async def close(self) -> None:
        """Close the connections; the handle connects again if it is used after this."""
        self._prepared = False
        await self._client.close()

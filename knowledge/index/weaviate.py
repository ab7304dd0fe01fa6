"""SearchIndex on Weaviate (weaviate-client v4, async): bring-your-own vectors, hybrid search.

One collection holds the chunks (no vectorizer: lorebot embeds); a small `<collection>Meta`
collection remembers the embedding model and dimension. Each chunk's UUID is derived from
(source, document, ordinal), so replacing a document overwrites its chunks in place and
then deletes the leftovers: readers never see it missing, but without transactions they
may briefly see a mix of old and new chunks of one document.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from urllib.parse import urlparse

import numpy as np
import weaviate
from weaviate.classes.aggregate import GroupByAggregate
from weaviate.classes.config import Configure, DataType, Property, Tokenization
from weaviate.classes.data import DataObject
from weaviate.classes.init import Auth
from weaviate.classes.query import Filter, HybridFusion, MetadataQuery
from weaviate.util import generate_uuid5

from knowledge.documents import Chunk
from knowledge.index import IndexModelMismatch, IndexStats, SearchFilters, SearchHit
from knowledge.index.fusion import KEYWORD_FIELD_WEIGHTS
from knowledge.index.keywords import query_terms

logger = logging.getLogger(__name__)

_TEXT = tuple(KEYWORD_FIELD_WEIGHTS)
_FIELDS = ("source", "document_id", "kind", "url", "path", "symbol", "anchor", "hash")
_NUMBERS = ("ordinal", "start_line", "end_line")
_META_ID = generate_uuid5("lorebot-index-meta")
_BATCH = 200
_NO_FILTERS = SearchFilters()
# "(Result Set keyword,bm25) Document …: original score 2.5, normalized score: 0.35"
_EXPLAIN = re.compile(
    r"Result Set '?(\w+)[^)]*\) Document [^:]+: original score [^,]+, normalized score: ([\d.eE+-]+)"
)


def keyword_query(text: str) -> str:
    """The terms the embedded index searches for (words and their camelCase/snake_case
    parts, no stopwords), unquoted and space-separated; empty when none are left."""
    return " ".join(term.strip('"') for term in query_terms(text))


def _boosted_fields() -> list[str]:
    """`title^8`-style field boosts: Weaviate takes whole numbers, so scale the smallest to 1."""
    smallest = min(KEYWORD_FIELD_WEIGHTS.values())
    return [f"{name}^{round(weight / smallest)}" for name, weight in KEYWORD_FIELD_WEIGHTS.items()]


def _properties() -> list[Property]:
    exact = {"data_type": DataType.TEXT, "tokenization": Tokenization.FIELD, "index_searchable": False}
    return [
        *(Property(name=name, data_type=DataType.TEXT, tokenization=Tokenization.WORD) for name in _TEXT),
        *(Property(name=name, **exact) for name in _FIELDS),
        Property(name="ordinal", data_type=DataType.INT),
        Property(name="start_line", data_type=DataType.INT),
        Property(name="end_line", data_type=DataType.INT),
    ]


def _filters(filters: SearchFilters):
    parts = []
    if filters.sources:
        parts.append(Filter.by_property("source").contains_any(list(filters.sources)))
    if filters.kinds:
        parts.append(Filter.by_property("kind").contains_any(list(filters.kinds)))
    return Filter.all_of(parts) if parts else None


def _document(source: str, document_id: str):
    return Filter.by_property("source").equal(source) & Filter.by_property("document_id").equal(document_id)


def _chunk(properties: dict) -> Chunk:
    return Chunk(
        source=properties["source"], document_id=properties["document_id"], ordinal=int(properties["ordinal"]),
        kind=properties["kind"], title=properties["title"], url=properties["url"], path=properties["path"],
        text=properties["text"], keywords=properties.get("keywords") or "", symbol=properties.get("symbol") or "",
        start_line=properties.get("start_line"), end_line=properties.get("end_line"),
        anchor=properties.get("anchor") or "", hash=properties["hash"],
    )


def side_scores(explain: str, alpha: float) -> tuple[float, float]:
    """(keyword, vector) normalized scores from Weaviate's explain_score; weights divided out."""
    keyword = vector = 0.0
    for result_set, weighted in _EXPLAIN.findall(explain or ""):
        if result_set.startswith("keyword") and alpha < 1.0:
            keyword = min(1.0, float(weighted) / (1.0 - alpha))
        elif result_set.startswith("vector") and alpha > 0.0:
            vector = min(1.0, float(weighted) / alpha)
    return keyword, vector


def grpc_endpoint(http_url: str, grpc_url: str | None) -> tuple[str, int, bool]:
    """(host, port, secure) of the gRPC API: from `grpc_url` (e.g. https://grpc.example.com:443;
    port 443 for https, else 50051, when it names none), else the HTTP host at 50051."""
    if not grpc_url:
        parsed = urlparse(http_url)
        return parsed.hostname or "localhost", 50051, parsed.scheme == "https"
    parsed = urlparse(grpc_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"the Weaviate gRPC URL must look like https://host:port or http://host:port, not {grpc_url!r}")
    secure = parsed.scheme == "https"
    return parsed.hostname, parsed.port or (443 if secure else 50051), secure


class WeaviateIndex:
    """`grpc_url` names the gRPC API when it is not on the HTTP host at port 50051
    (e.g. `https://grpc.example.com:443`)."""

    def __init__(self, url: str, api_key: str | None = None, collection: str = "LorebotChunk",
                 grpc_url: str | None = None) -> None:
        parsed = urlparse(url)
        secure = parsed.scheme == "https"
        auth = Auth.api_key(api_key) if api_key else None
        host = parsed.hostname or "localhost"
        if not grpc_url and host.endswith((".weaviate.cloud", ".weaviate.network")):
            self._client = weaviate.use_async_with_weaviate_cloud(url, auth_credentials=auth)
        else:
            grpc_host, grpc_port, grpc_secure = grpc_endpoint(url, grpc_url)
            self._client = weaviate.use_async_with_custom(
                http_host=host, http_port=parsed.port or (443 if secure else 8080), http_secure=secure,
                grpc_host=grpc_host, grpc_port=grpc_port, grpc_secure=grpc_secure, auth_credentials=auth,
            )
        self.name = collection
        self._ready = asyncio.Lock()
        self._connected = False

    async def _collections(self):
        """The chunk and meta collections, connecting and creating them on first use."""
        async with self._ready:
            if not self._connected:
                await self._client.connect()
                for name, properties in ((self.name, _properties()), (f"{self.name}Meta", [
                    Property(name="model", data_type=DataType.TEXT),
                    Property(name="dimension", data_type=DataType.INT),
                ])):
                    if not await self._client.collections.exists(name):
                        await self._client.collections.create(
                            name, properties=properties, vector_config=Configure.Vectors.self_provided()
                        )
                self._connected = True
        return self._client.collections.use(self.name), self._client.collections.use(f"{self.name}Meta")

    async def bind_model(self, model: str, dimension: int) -> None:
        chunks, meta = await self._collections()
        stored = await meta.query.fetch_object_by_id(_META_ID)
        if stored is not None:
            stored_model, stored_dimension = stored.properties.get("model"), stored.properties.get("dimension")
            if (stored_model, stored_dimension) != (model, dimension) and await self._count(chunks):
                raise IndexModelMismatch(
                    f"Weaviate collection {self.name} holds vectors of model {stored_model!r} (dimension "
                    f"{stored_dimension}), not {model!r} (dimension {dimension}); run `lorebot sync "
                    "--full` to rebuild it with the new model."
                )
            await meta.data.replace(uuid=_META_ID, properties={"model": model, "dimension": dimension})
        else:
            await meta.data.insert(properties={"model": model, "dimension": dimension}, uuid=_META_ID)

    @staticmethod
    async def _count(chunks) -> int:
        return (await chunks.aggregate.over_all(total_count=True)).total_count or 0

    async def replace_document(
        self, source: str, document_id: str, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        collection, _ = await self._collections()
        objects = [
            DataObject(
                uuid=generate_uuid5(chunk.id),
                properties={name: getattr(chunk, name) for name in (*_TEXT, *_FIELDS, *_NUMBERS)},
                vector=np.asarray(vector, dtype=np.float32).tolist(),
            )
            for chunk, vector in zip(chunks, vectors)
        ]
        for start in range(0, len(objects), _BATCH):
            result = await collection.data.insert_many(objects[start : start + _BATCH])
            if result.has_errors:
                raise RuntimeError(f"Weaviate rejected chunks of {source}:{document_id}: {result.errors}")
        leftovers = _document(source, document_id) & Filter.by_property("ordinal").greater_or_equal(len(chunks))
        await collection.data.delete_many(where=leftovers)

    async def delete_document(self, source: str, document_id: str) -> None:
        collection, _ = await self._collections()
        await collection.data.delete_many(where=_document(source, document_id))

    async def delete_source(self, source: str) -> None:
        collection, _ = await self._collections()
        await collection.data.delete_many(where=Filter.by_property("source").equal(source))

    async def vectors_by_hash(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        collection, _ = await self._collections()
        unique, found = list(dict.fromkeys(hashes)), {}
        for start in range(0, len(unique), _BATCH):
            batch = unique[start : start + _BATCH]
            response = await collection.query.fetch_objects(
                filters=Filter.by_property("hash").contains_any(batch), include_vector=True,
                limit=len(batch) * 4, return_properties=["hash"],
            )
            for obj in response.objects:
                found.setdefault(obj.properties["hash"], np.asarray(obj.vector["default"], dtype=np.float32))
        return found

    async def query(
        self, text: str, vector: np.ndarray, k: int, alpha: float, filters: SearchFilters = _NO_FILTERS
    ) -> list[SearchHit]:
        if k <= 0 or (alpha == 0.0 and not keyword_query(text)):
            return []
        collection, _ = await self._collections()
        query_vector = np.asarray(vector, dtype=np.float32).ravel()
        response = await collection.query.hybrid(
            query=keyword_query(text), vector=query_vector.tolist(),
            alpha=alpha, fusion_type=HybridFusion.RELATIVE_SCORE,
            query_properties=_boosted_fields(),
            limit=k, filters=_filters(filters), include_vector=True,
            return_metadata=MetadataQuery(score=True, explain_score=True),
        )
        norm = float(np.linalg.norm(query_vector)) or 1.0
        hits = []
        for obj in response.objects:
            stored = np.asarray(obj.vector["default"], dtype=np.float32)
            similarity = float(stored @ query_vector) / (norm * (float(np.linalg.norm(stored)) or 1.0))
            keyword, vector_score = side_scores(obj.metadata.explain_score or "", alpha)
            score = min(1.0, max(0.0, obj.metadata.score or 0.0))
            hits.append(SearchHit(_chunk(obj.properties), score, keyword, vector_score, similarity))
        return hits

    async def stats(self) -> IndexStats:
        chunks, meta = await self._collections()
        grouped = await chunks.aggregate.over_all(group_by="source", total_count=True)
        sources = {str(group.grouped_by.value): group.total_count or 0 for group in grouped.groups}
        documents = 0
        for source in sources:
            by_document = await chunks.aggregate.over_all(
                filters=Filter.by_property("source").equal(source),
                group_by=GroupByAggregate(prop="document_id", limit=1_000_000), total_count=True,
            )
            documents += len(by_document.groups)
        stored = await meta.query.fetch_object_by_id(_META_ID)
        model = stored.properties.get("model") if stored else None
        return IndexStats(sum(sources.values()), documents, model, sources)

    async def clear(self) -> None:
        """Delete the collections (the index is derived data: a full sync rebuilds it)."""
        await self._collections()
        await self._client.collections.delete([self.name, f"{self.name}Meta"])
        self._connected = False

    async def close(self) -> None:
        await self._client.close()

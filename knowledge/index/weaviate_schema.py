"""The shapes the Weaviate index stores and sends: collection schema, object ids and
properties, filters, the keyword query, explain-score parsing, addresses and error kinds.

Pure functions and constants, so weaviate.py holds only the conversation with the server.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlparse

import grpc
import httpx
import numpy as np
from weaviate.classes.config import (
    Configure,
    DataType,
    Property,
    StopwordsPreset,
    Tokenization,
)
from weaviate.classes.query import Filter
from weaviate.exceptions import (
    WeaviateBaseError,
    WeaviateConnectionError,
    WeaviateGRPCUnavailableError,
    WeaviateRetryError,
    WeaviateStartUpError,
    WeaviateTimeoutError,
)
from weaviate.util import generate_uuid5

from knowledge.documents import Chunk
from knowledge.index import SearchFilters
from knowledge.index.fusion import KEYWORD_FIELD_WEIGHTS
from knowledge.index.keywords import query_terms
from knowledge.restrictions import MAX_LEVELS, Restrictions

SCHEMA = 3
"""Bump when the collections' properties change; a collection of another schema is rebuilt.
2: read restrictions (`readers`, `restriction_levels`). 3: `ordinal` is filterable, for a
chunk's neighbours (`SearchIndex.neighbours`)."""

TEXT = tuple(KEYWORD_FIELD_WEIGHTS)  # searched with BM25: title, text, keywords
FILTERED = ("source", "document_id", "kind", "hash")  # the text properties a filter names
STORED = ("url", "path", "symbol", "anchor")  # returned, never searched or filtered
NUMBERS = ("ordinal", "start_line", "end_line")
FILTERED_NUMBERS = ("ordinal",)  # a document's chunks near one of them
PROPERTIES = (*TEXT, *FILTERED, *STORED, *NUMBERS)
# Read restrictions: one "<level>:<principal>" token per principal named at each level.
READERS, LEVELS = "readers", "restriction_levels"

# The same BM25 field weights as the embedded index, as the floats they are.
QUERY_PROPERTIES = [f"{name}^{float(weight)}" for name, weight in KEYWORD_FIELD_WEIGHTS.items()]

META_ID = generate_uuid5("lorebot-index-meta")

# "(Result Set keyword,bm25) Document …: original score 2.5, normalized score: 0.35"
_EXPLAIN = re.compile(r"Result Set '?(\w+)[^)]*\) Document [^:]+: original score [^,]+, normalized score: ([\d.eE+-]+)")


def chunk_properties() -> list[Property]:
    """Text searched the way the embedded index's FTS5 `unicode61 remove_diacritics 2`
    tokenizer does as closely as Weaviate allows: split on anything not a letter or digit,
    lower-cased, accents folded. Weaviate has no stemming (FTS5 adds porter)."""
    folded = Configure.text_analyzer(ascii_fold=True)
    return [
        *(
            Property(
                name=name,
                data_type=DataType.TEXT,
                tokenization=Tokenization.WORD,
                text_analyzer=folded,
                index_searchable=True,
                index_filterable=False,
            )
            for name in TEXT
        ),
        *(
            Property(
                name=name,
                data_type=DataType.TEXT,
                tokenization=Tokenization.FIELD,
                index_searchable=False,
                index_filterable=True,
            )
            for name in FILTERED
        ),
        *(
            Property(name=name, data_type=DataType.TEXT, index_searchable=False, index_filterable=False)
            for name in STORED
        ),
        *(
            Property(
                name=name,
                data_type=DataType.INT,
                index_filterable=name in FILTERED_NUMBERS,
                index_range_filters=False,
            )
            for name in NUMBERS
        ),
        Property(
            name=READERS,
            data_type=DataType.TEXT_ARRAY,
            tokenization=Tokenization.FIELD,
            index_searchable=False,
            index_filterable=True,
        ),
        Property(name=LEVELS, data_type=DataType.INT, index_filterable=True, index_range_filters=False),
    ]


def meta_properties() -> list[Property]:
    return [
        Property(name="model", data_type=DataType.TEXT),
        Property(name="dimension", data_type=DataType.INT),
        Property(name="schema", data_type=DataType.INT),
    ]


def inverted_index():
    """BM25 as FTS5 computes it (k1 1.2, b 0.75); no stopword list of Weaviate's own: the
    keyword query already leaves out the embedded index's stopwords."""
    return Configure.inverted_index(bm25_k1=1.2, bm25_b=0.75, stopwords_preset=StopwordsPreset.NONE)


def keyword_query(text: str) -> str:
    """The terms the embedded index searches for (words and their camelCase/snake_case
    parts, no stopwords), unquoted and space-separated; empty when none are left."""
    return " ".join(term.strip('"') for term in query_terms(text))


def search_filter(filters: SearchFilters):
    parts = []
    if filters.sources:
        parts.append(Filter.by_property("source").contains_any(list(filters.sources)))
    if filters.kinds:
        parts.append(Filter.by_property("kind").contains_any(list(filters.kinds)))
    if filters.readers is not None:
        parts.append(readers_filter(filters.readers))
    return Filter.all_of(parts) if parts else None


def source_filter(source: str):
    return Filter.by_property("source").equal(source)


def readers_filter(readers: frozenset[str]):
    """Chunks these principals may read (knowledge/restrictions.py `readable`): for each
    level count n, n levels each naming one of them."""
    unrestricted = Filter.by_property(LEVELS).equal(0)
    if not readers:
        return unrestricted
    branches = [unrestricted]
    for levels in range(1, MAX_LEVELS + 1):
        named = [
            Filter.by_property(READERS).contains_any([f"{level}:{principal}" for principal in sorted(readers)])
            for level in range(levels)
        ]
        branches.append(Filter.all_of([Filter.by_property(LEVELS).equal(levels), *named]))
    return Filter.any_of(branches)


def document_filter(source: str, document_id: str):
    return source_filter(source) & Filter.by_property("document_id").equal(document_id)


def to_properties(chunk: Chunk) -> dict:
    readers = [f"{level}:{principal}" for level, names in enumerate(chunk.restrictions) for principal in names]
    return {
        **{name: getattr(chunk, name) for name in PROPERTIES},
        READERS: readers,
        LEVELS: len(chunk.restrictions),
    }


def _restrictions(properties: dict) -> Restrictions:
    levels: list[list[str]] = [[] for _ in range(int(properties.get(LEVELS) or 0))]
    for token in properties.get(READERS) or ():
        level, principal = token.split(":", 1)
        levels[int(level)].append(principal)
    return tuple(tuple(level) for level in levels)


def to_chunk(properties: dict) -> Chunk:
    return Chunk(
        source=properties["source"],
        document_id=properties["document_id"],
        ordinal=int(properties["ordinal"]),
        kind=properties["kind"],
        title=properties["title"],
        url=properties["url"],
        path=properties["path"],
        text=properties["text"],
        keywords=properties.get("keywords") or "",
        symbol=properties.get("symbol") or "",
        start_line=properties.get("start_line"),
        end_line=properties.get("end_line"),
        anchor=properties.get("anchor") or "",
        hash=properties["hash"],
        restrictions=_restrictions(properties),
    )


def object_uuid(chunk: Chunk, vector: np.ndarray) -> str:
    """The object id of a chunk *version*: its place (source, document, ordinal) and everything
    stored. An unchanged chunk keeps its id (rewriting it is a no-op for the server); a changed
    one gets a new id, so it is inserted beside the old one, never over it."""
    fingerprint = hashlib.sha256(repr(sorted(to_properties(chunk).items())).encode())
    fingerprint.update(np.asarray(vector, dtype=np.float32).tobytes())
    return generate_uuid5(f"{chunk.id}:{fingerprint.hexdigest()}")


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
        raise ValueError(
            f"the Weaviate gRPC URL must look like https://host:port or http://host:port, not {grpc_url!r}"
        )
    secure = parsed.scheme == "https"
    return parsed.hostname, parsed.port or (443 if secure else 50051), secure


_CANNOT_CONNECT = (WeaviateConnectionError, WeaviateStartUpError, ConnectionError, httpx.ConnectError)
_NO_ANSWER = (WeaviateTimeoutError, httpx.TimeoutException)
_GRPC_GONE = (WeaviateGRPCUnavailableError, WeaviateRetryError)
# gRPC statuses the client wraps into query, batch and delete errors when the server is gone or mute.
_GONE_STATUS = re.compile(r"UNAVAILABLE|failed to connect", re.IGNORECASE)
_MUTE_STATUS = re.compile(r"DEADLINE_EXCEEDED|Deadline Exceeded", re.IGNORECASE)


def unreachable(error: BaseException) -> str | None:
    """What went wrong, in a few words, when `error` means the server could not be reached or
    did not answer; None for any other error (one the server answered with)."""
    if isinstance(error, grpc.aio.AioRpcError):
        error = WeaviateBaseError(f"{error.code().name} {error.details()}")
    if isinstance(error, _CANNOT_CONNECT):
        return "cannot connect to it"
    if isinstance(error, _NO_ANSWER):
        return "it did not answer in time"
    if isinstance(error, _GRPC_GONE):
        return "its gRPC API does not answer"
    if isinstance(error, httpx.TransportError):
        return f"the connection failed ({type(error).__name__})"
    if isinstance(error, WeaviateBaseError):
        if _MUTE_STATUS.search(str(error)):
            return "it did not answer in time"
        if _GONE_STATUS.search(str(error)):
            return "its gRPC API does not answer"
    return None


def already_exists(error: WeaviateBaseError) -> bool:
    """A collection create refused because another handle created it first (422 "already exists")."""
    return getattr(error, "status_code", None) == 422 and "already exists" in str(error)


def still_loading(error: WeaviateBaseError) -> bool:
    """A collection in the schema whose index this node has not loaded yet (just created elsewhere)."""
    return "non-existing index" in str(error)

"""The cost of access filtering on hybrid query latency, at 100k chunks, embedded or Weaviate.

    python bench/filter_latency.py [--size 100000] [--rounds 3] [--reuse] [--weaviate-url URL [--weaviate-grpc-url URL]]

`--reuse` queries the embedded index a previous run built (bench/.work/filter-index-N).

The corpus of retrieval_latency.py (site-packages .py files in 40-line windows, random unit
vectors, real keyword text), split over two sources, with every 10th file restricted to one
of 20 groups and every 50th behind two levels (group and user), as Confluence restrictions
are stored (knowledge/restrictions.py). Each question's vector is embedded once by the real
model; only `index.query` is timed (k = SEARCH_CANDIDATES, as the retriever asks), under:

- none: no filter (the operator's CLI);
- channel: the channel's sources and unrestricted content only;
- dm: the DM's sources and what a member of two groups may read;
- sources: the sources only (the filter that existed before).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time
from pathlib import Path

import numpy as np
from retrieval_latency import QUESTIONS, WORK, documents
from timing import p50_p95_text

from bot.settings import Settings
from knowledge.embedding import SentenceTransformerEmbedder
from knowledge.index import SearchFilters, SearchIndex
from knowledge.restrictions import Restrictions

GROUPS = 20
FILTERS = {
    "none": SearchFilters(),
    "channel": SearchFilters(sources=("code", "wiki"), readers=frozenset()),
    "dm": SearchFilters(
        sources=("code", "wiki"), readers=frozenset({"wiki/group:g3", "wiki/group:g7", "wiki/user:u3"})
    ),
    "sources": SearchFilters(sources=("code", "wiki")),
}


def restrictions(n: int) -> Restrictions:
    """File n's restrictions: every 10th behind one of GROUPS groups, every 50th also behind a user."""
    group = f"wiki/group:g{(n // 10) % GROUPS}"
    if n % 50 == 0:
        return ((group,), (f"wiki/user:u{(n // 50) % 7}",))
    if n % 10 == 0:
        return ((group,),)
    return ()


async def build(index: SearchIndex, size: int, dimension: int) -> tuple[int, float]:
    await index.bind_model("random-unit-vectors", dimension)
    rng = np.random.default_rng(0)
    started, total, restricted = time.perf_counter(), 0, 0
    for n, chunks in enumerate(documents()):
        source = "wiki" if n % 2 else "code"
        chunks = [dataclasses.replace(c, source=source, restrictions=restrictions(n)) for c in chunks[: size - total]]
        vectors = rng.normal(size=(len(chunks), dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        await index.replace_document(source, chunks[0].document_id, chunks, vectors)
        total += len(chunks)
        restricted += len(chunks) if chunks[0].restrictions else 0
        if total >= size:
            break
    print(f"built {total:,} chunks ({restricted:,} restricted) in {time.perf_counter() - started:.0f} s")
    return total, time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="query the embedded index an earlier run built")
    parser.add_argument("--weaviate-url")
    parser.add_argument("--weaviate-grpc-url")
    args = parser.parse_args()
    settings = Settings()
    embedder = SentenceTransformerEmbedder(settings.embedding_model, settings.embedding_batch_size)
    vectors = await embedder.embed(QUESTIONS)
    index: SearchIndex
    if args.weaviate_url:
        from knowledge.index.weaviate import WeaviateIndex

        index = WeaviateIndex(args.weaviate_url, collection="LorebotFilterBench", grpc_url=args.weaviate_grpc_url)
        await index.clear()
    else:
        import shutil

        from knowledge.index.sqlite import SqliteIndex

        directory = Path(WORK) / f"filter-index-{args.size}"
        if not args.reuse:
            shutil.rmtree(directory, ignore_errors=True)
        index = SqliteIndex(directory)
    if not (args.reuse and (await index.stats()).chunks):
        await build(index, args.size, embedder.dimension)
    k, alpha = settings.search_candidates, settings.search_alpha
    await index.query("warm up", vectors[0], k, alpha)
    timings: dict[str, list[float]] = {name: [] for name in FILTERS}
    for _ in range(args.rounds):
        for question, vector in zip(QUESTIONS, vectors, strict=True):
            for name, filters in FILTERS.items():  # interleaved: load from other processes hits all alike
                started = time.perf_counter()
                hits = await index.query(question, vector, k, alpha, filters)
                timings[name].append((time.perf_counter() - started) * 1000)
                if name == "channel":
                    assert all(not hit.chunk.restrictions for hit in hits)
    backend = "weaviate" if args.weaviate_url else "embedded"
    print(f"{backend}, {args.size:,} chunks, k={k}, alpha={alpha}, {len(QUESTIONS) * args.rounds} queries each:")
    for name, values in timings.items():
        print(f"  {name:8s} {p50_p95_text(values)}")
    if args.weaviate_url:
        await index.clear()
    await index.close()


if __name__ == "__main__":
    asyncio.run(main())

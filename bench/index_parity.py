"""Weaviate against the embedded index: the same chunks with the same vectors in both,
the same questions on both.

    python bench/index_parity.py [--sizes 10000 100000] [--rounds 3] [--skip-quality] [--skip-latency]
                                 [--stemming-ablation]

1. Quality: the dev-set corpus (bench/devset) is synced into the embedded index; every chunk
   and its stored vector is copied into Weaviate; the dev-set questions run through the
   same Retriever on both: recall@1/5/10 and MRR@10 side by side, over an alpha sweep, and
   the questions whose first relevant rank differs.
   --stemming-ablation adds the embedded index built without FTS5's porter stemmer (Weaviate
   has none), to see how much of the keyword side's difference stemming explains.
2. Latency: bench/retrieval_latency.py's index of site-packages windows with random unit
   vectors (its `build`), copied the same way; its `measure` on both (query embedding +
   hybrid query, k=10; and each side alone).

Weaviate is the server tests/weaviate_server.py builds and starts (loopback, data in a
temporary directory), unless --weaviate-url names one. Work files go to bench/.work/.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.weaviate_server lives in the checkout

from devset.corpus import ANSWERABLE, UNANSWERABLE, WORK, synced_settings
from retrieval_latency import build, measure
from timing import p50_p95_text

from bot.settings import Settings
from knowledge.embedding import SentenceTransformerEmbedder
from knowledge.evaluation import EvalResult, load_questions, metrics
from knowledge.index import SearchIndex
from knowledge.index import sqlite as sqlite_index
from knowledge.index.reindex import Endpoint, copy_index
from knowledge.index.sqlite import SqliteIndex
from knowledge.index.weaviate import WeaviateIndex
from knowledge.ranking import Ranking
from knowledge.retriever import Retriever
from tests.weaviate_server import endpoint

ALPHAS = [
    ("bm25 only", 0.0),
    ("vector only", 1.0),
    ("hybrid 0.3", 0.3),
    ("hybrid 0.5", 0.5),
    ("hybrid 0.6", 0.6),
    ("hybrid 0.7", 0.7),
]
METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10")


class _Silent:
    def step(self, description: str, total: int) -> None:
        pass

    def advance(self) -> None:
        pass


async def copy_into(target: SearchIndex, source: SqliteIndex) -> float:
    """Copy every chunk and vector of `source` into an emptied `target` (`lorebot reindex`'s
    copy, which checks the counts); seconds taken."""
    await target.clear()
    summary = await copy_index(Endpoint(source, "embedded"), Endpoint(target, "the copy"), _Silent())
    return summary.seconds


async def evaluate(index: SearchIndex, embedder, questions, alpha: float) -> list[EvalResult]:
    # The index side only (no ranking stage): parity of the backends is what is measured.
    retriever = Retriever(index, embedder, alpha, Ranking(50, 0.35))
    return [EvalResult(q, await retriever.candidates(q.question, 10)) for q in questions]


async def unstemmed_copy(embedded: SqliteIndex, directory: Path) -> SqliteIndex:
    """The embedded index's chunks and vectors in one whose FTS5 table has no porter stemmer."""
    shutil.rmtree(directory, ignore_errors=True)
    schema = sqlite_index._SCHEMA.replace("tokenize='porter unicode61", "tokenize='unicode61")
    with mock.patch.object(sqlite_index, "_SCHEMA", schema):  # the schema is only read when opening
        unstemmed = SqliteIndex(directory)
    await copy_into(unstemmed, embedded)
    return unstemmed


async def quality(weaviate: WeaviateIndex, embedder: SentenceTransformerEmbedder, ablation: bool) -> None:
    settings = await synced_settings("data-parity")
    embedded = SqliteIndex(settings.index_dir)
    seconds = await copy_into(weaviate, embedded)
    stats = await embedded.stats()
    print(f"\nquality: {stats.chunks:,} chunks in {stats.documents} files copied into Weaviate in {seconds:.1f} s")
    questions = load_questions(ANSWERABLE) + load_questions(UNANSWERABLE)
    answerable = sum(1 for q in questions if q.expected)
    unstemmed = None
    if ablation:
        unstemmed = await unstemmed_copy(embedded, WORK / "index-parity-unstemmed")
    print(
        f"{answerable} answerable questions (+{len(questions) - answerable} unanswerable); "
        f"recall@1 recall@5 recall@10 mrr@10, embedded | Weaviate | difference"
    )
    for label, alpha in ALPHAS:
        ours = await evaluate(embedded, embedder, questions, alpha)
        theirs = await evaluate(weaviate, embedder, questions, alpha)
        a, b = metrics(ours), metrics(theirs)
        cells = " ".join(f"{a[m]:.3f}" for m in METRICS), " ".join(f"{b[m]:.3f}" for m in METRICS)
        difference = " ".join(f"{b[m] - a[m]:+.3f}" for m in METRICS)
        print(f"{label:<12} {cells[0]} | {cells[1]} | {difference}")
        if unstemmed is not None:
            plain = metrics(await evaluate(unstemmed, embedder, questions, alpha))
            print(f"             embedded without porter stemming: {' '.join(f'{plain[m]:.3f}' for m in METRICS)}")
        moved = [
            (r.question.id, r.first_hit_rank, s.first_hit_rank)
            for r, s in zip(ours, theirs, strict=True)
            if r.question.expected and r.first_hit_rank != s.first_hit_rank
        ]
        if moved:
            print(
                "             first relevant rank, embedded → Weaviate: "
                + ", ".join(f"{qid} {x}→{y}" for qid, x, y in moved)
            )
        top5 = [
            len({h.chunk.id for h in r.hits[:5]} & {h.chunk.id for h in s.hits[:5]}) / 5
            for r, s in zip(ours, theirs, strict=True)
            if r.hits and s.hits
        ]
        print(f"             top-5 overlap: mean {np.mean(top5):.2f} over {len(top5)} questions")
    await embedded.close()
    if unstemmed is not None:
        await unstemmed.close()


async def latency(
    weaviate: WeaviateIndex, embedder: SentenceTransformerEmbedder, sizes: list[int], rounds: int, alpha: float
) -> None:
    for size in sizes:
        directory = WORK / f"index-{size}"
        built, seconds = await build(directory, size, embedder.dimension)  # retrieval_latency's index
        await built.close()
        embedded = SqliteIndex(directory)
        copied = await copy_into(weaviate, embedded)
        stats = await embedded.stats()
        print(
            f"\nlatency: {stats.chunks:,} chunks in {stats.documents:,} files; embedded built in {seconds:.1f} s, "
            f"copied into Weaviate in {copied:.1f} s ({stats.chunks / copied:,.0f} chunks/s)"
        )
        indexes = {"embedded": embedded, "Weaviate": weaviate}
        timings: dict[str, dict[str, list[float]]] = {name: {} for name in indexes}
        for index in indexes.values():
            await index.query("warm up", np.ones(embedder.dimension, dtype=np.float32), 10, alpha)
        load = os.getloadavg()[0]
        for _ in range(rounds):  # rounds alternate between the two, so both see the same machine load
            for name, index in indexes.items():
                for part, values in (await measure(index, embedder, 1, alpha, Settings())).items():
                    timings[name].setdefault(part, []).extend(values)
        print(f"  load average {load:.1f} → {os.getloadavg()[0]:.1f} (2 cores)")
        for name, parts in timings.items():
            print(f"  {name}, k=10, alpha={alpha}, {len(parts['total'])} queries:")
            for part, values in parts.items():
                print(f"    {part:8s} {p50_p95_text([v * 1000 for v in values])}")
        await embedded.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--alpha", type=float, default=Settings().search_alpha, help="hybrid weighting for the latency runs"
    )
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument(
        "--stemming-ablation",
        action="store_true",
        help="also the embedded index without FTS5's porter stemmer, on the dev set",
    )
    parser.add_argument("--weaviate-url", help="a running server instead of the built one")
    parser.add_argument("--weaviate-grpc-url")
    args = parser.parse_args()
    settings = Settings()
    embedder = SentenceTransformerEmbedder(settings.embedding_model, settings.embedding_batch_size)
    await embedder.embed(["warm up the model"])
    with ExitStack() as stack:
        url, grpc_url = endpoint(stack, args.weaviate_url, args.weaviate_grpc_url)
        print(f"Weaviate at {url} (gRPC {grpc_url or 'on the HTTP host, 50051'})")
        weaviate = WeaviateIndex(url, collection="LorebotParityBench", grpc_url=grpc_url, insert_timeout=300)
        try:
            if not args.skip_quality:
                await quality(weaviate, embedder, args.stemming_ablation)
            if not args.skip_latency:
                print("\ncaveat: stored chunk vectors are random unit vectors; query vectors come from the real model.")
                await latency(weaviate, embedder, args.sizes, args.rounds, args.alpha)
        finally:
            await weaviate.clear()
            await weaviate.close()


if __name__ == "__main__":
    asyncio.run(main())

"""Sync speed and retrieval quality on the dev-set corpus (the `rich` library's source).

Prints: full sync time, embedding throughput (chunks/s), a no-change resync (chunks
embedded, time, and its share of the full sync), then recall@1/5/10 and MRR@10 for
keywords alone (alpha 0), vectors alone (alpha 1), and hybrid over an alpha sweep.

    python bench/sync_and_quality.py
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

from devset.corpus import ANSWERABLE, UNANSWERABLE, WORK, build

from bot.runtime import open_runtime
from bot.settings import Settings
from knowledge.chunking import chunk_document
from knowledge.documents import Document
from knowledge.embedding import Embedder
from knowledge.evaluation import EvalResult, load_questions, metrics
from knowledge.sources.git import GitSource


async def embedding_throughput(embedder: Embedder, settings: Settings, repo: Path) -> tuple[int, float]:
    """Chunks/s of the embedder alone on this corpus's real code chunks."""
    source = GitSource("rich", str(repo), None, WORK / "throughput-checkout", settings.max_file_bytes)
    chunks = []
    async for change in source.changes(None, {}):
        if isinstance(change, Document):
            chunks.extend(chunk_document(change))
    await embedder.embed([c.embedding_text for c in chunks[:32]])  # warm-up
    started = time.perf_counter()
    await embedder.embed([c.embedding_text for c in chunks])
    return len(chunks), len(chunks) / (time.perf_counter() - started)


async def main() -> None:
    repo = build()
    data = WORK / "data-rich"
    shutil.rmtree(data, ignore_errors=True)
    settings = Settings(data_dir=data, repos=[str(repo)])

    async with open_runtime(settings) as runtime:
        service = await runtime.sync_service()
        (full,) = await service.sync()
        (again,) = await service.sync()
        embedder = await runtime.embedder()
        retriever = await runtime.retriever()
        print(
            f"full sync: {full.added} files, {full.skipped} skipped, {full.chunks_embedded} chunks embedded, "
            f"{full.seconds:.2f}s"
        )
        print(
            f"no-change resync: {again.chunks_embedded} chunks embedded, {again.seconds * 1000:.1f} ms "
            f"= {100 * again.seconds / full.seconds:.2f}% of the full sync"
        )

        count, rate = await embedding_throughput(embedder, settings, repo)
        print(
            f"embedding throughput: {rate:.1f} chunks/s over {count} code chunks "
            f"(batch {settings.embedding_batch_size})"
        )

        questions = load_questions(ANSWERABLE)
        if UNANSWERABLE.exists():
            questions += load_questions(UNANSWERABLE)
        print(f"\n{len(questions)} questions; alpha: recall@1 recall@5 recall@10 mrr@10")
        for label, alpha in [("bm25 only", 0.0), ("vector only", 1.0)] + [
            (f"hybrid {a:.1f}", a) for a in (0.3, 0.4, 0.5, 0.6, 0.7)
        ]:
            results = []
            for q in questions:
                found = await retriever.retrieve(q.question, 10, alpha=alpha)
                results.append(EvalResult(q, found.hits, found.abstain))
            m = metrics(results)
            print(f"{label:<12} {m['recall@1']:.3f} {m['recall@5']:.3f} {m['recall@10']:.3f} {m['mrr@10']:.3f}")


if __name__ == "__main__":
    asyncio.run(main())

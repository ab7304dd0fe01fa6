"""Retrieval latency of the embedded index at 10k and 100k chunks: query embedding + hybrid query.

    python bench/retrieval_latency.py [--sizes 10000 100000] [--rounds 3] [--rerank-model DIR]

Chunks are 40-line windows of the .py files in site-packages (real text for BM25), with
their path and identifiers split into words as keywords. Their stored vectors are random
unit vectors: embedding 100k chunks with the real model would take over an hour here,
and exact vector search costs the same whatever the values are. Queries are embedded
with the real model. Work files go to bench/.work/.

With `--rerank-model` (a CrossEncoder directory; `cross_encoder_stand_in.py` makes one of
MiniLM-L6's size), `reranked` is the pipeline with that cross-encoder scoring
RERANK_CANDIDATES candidates per question.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from timing import p50_p95_text

from bot.settings import Settings
from knowledge.documents import Chunk
from knowledge.embedding import SentenceTransformerEmbedder
from knowledge.index.sqlite import SqliteIndex
from knowledge.ranking import Ranking
from knowledge.reranking import CrossEncoderReranker
from knowledge.retriever import Retriever

WORK = Path(__file__).parent / ".work"
WINDOW = 40

QUESTIONS = [
    "How do I retry a failed HTTP request with exponential backoff?",
    "Where is the connection pool size configured?",
    "How are cookies stored between requests in a session?",
    "What happens when a websocket connection is closed by the server?",
    "How does the tokenizer split words into subword pieces?",
    "Where do we parse command line arguments?",
    "How is a SQL query compiled for a specific database dialect?",
    "How do I register a custom JSON encoder for datetime objects?",
    "What does the retry decorator do when it runs out of attempts?",
    "How are environment variables loaded into settings?",
    "Where is the default timeout for outgoing requests set?",
    "How do I stream a large file upload without loading it into memory?",
    "Which function validates an email address?",
    "How are database migrations generated from model changes?",
    "How does the scheduler decide when to run the next job?",
    "Where are TLS certificates verified?",
    "How is the learning rate adjusted during training?",
    "How do I convert a numpy array to a tensor?",
    "What is the difference between a thread pool and a process pool here?",
    "How are log messages formatted and where do they go?",
    "How do I authenticate with an API key header?",
    "Where is the cache invalidated after an update?",
    "How does pagination work when listing objects?",
    "How are markdown headings turned into an outline?",
    "What exception is raised when a file is not found?",
    "How do I read a YAML configuration file?",
    "How is a progress bar rendered in the terminal?",
    "Where does the client handle rate limiting and 429 responses?",
    "How are async tasks cancelled on shutdown?",
    "How is a password hashed before it is stored?",
    "Where are HTTP redirects followed?",
    "How do I parse a date string with a timezone?",
    "How does the ORM map a class to a table?",
    "Where is gzip compression applied to responses?",
    "How are plugins discovered through entry points?",
    "How do I compute cosine similarity between two vectors?",
    "How is a URL query string encoded?",
    "What does the garbage collector do with circular references?",
    "How is the model checkpoint saved to disk?",
    "Where are default headers added to every request?",
    "How does the event loop run blocking code in a thread?",
    "How do I validate a pydantic model field?",
    "How is the random seed set for reproducible results?",
    "Where are proxies configured for outgoing connections?",
    "How do I sort a list of dictionaries by a key?",
    "How does the template engine escape HTML?",
    "What is the maximum size of a request body?",
    "How are git commits read from a repository?",
    "How are signals handled when the process is interrupted?",
    "How do I batch inserts into the database efficiently?",
]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def keywords(path: str, text: str) -> str:
    words = dict.fromkeys(_PART.findall(path))
    for identifier in _IDENTIFIER.findall(text):
        words.update(dict.fromkeys(part.lower() for part in _PART.findall(identifier)))
    return " ".join(words)


def documents() -> Iterator[list[Chunk]]:
    """Site-packages .py files as documents of 40-line window chunks."""
    root = Path(sysconfig.get_paths()["purelib"])
    for file in sorted(root.rglob("*.py")):
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        path = str(file.relative_to(root))
        chunks = []
        for ordinal, start in enumerate(range(0, len(lines), WINDOW)):
            text = "\n".join(lines[start : start + WINDOW])
            if text.strip():
                chunks.append(
                    Chunk(
                        source="site-packages",
                        document_id=path,
                        ordinal=ordinal,
                        kind="code",
                        title=f"{path}:{start + 1}",
                        url=f"file://{path}#L{start + 1}",
                        path=path,
                        text=text,
                        keywords=keywords(path, text),
                        start_line=start + 1,
                        end_line=start + WINDOW,
                    )
                )
        if chunks:
            yield chunks


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def build(directory: Path, size: int, dimension: int) -> tuple[SqliteIndex, float]:
    shutil.rmtree(directory, ignore_errors=True)
    index = SqliteIndex(directory)
    await index.bind_model("random-unit-vectors", dimension)
    rng = np.random.default_rng(0)
    started, total = time.perf_counter(), 0
    for chunks in documents():
        chunks = chunks[: size - total]
        vectors = rng.normal(size=(len(chunks), dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        await index.replace_document("site-packages", chunks[0].document_id, chunks, vectors)
        total += len(chunks)
        if total >= size:
            break
    return index, time.perf_counter() - started


async def measure(
    index: SqliteIndex,
    embedder: SentenceTransformerEmbedder,
    rounds: int,
    alpha: float,
    settings: Settings,
    reranker: CrossEncoderReranker | None,
) -> dict[str, list[float]]:
    """`pipeline` is what an answer waits for: cleaning, expansion, the query embedding,
    SEARCH_CANDIDATES hybrid candidates and the ranking stage, for SEARCH_K results."""
    ranking = Ranking(settings.search_candidates, settings.abstain_threshold, settings.absent_words_ceiling)
    retriever = Retriever(index, embedder, alpha, ranking)
    reranking = Retriever(index, embedder, alpha, ranking, reranker=reranker, rerank_depth=settings.rerank_candidates)
    timings: dict[str, list[float]] = {
        "pipeline": [],
        "reranked": [],
        "total": [],
        "embed": [],
        "hybrid": [],
        "keyword": [],
        "vector": [],
    }
    for _ in range(rounds):
        for question in QUESTIONS:
            started = time.perf_counter()
            await retriever.retrieve(question, settings.search_k)
            timings["pipeline"].append(time.perf_counter() - started)
            if reranker is not None:
                started = time.perf_counter()
                await reranking.retrieve(question, settings.search_k)
                timings["reranked"].append(time.perf_counter() - started)
            started = time.perf_counter()
            vector = (await embedder.embed([question]))[0]
            embedded = time.perf_counter()
            await index.query(question, vector, 10, alpha)
            done = time.perf_counter()
            timings["total"].append(done - started)
            timings["embed"].append(embedded - started)
            timings["hybrid"].append(done - embedded)
            for side, side_alpha in (("keyword", 0.0), ("vector", 1.0)):
                started = time.perf_counter()
                await index.query(question, vector, 10, side_alpha)
                timings[side].append(time.perf_counter() - started)
    return timings


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--alpha", type=float, default=Settings().search_alpha)
    parser.add_argument("--rerank-model", default="")
    args = parser.parse_args()
    print(
        "caveat: stored chunk vectors are random unit vectors (same search cost); "
        "query vectors come from the real model."
    )
    settings = Settings()
    embedder = SentenceTransformerEmbedder(settings.embedding_model, settings.embedding_batch_size)
    await embedder.prepare_for_questions()  # as the Slack bot does at start
    await embedder.embed(["warm up the model"])
    reranker = CrossEncoderReranker(args.rerank_model) if args.rerank_model else None
    baseline = rss_mb()
    print(f"RSS with the model loaded: {baseline:.0f} MB")
    for size in args.sizes:
        index, seconds = await build(WORK / f"index-{size}", size, embedder.dimension)
        stats = await index.stats()
        print(
            f"\n{stats.chunks:,} chunks in {stats.documents:,} files: built in {seconds:.1f} s "
            f"({stats.chunks / seconds:,.0f} chunks/s, vectors given)"
        )
        reopened = SqliteIndex(WORK / f"index-{size}")  # a fresh reader, as `lorebot search` would be
        started = time.perf_counter()
        await reopened.query("warm up", np.ones(embedder.dimension, dtype=np.float32), 10, args.alpha)
        print(f"first query (loads {stats.chunks:,} vectors into memory): {time.perf_counter() - started:.2f} s")
        timings = await measure(reopened, embedder, args.rounds, args.alpha, settings, reranker)
        print(f"RSS: {rss_mb():.0f} MB ({rss_mb() - baseline:+.0f} MB over the model)")
        print(f"retrieval, k=10, alpha={args.alpha}, {len(timings['total'])} queries:")
        for name, values in timings.items():
            if values:
                print(f"  {name:8s} {p50_p95_text([v * 1000 for v in values])}")
        await reopened.close()
        await index.close()


if __name__ == "__main__":
    asyncio.run(main())

"""Confluence: parse + chunk throughput, and what a resync with no changes costs.

    python bench/confluence_sync.py [--pages 1000]

1. Parse and chunk N generated storage-format pages (headings, code macros, tables,
   panels, nested lists, mentions, images): pages/s.
2. Serve the same pages from the fake Confluence (tests/fakes) and sync them through the
   real wiring and pipeline (`open_runtime`) into a temporary DATA_DIR, then sync
   again with nothing changed: API calls made, documents fetched, chunks embedded (0
   expected). A hashing stand-in replaces the sentence-transformers model, so the numbers
   are about the connector, not embedding speed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.runtime import open_runtime
from bot.settings import Settings
from knowledge.chunking.confluence import chunk_page
from knowledge.documents import Document
from tests.fakes.confluence_server import FakeConfluence, days_ago

WORDS = (
    "deploy service cluster replica database latency queue worker token cache rollout alert "
    "dashboard incident owner region backup restore schema migration endpoint retry timeout "
    "budget capacity shard index secret rotation canary traffic pipeline release"
).split()


def sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 18))
    return " ".join(words).capitalize() + "."


def generate_page(rng: random.Random, n: int) -> str:
    parts = [
        f"<p>{' '.join(sentence(rng) for _ in range(3))} Owner: "
        f'<ac:link><ri:user ri:account-id="5b10:{n:04d}" /></ac:link> <ac:emoticon ac:name="tick" /></p>'
    ]
    for s in range(rng.randint(3, 6)):
        parts.append(f"<h{1 + s % 3}>Section {s}: {rng.choice(WORDS)} {rng.choice(WORDS)}</h{1 + s % 3}>")
        parts.extend(f"<p>{' '.join(sentence(rng) for _ in range(rng.randint(2, 5)))}</p>" for _ in range(2))
        kind = s % 4
        if kind == 0:
            code = "\n".join(f"kubectl rollout status deploy/{rng.choice(WORDS)} --timeout={i}m" for i in range(8))
            parts.append(
                '<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">bash</ac:parameter>'
                f"<ac:plain-text-body><![CDATA[{code}]]></ac:plain-text-body></ac:structured-macro>"
            )
        elif kind == 1:
            rows = "".join(
                f"<tr><td>{rng.choice(WORDS)}</td><td>{rng.randint(1, 99)}</td><td>{sentence(rng)}</td></tr>"
                for _ in range(5)
            )
            parts.append(f"<table><tbody><tr><th>Name</th><th>Value</th><th>Notes</th></tr>{rows}</tbody></table>")
        elif kind == 2:
            parts.append(
                f'<ac:structured-macro ac:name="warning"><ac:parameter ac:name="title">Careful</ac:parameter>'
                f"<ac:rich-text-body><p>{sentence(rng)}</p></ac:rich-text-body></ac:structured-macro>"
            )
        else:
            items = "".join(f"<li>{sentence(rng)}<ul><li>{sentence(rng)}</li></ul></li>" for _ in range(4))
            parts.append(f'<ul>{items}</ul><p><ac:image><ri:attachment ri:filename="diagram-{n}.png" /></ac:image></p>')
    return "\n".join(parts)


class HashEmbedder:
    """Deterministic vectors from a hash: stands in for the model, counts what it embeds."""

    model_name = "bench-hash"
    dimension = 64

    def __init__(self) -> None:
        self.embedded = 0

    async def prepare_for_questions(self) -> None:
        """Nothing to prepare."""

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += len(texts)
        rows = [np.frombuffer(hashlib.sha512(t.encode()).digest(), dtype=np.uint8)[: self.dimension] for t in texts]
        matrix = np.array(rows, dtype=np.float32).reshape(len(texts), self.dimension) + 1.0
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def bench_chunking(bodies: list[str], rounds: int = 3) -> tuple[float, int]:
    documents = [
        Document(
            source="bench",
            external_id=str(n),
            kind="page",
            title=f"Page {n}",
            url=f"https://wiki.example.com/display/BENCH/Page+{n}",
            content=body,
            version="1",
            format="confluence_storage",
            breadcrumb=("Bench", f"Page {n}"),
        )
        for n, body in enumerate(bodies)
    ]
    rates, chunks = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        chunks = sum(len(chunk_page(doc)) for doc in documents)
        rates.append(len(documents) / (time.perf_counter() - started))
    return statistics.median(rates), chunks


async def bench_resync(bodies: list[str], data_dir: Path) -> None:
    with FakeConfluence() as fake:
        fake.add_space("BENCH", "Bench Space")
        for n, body in enumerate(bodies):
            fake.add_page("BENCH", f"Page {n}", body, when=days_ago(10 - n / 200))
        settings = Settings(
            data_dir=data_dir,
            confluence_url=fake.url,
            confluence_spaces=["BENCH"],
            confluence_username=fake.username,
            confluence_api_token=fake.api_token,
            repos=[],
            sources=[],
        )
        embedder = HashEmbedder()
        async with open_runtime(settings, embedder=embedder) as runtime:
            service = await runtime.sync_service()
            for label in ("full sync", "no-change resync"):
                fake.reset_calls()
                embedder.embedded = 0
                started = time.perf_counter()
                (summary,) = await service.sync()
                seconds = time.perf_counter() - started
                fetched = len([c for c in fake.calls("/rest/api/content/") if not c.path.endswith("/search")])
                print(
                    f"{label:>17}: {seconds:6.2f} s, {len(fake.calls()):5d} API calls "
                    f"({len(fake.calls('/search'))} search, {len(fake.calls('/space/'))} space, "
                    f"{fetched} page fetches), documents added {summary.added} updated {summary.updated}, "
                    f"chunks embedded {summary.chunks_embedded}, error {summary.error}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    args = parser.parse_args()
    rng = random.Random(7)
    bodies = [generate_page(rng, n) for n in range(args.pages)]
    print(f"{args.pages} generated pages, {sum(map(len, bodies)) / len(bodies) / 1024:.1f} KiB storage XHTML each")
    rate, chunks = bench_chunking(bodies)
    print(f"parse + chunk: {rate:.0f} pages/s (median of 3), {chunks} chunks ({chunks / args.pages:.1f} per page)")
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(bench_resync(bodies, Path(tmp)))


if __name__ == "__main__":
    main()

"""`lorebot reindex` speed: the embedded index copied into Weaviate, the same copy resumed
with nothing left to do, and the copy back into a fresh embedded index.

    python bench/reindex.py [--sizes 10000 100000]

The index is bench/retrieval_latency.py's (40-line windows of site-packages sources, random
unit vectors; its `build`). Weaviate is the server tests/weaviate_server.py builds and
starts (loopback, data in a temporary directory), unless --weaviate-url names one. Work
files go to bench/.work/.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.weaviate_server lives in the checkout

from retrieval_latency import WORK, build

from knowledge.index.reindex import Endpoint, ReindexSummary, copy_index
from knowledge.index.sqlite import SqliteIndex
from knowledge.index.weaviate import WeaviateIndex
from tests.weaviate_server import endpoint

DIMENSION = 384  # all-MiniLM-L6-v2's


class Silent:
    def step(self, description: str, total: int) -> None:
        pass

    def advance(self) -> None:
        pass


async def timed(source: Endpoint, target: Endpoint) -> ReindexSummary:
    summary = await copy_index(source, target, Silent())
    print(
        f"  {source.name} → {target.name}: {summary.copied:,} documents copied, {summary.unchanged:,} unchanged, "
        f"{summary.chunks:,} chunks in {summary.seconds:.1f} s ({summary.chunks / summary.seconds:,.0f} chunks/s)"
    )
    return summary


async def run(weaviate: WeaviateIndex, size: int) -> None:
    started = time.perf_counter()
    built, _ = await build(WORK / f"reindex-{size}", size, DIMENSION)
    await built.close()
    print(
        f"\n{size:,} chunks (embedded index built in {time.perf_counter() - started:.1f} s), "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    embedded = SqliteIndex(WORK / f"reindex-{size}")
    back_directory = WORK / f"reindex-{size}-back"
    shutil.rmtree(back_directory, ignore_errors=True)
    back = SqliteIndex(back_directory)
    try:
        await weaviate.clear()
        there = Endpoint(weaviate, "Weaviate")
        await timed(Endpoint(embedded, "embedded"), there)
        await timed(Endpoint(embedded, "embedded"), there)  # resumed with nothing left: reads and compares only
        await timed(there, Endpoint(back, "fresh embedded"))
    finally:
        await embedded.close()
        await back.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--weaviate-url", help="a running server instead of the built one")
    parser.add_argument("--weaviate-grpc-url")
    args = parser.parse_args()
    with ExitStack() as stack:
        url, grpc_url = endpoint(stack, args.weaviate_url, args.weaviate_grpc_url)
        weaviate = WeaviateIndex(url, collection="LorebotReindexBench", grpc_url=grpc_url, insert_timeout=300)
        try:
            for size in args.sizes:
                await run(weaviate, size)
        finally:
            await weaviate.clear()
            await weaviate.close()


if __name__ == "__main__":
    asyncio.run(main())

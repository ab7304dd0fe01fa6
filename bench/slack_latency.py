"""Slack latency with the emulator and the embedded index at 10k chunks, extractive answers.

    python bench/slack_latency.py [--chunks 10000] [--questions 100] [--burst 50]

Measures, through the real Bolt app in socket mode against tests/fakes/slack_server.py:
ack latency (envelope pushed → ack received), event-to-reply (envelope pushed → the
reply's chat.postMessage reaching the emulator), and a burst of questions in flight at
once, every one of which must be answered exactly once. Each question arrives the way
Slack sends a mention: an `app_mention` and a `message` envelope for the same post.

Stored chunk vectors are random unit vectors (exact search costs the same whatever they
are); chunk text is real (40-line windows of installed .py files) so BM25 has work to do;
queries are embedded with the real model. Work files go to bench/.work/.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import sysconfig
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.fakes

from timing import p50_p95_text

from bot.access.policy import AccessPolicy
from bot.answering.extractive import ExtractiveAnswerer
from bot.conversations import SqlConversationStore
from bot.db.engine import session_factory, upgrade
from bot.db.event_claims import SqlEventClaims
from bot.replica import new_replica_id
from bot.settings import Settings
from bot.slack.bot import build_slack_bot
from bot.slack.claims import ReplicaClaims
from bot.slack.client import build_web_client
from bot.slack.runner import SocketModeRunner
from knowledge.documents import Chunk
from knowledge.embedding import SentenceTransformerEmbedder
from knowledge.index.sqlite import SqliteIndex
from knowledge.ranking import Ranking
from knowledge.retriever import Retriever
from tests.fakes.slack_server import FakeSlack
from tests.slack_harness import scope_resolver

WORK = Path(__file__).parent / ".work"
CHANNEL = "C0BENCH"
TOPICS = [
    "retry a failed request with backoff",
    "the websocket ping interval",
    "rate limiting and 429 responses",
    "parsing a multipart form",
    "where cookies are stored",
    "how the event loop runs callbacks",
    "TLS certificate verification",
    "the default request timeout",
    "streaming a response body",
    "how redirects are followed",
    "signing secret verification",
    "chunked transfer encoding",
]


def chunk_texts(count: int) -> Iterator[tuple[str, str]]:
    root = Path(sysconfig.get_paths()["purelib"])
    produced = 0
    for path in sorted(root.glob("*/**/*.py")):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (UnicodeDecodeError, OSError):
            continue
        for start in range(0, len(lines), 40):
            text = "\n".join(lines[start : start + 40]).strip()
            if text:
                yield str(path.relative_to(root)), text
                produced += 1
                if produced >= count:
                    return


async def build_index(directory: Path, count: int, dimension: int, model: str) -> SqliteIndex:
    index = SqliteIndex(directory)
    if (await index.stats()).chunks == count:
        return index
    await index.close()
    shutil.rmtree(directory, ignore_errors=True)
    index = SqliteIndex(directory)
    await index.bind_model(model, dimension)
    rng = np.random.default_rng(7)
    by_file: dict[str, list[Chunk]] = {}
    for path, text in chunk_texts(count):
        ordinal = len(by_file.setdefault(path, []))
        url = f"https://github.com/acme/libs/blob/abc123/{path}#L{ordinal * 40 + 1}-L{ordinal * 40 + 40}"
        by_file[path].append(Chunk("bench", path, ordinal, "code", path, url, path, text))
    for path, chunks in by_file.items():
        vectors = rng.standard_normal((len(chunks), dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        await index.replace_document("bench", path, chunks, vectors)
    return index


async def ask(fake: FakeSlack, text: str) -> tuple[str, list[str]]:
    """A mention as Slack delivers it: app_mention then message; returns the post's ts and envelope ids."""
    message = fake.user_message(CHANNEL, f"<@{fake.bot_user_id}> {text}")
    first = await fake.send_event(fake.mention_of(message))
    second = await fake.send_event(message)
    return message["ts"], [first, second]


async def reply_at(fake: FakeSlack, thread_ts: str) -> float:
    [call] = await fake.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == thread_ts, timeout=60)
    return call.at


async def main(chunks: int, questions: int, burst: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    WORK.mkdir(exist_ok=True)
    settings = Settings()
    embedder = SentenceTransformerEmbedder(settings.embedding_model, settings.embedding_batch_size)
    started = time.perf_counter()
    index = await build_index(WORK / f"slack-index-{chunks}", chunks, embedder.dimension, embedder.model_name)
    print(f"index: {(await index.stats()).chunks} chunks ({time.perf_counter() - started:.0f} s to open/build)")

    database = WORK / "slack-bench.db"
    database.unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{database}"
    await upgrade(url)
    store = SqlConversationStore.from_url(url)
    fake = FakeSlack()
    await fake.start()
    client = build_web_client(fake.bot_token, fake.base_url)
    answerer = ExtractiveAnswerer(
        Retriever(
            index, embedder, settings.search_alpha, Ranking(settings.search_candidates, settings.abstain_threshold)
        ),
        k=settings.search_k,
    )
    sources = {source: False for source in (await index.stats()).sources}
    claims = ReplicaClaims(
        SqlEventClaims(session_factory(store.engine)), new_replica_id(), settings.claim_timeout_seconds
    )
    # One asker asks every question (and the burst): no per-person limit; the answer cap as configured.
    bot = build_slack_bot(
        client,
        store,
        claims,
        answerer,
        scope_resolver(client, AccessPolicy.build(None, sources)),
        delivery_seconds=settings.slack_delivery_seconds,
        retention=timedelta(days=settings.event_retention_days),
        questions_per_minute=0,
        concurrent_answers=settings.max_concurrent_answers,
    )
    runner = SocketModeRunner(bot, fake.app_token, grace_seconds=settings.shutdown_grace_seconds)
    await runner.start()
    await fake.wait_connected()

    for n in range(5):  # warm-up: model, index matrix, connection pools
        ts, _ = await ask(fake, f"warm up {TOPICS[n]}")
        await reply_at(fake, ts)
    await bot.tasks.join(60)

    acks: list[float] = []
    replies: list[float] = []
    for n in range(questions):
        ts, envelopes = await ask(fake, f"how do we handle {TOPICS[n % len(TOPICS)]}? ({n})")
        replied = await reply_at(fake, ts)
        replies.append((replied - fake.sent_at[envelopes[0]]) * 1000)
        for envelope in envelopes:
            await fake.wait_ack(envelope)
            acks.append((fake.acks[envelope][0] - fake.sent_at[envelope]) * 1000)
        await bot.tasks.join(60)

    burst_started = time.monotonic()
    sent = await asyncio.gather(*(ask(fake, f"in flight {n}: {TOPICS[n % len(TOPICS)]}") for n in range(burst)))
    burst_replies = await asyncio.gather(*(reply_at(fake, ts) for ts, _ in sent))
    await bot.tasks.join(60)
    burst_acks = [(fake.acks[e][0] - fake.sent_at[e]) * 1000 for _, envelopes in sent for e in envelopes]
    per_thread = [len([m for m in fake.thread(CHANNEL, ts) if m.get("bot_id")]) for ts, _ in sent]
    stored = len(await store.answers_with_feedback(limit=10_000))

    await runner.close()
    await fake.stop()
    await store.close()
    await index.close()

    print(f"sequential, {questions} questions (2 envelopes each):")
    print(f"  ack latency      {p50_p95_text(acks)}   (target p95 <= 100)")
    print(f"  event-to-reply   {p50_p95_text(replies)}   (target p50 <= 150)")
    print(f"burst, {burst} questions in flight at once:")
    print(
        f"  answered exactly once: {sum(1 for n in per_thread if n == 1)}/{burst}"
        f" (threads with 0: {per_thread.count(0)}, with >1: {sum(1 for n in per_thread if n > 1)})"
    )
    print(f"  ack latency      {p50_p95_text(burst_acks)}")
    print(f"  all answered in  {(max(burst_replies) - burst_started) * 1000:6.0f} ms")
    print(f"answers stored: {stored} (expected {5 + questions + burst})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--burst", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.chunks, args.questions, args.burst))

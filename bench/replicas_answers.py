"""Two `lorebot run` replicas on one PostgreSQL, one of them killed half way: is every question
answered exactly once?

    python bench/replicas_answers.py [--questions 200] [--claim-timeout 10] [--interval 0.25]

The Slack emulator (tests/fakes/slack_server.py) spreads envelopes over both replicas'
socket-mode connections, one after the other, so the `app_mention` and the `message`
envelope of one mention usually reach different replicas: only the claim in PostgreSQL
keeps that question to one answer. After half of the questions, one replica is killed
(SIGKILL). Envelopes it never acked are redelivered, as Slack does (`retry_attempt` 1, the
same `event_id`); the questions it had claimed are taken over by the other replica once
their heartbeat is older than the claim timeout. Answers are extractive (no LLM) from a
small git repository indexed by `lorebot sync` (tests/sample_repo.py). PostgreSQL is an
embedded server from pgserver. Work files go to bench/.work/.

Prints: answered exactly once (threads with one reply carrying a source link), threads
without a reply, duplicates, apologies, and p50/p95 event → reply (the envelope pushed →
the first Web API call that shows the answer in its thread), for all questions and for
those the killed replica left behind.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.fakes

from timing import p50_p95_text

from tests.fakes.slack_server import FakeSlack
from tests.sample_repo import SampleRepo

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(__file__).parent / ".work" / "replicas"
CHANNEL = "C0BENCH"
LINK = "https://github.com/acme/widgets"
QUESTIONS = [
    "how do I look up a user's name?",
    "where are users stored?",
    "how do I add a user?",
    "what does the widget shop log?",
]
REDELIVER_AFTER = 5.0
"""Seconds without an ack before an envelope is sent again (Slack waits a few seconds too)."""


def lorebot(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", "from bot.cli import app; app()", *args],
            env=env,
            cwd=WORK,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


class Asker:
    """Mentions as Slack delivers them, remembered so unacked envelopes can be delivered again."""

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.sent_at: dict[str, float] = {}  # thread ts → first envelope pushed
        self.envelopes: dict[str, tuple[dict[str, Any], str]] = {}  # envelope id → (event, event id)

    async def ask(self, text: str) -> str:
        message = self.fake.user_message(CHANNEL, f"<@{self.fake.bot_user_id}> {text}")
        self.sent_at[message["ts"]] = time.monotonic()
        for event in (self.fake.mention_of(message), message):
            await self.send(event, f"Ev{uuid.uuid4().hex[:10].upper()}")
        return message["ts"]

    async def send(self, event: dict[str, Any], event_id: str, retry_attempt: int = 0) -> None:
        while True:
            try:
                envelope = await self.fake.send_event(event, event_id=event_id, retry_attempt=retry_attempt)
            except (ConnectionError, RuntimeError):  # the connection of the replica just killed
                await asyncio.sleep(0.1)
                continue
            self.envelopes[envelope] = (event, event_id)
            return

    async def redeliver_unacked(self) -> int:
        now = time.monotonic()
        unacked = [
            envelope
            for envelope in self.envelopes
            if envelope not in self.fake.acks and now - self.fake.sent_at[envelope] >= REDELIVER_AFTER
        ]
        for envelope in unacked:
            await self.send(*self.envelopes.pop(envelope), retry_attempt=1)
        return len(unacked)


def first_reply_at(fake: FakeSlack, thread_ts: str) -> float | None:
    """When the answer first showed in the thread: a post in it, or an update of a message of it."""
    in_thread = fake.messages.get(CHANNEL, {})
    for call in fake.calls:
        if LINK not in str(call.args.get("text", "")):
            continue
        if call.method == "chat.postMessage" and call.args.get("thread_ts") == thread_ts:
            return call.at
        if call.method == "chat.update" and in_thread.get(call.args.get("ts", ""), {}).get("thread_ts") == thread_ts:
            return call.at
    return None


async def main(questions: int, claim_timeout: float, interval: float) -> None:
    logging.basicConfig(level=logging.WARNING)
    import pgserver

    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    repo = SampleRepo.with_sample_files(WORK / "widgets")
    base_env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "DATA_DIR": str(WORK / "data")}
    for name in ("REPOS", "LLM_MODEL", "DATABASE_URL", "WEAVIATE_URL", "LOREBOT_CONFIG"):
        base_env.pop(name, None)
    started = time.perf_counter()
    sync = lorebot(["sync"], {**base_env, "REPOS": str(repo.path)}, WORK / "sync.log")
    if await asyncio.to_thread(sync.wait) != 0:
        raise SystemExit(f"lorebot sync failed ({sync.returncode}): {(WORK / 'sync.log').read_text()[-2000:]}")
    print(f"indexed {repo.path.name} ({time.perf_counter() - started:.0f} s)")

    server = pgserver.get_server(WORK / "pg", cleanup_mode="stop")
    database = server.get_uri().replace("postgresql://", "postgresql+asyncpg://", 1)
    fake = FakeSlack(spread_events=True)
    await fake.start()
    env = {
        **base_env,
        "DATABASE_URL": database,
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_APP_TOKEN": fake.app_token,
        "SLACK_API_URL": fake.base_url,
        "CLAIM_TIMEOUT_SECONDS": str(claim_timeout),
        "HTTP_PORT": "0",
    }
    # Migrated first: replicas starting together on a fresh database race the migrations (issue 10's start-up item).
    if await asyncio.to_thread(lorebot(["db", "upgrade"], env, WORK / "upgrade.log").wait) != 0:
        raise SystemExit(f"lorebot db upgrade failed: {(WORK / 'upgrade.log').read_text()[-2000:]}")
    replicas = [lorebot(["run"], env, WORK / f"replica-{n}.log") for n in range(2)]
    try:
        await fake.wait_connected(count=2, timeout=300)
        await fake.wait_open(2, timeout=300)
        asker = Asker(fake)
        for n in range(6):  # warm-up, both replicas: model, index, connection pools
            ts = await asker.ask(f"warm up: {QUESTIONS[n % len(QUESTIONS)]}")
            await fake.wait_for("chat.postMessage", where=lambda c, ts=ts: c.args.get("thread_ts") == ts, timeout=120)
        asker = Asker(fake)

        threads: list[str] = []
        left_behind: list[str] = []
        for n in range(questions):
            if n == questions // 2:
                replicas[0].send_signal(signal.SIGKILL)
                await asyncio.to_thread(replicas[0].wait)
                left_behind = [ts for ts in threads if first_reply_at(fake, ts) is None]
                print(f"killed replica 0 after {n} questions; {len(left_behind)} of them not answered at that moment")
            threads.append(await asker.ask(f"{QUESTIONS[n % len(QUESTIONS)]} ({n})"))
            await asyncio.sleep(interval)

        deadline = time.monotonic() + claim_timeout * 3 + 60
        redelivered = 0
        while time.monotonic() < deadline and any(first_reply_at(fake, ts) is None for ts in threads):
            await asyncio.sleep(0.5)
            redelivered += await asker.redeliver_unacked()
        await asyncio.sleep(claim_timeout)  # room for a late duplicate to show itself
    finally:
        for replica in replicas:
            if replica.poll() is None:
                replica.send_signal(signal.SIGTERM)
        for replica in replicas:
            await asyncio.to_thread(replica.wait)
        await fake.stop()
        server.cleanup()

    replies = {ts: [m for m in fake.thread(CHANNEL, ts) if m.get("bot_id")] for ts in threads}
    once = [ts for ts, messages in replies.items() if len(messages) == 1 and LINK in messages[0]["text"]]
    latency = {ts: (at - asker.sent_at[ts]) * 1000 for ts in threads if (at := first_reply_at(fake, ts))}
    print(
        f"{questions} questions over 2 replicas, one every {interval} s, replica 0 killed half way"
        f" (claim timeout {claim_timeout:.0f} s):"
    )
    print(f"  answered exactly once: {len(once)}/{questions}")
    print(f"  without a reply: {sum(1 for m in replies.values() if not m)}")
    print(f"  duplicates (threads with >1 reply): {sum(1 for m in replies.values() if len(m) > 1)}")
    print(f"  apologies: {sum(1 for m in replies.values() for r in m if 'Sorry' in r['text'])}")
    print(f"  envelopes redelivered (unacked by the killed replica): {redelivered}")
    print(f"  event-to-reply, all      {p50_p95_text(list(latency.values()))}")
    behind = [latency[ts] for ts in left_behind if ts in latency]
    print(f"  event-to-reply, the {len(left_behind)} unanswered at the kill   {p50_p95_text(behind)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--claim-timeout", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between questions")
    args = parser.parse_args()
    asyncio.run(main(args.questions, args.claim_timeout, args.interval))

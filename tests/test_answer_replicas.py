"""Replicas as real processes (`lorebot run`) on the Slack emulator and a real PostgreSQL: a replica
killed or stopped mid-answer loses no question, and none is answered twice."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.conversations import SqlConversationStore
from bot.db.engine import create_engine, session_factory, upgrade
from bot.db.event_claims import SqlEventClaims
from bot.db.models import utcnow
from bot.slack.delivery import LATE_NOTE
from bot.slack.reply import LATE_PLACEHOLDER, PLACEHOLDER
from tests.fakes.slack_server import Call, FakeSlack
from tests.processes import lorebot_process
from tests.slack_harness import CHANNEL, RETRY_URL, build_index, in_thread, mention, start_bot

CLAIM_TIMEOUT = 2.0


@dataclass
class Replica:
    process: subprocess.Popen[str]
    log: Path

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    async def wait(self, timeout: float = 120) -> int:
        """Its exit code; the event loop (and the emulator on it) runs on meanwhile."""
        try:
            return await asyncio.to_thread(self.process.wait, timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"replica still running; its log:\n{self.log.read_text()[-3000:]}") from None


@pytest.fixture
async def data_dir(tmp_path: Path, embedder) -> Path:
    """A DATA_DIR whose embedded index holds the Slack tests' chunks."""
    index = await build_index(tmp_path / "data" / "index", embedder)
    await index.close()
    return tmp_path / "data"


@pytest.fixture
async def database(postgres_url: str) -> AsyncIterator[str]:
    await upgrade(postgres_url)
    yield postgres_url


@pytest.fixture
def replicas(fake: FakeSlack, data_dir: Path, database: str, tmp_path: Path) -> Iterator[list[Replica]]:
    """Start `lorebot run` processes with `replicas.append(...)`; any still running are killed at the end."""
    started: list[Replica] = []
    yield started
    for replica in started:
        if replica.process.poll() is None:
            replica.process.kill()
            replica.process.wait()


def start_replica(
    started: list[Replica], fake: FakeSlack, data_dir: Path, database: str, tmp_path: Path, **settings: str
) -> Replica:
    env = {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": database,
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_APP_TOKEN": fake.app_token,
        "SLACK_API_URL": fake.base_url,
        "CLAIM_TIMEOUT_SECONDS": str(CLAIM_TIMEOUT),
        "HTTP_PORT": "0",  # no health server: nothing listens beyond the emulator's loopback ports
        **settings,
    }
    log = tmp_path / f"replica-{len(started)}.log"
    process = lorebot_process(env, "run", log=log)
    replica = Replica(process, log)
    started.append(replica)
    return replica


def late_answer(call: Call) -> bool:
    return RETRY_URL in call.args.get("text", "") and LATE_NOTE in call.args.get("text", "")


async def assert_answered_once(fake: FakeSlack, database: str, thread_ts: str) -> None:
    replies = [m for m in fake.thread(CHANNEL, thread_ts) if m.get("bot_id")]
    assert len(replies) == 1, replies
    assert RETRY_URL in replies[0]["text"]
    assert PLACEHOLDER not in replies[0]["text"] and LATE_PLACEHOLDER not in replies[0]["text"]
    store = SqlConversationStore.from_url(database)
    engine = create_engine(database)
    try:
        [stored] = await store.answers_with_feedback()
        assert stored.message_ts == replies[0]["ts"]
        assert await SqlEventClaims(session_factory(engine)).stale(utcnow(), max_attempts=99) == []
    finally:
        await store.close()
        await engine.dispose()


@pytest.mark.parametrize(
    "in_flight",
    ["chat.postMessage", "chat.update"],
    ids=["killed-while-posting-the-placeholder", "killed-while-posting-the-finished-answer"],
)
async def test_a_replica_killed_mid_answer_is_answered_by_the_other_once(
    fake: FakeSlack, data_dir: Path, database: str, tmp_path: Path, replicas: list[Replica], answerer, in_flight: str
) -> None:
    fake.fail("assistant.threads.setStatus", "not_allowed_token_type")  # a channel: a placeholder is posted
    doomed = start_replica(replicas, fake, data_dir, database, tmp_path)
    await fake.wait_connected(timeout=120)
    fake.hold(in_flight)
    message = await mention(fake, "where is the retry logic for payments?")
    await fake.wait_for(in_flight, timeout=60)
    doomed.signal(signal.SIGKILL)
    assert await doomed.wait() == -signal.SIGKILL
    fake.release(lost=True)  # what it was sending never reached Slack

    store = SqlConversationStore.from_url(database)
    other = await start_bot(fake, store, answerer, claim_timeout=CLAIM_TIMEOUT)
    try:
        await fake.wait_for("chat.update", where=late_answer, timeout=60)
        assert await other.bot.tasks.join(30)
    finally:
        await other.stop()
        await store.close()
    await assert_answered_once(fake, database, message["ts"])


async def test_sigterm_finishes_the_answer_in_flight_before_exit(
    fake: FakeSlack, data_dir: Path, database: str, tmp_path: Path, replicas: list[Replica]
) -> None:
    replica = start_replica(replicas, fake, data_dir, database, tmp_path)
    await fake.wait_connected(timeout=120)
    fake.hold("chat.postMessage")
    message = await mention(fake, "where is the retry logic for payments?")
    await fake.wait_for("chat.postMessage", where=in_thread(message["ts"]), timeout=60)
    replica.signal(signal.SIGTERM)
    await fake.wait_open(0)  # it stopped taking events, with the answer still in flight
    assert replica.process.poll() is None
    fake.release()
    assert await replica.wait() == 0
    await assert_answered_once_by_its_replica(fake, database, message["ts"])


async def assert_answered_once_by_its_replica(fake: FakeSlack, database: str, thread_ts: str) -> None:
    replies = [m for m in fake.thread(CHANNEL, thread_ts) if m.get("bot_id")]
    assert len(replies) == 1 and RETRY_URL in replies[0]["text"] and LATE_NOTE not in replies[0]["text"]
    store = SqlConversationStore.from_url(database)
    try:
        assert len(await store.answers_with_feedback()) == 1
    finally:
        await store.close()


async def test_an_answer_unfinished_after_the_grace_period_is_left_to_another_replica(
    fake: FakeSlack, data_dir: Path, database: str, tmp_path: Path, replicas: list[Replica], answerer
) -> None:
    replica = start_replica(replicas, fake, data_dir, database, tmp_path, SHUTDOWN_GRACE_SECONDS="1")
    await fake.wait_connected(timeout=120)
    fake.hold("chat.postMessage")
    message = await mention(fake, "where is the retry logic for payments?")
    await fake.wait_for("chat.postMessage", where=in_thread(message["ts"]), timeout=60)
    replica.signal(signal.SIGTERM)
    assert await replica.wait() == 0
    fake.release(lost=True)

    store = SqlConversationStore.from_url(database)
    other = await start_bot(fake, store, answerer, claim_timeout=CLAIM_TIMEOUT)
    try:
        await fake.wait_for("chat.postMessage", where=late_answer, timeout=60)  # the stored answer
        assert await other.bot.tasks.join(30)
    finally:
        await other.stop()
        await store.close()
    await assert_answered_once(fake, database, message["ts"])

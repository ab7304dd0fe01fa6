"""`lorebot run`'s HTTP server (/healthz, /readyz, /metrics), its metrics, and its log lines.

`serve()` runs for real: the Slack emulator, a real git repository synced by the
scheduler, the real embedding model, real PostgreSQL (dropped to take the database down).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from bot.answering import EVERYTHING, Answer, AnswerDelta, Answerer, Turn
from bot.cli.run import serve
from bot.observability.logs import JsonFormatter, formatter_for, use_log_format
from bot.observability.metrics import Metrics
from bot.observability.readiness import Readiness
from bot.observability.server import HttpServerError, http_server
from bot.settings import Settings
from bot.slack import correlation
from knowledge.index import SearchFilters
from knowledge.sync import SyncSummary
from tests.fakes.slack_server import FakeSlack
from tests.sample_repo import SampleRepo
from tests.slack_harness import CHANNEL, RunningBot, answered, mention, start_bot

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


# -- helpers ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening_ports() -> set[int]:
    """TCP ports this process listens on (Linux: its socket inodes matched in /proc/net/tcp*)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


async def eventually(probe: Callable[[], Awaitable[bool]], timeout: float = 60) -> None:
    """Wait until `probe()` is true (checked every 50 ms), or fail after `timeout` seconds."""

    async def wait() -> None:
        while not await probe():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(wait(), timeout)


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


class Http:
    def __init__(self, session: aiohttp.ClientSession, port: int) -> None:
        self.session, self.base = session, f"http://127.0.0.1:{port}"

    async def get(self, path: str) -> tuple[int, str]:
        async with self.session.get(self.base + path) as response:
            return response.status, await response.text()

    async def ready(self) -> tuple[int, dict]:
        status, body = await self.get("/readyz")
        return status, json.loads(body)

    async def metrics(self) -> Samples:
        status, body = await self.get("/metrics")
        assert status == 200
        return parse(body)


async def drop_database(url: str) -> None:
    parsed = make_url(url)
    admin = await asyncpg.connect(
        user=parsed.username,
        password=parsed.password or None,
        host=parsed.query.get("host") or parsed.host,
        port=parsed.port,
        database="postgres",
    )
    try:
        await admin.execute(f'DROP DATABASE "{parsed.database}" WITH (FORCE)')
    finally:
        await admin.close()


def serve_env(monkeypatch: pytest.MonkeyPatch, fake: FakeSlack, tmp_path: Path, **settings: str) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake.bot_token)
    monkeypatch.setenv("SLACK_APP_TOKEN", fake.app_token)
    monkeypatch.setenv("SLACK_API_URL", fake.base_url)
    for name, setting in settings.items():
        monkeypatch.setenv(name, setting)


async def stop(serving: asyncio.Task[None]) -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(serving, 30)


# -- lorebot run --------------------------------------------------------------------------------


@linux_only
async def test_run_serves_health_readiness_and_metrics(
    fake: FakeSlack, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = SampleRepo.with_sample_files(tmp_path / "widgets")
    port = free_port()
    serve_env(
        monkeypatch,
        fake,
        tmp_path,
        DATABASE_URL=postgres_url,
        REPOS=str(repo.path),
        HTTP_HOST="127.0.0.1",
        HTTP_PORT=str(port),
    )
    serving = asyncio.get_running_loop().create_task(serve(Settings()))
    async with aiohttp.ClientSession() as session:
        http = Http(session, port)
        try:
            await fake.wait_connected(timeout=120)
            assert port in listening_ports()
            assert (await http.get("/healthz"))[0] == 200

            async def ready() -> bool:
                return (await http.ready())[0] == 200

            await eventually(ready)
            assert (await http.ready())[1] == {
                "ready": True,
                "not_ready": [],
                "parts": {"slack": "ok", "database": "ok", "index": "ok"},
            }

            # The scheduler's first run of the repository, seen in the metrics.
            async def synced() -> bool:
                return value(await http.metrics(), "lorebot_sync_duration_seconds_count", source="widgets") == 1

            await eventually(synced)
            samples = await http.metrics()
            assert value(samples, "lorebot_sync_documents_total", source="widgets", change="added") > 0
            assert value(samples, "lorebot_sync_errors_total", source="widgets") == 0

            message = await mention(fake, "how do I get the display name of a user?")
            await fake.wait_for("chat.postMessage", where=lambda call: call.args.get("thread_ts") == message["ts"])

            async def answered_once() -> bool:
                return value(await http.metrics(), "lorebot_answers_total") == 1

            await eventually(answered_once)
            samples = await http.metrics()
            assert value(samples, "lorebot_questions_total", surface="mention") == 1  # app_mention + message: one
            assert value(samples, "lorebot_answer_latency_seconds_count") == 1
            assert value(samples, "lorebot_retrieval_latency_seconds_count") == 1
            assert value(samples, "lorebot_errors_total", kind="failure") == 0

            await drop_database(postgres_url)
            status, body = await http.ready()
            assert status == 503 and body["not_ready"] == ["database"]
            assert body["parts"]["database"] != "ok" and body["parts"]["slack"] == "ok"

            fake.fail("apps.connections.open", "internal_error", times=1_000_000)
            await fake.drop_connections()

            async def slack_down() -> bool:
                return "slack" in (await http.ready())[1]["not_ready"]

            await eventually(slack_down)
            status, body = await http.ready()
            assert status == 503 and body["parts"]["slack"] == "down"
        finally:
            await stop(serving)
    assert port not in listening_ports()


@linux_only
async def test_http_port_zero_serves_nothing(fake: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    serve_env(monkeypatch, fake, tmp_path, HTTP_HOST="127.0.0.1", HTTP_PORT="0")
    before = listening_ports()
    serving = asyncio.get_running_loop().create_task(serve(Settings()))
    try:
        await fake.wait_connected()
        message = await mention(fake, "where is the retry logic?")
        await fake.wait_for("chat.postMessage", where=lambda call: call.args.get("thread_ts") == message["ts"])
        assert listening_ports() == before
    finally:
        await stop(serving)


async def test_run_logs_json_lines_off_a_terminal(fake: FakeSlack, tmp_path: Path) -> None:
    """`lorebot -v run` with its stderr a pipe: a rejected token's detail is one JSON line."""
    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "DATA_DIR": str(tmp_path / "data"),
        "SLACK_BOT_TOKEN": "xoxb-revoked",
        "SLACK_APP_TOKEN": fake.app_token,
        "SLACK_API_URL": fake.base_url,
    }
    lines: dict[str, list[str]] = {}
    for log_format in ("auto", "json", "plain"):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from bot.cli import app; app()",
            "-v",
            "run",
            env={**env, "LOG_FORMAT": log_format},
            cwd=tmp_path,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await process.communicate()
        assert process.returncode == 1
        lines[log_format] = stderr.decode().splitlines()
    for log_format in ("auto", "json"):
        *logged, reason = lines[log_format]
        assert reason.startswith("lorebot: Slack rejected SLACK_BOT_TOKEN")  # the sentence for a person
        records = [json.loads(line) for line in logged if line.startswith("{")]
        assert len(records) == len(logged)  # every log line is a JSON object (tracebacks inside)
        [failure] = [record for record in records if record["logger"] == "lorebot.cli"]
        assert (failure["level"], failure["correlation_id"], failure["message"]) == ("INFO", "-", "command failed")
        assert "SlackTokenError" in failure["exception"]
    assert not any(line.startswith("{") for line in lines["plain"])
    assert any(" INFO lorebot.cli [-] command failed" in line for line in lines["plain"])


def test_sync_failures_changes_and_lock_waits_are_counted_per_source() -> None:
    metrics = Metrics()
    metrics.synced(SyncSummary("wiki", "confluence", added=3, updated=2, seconds=4.0))
    metrics.synced(SyncSummary("wiki", "confluence", deleted=1, seconds=1.0, error="Confluence answered 401"))
    metrics.lock_waited("wiki")
    metrics.lock_waited("wiki")
    registry = metrics.registry

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"source": "wiki", **labels})

    assert sample("lorebot_sync_duration_seconds_count") == 2 and sample("lorebot_sync_duration_seconds_sum") == 5
    changes = {
        change: sample("lorebot_sync_documents_total", change=change) for change in ("added", "updated", "deleted")
    }
    assert changes == {"added": 3, "updated": 2, "deleted": 1}
    assert sample("lorebot_sync_errors_total") == 1
    assert sample("lorebot_sync_lock_waits_total") == 2


def test_http_settings_default_to_every_interface_on_8080(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HTTP_HOST")  # set by conftest.py so that no other test serves
    monkeypatch.delenv("HTTP_PORT")
    settings = Settings()
    assert (settings.http_host, settings.http_port, settings.log_format) == ("0.0.0.0", 8080, "auto")


# -- the server on its own ----------------------------------------------------------------------


async def test_readiness_names_every_part_until_its_check_says_it_is_up() -> None:
    readiness = Readiness()

    async def up() -> bool:
        return True

    async def broken() -> bool:
        raise ConnectionRefusedError("connection refused\nsecond line")

    async with http_server("127.0.0.1", 0, readiness, Metrics().registry) as port, aiohttp.ClientSession() as session:
        http = Http(session, port)
        assert await http.get("/healthz") == (200, '{"status": "ok"}')
        status, body = await http.ready()
        assert status == 503 and body["not_ready"] == ["slack", "database", "index"]
        assert set(body["parts"].values()) == {"starting"}

        readiness.add("slack", up)
        readiness.add("database", up)
        readiness.add("index", broken)
        status, body = await http.ready()
        assert status == 503 and body["not_ready"] == ["index"]
        assert body["parts"]["index"] == "ConnectionRefusedError: connection refused"

        readiness.add("index", up)
        assert (await http.ready())[0] == 200


async def test_a_port_in_use_is_one_sentence_naming_the_settings() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(HttpServerError, match=f"127.0.0.1:{port} .*HTTP_PORT=0 to turn the server off"):
            async with http_server("127.0.0.1", port, Readiness(), Metrics().registry):
                pass


# -- metrics through the Slack emulator ---------------------------------------------------------


@pytest.fixture
async def measured(fake: FakeSlack, store, answerer) -> Iterator[tuple[RunningBot, Metrics]]:
    metrics = Metrics()
    running = await start_bot(fake, store, answerer, metrics=metrics)
    await fake.wait_connected()
    yield running, metrics
    await running.stop()


async def test_questions_answers_and_feedback_are_counted(measured: tuple[RunningBot, Metrics]) -> None:
    running, metrics = measured
    fake, registry = running.fake, metrics.registry
    message = await mention(fake, "where is the retry logic for payments?")
    await answered(running, message["ts"])
    await fake.send_command("how do we deploy to production?")
    [posted] = await fake.wait_for("chat.postMessage", where=lambda call: "asked:" in call.args.get("text", ""))
    assert await running.bot.tasks.join(15)
    assert registry.get_sample_value("lorebot_questions_total", {"surface": "mention"}) == 1
    assert registry.get_sample_value("lorebot_questions_total", {"surface": "command"}) == 1
    assert registry.get_sample_value("lorebot_answers_total") == 2
    assert registry.get_sample_value("lorebot_answer_latency_seconds_count") == 2

    [reply] = [m for m in fake.thread(CHANNEL, message["ts"]) if m.get("bot_id")]
    await fake.send_event(fake.reaction(CHANNEL, reply["ts"], "+1"))
    await fake.send_event(fake.reaction(CHANNEL, reply["ts"], "-1", user="U0BOB"))
    await fake.send_event(fake.reaction(CHANNEL, reply["ts"], "+1", added=False))

    def feedback(sign: str, action: str) -> float | None:
        return registry.get_sample_value("lorebot_feedback_total", {"sign": sign, "action": action})

    async def recorded() -> bool:
        return (feedback("positive", "removed") or 0) == 1 and (feedback("negative", "added") or 0) == 1

    await eventually(recorded, timeout=15)
    assert feedback("positive", "added") == 1


class FailingAnswerer(Answerer):
    """An answerer whose model fails unexpectedly: the bot apologises with a reference."""

    async def stream(
        self, question: str, history: Sequence[Turn] = (), filters: SearchFilters = EVERYTHING
    ) -> AsyncIterator[AnswerDelta | Answer]:
        raise RuntimeError("the model exploded")
        yield  # an async generator, as answerers are


async def test_a_failure_is_counted_and_its_log_line_carries_the_reference(fake: FakeSlack, store) -> None:
    metrics = Metrics()
    running = await start_bot(fake, store, FailingAnswerer(), metrics=metrics)
    await fake.wait_connected()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    use_log_format(handler, "json")
    bot_logger = logging.getLogger("bot")
    level = bot_logger.level
    bot_logger.addHandler(handler)
    bot_logger.setLevel(logging.INFO)
    try:
        message = await mention(fake, "where is the retry logic for payments?")
        text = await answered(running, message["ts"])
    finally:
        bot_logger.removeHandler(handler)
        bot_logger.setLevel(level)
        await running.stop()
    [reference] = re.findall(r"reference `([0-9a-f]+)`", text)
    assert metrics.registry.get_sample_value("lorebot_errors_total", {"kind": "failure"}) == 1

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert all(set(line) >= {"time", "level", "logger", "correlation_id", "message"} for line in lines)
    [failure] = [line for line in lines if line["level"] == "ERROR" and line["logger"] == "bot.slack.responder"]
    assert failure["correlation_id"] == reference and "the model exploded" in failure["exception"]
    # app_mention and message each start handling under an id of their own; the one answered is the reference
    questions = [line for line in lines if line["message"].startswith("mention question in")]
    assert reference in {line["correlation_id"] for line in questions}
    assert {line["level"] for line in questions} == {"INFO"}


# -- log formats --------------------------------------------------------------------------------


def test_auto_is_plain_on_a_terminal_and_json_elsewhere() -> None:
    leader, follower = os.openpty()
    with os.fdopen(follower, "w") as terminal:
        assert terminal.isatty()
        plain = formatter_for(logging.StreamHandler(terminal), "auto")
    os.close(leader)
    assert not isinstance(plain, JsonFormatter)
    assert isinstance(formatter_for(logging.StreamHandler(io.StringIO()), "auto"), JsonFormatter)
    assert not isinstance(formatter_for(logging.StreamHandler(io.StringIO()), "plain"), JsonFormatter)
    assert isinstance(formatter_for(logging.StreamHandler(sys.stderr), "json"), JsonFormatter)


async def test_both_formats_carry_the_correlation_id_level_and_logger() -> None:
    streams = {"json": io.StringIO(), "plain": io.StringIO()}
    logger = logging.getLogger("bot.slack.responder")
    handlers = [logging.StreamHandler(stream) for stream in streams.values()]
    for log_format, handler in zip(streams, handlers, strict=True):
        use_log_format(handler, log_format)  # type: ignore[arg-type]
        logger.addHandler(handler)

    async def handle_an_event() -> None:
        correlation.begin("3f9a1c2e")
        try:
            raise TimeoutError("Slack did not answer")
        except TimeoutError:
            logger.exception("cannot post to the thread")

    try:
        await asyncio.create_task(handle_an_event())
        logger.warning("between events")
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
    first, second = (json.loads(line) for line in streams["json"].getvalue().splitlines())
    assert (first["correlation_id"], first["level"], first["logger"]) == ("3f9a1c2e", "ERROR", "bot.slack.responder")
    assert (
        first["message"] == "cannot post to the thread" and "TimeoutError: Slack did not answer" in first["exception"]
    )
    assert first["time"].endswith("+00:00")
    assert second["correlation_id"] == "-" and "exception" not in second
    plain = streams["plain"].getvalue().splitlines()
    assert plain[0].endswith("ERROR bot.slack.responder [3f9a1c2e] cannot post to the thread")
    assert plain[-1].endswith("WARNING bot.slack.responder [-] between events")

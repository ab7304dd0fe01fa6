"""Lorebot in Slack when things go wrong: retries, restarts, dropped sockets, a dead database, 429s."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Sequence

import pytest

from bot.answering import EVERYTHING, Answer, AnswerDelta, Answerer, Turn
from bot.conversations import SqlConversationStore
from bot.slack.watchdog import ConnectionLost
from knowledge.index import SearchFilters
from tests.fakes.slack_server import FakeSlack
from tests.slack_harness import (
    CHANNEL,
    RETRY_URL,
    RunningBot,
    answered,
    bot_text,
    in_thread,
    mention,
    start_bot,
)

REFERENCE = re.compile(r"reference `(\w+)`")


async def quiet(running: RunningBot) -> None:
    """Let everything sent so far be handled: a fresh question is answered only after earlier envelopes
    were dispatched (they are cheaper), then every task they started is awaited."""
    sentinel = await mention(running.fake, "how do we deploy to production?")
    await answered(running, sentinel["ts"])


async def test_retried_envelope_is_answered_once_also_after_a_restart(
    fake: FakeSlack, store: SqlConversationStore, database: str, answerer
) -> None:
    first = await start_bot(fake, store, answerer)
    message = fake.user_message(CHANNEL, f"<@{fake.bot_user_id}> where is the retry logic for payments?")
    event = fake.mention_of(message)
    await fake.send_event(event, event_id="Ev0RETRIED")
    await fake.send_event(event, event_id="Ev0RETRIED", retry_attempt=1)
    await answered(first, message["ts"])
    await quiet(first)
    await first.stop()

    restarted_store = SqlConversationStore.from_url(database)
    second = await start_bot(fake, restarted_store, answerer)  # a new process: nothing in memory
    try:
        await fake.send_event(event, event_id="Ev0RETRIED", retry_attempt=2)
        await fake.send_event(message)  # the message event of the same post, delivered late
        await quiet(second)
    finally:
        await second.stop()
        await restarted_store.close()
    assert len(fake.calls_of("chat.postMessage", in_thread(message["ts"]))) == 1


@pytest.mark.parametrize("how", ["dropped", "refresh_requested"])
async def test_after_a_disconnect_it_reconnects_and_answers(running: RunningBot, how: str) -> None:
    fake = running.fake
    if how == "dropped":
        await fake.drop_connections()
    else:
        await fake.request_refresh()
    await fake.wait_connected(count=2)
    message = await mention(fake, "where is the retry logic for payments?")
    assert RETRY_URL in await answered(running, message["ts"])
    assert len(fake.calls_of("apps.connections.open")) >= 2


async def test_database_down_ends_in_an_apology_with_a_logged_reference(
    fake: FakeSlack, answerer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.slack")
    unreachable = SqlConversationStore.from_url("postgresql+asyncpg://lorebot:secret@127.0.0.1:9/lorebot")
    running = await start_bot(fake, unreachable, answerer)
    try:
        message = await mention(fake, "where is the retry logic for payments?")
        text = await answered(running, message["ts"])
    finally:
        await running.stop()
        await unreachable.close()

    assert len(fake.calls_of("chat.postMessage", in_thread(message["ts"]))) == 1  # one apology, not two
    reference = REFERENCE.search(text).group(1)  # type: ignore[union-attr]
    assert "Traceback" not in text and "127.0.0.1" not in text
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged and logged[0].exc_info is not None


class BrokenAnswerer(Answerer):
    async def stream(
        self, question: str, history: Sequence[Turn] = (), filters: SearchFilters = EVERYTHING
    ) -> AsyncIterator[AnswerDelta | Answer]:
        yield AnswerDelta("Partial text that will never")
        raise RuntimeError("the index file is corrupt")


async def test_answerer_failure_replaces_the_partial_reply_with_an_apology(
    fake: FakeSlack, store: SqlConversationStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.slack")
    running = await start_bot(fake, store, BrokenAnswerer())
    try:
        message = await mention(fake, "where is the retry logic?")
        text = await answered(running, message["ts"])
    finally:
        await running.stop()
    assert "Partial text" not in text and "corrupt" not in text
    reference = REFERENCE.search(text).group(1)  # type: ignore[union-attr]
    assert any(reference in r.getMessage() and r.exc_info for r in caplog.records)


async def test_rate_limited_post_is_retried_and_delivered(running: RunningBot) -> None:
    fake = running.fake
    fake.rate_limit("chat.postMessage", retry_after=0)
    message = await mention(fake, "where is the retry logic for payments?")
    await fake.wait_for("chat.postMessage", count=2, where=in_thread(message["ts"]))
    await running.bot.tasks.join(15)
    assert RETRY_URL in bot_text(fake, message["ts"])
    assert len([m for m in fake.thread(CHANNEL, message["ts"]) if m.get("bot_id")]) == 1


async def test_watchdog_gives_up_when_reconnecting_keeps_failing(
    fake: FakeSlack, store: SqlConversationStore, answerer
) -> None:
    running = await start_bot(fake, store, answerer, check_interval=0.1, max_down=0.5)
    try:
        await fake.wait_connected()
        fake.fail("apps.connections.open", "internal_error", times=10_000)
        await fake.drop_connections()
        with pytest.raises(ConnectionLost, match="supervisor"):
            await asyncio.wait_for(running.runner.run_until(asyncio.Event()), 15)
    finally:
        await running.stop()


async def test_a_postgresql_restart_under_a_running_bot_loses_no_later_question(
    fake: FakeSlack, postgres_url: str, answerer
) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    from bot.db.engine import upgrade

    await upgrade(postgres_url)
    store = SqlConversationStore.from_url(postgres_url)
    running = await start_bot(fake, store, answerer)
    try:
        first = await mention(fake, "where is the retry logic for payments?")
        assert RETRY_URL in await answered(running, first["ts"])

        # What a restart looks like to clients: every server-side connection of the database dies.
        url = make_url(postgres_url)
        admin = await asyncpg.connect(
            user=url.username,
            password=url.password or None,
            database="postgres",
            host=url.query.get("host") or url.host,
            port=url.port,
        )
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                url.database,
            )
        finally:
            await admin.close()
        assert killed >= 1  # the bot's pooled connection was there to be cut

        await mention(fake, "where is the retry logic for payments?", thread_ts=first["ts"])
        await fake.wait_for("chat.postMessage", where=in_thread(first["ts"]), count=2)
        assert await running.bot.tasks.join(15)
    finally:
        await running.stop()
    replies = [m for m in fake.thread(CHANNEL, first["ts"]) if m.get("bot_id")]
    assert len(replies) == 2 and RETRY_URL in replies[1]["text"] and "Sorry" not in replies[1]["text"]
    answers = await store.answers_with_feedback()
    await store.close()
    assert len(answers) == 2  # both answers stored, the second over a new connection

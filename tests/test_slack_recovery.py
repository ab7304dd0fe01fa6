"""A question taken over from a stopped replica, in Slack: answered late, in the messages it left."""

from __future__ import annotations

from bot.conversations import SqlConversationStore
from bot.db.engine import session_factory
from bot.db.event_claims import SqlEventClaims
from bot.db.models import utcnow
from bot.slack.client import build_web_client
from bot.slack.delivery import LATE_NOTE
from bot.slack.events import Question
from tests.fakes.slack_server import FakeSlack
from tests.slack_harness import CHANNEL, RETRY_URL, start_bot


async def test_a_reply_posted_by_a_replica_killed_before_noting_it_is_updated_not_posted_again(
    fake: FakeSlack, store: SqlConversationStore, answerer
) -> None:
    text = "where is the retry logic for payments?"
    message = fake.user_message(CHANNEL, f"<@{fake.bot_user_id}> {text}")
    question = Question(fake.team_id, CHANNEL, "U0ALICE", text, message["ts"], message["ts"], "mention")
    claims = SqlEventClaims(session_factory(store.engine))
    assert await claims.claim(question.dedupe_key, "dead-replica", question.payload(), utcnow()) is not None
    # Slack took the dead replica's answer; the replica died before noting it on the claim.
    client = build_web_client(fake.bot_token, fake.base_url)
    await client.chat_postMessage(channel=CHANNEL, thread_ts=message["ts"], text="It retries with backoff.")
    await claims.release("dead-replica", [question.dedupe_key])

    running = await start_bot(fake, store, answerer)
    try:
        await fake.wait_for("chat.update", where=lambda call: LATE_NOTE in call.args.get("text", ""))
        assert await running.bot.tasks.join(15)
    finally:
        await running.stop()
    [reply] = [m for m in fake.thread(CHANNEL, message["ts"]) if m.get("bot_id")]
    assert RETRY_URL in reply["text"] and LATE_NOTE in reply["text"]
    assert fake.calls_of("chat.postMessage", lambda c: c.args.get("thread_ts") == message["ts"]) == fake.calls_of(
        "chat.postMessage", lambda c: c.token == fake.bot_token and c.args.get("text") == "It retries with backoff."
    )  # the only post in the thread is the dead replica's

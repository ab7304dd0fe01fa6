"""Asking lorebot in Slack, end to end: the real Bolt app on the emulator, a real index and embedder."""

from __future__ import annotations

from tests.fakes.slack_server import FakeSlack
from tests.slack_harness import CHANNEL, DEPLOY_URL, RETRY_URL, RunningBot, answered, in_thread, mention


async def test_mention_gets_one_threaded_answer_with_the_file_link(running: RunningBot) -> None:
    fake = running.fake
    message = await mention(fake, "where is the retry logic with backoff for payments?")
    text = await answered(running, message["ts"])

    assert f"<{RETRY_URL}|" in text
    assert "*Sources*" in text
    assert len(fake.calls_of("chat.postMessage", in_thread(message["ts"]))) == 1  # app_mention + message: once
    assert fake.calls_of("assistant.threads.setStatus")[0].args["thread_ts"] == message["ts"]
    [row] = await running.store.answers_with_feedback()
    [reply] = [m for m in fake.thread(CHANNEL, message["ts"]) if m.get("bot_id")]
    assert row.message_ts == reply["ts"] and row.question == "where is the retry logic with backoff for payments?"
    assert row.sources[0].url == RETRY_URL and row.sources[0].cited


async def test_mention_inside_a_thread_answers_in_that_thread(running: RunningBot) -> None:
    fake = running.fake
    parent = fake.user_message(CHANNEL, "we had failed payments last night")
    message = await mention(fake, "how do we retry failed payments?", thread_ts=parent["ts"])
    text = await answered(running, parent["ts"])
    assert RETRY_URL in text
    assert not fake.calls_of("chat.postMessage", in_thread(message["ts"]))


async def test_ask_posts_the_question_visibly_and_answers_in_its_thread(running: RunningBot) -> None:
    fake = running.fake
    envelope = await fake.send_command("how do we deploy to production?")
    assert (await fake.wait_ack(envelope)).get("payload") is None  # acked at once, empty

    [question] = await fake.wait_for("chat.postMessage", where=lambda c: "thread_ts" not in c.args)
    assert question.args["text"] == "<@U0ALICE> asked: how do we deploy to production?"
    # The call is recorded before the fake stores the message; its first threaded reply names its ts.
    [reply] = await fake.wait_for("chat.postMessage", where=lambda c: "thread_ts" in c.args)
    posted_ts = reply.args["thread_ts"]
    assert fake.messages[CHANNEL][posted_ts]["text"] == question.args["text"]
    text = await answered(running, posted_ts)
    assert DEPLOY_URL.replace("&", "&amp;") in text


async def test_ask_without_text_gets_ephemeral_usage_help(running: RunningBot) -> None:
    ack = await running.fake.wait_ack(await running.fake.send_command("   "))
    assert ack["payload"]["response_type"] == "ephemeral"
    assert "/ask" in ack["payload"]["text"]
    assert not running.fake.calls_of("chat.postMessage")


async def test_ask_escapes_what_the_user_typed(running: RunningBot) -> None:
    fake = running.fake
    await fake.send_command("is a &lt; b &amp; c &gt; d in the retry code?")  # as Slack encodes it
    [question] = await fake.wait_for("chat.postMessage")
    assert question.args["text"] == "<@U0ALICE> asked: is a &lt; b &amp; c &gt; d in the retry code?"
    await running.bot.tasks.join(15)


async def test_ask_where_lorebot_is_not_a_member_explains_ephemerally(running: RunningBot) -> None:
    fake = running.fake
    fake.fail("chat.postMessage", "not_in_channel")
    await fake.send_command("how do we deploy?", channel="C0PRIVATE")
    [reply] = await fake.wait_for("response_url")
    assert reply.args["response_type"] == "ephemeral" and "/invite" in reply.args["text"]


async def test_follow_up_without_mention_uses_the_thread_history(running: RunningBot) -> None:
    fake = running.fake
    first = await mention(fake, "where is the retry logic for payments?")
    await answered(running, first["ts"])

    follow_up = fake.user_message(CHANNEL, "what is the maximum delay there?", thread_ts=first["ts"])
    await fake.send_event(follow_up)
    await fake.wait_for("chat.postMessage", count=2, where=in_thread(first["ts"]))
    await running.bot.tasks.join(15)

    latest = (await running.store.answers_with_feedback())[0]
    assert latest.question == "what is the maximum delay there?"
    assert "retry logic for payments" in latest.standalone_query  # the history reached retrieval
    assert latest.sources[0].url == RETRY_URL


async def test_thread_messages_lorebot_should_leave_alone(running: RunningBot) -> None:
    fake = running.fake
    first = await mention(fake, "where is the retry logic for payments?")
    await answered(running, first["ts"])

    # Someone else is addressed; an edit; a join; another bot; a thread lorebot never answered in.
    await fake.send_event(fake.user_message(CHANNEL, "<@U0BOB> can you check this?", thread_ts=first["ts"]))
    await fake.send_event({**fake.user_message(CHANNEL, "edited", thread_ts=first["ts"]), "subtype": "message_changed"})
    await fake.send_event({**fake.user_message(CHANNEL, "joined", thread_ts=first["ts"]), "subtype": "channel_join"})
    await fake.send_event({**fake.user_message(CHANNEL, "beep", thread_ts=first["ts"]), "bot_id": "B0OTHER"})
    other = fake.user_message(CHANNEL, "unrelated chat")
    await fake.send_event(fake.user_message(CHANNEL, "a reply in another thread", thread_ts=other["ts"]))
    await fake.send_event(fake.user_message(CHANNEL, "plain channel message, no mention"))
    # ...then one real follow-up: only it is answered.
    await fake.send_event(fake.user_message(CHANNEL, "and how is the delay computed?", thread_ts=first["ts"]))
    await fake.wait_for("chat.postMessage", count=2, where=in_thread(first["ts"]))
    await running.bot.tasks.join(15)

    assert len(fake.calls_of("chat.postMessage")) == 2
    assert [row.question for row in await running.store.answers_with_feedback()] == [
        "and how is the delay computed?",
        "where is the retry logic for payments?",
    ]


async def test_direct_message_is_answered(running: RunningBot) -> None:
    fake = running.fake
    message = fake.user_message("D0ALICE", "how do I set up my development environment?", channel_type="im")
    await fake.send_event(message)
    text = await answered(running, message["ts"], channel="D0ALICE")
    assert "Development environment" in text


async def test_messages_tab_welcome_once_and_assistant_prompts(running: RunningBot) -> None:
    fake = running.fake
    opened = {"type": "app_home_opened", "user": "U0ALICE", "channel": "D0ALICE", "tab": "messages", "event_ts": "1.1"}
    await fake.send_event(opened)
    await fake.send_event({**opened, "event_ts": "1.2"})
    await fake.send_event({**opened, "tab": "home", "event_ts": "1.3"})
    await fake.send_event(
        {
            "type": "assistant_thread_started",
            "event_ts": "1.4",
            "assistant_thread": {"user_id": "U0ALICE", "context": {}, "channel_id": "D0ALICE", "thread_ts": "1.5"},
        }
    )
    [prompts] = await fake.wait_for("assistant.threads.setSuggestedPrompts")
    await fake.wait_for("chat.postMessage")
    await running.bot.tasks.join(15)
    assert len(fake.calls_of("chat.postMessage")) == 1
    assert fake.calls_of("chat.postMessage")[0].args["channel"] == "D0ALICE"
    assert prompts.args["thread_ts"] == "1.5" and len(prompts.args["prompts"]) >= 2


async def test_reactions_on_an_answer_are_feedback_and_removal_is_recorded(running: RunningBot) -> None:
    fake = running.fake
    message = await mention(fake, "where is the retry logic for payments?")
    await answered(running, message["ts"])
    [reply] = [m for m in fake.thread(CHANNEL, message["ts"]) if m.get("bot_id")]

    await fake.send_event(fake.reaction(CHANNEL, reply["ts"], "+1"))
    await fake.send_event(fake.reaction(CHANNEL, reply["ts"], "no_entry", user="U0BOB"))
    await fake.send_event(fake.reaction(CHANNEL, message["ts"], "+1"))  # on the question: not feedback
    await _settled(running, fake, acks=3)
    await fake.send_event(fake.reaction(CHANNEL, reply["ts"], "+1", added=False))
    await _settled(running, fake, acks=1)

    [row] = await running.store.answers_with_feedback()
    reactions = {(r.user_id, r.reaction): r for r in row.reactions}
    assert set(reactions) == {("U0ALICE", "+1"), ("U0BOB", "no_entry")}
    assert reactions[("U0ALICE", "+1")].polarity == 1 and reactions[("U0ALICE", "+1")].removed_at is not None
    assert reactions[("U0BOB", "no_entry")].polarity == -1 and reactions[("U0BOB", "no_entry")].removed_at is None


async def _settled(running: RunningBot, fake: FakeSlack, acks: int) -> None:
    """Every pushed envelope acked and the work it started finished."""
    for envelope_id in list(fake.sent_at)[-acks:]:
        await fake.wait_ack(envelope_id)
    await running.bot.tasks.join(15)


async def test_a_question_that_cannot_be_searched_gets_the_reason(running: RunningBot) -> None:
    message = await mention(running.fake, "why " * 1200)
    text = await answered(running, message["ts"])
    assert "please keep it under" in text and "reference" not in text

"""A finished answer is never thrown away: Slack's 429s on posting it are waited out, however many."""

from __future__ import annotations

from tests.slack_harness import CHANNEL, RETRY_URL, RunningBot, bot_text, in_thread, mention


async def test_fifty_429s_in_a_row_still_deliver_the_answer_once(running: RunningBot) -> None:
    fake = running.fake
    fake.rate_limit("chat.postMessage", retry_after=0, times=50)
    message = await mention(fake, "where is the retry logic for payments?")
    await fake.wait_for("chat.postMessage", count=51, where=in_thread(message["ts"]), timeout=60)
    assert await running.bot.tasks.join(30)

    [reply] = [m for m in fake.thread(CHANNEL, message["ts"]) if m.get("bot_id")]
    assert RETRY_URL in reply["text"] and "Sorry" not in reply["text"]
    [stored] = await running.store.answers_with_feedback()
    assert stored.message_ts == reply["ts"]  # stored before posting, then linked to the message for feedback


async def test_four_seconds_of_429s_deliver_the_real_answer_not_the_apology(running: RunningBot) -> None:
    fake = running.fake
    fake.rate_limit("chat.postMessage", retry_after=1, times=4)
    message = await mention(fake, "where is the retry logic for payments?")
    await fake.wait_for("chat.postMessage", count=5, where=in_thread(message["ts"]), timeout=60)
    assert await running.bot.tasks.join(30)
    text = bot_text(fake, message["ts"])
    assert RETRY_URL in text and "Sorry" not in text

"""An LLM answer streamed into Slack: the real Bolt app on the Slack emulator, the real litellm on the LLM stub."""

from __future__ import annotations

from itertools import pairwise

import pytest

from bot.conversations import SqlConversationStore
from knowledge.index.sqlite import SqliteIndex
from tests.fakes.llm_server import LLMStub, Reply
from tests.fakes.slack_server import FakeSlack
from tests.slack_harness import (
    CHANNEL,
    RETRY_URL,
    answered,
    in_thread,
    llm_answerer,
    mention,
    start_bot,
)

pytestmark = pytest.mark.usefixtures("loopback_only")

REPLY = (
    "Failed payment requests are retried by retry_with_backoff [1] with exponential backoff and jitter, "
    "up to five attempts, waiting at most thirty seconds between tries [1]."
)


async def test_llm_answer_streams_into_slack_as_growing_updates_then_one_final_message(
    fake: FakeSlack, store: SqlConversationStore, slack_index: SqliteIndex, embedder, llm_stub: LLMStub
) -> None:
    llm_stub.enqueue(Reply(REPLY, chunk_delay=0.01))
    answerer = llm_answerer(slack_index, embedder, llm_stub, max_retries=2)
    running = await start_bot(fake, store, answerer, stream_interval=0)
    fake.fail("assistant.threads.setStatus", "not_allowed_token_type")  # a placeholder message that grows
    try:
        message = await mention(fake, "how are failed payment requests retried?")
        shown = await answered(running, message["ts"])
    finally:
        await running.stop()

    (request,) = llm_stub.requests
    assert request.stream and "how are failed payment requests retried?" in request.messages[-1]["content"]
    posts = fake.calls_of("chat.postMessage", in_thread(message["ts"]))
    assert len(posts) == 1  # one message: the placeholder, grown in place
    *growing, final = [call.args["text"] for call in fake.calls_of("chat.update")]
    assert len(growing) >= 5
    assert all(later.startswith(earlier) and later != earlier for earlier, later in pairwise(growing))
    assert REPLY.startswith(growing[-1])
    assert f"<{RETRY_URL}|[1]>" in final and final.count("*Sources*") == 1
    assert shown == final
    bot_messages = [m for m in fake.thread(CHANNEL, message["ts"]) if m.get("bot_id")]
    assert len(bot_messages) == 1

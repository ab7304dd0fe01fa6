"""Streamed answers reach Slack as a growing message, then one final text with citations."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from bot.answering import EVERYTHING, Answer, AnswerDelta, Answerer, Citation, Turn
from bot.conversations import SqlConversationStore
from knowledge.index import SearchFilters
from tests.fakes.slack_server import FakeSlack
from tests.slack_harness import (
    CHANNEL,
    RETRY_URL,
    answered,
    in_thread,
    mention,
    start_bot,
)


class ScriptedAnswerer(Answerer):
    """A tests-only Answerer: yields the given texts as deltas, then the final answer."""

    def __init__(self, deltas: list[str], final: Answer) -> None:
        self.deltas = deltas
        self.final = final

    async def stream(
        self, question: str, history: Sequence[Turn] = (), filters: SearchFilters = EVERYTHING
    ) -> AsyncIterator[AnswerDelta | Answer]:
        for text in self.deltas:
            yield AnswerDelta(text)
        yield self.final


def final_answer(text: str) -> Answer:
    return Answer(
        text,
        False,
        [Citation(1, "payments/retry.py: retry_with_backoff", RETRY_URL)],
        [],
        "retry",
        cited_ranks=frozenset({1}),
    )


def texts(calls) -> list[str]:
    return [call.args["text"] for call in calls]


async def test_stream_grows_the_placeholder_then_the_final_text_has_the_links(
    fake: FakeSlack, store: SqlConversationStore
) -> None:
    words = [
        "Payments",
        "are",
        "retried",
        "with",
        "exponential",
        "backoff",
        "[1]",
        "and",
        "jitter,",
        "up",
        "to",
        "five",
        "attempts.",
    ]
    deltas = [" ".join(words[:n]) for n in range(2, len(words) + 1, 3)]
    running = await start_bot(fake, store, ScriptedAnswerer(deltas, final_answer(" ".join(words))), stream_interval=0)
    fake.fail("assistant.threads.setStatus", "not_allowed_token_type")  # no thread status: placeholder
    try:
        message = await mention(fake, "how are payments retried?")
        text = await answered(running, message["ts"])
    finally:
        await running.stop()

    [placeholder] = fake.calls_of("chat.postMessage", in_thread(message["ts"]))
    assert "Looking through the sources" in placeholder.args["text"]
    updates = texts(fake.calls_of("chat.update"))
    assert updates[:-1] == deltas  # grows, delta by delta, in the same message
    assert f"<{RETRY_URL}|[1]>" in updates[-1] and "*Sources*" in updates[-1]
    assert text == updates[-1]


async def test_updates_are_throttled(fake: FakeSlack, store: SqlConversationStore) -> None:
    deltas = [f"Step {n} of the answer." for n in range(1, 20)]
    running = await start_bot(
        fake, store, ScriptedAnswerer(deltas, final_answer("The whole answer [1].")), stream_interval=60
    )
    try:
        message = await mention(fake, "how are payments retried?")
        await answered(running, message["ts"])
    finally:
        await running.stop()
    assert texts(fake.calls_of("chat.postMessage", in_thread(message["ts"]))) == ["Step 1 of the answer."]
    assert len(fake.calls_of("chat.update")) == 1  # only the final text


async def test_long_answer_is_split_at_sentence_ends_while_streaming_and_at_the_end(
    fake: FakeSlack, store: SqlConversationStore
) -> None:
    sentences = [f"Sentence number {n} explains one more detail of the retry policy [1]." for n in range(120)]
    deltas = [" ".join(sentences[: n + 1]) for n in range(0, len(sentences), 7)] + [" ".join(sentences)]
    running = await start_bot(
        fake, store, ScriptedAnswerer(deltas, final_answer(" ".join(sentences))), stream_interval=0
    )
    try:
        message = await mention(fake, "explain the retry policy in detail")
        await answered(running, message["ts"])
        await running.bot.tasks.join(15)
    finally:
        await running.stop()

    shown = [m for m in fake.thread(CHANNEL, message["ts"]) if m.get("bot_id")]
    assert len(shown) >= 3
    assert all(len(m["text"]) <= 3000 for m in shown[:-1])
    assert all(m["text"].endswith(".") for m in shown[:-1])
    assert shown[-1]["text"].count("*Sources*") == 1
    assert all(
        block["text"]["text"].count("<") == block["text"]["text"].count(">")
        for m in shown
        for block in m["blocks"]
        if block["type"] == "section"
    )
    # While streaming, a message was only left behind once it ended at a sentence.
    for post in fake.calls_of("chat.postMessage", in_thread(message["ts"]))[1:]:
        last_update = [c for c in fake.calls_of("chat.update") if c.at <= post.at][-1]
        assert last_update.args["text"].endswith(".")

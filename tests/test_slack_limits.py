"""Abuse and limits in Slack: a per-person rate limit, a cap on answers at once, a pasted log
in a thread cut before it reaches the model. The real Bolt app on the emulator; the real
litellm on the LLM stub where a prompt is checked."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager

import pytest

from bot.answering import EVERYTHING, Answer, AnswerDelta, Answerer, Turn
from bot.answering.followup import REWRITE_SYSTEM_PROMPT
from bot.conversations import SqlConversationStore
from bot.settings import Settings
from knowledge.index import SearchFilters
from knowledge.index.sqlite import SqliteIndex
from tests.fakes.llm_server import LLMStub, RecordedRequest
from tests.fakes.slack_server import FakeSlack
from tests.slack_harness import CHANNEL, RETRY_URL, RunningBot, answered, llm_answerer, start_bot

CUT = re.compile(r"\[… ([\d,]+) characters cut\]")


async def ask(fake: FakeSlack, text: str, user: str = "U0ALICE", thread_ts: str | None = None) -> str:
    """`user` mentions lorebot (app_mention and message events, as Slack sends them); the message ts."""
    message = fake.user_message(CHANNEL, f"<@{fake.bot_user_id}> {text}", user=user, thread_ts=thread_ts)
    await fake.send_event(fake.mention_of(message))
    await fake.send_event(message)
    return message["ts"]


def bot_messages(fake: FakeSlack, thread_ts: str) -> list[str]:
    return [m["text"] for m in fake.thread(CHANNEL, thread_ts) if m.get("bot_id")]


async def test_the_question_over_the_per_person_limit_gets_one_polite_line(running: RunningBot) -> None:
    fake, limit = running.fake, Settings().user_questions_per_minute
    alice = [await ask(fake, f"where is the retry logic for payments? ({n})") for n in range(limit + 1)]
    bob = await ask(fake, "where is the retry logic for payments?", user="U0BOB")
    for ts in [*alice, bob]:
        await answered(running, ts)

    replies = {ts: bot_messages(fake, ts) for ts in [*alice, bob]}
    assert all(len(texts) == 1 for texts in replies.values())  # one message per question, never silence
    refused = [ts for ts in alice if replies[ts][0].startswith(":hourglass:")]
    assert len(refused) == 1  # both events of each mention counted once: only the (limit + 1)th is refused
    (line,) = replies[refused[0]]
    assert f"You've asked {limit} questions in the last minute" in line and "Please ask again in" in line
    assert "\n" not in line
    assert all(RETRY_URL in replies[ts][0] for ts in alice if ts not in refused)
    assert RETRY_URL in replies[bob][0]  # another person is not limited by Alice's questions
    assert len(await running.store.answers_with_feedback()) == limit + 1  # the refusal is not an answer


class GatedAnswerer(Answerer):
    """Every answer waits for the test to open the gate, counting how many wait at once."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.gate = asyncio.Event()
        self.changed = asyncio.Condition()

    async def stream(
        self, question: str, history: Sequence[Turn] = (), filters: SearchFilters = EVERYTHING
    ) -> AsyncIterator[AnswerDelta | Answer]:
        self.running += 1
        self.most = max(self.most, self.running)
        async with self.changed:
            self.changed.notify_all()
        try:
            await self.gate.wait()
        finally:
            self.running -= 1
        yield Answer(f"Answer to: {question}", False, [], [], question)

    async def wait_running(self, count: int) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: self.running >= count), 15)


class LogCounter(logging.Handler):
    """Sets `reached` once `count` records whose message contains `words` were logged."""

    def __init__(self, words: str, count: int) -> None:
        super().__init__(logging.INFO)
        self.words = words
        self.count = count
        self.reached = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.words in record.getMessage():
            self.count -= 1
            if self.count <= 0:
                self.reached.set()


@contextmanager
def counting(logger: str, words: str, count: int) -> Iterator[LogCounter]:
    handler = LogCounter(words, count)
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    try:
        yield handler
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


async def test_a_burst_above_the_cap_waits_its_turn_and_is_answered_in_full(
    fake: FakeSlack, store: SqlConversationStore
) -> None:
    cap, burst = 2, 6
    answerer = GatedAnswerer()
    running = await start_bot(fake, store, answerer, settings=Settings(max_concurrent_answers=cap))
    try:
        await fake.wait_connected()
        with counting("bot.slack.answer_slots", "answer queued", burst - cap) as queued:
            asked = [await ask(fake, f"question {n}", user=f"U0USER{n}") for n in range(burst)]
            await answerer.wait_running(cap)
            await asyncio.wait_for(queued.reached.wait(), 15)  # the others wait, with a log line each
        assert answerer.running == cap
        answerer.gate.set()
        texts = [await answered(running, ts) for ts in asked]
    finally:
        await running.stop()
    assert answerer.most == cap
    assert texts == [f"Answer to: question {n}" for n in range(burst)]


def log_lines(count: int) -> str:
    return "".join(f"03:{n // 60:02d}:{n % 60:02d} ERROR payments retry {n} timed out\n" for n in range(count))


@pytest.mark.usefixtures("loopback_only")
async def test_a_40k_pasted_log_in_a_thread_is_cut_in_every_prompt(
    fake: FakeSlack, store: SqlConversationStore, slack_index: SqliteIndex, embedder, llm_stub: LLMStub
) -> None:
    log = log_lines(1000)[:40_000]
    assert len(log) == 40_000

    def reply(request: RecordedRequest) -> str:
        if request.messages[0]["content"] == REWRITE_SYSTEM_PROMPT:
            return "how are failed payment requests retried"
        return "Failed payment requests are retried by retry_with_backoff [1]."

    llm_stub.respond_with(reply)
    settings = Settings()
    answerer = llm_answerer(slack_index, embedder, llm_stub, max_retries=0)
    running = await start_bot(fake, store, answerer, settings=settings)
    try:
        await fake.wait_connected()
        first = await ask(fake, f"why do failed payment requests time out? the log:\n{log}")
        await answered(running, first)
        follow_up = fake.user_message(CHANNEL, "and how are failed payment requests retried?", thread_ts=first)
        await fake.send_event(follow_up)
        await fake.wait_for("chat.postMessage", count=2, where=lambda c: c.args.get("thread_ts") == first)
        assert await running.bot.tasks.join(15)
    finally:
        await running.stop()

    assert RETRY_URL in bot_messages(fake, first)[-1]  # the follow-up was answered from the sources
    rewrite = [r for r in llm_stub.requests if r.messages[0]["content"] == REWRITE_SYSTEM_PROMPT]
    answers = [r for r in llm_stub.requests if r.messages[0]["content"] != REWRITE_SYSTEM_PROMPT]
    assert len(rewrite) == 1 and answers  # the follow-up was rewritten, then answered
    follow_up_prompt = answers[-1].messages
    pasted = [m["content"] for m in follow_up_prompt[1:-1] if m["role"] == "user"]
    assert len(pasted) == 1 and CUT.search(pasted[0])  # the paste is in the history, cut with its note
    assert CUT.search(rewrite[0].messages[-1]["content"])
    for request in llm_stub.requests:
        for message in request.messages:
            assert log[20_000:20_200] not in message["content"]  # the middle of the log never reaches the model
            assert len(message["content"]) < 20_000

"""Answering one question in Slack: dedupe, access scope, thread history, streamed reply, stored answer.

Runs after the event was acked. Any failure ends in a short apology in the thread
with a reference id, and a log line (with the traceback) under the same id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.scope import ScopeResolver
from bot.answering import Answer, Answerer, await_answer
from bot.conversations import AnswerRecord, ConversationStore
from bot.slack import correlation
from bot.slack.dedupe import Deduper
from bot.slack.events import Question
from bot.slack.formatting import MESSAGE_LIMIT, escape, render_answer
from bot.slack.reply import ReplyWriter
from knowledge.errors import LorebotError

logger = logging.getLogger(__name__)

Respond = Callable[..., Awaitable[object]]

UNMAPPED_NOTE = (
    "I couldn't match your Slack account to a Confluence account (by email), so this answer uses "
    "only pages everyone can open."
)


def apology(reference: str) -> str:
    return (
        ":warning: Sorry, something went wrong while answering. If it keeps happening, "
        f"tell the team running lorebot: reference `{reference}`."
    )


@dataclass(frozen=True)
class Command:
    """An `/ask` invocation."""

    team_id: str
    channel_id: str
    user_id: str
    text: str
    trigger_id: str
    received_at: float


class Responder:
    def __init__(
        self,
        client: AsyncWebClient,
        store: ConversationStore,
        answerer: Answerer,
        deduper: Deduper,
        scopes: ScopeResolver,
        *,
        stream_interval: float,
        history_turns: int,
        message_limit: int = MESSAGE_LIMIT,
    ) -> None:
        self.client = client
        self.store = store
        self.answerer = answerer
        self.deduper = deduper
        self.scopes = scopes
        self.stream_interval = stream_interval
        self.history_turns = history_turns
        self.message_limit = message_limit

    async def answer(self, question: Question) -> None:
        reference = correlation.begin()
        addressed = question.surface != "followup"
        try:
            if not addressed:
                if await self.store.find_conversation(question.thread) is None:
                    return  # a thread lorebot has not answered in
                addressed = True
            logger.info("%s question in %s (thread %s)", question.surface, question.channel_id, question.thread_ts)
            if not await self.deduper.claim(question.dedupe_key):
                logger.info("already handled %s; dropped", question.dedupe_key)
                return
        except Exception:
            if addressed:
                await self._fail(question, None, reference)
            else:
                logger.exception(
                    "cannot tell whether thread %s is lorebot's (reference %s)", question.thread_ts, reference
                )
            return
        await self._reply(question, reference)

    async def answer_command(self, command: Command, respond: Respond) -> None:
        """`/ask`: post the question visibly, then answer in its thread (slash commands have no thread)."""
        reference = correlation.begin()
        logger.info("/ask in %s", command.channel_id)
        try:
            if not await self.deduper.claim(f"command:{command.trigger_id}"):
                return
            posted = await self.client.chat_postMessage(
                channel=command.channel_id, text=f"<@{command.user_id}> asked: {escape(command.text)}"
            )
        except Exception as exc:
            logger.exception("cannot post the /ask question (reference %s)", reference)
            not_member = isinstance(exc, SlackApiError) and exc.response.get("error") in (
                "not_in_channel",
                "channel_not_found",
            )
            text = (
                "I can't post in this conversation: invite me first (`/invite @lorebot`)."
                if not_member
                else apology(reference)
            )
            try:
                await respond(text=text, response_type="ephemeral")
            except Exception:
                logger.exception("cannot tell the user either (reference %s)", reference)
            return
        question = Question(
            command.team_id,
            command.channel_id,
            command.user_id,
            command.text,
            posted["ts"],
            posted["ts"],
            "command",
            command.received_at,
        )
        await self._reply(question, reference)

    async def _reply(self, question: Question, reference: str) -> None:
        writer = self._writer(question)
        try:
            conversation_id = await self.store.conversation(question.thread)
            await writer.show_working()
            scope = await self.scopes.scope(question.channel_id, question.user_id)  # the thread's: one channel
            history = await self.store.history(conversation_id, self.history_turns)
            await self.store.add_message(conversation_id, "user", question.text, question.user_id, question.ts)
            answer = await await_answer(
                self.answerer.stream(question.text, history, scope.filters), lambda d: writer.stream(d.text)
            )
            if scope.unmapped and await self.store.claim_event(f"unmapped:{question.channel_id}:{question.thread_ts}"):
                answer = _with_note(answer, UNMAPPED_NOTE)  # once per thread
            posted = await writer.finish(render_answer(answer, self.message_limit))
        except LorebotError as exc:  # a failure with words for a person (empty question, empty index, …)
            logger.warning("cannot answer: %s", exc, exc_info=logger.isEnabledFor(logging.DEBUG))
            await self._tell(writer, f":information_source: {exc}", reference)
            return
        except Exception:
            await self._fail(question, writer, reference)
            return
        latency_ms = (time.monotonic() - question.received_at) * 1000
        logger.info(
            "answered in %.0f ms (%s, %d sources)",
            latency_ms,
            "abstained" if answer.abstained else "answered",
            len(answer.sources),
        )
        record = AnswerRecord(
            conversation_id, question.text, answer, question.user_id, question.channel_id, posted[0], latency_ms
        )
        try:
            await self.store.record_answer(record)
        except Exception:  # the person has the answer; only its feedback link is lost
            logger.exception("answer delivered but not stored (reference %s)", reference)

    def _writer(self, question: Question) -> ReplyWriter:
        return ReplyWriter(
            self.client,
            question.channel_id,
            question.thread_ts,
            interval=self.stream_interval,
            limit=self.message_limit,
        )

    async def _fail(self, question: Question, writer: ReplyWriter | None, reference: str) -> None:
        logger.exception("answering failed (reference %s)", reference)
        await self._tell(writer or self._writer(question), apology(reference), reference)

    async def _tell(self, writer: ReplyWriter, text: str, reference: str) -> None:
        try:
            await writer.replace_with(text)
        except Exception:
            logger.exception("cannot post to the thread either (reference %s)", reference)


def _with_note(answer: Answer, note: str) -> Answer:
    return replace(answer, note=f"{note} {answer.note}" if answer.note else note)

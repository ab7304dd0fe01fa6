"""Answering one question in Slack: claim, rate limit, access scope, thread history, streamed reply, stored answer.

Runs after the event was acked. Any failure ends in a short apology in the thread
with a reference id, and a log line (with the traceback) under the same id. A question
whose replica stopped before answering it is answered again by another (`resume`), late,
in the messages the stopped one had posted.
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
from bot.db.event_claims import Claim
from bot.db.models import utcnow
from bot.observability.metrics import Metrics
from bot.slack import correlation
from bot.slack.answer_slots import AnswerSlots
from bot.slack.claims import ReplicaClaims
from bot.slack.delivery import Delivery, stored_reply
from bot.slack.events import Question
from bot.slack.formatting import MESSAGE_LIMIT, escape, render_answer
from bot.slack.posted_reply import with_posted_reply
from bot.slack.rate_limit import RateLimiter
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
        claims: ReplicaClaims,
        scopes: ScopeResolver,
        *,
        limiter: RateLimiter,
        slots: AnswerSlots,
        metrics: Metrics,
        stream_interval: float,
        history_turns: int,
        delivery_seconds: float,
        message_limit: int = MESSAGE_LIMIT,
    ) -> None:
        self.client = client
        self.store = store
        self.answerer = answerer
        self.claims = claims
        self.delivery = Delivery(store, claims)
        self.delivery_seconds = delivery_seconds
        self.limiter = limiter
        self.slots = slots
        self.metrics = metrics
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
            claim = await self.claims.claim(question.dedupe_key, question.payload())
            if claim is None:
                logger.info("already handled %s; dropped", question.dedupe_key)
                return
            self.metrics.question(question.surface)
        except Exception:
            if addressed:
                await self._fail(question, None, reference)
            else:
                logger.exception(
                    "cannot tell whether thread %s is lorebot's (reference %s)", question.thread_ts, reference
                )
            return
        await self._reply(question, reference, claim)

    async def resume(self, claim: Claim) -> None:
        """Answer a question taken over from a replica that stopped before answering it."""
        reference = correlation.begin()
        waited = (utcnow() - claim.created_at).total_seconds()
        question = Question.from_payload(claim.question, received_at=time.monotonic() - waited)
        logger.warning("answering %s late (attempt %d, asked %.0f s ago)", claim.key, claim.attempts, waited)
        await self._work(question, reference, claim)  # asked before: not counted against the rate limit again

    async def answer_command(self, command: Command, respond: Respond) -> None:
        """`/ask`: post the question visibly, then answer in its thread (slash commands have no thread)."""
        reference = correlation.begin()
        logger.info("/ask in %s", command.channel_id)
        try:
            if not await self.claims.once(f"command:{command.trigger_id}"):
                return
            self.metrics.question("command")
            posted = await self.client.chat_postMessage(
                channel=command.channel_id, text=f"<@{command.user_id}> asked: {escape(command.text)}"
            )
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
            claim = await self.claims.claim(question.dedupe_key, question.payload())
        except Exception as exc:
            logger.exception("cannot post the /ask question (reference %s)", reference)
            self.metrics.failed()
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
        if claim is not None:  # a fresh message's key: claimed unless the database failed
            await self._reply(question, reference, claim)

    async def _reply(self, question: Question, reference: str, claim: Claim) -> None:
        """A person over the rate limit gets one line; an answer waits for a free slot."""
        wait = self.limiter.check(f"{question.team_id}:{question.user_id}")
        if wait:
            logger.info("%s asked more than %d questions a minute; told to wait", question.user_id, self.limiter.limit)
            await self._tell(self._writer(question, claim), self.limiter.refusal(wait), reference, claim)
            return
        await self._work(question, reference, claim)

    async def _work(self, question: Question, reference: str, claim: Claim) -> None:
        async with self.claims.held(claim), self.slots.hold():
            await self._answer(question, reference, claim)

    async def _answer(self, question: Question, reference: str, claim: Claim) -> None:
        claim = await with_posted_reply(self.client, question, claim)
        writer = self._writer(question, claim)
        finished = stored_reply(claim)
        if finished is not None:  # the stopped replica had the answer, but not yet in the thread
            await self.delivery.post(writer, claim, finished, claim.answer_id)
            return
        try:
            conversation_id = await self.store.conversation(question.thread)
            await writer.show_working(late=claim.late)
            scope = await self.scopes.scope(question.channel_id, question.user_id)  # the thread's: one channel
            history = await self.store.history(conversation_id, self.history_turns)
            await self.store.add_message(conversation_id, "user", question.text, question.user_id, question.ts)
            answer = await await_answer(
                self.answerer.stream(question.text, history, scope.filters), lambda d: writer.stream(d.text)
            )
            if scope.unmapped and await self.claims.once(f"unmapped:{question.channel_id}:{question.thread_ts}"):
                answer = _with_note(answer, UNMAPPED_NOTE)  # once per thread
        except LorebotError as exc:  # a failure with words for a person (empty question, empty index, …)
            logger.warning("cannot answer: %s", exc, exc_info=logger.isEnabledFor(logging.DEBUG))
            self.metrics.refused()
            await self._tell(writer, f":information_source: {exc}", reference, claim)
            return
        except Exception:
            await self._fail(question, writer, reference, claim)
            return
        latency_ms = (time.monotonic() - question.received_at) * 1000
        self.metrics.answered(answer.abstained, latency_ms / 1000)
        logger.info(
            "answered in %.0f ms (%s, %d sources)",
            latency_ms,
            "abstained" if answer.abstained else "answered",
            len(answer.sources),
        )
        first_ts = writer.ts[0] if writer.ts else None
        record = AnswerRecord(
            conversation_id, question.text, answer, question.user_id, question.channel_id, first_ts, latency_ms
        )
        await self.delivery.deliver(writer, claim, render_answer(answer, self.message_limit), record)

    def _writer(self, question: Question, claim: Claim | None) -> ReplyWriter:
        return ReplyWriter(
            self.client,
            question.channel_id,
            question.thread_ts,
            interval=self.stream_interval,
            limit=self.message_limit,
            patience=self.delivery_seconds,
            ts=claim.reply_ts if claim else (),
            on_post=(lambda ts: self.claims.replied_in(claim, ts)) if claim else None,
        )

    async def _fail(
        self, question: Question, writer: ReplyWriter | None, reference: str, claim: Claim | None = None
    ) -> None:
        logger.exception("answering failed (reference %s)", reference)
        self.metrics.failed()
        await self._tell(writer or self._writer(question, claim), apology(reference), reference, claim)

    async def _tell(self, writer: ReplyWriter, text: str, reference: str, claim: Claim | None) -> None:
        try:
            await writer.replace_with(text)
            if claim is not None:
                await self.claims.answered(claim)
        except Exception:
            logger.exception("cannot post to the thread either (reference %s)", reference)


def _with_note(answer: Answer, note: str) -> Answer:
    return replace(answer, note=f"{note} {answer.note}" if answer.note else note)

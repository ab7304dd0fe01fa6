"""Wiring the Slack app from its parts; `lorebot run`, the tests and the benchmark all build it here."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.scope import ScopeResolver
from bot.answering import Answerer
from bot.conversations import ConversationStore
from bot.observability.metrics import Metrics
from bot.slack.answer_slots import AnswerSlots
from bot.slack.claims import ReplicaClaims
from bot.slack.home import Welcome
from bot.slack.listeners import register
from bot.slack.rate_limit import RateLimiter
from bot.slack.reactions import FeedbackRecorder
from bot.slack.recovery import Recovery
from bot.slack.responder import Responder
from bot.slack.tasks import BackgroundTasks

logger = logging.getLogger(__name__)

STREAM_INTERVAL_SECONDS = 1.0
"""At most one update of a growing reply per this many seconds."""
HISTORY_TURNS = 10
"""How many of a thread's latest messages the answerer is given with a new question there."""


@dataclass
class SlackBot:
    app: AsyncApp
    client: AsyncWebClient
    tasks: BackgroundTasks
    claims: ReplicaClaims
    recovery: Recovery


def build_slack_bot(
    client: AsyncWebClient,
    store: ConversationStore,
    claims: ReplicaClaims,
    answerer: Answerer,
    scopes: ScopeResolver,
    *,
    questions_per_minute: int,
    concurrent_answers: int,
    delivery_seconds: float,
    retention: timedelta,
    stream_interval: float = STREAM_INTERVAL_SECONDS,
    history_turns: int = HISTORY_TURNS,
    metrics: Metrics | None = None,
) -> SlackBot:
    """`questions_per_minute` per person (0: no limit) and `concurrent_answers` come from the settings
    (`USER_QUESTIONS_PER_MINUTE`, `MAX_CONCURRENT_ANSWERS`); `delivery_seconds`: how long a finished
    answer is retried while Slack rate limits it; `retention`: how long handled events are remembered;
    `metrics`: where the bot counts questions, answers and feedback (default: a registry of its own)."""
    metrics = metrics or Metrics()
    tasks = BackgroundTasks()
    responder = Responder(
        client,
        store,
        answerer,
        claims,
        scopes,
        limiter=RateLimiter(questions_per_minute),
        slots=AnswerSlots(concurrent_answers),
        metrics=metrics,
        stream_interval=stream_interval,
        history_turns=history_turns,
        delivery_seconds=delivery_seconds,
    )
    app = AsyncApp(client=client, name="lorebot", logger=logging.getLogger("bot.slack.bolt"))
    register(app, responder, FeedbackRecorder(store, claims, metrics), Welcome(client, claims), tasks)

    @app.error
    async def on_error(error: Exception, body: dict) -> None:
        logger.error("Bolt could not handle a %s request", body.get("type"), exc_info=error)

    return SlackBot(app, client, tasks, claims, Recovery(claims, responder, tasks, retention=retention))

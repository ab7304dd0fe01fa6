"""Wiring the Slack app from its parts; `lorebot run`, the tests and the benchmark all build it here."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.scope import ScopeResolver
from bot.answering import Answerer
from bot.conversations import ConversationStore
from bot.slack.dedupe import Deduper
from bot.slack.home import Welcome
from bot.slack.listeners import register
from bot.slack.reactions import FeedbackRecorder
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


def build_slack_bot(
    client: AsyncWebClient,
    store: ConversationStore,
    answerer: Answerer,
    scopes: ScopeResolver,
    stream_interval: float = STREAM_INTERVAL_SECONDS,
    history_turns: int = HISTORY_TURNS,
) -> SlackBot:
    deduper = Deduper(store)
    tasks = BackgroundTasks()
    responder = Responder(
        client, store, answerer, deduper, scopes, stream_interval=stream_interval, history_turns=history_turns
    )
    app = AsyncApp(client=client, name="lorebot", logger=logging.getLogger("bot.slack.bolt"))
    register(app, responder, FeedbackRecorder(store, deduper), Welcome(client, deduper), tasks)

    @app.error
    async def on_error(error: Exception, body: dict) -> None:
        logger.error("Bolt could not handle a %s request", body.get("type"), exc_info=error)

    return SlackBot(app, client, tasks)

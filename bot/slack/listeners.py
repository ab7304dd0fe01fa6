"""Bolt listeners: parse, ack at once, and hand the work to a background task.

Events API envelopes are acked by Bolt before a listener runs; `/ask` acks first thing.
The answer itself runs in a tracked task, so the ack never waits on retrieval or Slack
calls and shutdown can wait for answers in flight.
"""

from __future__ import annotations

import time
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from bot.slack.events import question_from_event
from bot.slack.formatting import slack_to_plain
from bot.slack.home import PROMPTS, Welcome
from bot.slack.reactions import FeedbackRecorder
from bot.slack.responder import Command, Responder
from bot.slack.tasks import BackgroundTasks

USAGE = (
    "Ask a question about our code or Confluence, e.g. `/ask " + PROMPTS[0][1] + "`. I answer in a thread, with links."
)


def register(
    app: AsyncApp, responder: Responder, feedback: FeedbackRecorder, welcome: Welcome, tasks: BackgroundTasks
) -> None:
    async def on_message(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        question = question_from_event(event, body.get("team_id") or event.get("team", ""), context.bot_user_id)
        if question is not None:
            tasks.spawn(responder.answer(question), name=f"answer {question.dedupe_key}")

    # Slack sends both for a mention; the responder's dedupe answers it once.
    app.event("app_mention")(on_message)
    app.event("message")(on_message)

    @app.command("/ask")
    async def on_ask(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        received_at = time.monotonic()
        text = slack_to_plain(command.get("text") or "")
        if not text:
            await ack(text=USAGE, response_type="ephemeral")
            return
        await ack()
        request = Command(
            command["team_id"],
            command["channel_id"],
            command["user_id"],
            text,
            command.get("trigger_id", ""),
            received_at,
        )
        tasks.spawn(responder.answer_command(request, respond), name=f"ask {request.trigger_id}")

    async def on_reaction(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        tasks.spawn(feedback.record(body.get("event_id", ""), event, context.bot_user_id), name="feedback")

    app.event("reaction_added")(on_reaction)
    app.event("reaction_removed")(on_reaction)

    @app.event("app_home_opened")
    async def on_home_opened(body: dict[str, Any], event: dict[str, Any]) -> None:
        tasks.spawn(welcome.home_opened(body.get("team_id", ""), event), name="welcome")

    @app.event("assistant_thread_started")
    async def on_assistant_thread(event: dict[str, Any]) -> None:
        tasks.spawn(welcome.assistant_thread_started(event), name="suggested prompts")

    @app.event("assistant_thread_context_changed")
    async def on_assistant_context(event: dict[str, Any]) -> None:
        """Nothing to do: answers do not depend on the channel being viewed."""

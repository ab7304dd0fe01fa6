"""`lorebot run`: the Slack bot (socket mode) and the sync scheduler, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.cli.app import app
from bot.cli.common import load_settings
from bot.cli.common import run as run_command

if TYPE_CHECKING:
    from bot.settings import Settings

logger = logging.getLogger("lorebot.cli.run")


async def serve(settings: Settings) -> None:
    from bot.observability.readiness import Readiness, database_check, index_check
    from bot.observability.server import http_server
    from bot.runtime import open_runtime
    from bot.scheduling import SyncScheduler
    from bot.settings import secret_value
    from bot.slack.bot import build_slack_bot
    from bot.slack.client import build_web_client, require_tokens, verify_tokens
    from bot.slack.runner import SocketModeRunner

    bot_token, app_token = require_tokens(
        secret_value(settings.slack_bot_token), secret_value(settings.slack_app_token)
    )
    client = build_web_client(bot_token, settings.slack_api_url)
    identity = await verify_tokens(client, app_token)
    logger.info("Slack tokens accepted: bot user %s in team %s", identity.user_id, identity.team_id)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    async with AsyncExitStack() as stack:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
            stack.callback(loop.remove_signal_handler, signum)
        runtime = await stack.enter_async_context(open_runtime(settings))
        scopes = runtime.scopes(client)  # the [access] policy checked before anything starts
        readiness = Readiness()
        if settings.http_port:
            registry = runtime.metrics.registry
            await stack.enter_async_context(http_server(settings.http_host, settings.http_port, readiness, registry))
        readiness.add("database", database_check(runtime.engine))
        readiness.add("index", index_check(runtime.index))
        # Before any sync takes a lease: tracing the model holds the interpreter for a while,
        # and a lease not renewed meanwhile would be taken over by another replica.
        await (await runtime.embedder()).prepare_for_questions()
        if runtime.sources:
            scheduler = SyncScheduler(
                await runtime.sync_service(), runtime.schedules, settings.sync_jitter_seconds, runtime.metrics
            )
            scheduler.start()
            stack.push_async_callback(scheduler.close)  # cancels syncs in flight, releasing their leases
        else:
            logger.warning("no sources configured (REPOS, CONFLUENCE_*): answering from the index as it is")
        bot = build_slack_bot(
            client,
            runtime.conversations,
            runtime.claims,
            await runtime.answerer(),
            scopes,
            delivery_seconds=settings.slack_delivery_seconds,
            retention=timedelta(days=settings.event_retention_days),
            questions_per_minute=settings.user_questions_per_minute,
            concurrent_answers=settings.max_concurrent_answers,
            metrics=runtime.metrics,
        )
        runner = SocketModeRunner(bot, app_token, grace_seconds=settings.shutdown_grace_seconds)
        stack.push_async_callback(runner.close)
        await runner.start()
        readiness.add("slack", runner.is_connected)
        await runner.run_until(stop)
        logger.info("stopping: finishing answers in flight")


@app.command("run")
def run_bot() -> None:
    """Run the Slack bot (socket mode) and re-sync the sources on a schedule, until stopped."""
    from bot.observability.logs import configure_service_logging

    settings = load_settings()
    configure_service_logging(settings.log_format)
    run_command(serve(settings))

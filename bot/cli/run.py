"""`lorebot run`: the Slack bot (socket mode) and the sync scheduler, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import AsyncExitStack

from bot.cli.app import app
from bot.cli.runtime import CommandError, load_settings, run as run_command
from bot.conversations import SqlConversationStore
from bot.db.engine import upgrade
from bot.scheduling import start_sync_scheduler
from bot.settings import Settings, secret_value
from bot.slack.bot import build_slack_bot
from bot.slack.client import SlackTokenError, build_web_client, require_tokens, verify_tokens
from bot.slack.correlation import CorrelationFilter
from bot.slack.runner import SocketModeRunner
from bot.slack.watchdog import ConnectionLost
from bot.syncing import open_sync_service
from bot.wiring import build_answerer, build_sources, open_retriever

logger = logging.getLogger("lorebot.cli.run")


def _log_with_correlation_ids() -> None:
    """Every log line names the Slack event it belongs to; the bot's own activity is shown."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(CorrelationFilter())
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"))
    for name in ("bot", "lorebot"):
        if logging.getLogger(name).getEffectiveLevel() > logging.INFO:
            logging.getLogger(name).setLevel(logging.INFO)


async def serve(settings: Settings) -> None:
    try:
        bot_token, app_token = require_tokens(
            secret_value(settings.slack_bot_token), secret_value(settings.slack_app_token)
        )
        client = build_web_client(bot_token, settings.slack_api_url)
        identity = await verify_tokens(client, app_token)
    except SlackTokenError as exc:
        raise CommandError(str(exc)) from exc
    logger.info("Slack tokens accepted: bot user %s in team %s", identity.user_id, identity.team_id)
    await upgrade(settings.resolved_database_url)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    async with AsyncExitStack() as stack:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
            stack.callback(loop.remove_signal_handler, signum)
        store = SqlConversationStore.from_url(settings.resolved_database_url)
        stack.push_async_callback(store.close)
        retriever = await stack.enter_async_context(open_retriever(settings, require_content=False))
        if build_sources(settings):
            service = await stack.enter_async_context(
                open_sync_service(settings, index=retriever.index, embedder=retriever.embedder)
            )
            scheduler = start_sync_scheduler(service, settings.sync_interval_minutes)
            stack.callback(scheduler.shutdown, wait=False)
        else:
            logger.warning("no sources configured (REPOS, CONFLUENCE_*): answering from the index as it is")
        bot = build_slack_bot(client, store, build_answerer(settings, retriever))
        runner = SocketModeRunner(bot, app_token)
        stack.push_async_callback(runner.close)
        await runner.start()
        try:
            await runner.run_until(stop)
        except ConnectionLost as exc:
            raise CommandError(str(exc)) from exc
        logger.info("stopping: finishing answers in flight")


@app.command("run")
def run_bot() -> None:
    """Run the Slack bot (socket mode) and re-sync the sources on a schedule, until stopped."""
    settings = load_settings()
    _log_with_correlation_ids()
    run_command(serve(settings))

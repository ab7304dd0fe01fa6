"""`lorebot run`: the Slack bot (socket mode) and the sync scheduler, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from bot.cli.app import app
from bot.cli.common import load_settings
from bot.cli.common import run as run_command

if TYPE_CHECKING:
    from bot.settings import Settings

logger = logging.getLogger("lorebot.cli.run")


def _log_with_correlation_ids() -> None:
    """Every log line names the Slack event it belongs to; the bot's own activity is shown."""
    from bot.slack.correlation import CorrelationFilter

    for handler in logging.getLogger().handlers:
        handler.addFilter(CorrelationFilter())
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"))
    for name in ("bot", "lorebot"):
        if logging.getLogger(name).getEffectiveLevel() > logging.INFO:
            logging.getLogger(name).setLevel(logging.INFO)


async def serve(settings: Settings) -> None:
    from bot.runtime import open_runtime
    from bot.scheduling import start_sync_scheduler
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
        if runtime.sources:
            scheduler = start_sync_scheduler(await runtime.sync_service(), settings.sync_interval_minutes)
            stack.callback(scheduler.shutdown, wait=False)
        else:
            logger.warning("no sources configured (REPOS, CONFLUENCE_*): answering from the index as it is")
        bot = build_slack_bot(client, runtime.conversations, await runtime.answerer(), scopes)
        runner = SocketModeRunner(bot, app_token)
        stack.push_async_callback(runner.close)
        await runner.start()
        await runner.run_until(stop)
        logger.info("stopping: finishing answers in flight")


@app.command("run")
def run_bot() -> None:
    """Run the Slack bot (socket mode) and re-sync the sources on a schedule, until stopped."""
    settings = load_settings()
    _log_with_correlation_ids()
    run_command(serve(settings))

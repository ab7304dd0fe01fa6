"""The Web API client every Slack call goes through, and the start-up token check."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.retry_after import RetryAfterHandler
from knowledge.errors import LorebotError

DEFAULT_API_URL = "https://slack.com/api/"


class SlackTokenError(LorebotError):
    """A missing or rejected token; the message names the setting to fix."""


@dataclass(frozen=True)
class BotIdentity:
    team_id: str
    user_id: str


def build_web_client(token: str, base_url: str | None = None, rate_limit_retries: int = 3) -> AsyncWebClient:
    """`base_url` (SLACK_API_URL) replaces slack.com for every call, including apps.connections.open.
    A few 429s are retried after their `Retry-After` (a finished answer more: `retry_after.patiently`)."""
    url = base_url or DEFAULT_API_URL
    return AsyncWebClient(
        token=token,
        base_url=url if url.endswith("/") else url + "/",
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            RetryAfterHandler(max_retry_count=rate_limit_retries),
        ],
    )


def require_tokens(bot_token: str | None, app_token: str | None) -> tuple[str, str]:
    missing = [name for name, value in (("SLACK_BOT_TOKEN", bot_token), ("SLACK_APP_TOKEN", app_token)) if not value]
    if missing:
        raise SlackTokenError(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: give the bot token (xoxb-…) "
            "as SLACK_BOT_TOKEN and the app-level token with connections:write (xapp-…) as SLACK_APP_TOKEN."
        )
    assert bot_token and app_token
    return bot_token, app_token


async def verify_tokens(client: AsyncWebClient, app_token: str) -> BotIdentity:
    """auth.test for the bot token, apps.connections.open for the app token."""
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        raise SlackTokenError(
            f"Slack rejected SLACK_BOT_TOKEN ({exc.response.get('error')}); "
            "set it to the app's Bot User OAuth Token (xoxb-…)."
        ) from exc
    except (ClientError, OSError) as exc:
        raise SlackTokenError(f"Cannot reach Slack at {client.base_url} to check SLACK_BOT_TOKEN ({exc}).") from exc
    try:
        await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        raise SlackTokenError(
            f"Slack rejected SLACK_APP_TOKEN ({exc.response.get('error')}); set it to an app-level token (xapp-…) "
            "with the connections:write scope, and turn Socket Mode on for the app."
        ) from exc
    return BotIdentity(team_id=auth["team_id"], user_id=auth["user_id"])

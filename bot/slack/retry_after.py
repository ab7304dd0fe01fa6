"""Slack's 429s: wait as long as `Retry-After` says, and for a finished answer keep waiting.

Two layers use the same wait. Every Web API call retries a few 429s inside the SDK client
(`RetryAfterHandler`); a finished answer is retried on top of that (`patiently`) until a
deadline minutes away, because throwing it away is worse than posting it late.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

logger = logging.getLogger(__name__)

T = TypeVar("T")

JITTER = 0.1
"""Up to this fraction is added to a wait, so replicas limited together do not all retry at one instant."""


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) else value)
    return None


def wait_seconds(headers: Mapping[str, Any]) -> float:
    """How long Slack asks to wait (1 s when it does not say), plus a little jitter."""
    value = _header(headers, "retry-after")
    try:
        seconds = max(0.0, float(value)) if value is not None else 1.0
    except ValueError:
        seconds = 1.0
    return seconds * (1 + random.random() * JITTER)


def rate_limited(error: BaseException) -> bool:
    return isinstance(error, SlackApiError) and getattr(error.response, "status_code", None) == 429


class RetryAfterHandler(AsyncRetryHandler):
    """The SDK client's 429 retries: `Retry-After`, honoured as given."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code == 429

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        assert response is not None
        state.next_attempt_requested = True
        await asyncio.sleep(wait_seconds(response.headers))
        state.increment_current_attempt()


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    assert isinstance(error, SlackApiError)
    return wait_seconds(error.response.headers)


async def patiently(call: Callable[[], Awaitable[T]], deadline: float) -> T:
    """`call()`, retried on 429 after each `Retry-After` while the retry still starts before `deadline`
    (`time.monotonic()`); then the last 429 is raised."""

    def past_deadline(state: RetryCallState) -> bool:
        if time.monotonic() + (state.upcoming_sleep or 0.0) > deadline:
            return True
        logger.info("Slack rate limited a reply (attempt %d); retrying as Retry-After says", state.attempt_number)
        return False

    retrying = AsyncRetrying(retry=retry_if_exception(rate_limited), wait=_wait, stop=past_deadline, reraise=True)
    return await retrying(call)

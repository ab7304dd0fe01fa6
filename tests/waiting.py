"""Waiting on a condition in tests: polled, with a deadline, never a sleep standing in for an assert."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(condition: Callable[[], Awaitable[bool]], timeout: float = 60, poll: float = 0.05) -> None:
    """Wait until `condition()` holds; TimeoutError after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(poll)

"""Readiness: is each part `lorebot run` needs up right now (Slack socket, database, index)?

A part is "starting" until its check is added, then its check decides: it returns whether
the part is up, and one that raises or takes longer than `timeout` counts as down with the
reason. `/readyz` answers 200 only when every part is "ok".
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from knowledge.index import SearchIndex

Check = Callable[[], Awaitable[bool]]

PARTS = ("slack", "database", "index")
OK = "ok"


class Readiness:
    def __init__(self, parts: Sequence[str] = PARTS, timeout: float = 3.0) -> None:
        self.parts = tuple(parts)
        self.timeout = timeout
        self._checks: dict[str, Check] = {}

    def add(self, part: str, check: Check) -> None:
        """`part` (one of `parts`) is checked by `check` from now on."""
        self._checks[part] = check

    async def report(self) -> dict[str, str]:
        """Each part's state: "ok", "starting", "down", or why its check failed."""
        states = await asyncio.gather(*(self._state(part) for part in self.parts))
        return dict(zip(self.parts, states, strict=True))

    async def _state(self, part: str) -> str:
        check = self._checks.get(part)
        if check is None:
            return "starting"
        try:
            up = await asyncio.wait_for(check(), self.timeout)
        except TimeoutError:
            return f"no answer within {self.timeout:g} s"
        except Exception as exc:
            detail = next(iter(str(exc).splitlines()), "")
            return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        return OK if up else "down"


def database_check(engine: AsyncEngine) -> Check:
    async def check() -> bool:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True

    return check


READINESS_PROBE_HASH = "lorebot-readiness-probe"
"""A content hash no chunk has: looking it up is one indexed read on either backend
(`stats()` would list every document on Weaviate, on every probe of every replica)."""


def index_check(index: SearchIndex) -> Check:
    async def check() -> bool:
        await index.vectors_by_hash([READINESS_PROBE_HASH])
        return True

    return check

"""WAL mode for an SQLite file that several processes may open at the same moment.

Two processes switching a fresh file to WAL at once can deadlock on its locks; SQLite
then answers one of them "database is locked" at once, without waiting out the busy
timeout (it would never clear). Trying again a moment later succeeds: by then the other
process has switched the file, and the switch is a no-op.
"""

from __future__ import annotations

import sqlite3
from typing import Protocol

from tenacity import retry, retry_if_exception, stop_after_delay, wait_random_exponential


class Executes(Protocol):
    """An sqlite3 connection or cursor, or a driver's adapter of one."""

    def execute(self, sql: str) -> object: ...


def _is_locked(error: BaseException) -> bool:
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


@retry(
    retry=retry_if_exception(_is_locked),
    stop=stop_after_delay(30),
    wait=wait_random_exponential(multiplier=0.01, max=0.5),
    reraise=True,
)
def enable_wal(connection: Executes) -> None:
    connection.execute("PRAGMA journal_mode = WAL")

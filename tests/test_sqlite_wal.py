"""Processes that open one fresh embedded index at the same moment all start (two
replicas sharing a data directory, or `lorebot sync` beside `lorebot run`): switching a
new file to WAL from two processes at once used to fail one of them at once with
"database is locked", whatever the busy timeout."""

from __future__ import annotations

import asyncio
import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path

from knowledge.index.sqlite import SqliteIndex

TRIALS = 100  # without the retry some 40 of the 300 openings failed
PROCESSES = 3


def open_fresh_indexes(root: Path, start: Barrier) -> None:
    """Open a new index in each trial's directory, in step with the other processes; exit
    with how many openings failed."""
    failures = 0
    for trial in range(TRIALS):
        start.wait()
        try:
            asyncio.run(SqliteIndex(root / str(trial)).close())
        except Exception:
            failures += 1
    raise SystemExit(failures)


def test_processes_opening_one_fresh_index_at_once_all_start(tmp_path: Path) -> None:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    start = context.Barrier(PROCESSES)
    processes = [context.Process(target=open_fresh_indexes, args=(tmp_path, start)) for _ in range(PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * PROCESSES

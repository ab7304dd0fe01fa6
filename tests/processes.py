"""`lorebot` as real OS processes, for the tests (and benchmarks) that need several at once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lorebot_process(env: Mapping[str, str], *args: str, log: Path | None = None) -> subprocess.Popen[str]:
    """`lorebot ARGS` in a process of its own, on this checkout: stdout and stderr piped, or
    both written to `log` (for a long-running process, whose pipes nobody drains)."""
    output = open(log, "w") if log else subprocess.PIPE
    try:
        return subprocess.Popen(
            [sys.executable, "-c", "from bot.cli import app; app()", *args],
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT if log else subprocess.PIPE,
            text=True,
        )
    finally:
        if log:
            output.close()  # type: ignore[union-attr]

"""`lorebot` as real OS processes, for the tests (and benchmarks) that need several at once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lorebot_process(env: Mapping[str, str], *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    """`lorebot ARGS` in a process of its own, on this checkout; stdout and stderr piped."""
    return subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import app; app()", *args],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        cwd=cwd or ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

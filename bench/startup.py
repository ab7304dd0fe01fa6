"""Start-up cost of the `lorebot` commands: whole processes, as a person runs them.

    python bench/startup.py [--rounds 5]

`--help`, `db upgrade` and `feedback` must not load the model, torch or litellm; `ask` and
`search` run against the click corpus index of bench/quality.py (built first if missing)
and include loading the model. Prints min / median / max wall seconds per command.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from corpora.build import build, corpora
from quality import settings_for


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    (click,) = [c for c in corpora() if c.name == "click"]
    settings = settings_for(click)
    env = {**os.environ, "DATA_DIR": str(settings.data_dir), "REPOS": str(build(click))}
    lorebot = [str(Path(sys.executable).with_name("lorebot"))]
    if not (settings.data_dir / "index").exists():
        subprocess.run([*lorebot, "sync"], env=env, check=True)
    commands = {
        "--help": ["--help"],
        "db upgrade": ["db", "upgrade"],
        "feedback": ["feedback", "--json"],
        "search": ["search", "where does click decide the prog name", "--json"],
        "ask": ["ask", "where does click decide the prog name", "--json"],
    }
    print(f"{'command':<12} {'min':>6} {'median':>7} {'max':>6}   (seconds, {args.rounds} runs)")
    for name, command in commands.items():
        times = [timed([*lorebot, *command], env) for _ in range(args.rounds)]
        print(f"{name:<12} {min(times):6.2f} {statistics.median(times):7.2f} {max(times):6.2f}")


if __name__ == "__main__":
    main()

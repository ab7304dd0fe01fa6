"""The dev-set corpus: a git repository of the installed `rich` library's source, and
the questions about it.

rich is installed with lorebot (typer depends on it), so every machine has the same
real codebase to ask about. Its origin is set to the public GitHub URL (never fetched)
so links have the GitHub form.

    python bench/devset/corpus.py [TARGET]   # build only; default bench/.work/rich-repo
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import rich

from bot.runtime import open_runtime
from bot.settings import Settings

WORK = Path(__file__).resolve().parents[1] / ".work"
DEFAULT_TARGET = WORK / "rich-repo"
ANSWERABLE = Path(__file__).resolve().parent / "rich.jsonl"
UNANSWERABLE = Path(__file__).resolve().parent / "rich_unanswerable.jsonl"


def build(target: Path = DEFAULT_TARGET) -> Path:
    if (target / ".git").is_dir():
        return target
    source = Path(rich.__file__).parent
    shutil.copytree(source, target / "rich", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = {**os.environ, "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}
    git = ["git", "-C", str(target), "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "rich source"], check=True, env=env)
    subprocess.run([*git, "remote", "add", "origin", "https://github.com/Textualize/rich.git"], check=True)
    return target


async def synced_settings(data_dir_name: str = "data-answering") -> Settings:
    """Settings for an index of the corpus in `WORK/<data_dir_name>`, synced (incrementally)."""
    settings = Settings(data_dir=WORK / data_dir_name, repos=[str(build())])
    async with open_runtime(settings) as runtime:
        (summary,) = await (await runtime.sync_service()).sync()
    print(f"corpus synced: {summary.chunks_embedded} chunks embedded, {summary.seconds:.1f}s")
    return settings


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_TARGET))

"""`lorebot reindex --to weaviate|embedded`: copy the index into the other backend, vectors included."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from bot.cli.app import app
from bot.cli.common import load_settings, run
from bot.settings import IndexBackend

if TYPE_CHECKING:
    from bot.settings import Settings
    from knowledge.index.reindex import ReindexSummary


class _RichProgress:
    """A bar per step on a terminal: documents read, copied or removed of the step's total."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def step(self, description: str, total: int) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(description, total=total)

    def advance(self) -> None:
        if self.task is not None:
            self.progress.advance(self.task)


def summary_line(summary: ReindexSummary, target: str) -> str:
    return (
        f"Copied {summary.copied} documents to {target} ({summary.unchanged} already there, "
        f"{summary.removed} removed); both hold {summary.documents} documents and {summary.chunks} chunks "
        f"of {summary.model}, in {summary.seconds:.1f}s"
    )


@app.command()
def reindex(
    to: IndexBackend = typer.Option(..., "--to", help="The backend to copy the index into."),
) -> None:
    """Copy the index into the other backend with its vectors (nothing is embedded again).

    --to weaviate copies DATA_DIR/index into WEAVIATE_URL, --to embedded copies it back; a second run resumes.
    """
    settings = load_settings()
    source = IndexBackend.WEAVIATE if to is IndexBackend.EMBEDDED else IndexBackend.EMBEDDED
    console = Console(stderr=True)
    summary = run(_copy(settings, source, to, console))
    typer.echo(summary_line(summary, settings.index_name(to)))


async def _copy(settings: Settings, source: IndexBackend, target: IndexBackend, console: Console) -> ReindexSummary:
    from bot.runtime import build_index
    from knowledge.index.reindex import Endpoint, copy_index

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    async with AsyncExitStack() as stack:
        indexes = {}
        for backend in (IndexBackend.WEAVIATE, IndexBackend.EMBEDDED):  # Weaviate first: it needs WEAVIATE_URL
            indexes[backend] = build_index(settings, backend)
            stack.push_async_callback(indexes[backend].close)
        with bar:
            return await copy_index(
                Endpoint(indexes[source], settings.index_name(source)),
                Endpoint(indexes[target], settings.index_name(target)),
                _RichProgress(bar),
            )

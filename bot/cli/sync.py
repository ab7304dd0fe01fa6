"""`lorebot sync`: refresh the sources now."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from bot.cli.app import VERBOSE_HELP, app, configure_logging
from bot.cli.common import JSON_HELP, load_settings, print_json, run

if TYPE_CHECKING:
    from knowledge.sync import SyncSummary


class _RichProgress:
    """A live line per source on a terminal: documents indexed and chunks embedded."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        self.counts: dict[str, list[int]] = {}

    def advance(self, source: str, documents: int, chunks_embedded: int) -> None:
        if source not in self.tasks:
            self.tasks[source] = self.progress.add_task(source, total=None)
            self.counts[source] = [0, 0]
        counts = self.counts[source]
        counts[0] += documents
        counts[1] += chunks_embedded
        self.progress.update(
            self.tasks[source], description=f"{source}: {counts[0]} documents, {counts[1]} chunks embedded"
        )


def summary_line(summaries: list[SyncSummary]) -> str:
    def total(attr: str) -> int | float:
        return sum(getattr(s, attr) for s in summaries)

    failed = [s for s in summaries if s.error]
    line = (
        f"Synced {len(summaries) - len(failed)}/{len(summaries)} sources: {total('added')} added, "
        f"{total('updated')} updated, {total('deleted')} deleted, {total('skipped')} skipped, "
        f"{total('redacted')} secrets redacted; "
        f"{total('chunks_embedded')} chunks embedded in {total('seconds'):.1f}s"
    )
    return line + (f"; failed: {', '.join(s.name for s in failed)}" if failed else "")


@app.command()
def sync(
    source: list[str] = typer.Option([], "--source", help="Only this source (repeatable)."),
    full: bool = typer.Option(False, "--full", help="Re-read everything, not only what changed."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP + " Names each skipped file."),
) -> None:
    """Refresh the sources now: fetch what changed, embed only new content, update the index."""
    from bot.runtime import open_runtime

    if verbose:
        configure_logging(True)
    settings = load_settings()
    console = Console(stderr=True)
    show_progress = not as_json and console.is_terminal

    async def _sync() -> list[SyncSummary]:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not show_progress,
        ) as bar:
            async with open_runtime(settings) as runtime:
                service = await runtime.sync_service(_RichProgress(bar), rebuild_for_new_model=full)
                return await service.sync(source, full)

    summaries = run(_sync())
    if as_json:
        print_json({"sources": [s.as_json() for s in summaries]})
    else:
        for s in summaries:
            status = (
                f"failed: {s.error}"
                if s.error
                else (
                    f"{s.added} added, {s.updated} updated, {s.deleted} deleted, {s.skipped} skipped, "
                    f"{s.redacted} secrets redacted, {s.chunks_embedded} chunks embedded"
                )
            )
            typer.echo(f"{s.name} ({s.kind}): {status} [{s.seconds:.1f}s]")
            if s.skipped_files:
                reasons = Counter(skipped.reason for skipped in s.skipped_files)
                counts = ", ".join(f"{n} {reason}" for reason, n in reasons.most_common())
                typer.echo(f"  skipped: {counts} (-v or --json names them)")
            for note in s.notes:
                typer.echo(f"  note: {note}")
        typer.echo(summary_line(summaries))
    failed = [s for s in summaries if s.error]
    if failed:
        if as_json:
            typer.echo(f"lorebot: sync failed for {', '.join(s.name for s in failed)}: {failed[0].error}", err=True)
        raise typer.Exit(1)

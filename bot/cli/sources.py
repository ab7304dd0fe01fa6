"""`lorebot sources`: every source's last run, next run, what the index holds, and the lock holder."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.app import app
from bot.cli.common import JSON_HELP, load_settings, print_json, run

if TYPE_CHECKING:
    from bot.source_status import SourceStatus


COLUMNS = ("source", "kind", "schedule", "last run", "result", "next run", "documents", "chunks", "syncing now")


def _cells(status: SourceStatus) -> tuple[str, ...]:
    last = status.last_run
    if last is None:
        when, result = "never", ""
    elif last.finished is None:
        when, result = f"{last.started:%Y-%m-%d %H:%M:%S}", "running (or its replica died)"
    else:
        when = f"{last.started:%Y-%m-%d %H:%M:%S} ({(last.finished - last.started).total_seconds():.1f}s)"
        result = (
            f"failed: {last.error}"
            if last.error
            else f"+{last.added} ~{last.updated} -{last.deleted}, {last.chunks_embedded} chunks embedded"
        )
    return (
        status.name,
        status.kind,
        status.schedule,
        when,
        result,
        f"{status.next_run:%Y-%m-%d %H:%M:%S}",
        str(status.documents),
        str(status.chunks),
        status.lock_holder or "",
    )


def _print(statuses: list[SourceStatus]) -> None:
    """A table on a terminal; elsewhere a line per source, `column: value` separated by `; `."""
    console = Console()
    if console.is_terminal:
        table = Table(*COLUMNS, caption="times in UTC")
        for status in statuses:
            table.add_row(*_cells(status))
        console.print(table)
        return
    for status in statuses:
        typer.echo("; ".join(f"{column}: {cell}" for column, cell in zip(COLUMNS, _cells(status), strict=True) if cell))


@app.command()
def sources(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Every source: its last run, next run, documents and chunks in the index, and which replica syncs it now."""
    from bot.runtime import open_runtime
    from bot.source_status import source_statuses

    settings = load_settings()

    async def _statuses() -> list[SourceStatus]:
        async with open_runtime(settings) as runtime:
            return await source_statuses(runtime)

    statuses = run(_statuses())
    if as_json:
        print_json({"sources": [status.as_json() for status in statuses]})
    else:
        _print(statuses)

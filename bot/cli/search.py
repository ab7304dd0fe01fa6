"""`lorebot search`: retrieval only."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from bot.cli.app import app
from bot.cli.common import JSON_HELP, load_settings, print_json, run

if TYPE_CHECKING:
    from knowledge.index import SearchHit


def hit_json(rank: int, hit: SearchHit, query: str) -> dict:
    from knowledge.snippets import best_snippet

    chunk = hit.chunk
    return {
        "rank": rank,
        "score": round(hit.score, 4),
        "title": chunk.title,
        "url": chunk.url,
        "kind": chunk.kind,
        "source": chunk.source,
        "path": chunk.path,
        "snippet": best_snippet(chunk.text, query),
    }


@app.command()
def search(
    query: str = typer.Argument(..., help="What to look for."),
    k: int = typer.Option(10, "-k", min=1, max=100, help="How many results."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Search the index (no answer): the best passages with their links."""
    from bot.runtime import open_runtime
    from knowledge.retriever import validate_query

    settings = load_settings()

    async def _search() -> tuple[str, list[SearchHit]]:
        text = validate_query(query)
        async with open_runtime(settings) as runtime:
            return text, await (await runtime.retriever()).search(text, k)

    text, hits = run(_search())
    if as_json:
        print_json({"query": text, "results": [hit_json(rank, hit, text) for rank, hit in enumerate(hits, 1)]})
        return
    if not hits:
        typer.echo("No results.")
    for rank, hit in enumerate(hits, 1):
        typer.echo(f"{rank:>2}. {hit.score:.3f}  {hit.chunk.title}\n    {hit.chunk.url}")

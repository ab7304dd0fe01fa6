"""`lorebot search`: retrieval only."""

from __future__ import annotations

import typer

from bot.cli.app import app
from bot.cli.runtime import load_settings, print_json, run
from bot.wiring import open_retriever
from knowledge.index import SearchHit
from knowledge.snippets import best_snippet


def hit_json(rank: int, hit: SearchHit, query: str) -> dict:
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
    as_json: bool = typer.Option(False, "--json", help="Print JSON (see DESIGN.md)."),
) -> None:
    """Search the index (no answer): the best passages with their links."""
    settings = load_settings()

    async def _search() -> list[SearchHit]:
        async with open_retriever(settings) as retriever:
            return await retriever.search(query, k)

    hits = run(_search())
    if as_json:
        print_json({"query": query, "results": [hit_json(rank, hit, query) for rank, hit in enumerate(hits, 1)]})
        return
    if not hits:
        typer.echo("No results.")
    for rank, hit in enumerate(hits, 1):
        typer.echo(f"{rank:>2}. {hit.score:.3f}  {hit.chunk.title}\n    {hit.chunk.url}")

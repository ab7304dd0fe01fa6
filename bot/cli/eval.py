"""`lorebot eval`: retrieval quality on a JSONL question set."""

from __future__ import annotations

from pathlib import Path

import typer

from bot.cli.app import app
from bot.cli.runtime import load_settings, print_json, run
from bot.wiring import open_retriever
from knowledge.evaluation import EvalResult, load_questions, metrics


@app.command("eval")
def evaluate(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSONL: id, question, expected."),
    k: int = typer.Option(10, "-k", min=1, max=100, help="Results per question (recall@10 needs 10)."),
    alpha: float | None = typer.Option(
        None, min=0.0, max=1.0, help="Override SEARCH_ALPHA: 0 = keywords (BM25) only, 1 = vectors only."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (see DESIGN.md)."),
) -> None:
    """Measure retrieval: recall@1/5/10 and MRR@10, and how often unanswerable questions abstain."""
    settings = load_settings()

    async def _evaluate() -> list[EvalResult]:
        questions = load_questions(file)
        async with open_retriever(settings) as retriever:
            return [EvalResult(q, await retriever.search(q.question, k, alpha=alpha)) for q in questions]

    results = run(_evaluate())
    scores = metrics(results, settings.abstain_threshold)
    if as_json:
        print_json({
            "k": k,
            "metrics": scores,
            "questions": [
                {
                    "id": r.question.id,
                    "first_hit_rank": r.first_hit_rank,
                    "results": [
                        {"rank": rank, "score": round(hit.score, 4), "url": hit.chunk.url, "path": hit.chunk.path}
                        for rank, hit in enumerate(r.hits, 1)
                    ],
                }
                for r in results
            ],
        })
        return
    for r in results:
        if r.question.expected:
            typer.echo(f"{r.question.id:<24} first hit: {r.first_hit_rank or '-'}")
    typer.echo("  ".join(f"{name} {value:g}" for name, value in scores.items()))

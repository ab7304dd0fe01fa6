"""`lorebot eval`: retrieval quality on a JSONL question set."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bot.cli.app import app
from bot.cli.common import JSON_HELP, load_settings, print_json, run

if TYPE_CHECKING:
    from knowledge.evaluation import EvalResult


def eval_json(k: int, scores: dict[str, float], results: list[EvalResult]) -> dict:
    return {
        "k": k,
        "metrics": scores,
        "questions": [
            {
                "id": r.question.id,
                "first_hit_rank": r.first_hit_rank,
                "abstained": r.abstained,
                "results": [
                    {"rank": rank, "score": round(hit.score, 4), "url": hit.chunk.url, "path": hit.chunk.path}
                    for rank, hit in enumerate(r.hits, 1)
                ],
            }
            for r in results
        ],
    }


@app.command("eval")
def evaluate(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSONL: id, question, expected."),
    k: int = typer.Option(10, "-k", min=1, max=100, help="Results per question (recall@10 needs 10)."),
    alpha: float | None = typer.Option(
        None, min=0.0, max=1.0, help="Override SEARCH_ALPHA: 0 = keywords (BM25) only, 1 = vectors only."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Measure retrieval: recall@1/5/10 and MRR@10, and how often unanswerable questions abstain."""
    from bot.runtime import open_runtime
    from knowledge.evaluation import EvalResult, load_questions, metrics
    from knowledge.retriever import validate_query

    settings = load_settings()

    async def _evaluate() -> tuple[list[EvalResult], bool]:
        questions = load_questions(file)
        async with open_runtime(settings) as runtime:
            retriever = await runtime.retriever()
            results = []
            for q in questions:
                found = await retriever.retrieve(validate_query(q.question), k, alpha=alpha)
                results.append(EvalResult(q, found.hits, found.abstain))
            indexed = any(r.first_hit_rank for r in results) or await runtime.sync_state.holds_any(
                [entry for q in questions for entry in q.expected]
            )
            return results, indexed

    results, indexed = run(_evaluate())
    if not indexed and any(r.question.expected for r in results):
        typer.echo(
            f"lorebot: no expected source of {file} is in the index: sync the corpus it asks about first "
            "(its scores below are all zero for that reason).",
            err=True,
        )
    scores = metrics(results)
    if as_json:
        print_json(eval_json(k, scores, results))
        return
    for r in results:
        if r.question.expected:
            typer.echo(f"{r.question.id:<24} first hit: {r.first_hit_rank or '-'}")
    typer.echo("  ".join(f"{name} {value:g}" for name, value in scores.items()))

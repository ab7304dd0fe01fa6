"""`lorebot feedback`: answers given in Slack with their question, sources and reactions,
and the well-rated ones as eval questions, so real use grows the retrieval dev set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bot.cli.app import app
from bot.cli.common import JSON_HELP, load_settings, print_json, run

if TYPE_CHECKING:
    from bot.conversations import AnswerWithFeedback


def feedback_json(row: AnswerWithFeedback) -> dict:
    return {
        "id": row.id,
        "created_at": row.created_at.isoformat(),
        "question": row.question,
        "standalone_query": row.standalone_query,
        "answer": row.text,
        "abstained": row.abstained,
        "model": row.model,
        "latency_ms": row.latency_ms,
        "channel": row.channel_id,
        "message_ts": row.message_ts,
        "score": net_score(row),
        "sources": [
            {
                "rank": s.rank,
                "score": round(s.score, 4),
                "title": s.title,
                "url": s.url,
                "source": s.source,
                "path": s.path,
                "cited": s.cited,
            }
            for s in row.sources
        ],
        "reactions": [
            {
                "user": r.user_id,
                "reaction": r.reaction,
                "polarity": r.polarity,
                "created_at": r.created_at.isoformat(),
                "removed_at": r.removed_at.isoformat() if r.removed_at else None,
            }
            for r in row.reactions
        ],
    }


def net_score(row: AnswerWithFeedback) -> int:
    return sum(r.polarity for r in row.reactions if r.removed_at is None)


def eval_lines(rows: list[AnswerWithFeedback]) -> list[dict]:
    """`lorebot eval` lines from answers people rated up: the query retrieval got, and the
    paths it cited (paths, not links: links carry a commit and go stale)."""
    lines = []
    for row in rows:
        cited = list(dict.fromkeys(s.path for s in row.sources if s.cited and s.path))
        if net_score(row) > 0 and cited and not row.abstained:
            lines.append({"id": f"feedback-{row.id}", "question": row.standalone_query, "expected": cited})
    return lines


def answer_text(row: AnswerWithFeedback) -> str:
    standing = [r for r in row.reactions if r.removed_at is None]
    tally = " ".join(f":{r.reaction}:" for r in standing) or "no reactions"
    lines = [
        f"{row.created_at:%Y-%m-%d %H:%M}  {row.channel_id or '-'}  {tally}{'  (abstained)' if row.abstained else ''}",
        f"  Q: {row.question}",
    ]
    lines += [f"  [{s.rank}]{'*' if s.cited else ' '} {s.title}  {s.url}" for s in row.sources]
    removed = [r for r in row.reactions if r.removed_at is not None]
    if removed:
        lines.append("  removed: " + ", ".join(f":{r.reaction}: by {r.user_id}" for r in removed))
    return "\n".join(lines)


@app.command()
def feedback(
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="How many answers, newest first."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    eval_out: Path | None = typer.Option(
        None, "--eval-out", dir_okay=False, help="Also write answers rated up as `lorebot eval` JSONL lines here."
    ),
) -> None:
    """Answers given in Slack, newest first: question, sources (* = cited) and reactions."""
    from bot.runtime import open_runtime

    settings = load_settings()

    async def _load() -> list[AnswerWithFeedback]:
        async with open_runtime(settings) as runtime:
            return await runtime.conversations.answers_with_feedback(limit)

    rows = run(_load())
    if eval_out:
        lines = eval_lines(rows)
        eval_out.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        typer.echo(f"Wrote {len(lines)} eval questions to {eval_out}.", err=True)
    if as_json:
        print_json({"answers": [feedback_json(row) for row in rows]})
    elif not rows:
        typer.echo("No answers yet.")
    else:
        typer.echo("\n\n".join(answer_text(row) for row in rows))

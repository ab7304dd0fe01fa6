"""`lorebot feedback`: answers given in Slack with their question, sources and reactions."""

from __future__ import annotations

import typer

from bot.cli.app import app
from bot.cli.runtime import load_settings, print_json, run
from bot.conversations import AnswerWithFeedback, SqlConversationStore
from bot.db.engine import upgrade


def answer_json(row: AnswerWithFeedback) -> dict:
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
        "score": sum(r.polarity for r in row.reactions if r.removed_at is None),
        "sources": [
            {"rank": s.rank, "score": round(s.score, 4), "title": s.title, "url": s.url, "source": s.source,
             "path": s.path, "cited": s.cited}
            for s in row.sources
        ],
        "reactions": [
            {"user": r.user_id, "reaction": r.reaction, "polarity": r.polarity, "created_at": r.created_at.isoformat(),
             "removed_at": r.removed_at.isoformat() if r.removed_at else None}
            for r in row.reactions
        ],
    }


def answer_text(row: AnswerWithFeedback) -> str:
    standing = [r for r in row.reactions if r.removed_at is None]
    tally = " ".join(f":{r.reaction}:" for r in standing) or "no reactions"
    lines = [f"{row.created_at:%Y-%m-%d %H:%M}  {row.channel_id or '-'}  {tally}{'  (abstained)' if row.abstained else ''}",
             f"  Q: {row.question}"]
    lines += [f"  [{s.rank}]{'*' if s.cited else ' '} {s.title}  {s.url}" for s in row.sources]
    removed = [r for r in row.reactions if r.removed_at is not None]
    if removed:
        lines.append("  removed: " + ", ".join(f":{r.reaction}: by {r.user_id}" for r in removed))
    return "\n".join(lines)


@app.command()
def feedback(
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="How many answers, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Answers given in Slack, newest first: question, sources (* = cited) and reactions."""
    settings = load_settings()

    async def _load() -> list[AnswerWithFeedback]:
        await upgrade(settings.resolved_database_url)
        store = SqlConversationStore.from_url(settings.resolved_database_url)
        try:
            return await store.answers_with_feedback(limit)
        finally:
            await store.close()

    rows = run(_load())
    if as_json:
        print_json({"answers": [answer_json(row) for row in rows]})
    elif not rows:
        typer.echo("No answers yet.")
    else:
        typer.echo("\n\n".join(answer_text(row) for row in rows))

"""`lorebot ask`: the full answer pipeline from the terminal."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import typer

from bot.cli.app import app
from bot.cli.common import JSON_HELP, load_settings, print_json, run

if TYPE_CHECKING:
    from bot.answering import Answer


def ask_json(answer: Answer, answer_id: str) -> dict:
    return {
        "id": answer_id,
        "answer": answer.text,
        "abstained": answer.abstained,
        "citations": [{"n": c.n, "title": c.title, "url": c.url} for c in answer.citations],
    }


def answer_text(answer: Answer) -> str:
    lines = [answer.text]
    if answer.note:
        lines += ["", f"({answer.note})"]
    if answer.citations:
        lines += ["", "Sources:"] + [f"[{c.n}] {c.title}\n    {c.url}" for c in answer.citations]
    return "\n".join(lines)


@app.command()
def ask(
    question: str = typer.Argument(..., help="A question about your code or Confluence."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Answer a question from the indexed sources, with links."""
    from bot.runtime import open_runtime
    from knowledge.retriever import validate_query

    settings = load_settings()

    async def _ask() -> Answer:
        text = validate_query(question)
        async with open_runtime(settings) as runtime:
            return await (await runtime.answerer()).answer(text)

    answer = run(_ask())
    if as_json:
        print_json(ask_json(answer, uuid.uuid4().hex))
    else:
        typer.echo(answer_text(answer))

"""`lorebot ask`: the full answer pipeline from the terminal."""

from __future__ import annotations

import typer

from bot.answering import Answer
from bot.cli.app import app
from bot.cli.runtime import load_settings, print_json, run
from bot.wiring import build_answerer, open_retriever


def answer_json(answer: Answer) -> dict:
    return {
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
    as_json: bool = typer.Option(False, "--json", help="Print JSON (see DESIGN.md)."),
) -> None:
    """Answer a question from the indexed sources, with links."""
    settings = load_settings()

    async def _ask() -> Answer:
        async with open_retriever(settings) as retriever:
            return await build_answerer(settings, retriever).answer(question)

    answer = run(_ask())
    if as_json:
        print_json(answer_json(answer))
    else:
        typer.echo(answer_text(answer))

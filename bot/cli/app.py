"""The `lorebot` Typer application; commands register themselves in their modules."""

from __future__ import annotations

import logging

import typer

app = typer.Typer(
    name="lorebot",
    help="Answers from your Confluence spaces and code repositories, with links.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log details to stderr.")) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        for noisy in ("httpx", "LiteLLM", "sentence_transformers", "transformers"):
            logging.getLogger(noisy).setLevel(logging.ERROR)

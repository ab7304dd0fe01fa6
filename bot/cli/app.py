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


VERBOSE_HELP = "Log details to stderr."


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP)) -> None:
    configure_logging(verbose)


def configure_logging(verbose: bool) -> None:
    """INFO to stderr with `-v` (`lorebot -v CMD`, or `lorebot sync -v`), else warnings only."""
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbose:
        logging.getLogger().setLevel(level)  # also when logging was configured before (`sync -v`, a test)
    for noisy in ("httpx", "LiteLLM", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.NOTSET if verbose else logging.ERROR)

"""The `lorebot` command line. Importing the command modules registers them on `app`."""

from bot.cli import ask, db, eval, feedback, reindex, run, search, sources, sync  # noqa: F401
from bot.cli.app import app

__all__ = ["app"]

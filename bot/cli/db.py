"""`lorebot db upgrade`."""

from __future__ import annotations

import typer

from bot.cli.app import db_app
from bot.cli.runtime import load_settings, run
from bot.db.engine import upgrade as upgrade_database


@db_app.command("upgrade")
def upgrade() -> None:
    """Apply the database migrations (Alembic, to head). Also done at every start."""
    settings = load_settings()
    run(upgrade_database(settings.resolved_database_url))
    typer.echo("Database is up to date.")

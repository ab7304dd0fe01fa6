"""`lorebot db upgrade`."""

from __future__ import annotations

import typer

from bot.cli.app import db_app
from bot.cli.common import load_settings, run


@db_app.command("upgrade")
def upgrade() -> None:
    """Apply the database migrations (Alembic, to head). Also done at every start."""
    from bot.db.engine import upgrade as upgrade_database

    settings = load_settings()
    run(upgrade_database(settings.resolved_database_url))
    typer.echo("Database is up to date.")

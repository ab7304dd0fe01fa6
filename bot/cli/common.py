"""What every command shares: settings, running async code, and errors turned into one sentence."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError

from bot.settings import Settings
from knowledge.errors import LorebotError

logger = logging.getLogger("lorebot.cli")

T = TypeVar("T")

JSON_HELP = "Print JSON (shapes in docs/architecture.md#json-output)."


def fail(message: str) -> NoReturn:
    typer.echo(f"lorebot: {message}", err=True)
    raise typer.Exit(1)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        fail(f"invalid settings: {problems}")
    except LorebotError as exc:
        fail(str(exc))


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; known failures become one line on stderr and exit 1."""
    from sqlalchemy.exc import DBAPIError, OperationalError  # sqlalchemy: only for commands that run

    try:
        return asyncio.run(coroutine)
    except LorebotError as exc:
        logger.info("command failed", exc_info=True)  # shown with -v
        fail(str(exc) or type(exc).__name__)
    except (OperationalError, DBAPIError, OSError) as exc:  # asyncpg raises OSError itself when refused
        logger.info("database or I/O failure", exc_info=True)  # shown with -v
        detail = next(iter(str(exc).splitlines()), "") or "no detail"
        fail(
            f"cannot reach the database or a file it needs ({type(exc).__name__}: {detail}); "
            "check DATABASE_URL and DATA_DIR."
        )


def print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")

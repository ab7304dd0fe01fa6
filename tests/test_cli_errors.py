"""Failures at the CLI edge become one line and exit 1, whatever the exception carries."""

import pytest
import typer

from bot.cli.common import run


async def _refused() -> None:
    raise ConnectionRefusedError()  # as asyncpg raises it: no message at all


def test_an_error_without_a_message_still_gives_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as exited:
        run(_refused())
    assert exited.value.exit_code == 1
    assert capsys.readouterr().err.strip() == (
        "lorebot: cannot reach the database or a file it needs (ConnectionRefusedError: no detail); "
        "check DATABASE_URL and DATA_DIR."
    )

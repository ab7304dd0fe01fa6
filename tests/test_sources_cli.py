"""`lorebot sources [--json]` on a real git repository and SQLite: the JSON contract, next
runs from the schedule and the last run, index counts, the lock holder; and `lorebot sync`
waiting for a lease another replica holds."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.db.engine import create_engine, session_factory, upgrade
from bot.db.leases import Lease, SqlLeases
from knowledge.schedule import Schedule
from tests.sample_repo import SAMPLE_INDEXED, SampleRepo

SOURCE_KEYS = {"name", "kind", "last_run", "next_run", "documents", "chunks", "lock_holder"}
RUN_KEYS = {"started", "finished", "added", "updated", "deleted", "chunks_embedded", "error"}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    repo = SampleRepo.with_sample_files(tmp_path / "widgets")
    config = tmp_path / "lorebot.toml"
    config.write_text(
        f'[[sources]]\nkind = "git"\nurl = "{repo.path}"\n\n'
        f'[[sources]]\nkind = "git"\nname = "nightly"\nurl = "{repo.path}"\ncron = "30 2 * * *"\n'
    )
    return {"DATA_DIR": str(tmp_path / "data"), "LOREBOT_CONFIG": str(config), "SYNC_INTERVAL_MINUTES": "15"}


def lorebot_json(env: dict[str, str], *args: str) -> dict:
    result = CliRunner().invoke(app, [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def moment(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    assert parsed.utcoffset() is not None and not parsed.utcoffset()  # ISO 8601 in UTC
    return parsed


def hold_lease(env: dict[str, str], source: str, holder: str, seconds: float) -> Lease:
    url = f"sqlite+aiosqlite:///{Path(env['DATA_DIR']) / 'lorebot.db'}"

    async def acquire() -> Lease:
        await upgrade(url)
        engine = create_engine(url)
        try:
            return await SqlLeases(session_factory(engine)).acquire(source, holder, seconds)
        finally:
            await engine.dispose()

    return asyncio.run(acquire())


def test_sources_before_and_after_a_sync(env: dict[str, str]) -> None:
    before = datetime.now(UTC)
    listed = lorebot_json(env, "sources")["sources"]
    assert [set(s) for s in listed] == [SOURCE_KEYS, SOURCE_KEYS]
    assert [(s["name"], s["kind"], s["last_run"], s["documents"], s["chunks"]) for s in listed] == [
        ("widgets", "git", None, 0, 0),
        ("nightly", "git", None, 0, 0),
    ]
    assert all(moment(s["next_run"]) >= before for s in listed)  # never synced: due now
    assert all(s["lock_holder"] is None for s in listed)

    (synced, _nightly) = lorebot_json(env, "sync")["sources"]
    widgets, nightly = lorebot_json(env, "sources")["sources"]
    run = widgets["last_run"]
    assert set(run) == RUN_KEYS
    assert {key: run[key] for key in RUN_KEYS - {"started", "finished"}} == {
        key: synced[key] for key in RUN_KEYS - {"started", "finished"}
    }
    started, finished = moment(run["started"]), moment(run["finished"])
    assert before <= started <= finished
    assert moment(widgets["next_run"]) == Schedule(interval_seconds=15 * 60).next_fire(started)
    assert moment(nightly["next_run"]) == Schedule(cron="30 2 * * *").next_fire(moment(nightly["last_run"]["started"]))
    assert moment(nightly["next_run"]).time().isoformat() == "02:30:00"
    assert widgets["documents"] == len(SAMPLE_INDEXED) and widgets["chunks"] >= widgets["documents"]
    assert widgets["lock_holder"] is None


def test_sources_names_the_replica_holding_a_lease_and_prints_lines_off_a_terminal(env: dict[str, str]) -> None:
    hold_lease(env, "nightly", "replica-7:42", 600)
    widgets, nightly = lorebot_json(env, "sources")["sources"]
    assert (widgets["lock_holder"], nightly["lock_holder"]) == (None, "replica-7:42")

    table = CliRunner().invoke(app, ["sources"], env=env)
    assert table.exit_code == 0, table.output
    first, second = table.output.splitlines()
    assert first.startswith("source: widgets; kind: git; schedule: every 900s; last run: never; next run: ")
    assert second.startswith("source: nightly; kind: git; schedule: cron 30 2 * * *; last run: never")
    assert second.endswith("; documents: 0; chunks: 0; syncing now: replica-7:42")


def test_sync_waits_for_a_lease_held_elsewhere_then_syncs(env: dict[str, str]) -> None:
    held = hold_lease(env, "widgets", "crashed:1", 1.5)  # never renewed: it expires
    (summary,) = lorebot_json(env, "sync", "--source", "widgets")["sources"]
    assert summary["error"] is None and summary["added"] == len(SAMPLE_INDEXED)
    (widgets, _) = lorebot_json(env, "sources")["sources"]
    assert moment(widgets["last_run"]["started"]) >= held.expires_at

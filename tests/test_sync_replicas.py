"""Two `lorebot run` replicas (real processes) against one real PostgreSQL and the Slack
emulator: they never sync one source at once, and a replica killed (SIGKILL) while it
holds a source's lease has that source taken over once the lease expires."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.db.engine import create_engine, session_factory, upgrade
from bot.db.leases import SqlLeases
from tests.fakes.confluence_server import FakeConfluence, days_ago
from tests.fakes.slack_server import FakeSlack
from tests.replicas import overlapping, recorded_runs, replica_env, start_replica, stop
from tests.sample_repo import SampleRepo
from tests.waiting import eventually

SOURCES = 3
RUNS_EACH = 4


def ran_in(holder: str | None, pid: int) -> bool:
    """Whether a lease or run holder (`hostname:pid:random`) is the replica process `pid`."""
    return bool(holder) and holder.startswith(f"{os.uname().nodename}:{pid}:")


def logs_of(*paths: Path) -> str:
    return "\n".join(f"--- {path.name}\n{path.read_text()[-3000:]}" for path in paths)


async def test_two_replicas_never_sync_one_source_at_once(fake: FakeSlack, postgres_url: str, tmp_path: Path) -> None:
    repo = SampleRepo.with_sample_files(tmp_path / "widgets")
    config = tmp_path / "lorebot.toml"
    config.write_text(
        "".join(
            f'[[sources]]\nkind = "git"\nname = "repo-{n}"\nurl = "{repo.path}"\ninterval_seconds = 1\n\n'
            for n in range(SOURCES)
        )
    )
    env = replica_env(fake, postgres_url, tmp_path / "data", config, lease_seconds=5)
    await upgrade(postgres_url)  # so the runs can be read from the start (starting on a fresh one: test_migrations)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    replicas = [start_replica(env, log) for log in logs]
    try:

        async def every_source_synced_often() -> bool:
            finished = [run for run in await recorded_runs(postgres_url) if run.finished]
            return all(sum(run.source == f"repo-{n}" for run in finished) >= RUNS_EACH for n in range(SOURCES))

        await eventually(every_source_synced_often, timeout=300, poll=0.2)
        runs, seen_at = await recorded_runs(postgres_url), datetime.now(UTC)
    finally:
        codes = [await stop(replica) for replica in replicas]
    assert codes == [0, 0], logs_of(*logs)
    assert not overlapping(runs, until=seen_at), logs_of(*logs)
    assert all(any(ran_in(run.holder, replica.pid) for replica in replicas) for run in runs)
    assert all("Traceback" not in log.read_text().partition("stopping:")[0] for log in logs), logs_of(*logs)


@pytest.fixture
def stalling_confluence() -> Iterator[FakeConfluence]:
    """A Confluence that answers nothing until released: whoever syncs first hangs holding the
    lease, however long the other replica takes to start (not a fixed delay a slow start outlasts)."""
    with FakeConfluence() as server:
        server.add_space("ENG", "Engineering")
        server.add_page("ENG", "Release Process", "<p>Tag main and let CI publish.</p>", when=days_ago(3))
        server.hold()
        yield server
        server.release()


async def test_a_killed_lease_holder_is_taken_over_after_its_lease_expires(
    fake: FakeSlack, stalling_confluence: FakeConfluence, postgres_url: str, tmp_path: Path
) -> None:
    confluence = stalling_confluence
    config = tmp_path / "lorebot.toml"
    config.write_text(
        f'[[sources]]\nkind = "confluence"\nname = "wiki"\nurl = "{confluence.url}"\nspaces = ["ENG"]\n'
        f'username = "{confluence.username}"\napi_token = "{confluence.api_token}"\ninterval_seconds = 1\n'
    )
    env = replica_env(fake, postgres_url, tmp_path / "data", config, lease_seconds=3)
    await upgrade(postgres_url)
    engine = create_engine(postgres_url)
    leases = SqlLeases(session_factory(engine))
    logs = {}
    replicas = []
    for name in ("a", "b"):
        replicas.append(replica := start_replica(env, tmp_path / f"{name}.log"))
        logs[replica.pid] = tmp_path / f"{name}.log"
    try:

        async def one_holds_it_and_the_other_waits() -> bool:
            lease = (await leases.held()).get("wiki")
            others = [pid for pid in logs if lease and not ran_in(lease.holder, pid)]
            return lease is not None and len(others) == 1 and "lock wait: wiki" in logs[others[0]].read_text()

        # the holder hangs on Confluence's first answer
        await eventually(one_holds_it_and_the_other_waits, timeout=300, poll=0.2)
        lease = (await leases.held())["wiki"]
        holder = next(r for r in replicas if ran_in(lease.holder, r.pid))
        survivor = next(r for r in replicas if r is not holder)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        confluence.release()

        async def survivor_synced_it() -> bool:
            return any(ran_in(run.holder, survivor.pid) and run.finished for run in await recorded_runs(postgres_url))

        await eventually(survivor_synced_it, timeout=120, poll=0.2)
        runs = await recorded_runs(postgres_url)
    finally:
        await engine.dispose()
        codes = [await stop(replica) for replica in replicas]
    assert codes == [-signal.SIGKILL, 0] if replicas[0] is holder else [0, -signal.SIGKILL]
    dead, *taken_over = runs
    assert dead.holder == lease.holder and dead.finished is None  # killed mid-sync
    assert taken_over and all(ran_in(run.holder, survivor.pid) for run in taken_over)
    assert taken_over[0].started >= lease.expires_at  # never while the dead replica's lease ran

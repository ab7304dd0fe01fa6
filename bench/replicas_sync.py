"""Two `lorebot run` replicas syncing 10 sources on a 1-second interval against one PostgreSQL.

    python bench/replicas_sync.py [--sources 10] [--seconds 60] [--lease 10]

Both replicas are real processes (`lorebot -v run`) on the Slack emulator
(tests/fakes/slack_server.py), one embedded PostgreSQL (pgserver; or TEST_DATABASE_URL),
one shared DATA_DIR (the embedded index), and 10 small local git repositories, each a
`[[sources]]` entry with `interval_seconds = 1`. One repository gets a new commit every
few seconds, so some syncs index changes. The window starts when both replicas are
connected to Slack. Printed: syncs completed in the window (per replica), overlapping runs
of one source (from the runs recorded in the database; must be 0), lock waits (a
replica's trigger finding the source's lease held: its log's "lock wait" lines), and runs
in flight at the end (cancelled by the SIGTERM that stops the replicas). Work files go to bench/.work/replicas_sync.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.*

from sqlalchemy.engine import make_url

from bot.db.engine import upgrade
from tests.fakes.slack_server import FakeSlack
from tests.replicas import overlapping, recorded_runs, replica_env, start_replica, stop
from tests.sample_repo import SampleRepo

WORK = Path(__file__).parent / ".work" / "replicas_sync"


async def database() -> tuple[str, object | None]:
    """TEST_DATABASE_URL, else a fresh embedded pgserver; (async URL, server to clean up)."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        url, server = given, None
    else:
        import pgserver

        data = Path(tempfile.mkdtemp(prefix="lorebot-bench-pg-"))  # outside WORK: pgserver's own user reads it
        server = pgserver.get_server(data, cleanup_mode="stop")
        url = server.get_uri()
    parsed = make_url(url).set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False), server


async def main(sources: int, seconds: float, lease: float) -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    url, server = await database()
    repos = [SampleRepo.with_sample_files(WORK / f"repo-{n}") for n in range(sources)]
    config = WORK / "lorebot.toml"
    config.write_text(
        "".join(
            f'[[sources]]\nkind = "git"\nname = "repo-{n}"\nurl = "{repo.path}"\ninterval_seconds = 1\n\n'
            for n, repo in enumerate(repos)
        )
    )
    await upgrade(url)
    fake = FakeSlack()
    await fake.start()
    logs = [WORK / "a.log", WORK / "b.log"]
    env = replica_env(fake, url, WORK / "data", config, lease_seconds=lease)
    replicas = [start_replica(env, log) for log in logs]
    try:
        await fake.wait_connected(count=2, timeout=300)
        window_start = datetime.now(UTC)
        print(f"both replicas up; measuring {seconds:g} s", flush=True)
        commits = 0
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(3)
            repos[0].write("CHANGES.md", f"change {commits}\n")
            repos[0].commit(f"change {commits}")
            commits += 1
        window_end = datetime.now(UTC)
        runs = await recorded_runs(url)
    finally:
        codes = [await stop(replica) for replica in replicas]
        await fake.stop()
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]
    holders = {f"{os.uname().nodename}:{replica.pid}": name for replica, name in zip(replicas, "ab", strict=True)}
    in_window = [run for run in runs if window_start <= run.started and run.finished and run.finished <= window_end]
    by_replica = Counter(holders.get(run.holder or "", "?") for run in in_window)
    texts = [log.read_text() for log in logs]
    waits = [text.count("lock wait:") for text in texts]
    print(f"sources: {sources}, interval 1 s, lease {lease:g} s, window {seconds:g} s, {commits} commits to repo-0")
    print(
        f"syncs completed: {len(in_window)} (replica a {by_replica['a']}, b {by_replica['b']}); "
        f"{len(in_window) / sources / seconds:.2f} per source per second"
    )
    print(f"overlapping runs of one source: {len(overlapping(runs, until=window_end))} (must be 0)")
    print(f"lock waits: {sum(waits)} (a {waits[0]}, b {waits[1]})")
    in_flight = sum(1 for run in runs if run.finished is None and run.started < window_end)
    print(f"runs in flight at the end (cancelled by SIGTERM): {in_flight}")
    print(f"exit codes on SIGTERM: {codes}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--lease", type=float, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.sources, args.seconds, args.lease))

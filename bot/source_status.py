"""Every configured source as `lorebot sources` shows it: last run, next run, what the
index holds of it, and which replica holds its sync lease now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.db.sync_state import RunRecord
    from bot.runtime import Runtime


@dataclass(frozen=True)
class SourceStatus:
    name: str
    kind: str
    schedule: str
    last_run: RunRecord | None
    next_run: datetime
    documents: int
    chunks: int
    lock_holder: str | None

    def as_json(self) -> dict[str, Any]:
        """The `sources --json` contract's per-source shape."""
        run = self.last_run
        return {
            "name": self.name,
            "kind": self.kind,
            "last_run": None
            if run is None
            else {
                "started": iso(run.started),
                "finished": iso(run.finished) if run.finished else None,
                "added": run.added,
                "updated": run.updated,
                "deleted": run.deleted,
                "chunks_embedded": run.chunks_embedded,
                "error": run.error,
            },
            "next_run": iso(self.next_run),
            "documents": self.documents,
            "chunks": self.chunks,
            "lock_holder": self.lock_holder,
        }


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


async def source_statuses(runtime: Runtime) -> list[SourceStatus]:
    runs = await runtime.sync_state.last_runs()
    leases = await runtime.leases.held()
    stats = await runtime.index.stats()
    now, schedules = datetime.now(UTC), runtime.schedules
    statuses = []
    for source in runtime.sources:
        run, lease, schedule = runs.get(source.name), leases.get(source.name), schedules[source.name]
        statuses.append(
            SourceStatus(
                name=source.name,
                kind=source.kind,
                schedule=schedule.describe(),
                last_run=run,
                next_run=schedule.next_run(run.started if run else None, now),
                documents=stats.source_documents.get(source.name, 0),
                chunks=stats.sources.get(source.name, 0),
                lock_holder=lease.holder if lease else None,
            )
        )
    return statuses

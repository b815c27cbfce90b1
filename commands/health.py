"""How omi-bot is doing, for the operator: the queue's picture (`omi-bot status`, the metrics'
database gauges) and whether a process is ready to take work (/readyz)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from commands.bootstrap import Core
from commands.model import Heartbeat, Job, JobState
from storage.migrate import at_head

# A worker beats every HEARTBEAT_SECONDS; one silent for STALE_AFTER beats is said to be gone.
HEARTBEAT_SECONDS = 15.0
STALE_AFTER = 4
# Workers silent this long are forgotten.
FORGET_SECONDS = 7 * 86400.0


@dataclass(frozen=True)
class Channel:
    queued: int
    oldest_queued_at: datetime | None
    failed: int


@dataclass(frozen=True)
class Snapshot:
    at: datetime
    jobs: dict[tuple[str, str], int]  # (kind, state) -> count, pending / running / failed
    running: list[Job]
    failed: list[Job]
    outbox: dict[str, Channel]  # "email", "slack"
    workers: list[Heartbeat]

    def count(self, state: JobState) -> int:
        return sum(n for (_, s), n in self.jobs.items() if s == state.value)

    def alive(self, heartbeat: Heartbeat) -> bool:
        if heartbeat.stopped_at is not None:
            return False
        silent = (self.at - heartbeat.beat_at).total_seconds()
        return silent <= HEARTBEAT_SECONDS * STALE_AFTER


CHANNELS = ("email", "slack")


def snapshot(core: Core, *, details: bool = True, failed_limit: int = 20) -> Snapshot:
    """The queue as the database has it now, in one transaction. Without `details` only the
    aggregates are read (what a metrics scrape needs)."""
    with core.reading() as uow:
        depths = uow.health.outbox_depths()
        failed_notices = uow.health.failed_notices()
        return Snapshot(
            at=core.clock(),
            jobs=uow.health.job_counts(),
            running=uow.health.running_jobs() if details else [],
            failed=uow.health.failed_jobs(failed_limit) if details else [],
            outbox={
                channel: Channel(
                    queued=depths.get(channel, (0, None))[0],
                    oldest_queued_at=depths.get(channel, (0, None))[1],
                    failed=failed_notices.get(channel, 0),
                )
                for channel in sorted({*CHANNELS, *depths, *failed_notices})
            },
            workers=uow.health.heartbeats(),
        )


def beat(core: Core, worker: str, role: str) -> None:
    at = core.clock()
    with core.uow() as uow:
        uow.health.beat(worker, role, at)
        uow.commit()


def stopped(core: Core, worker: str) -> None:
    with core.uow() as uow:
        uow.health.stopped(worker, core.clock())
        uow.commit()


def forget_silent(core: Core) -> None:
    with core.uow() as uow:
        uow.health.forget_before(core.clock() - timedelta(seconds=FORGET_SECONDS))
        uow.commit()


@dataclass(frozen=True)
class Readiness:
    """Each check by name; ready when all pass. Only booleans: the answer of /readyz tells
    nothing of the configuration."""

    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(self.checks.values())

    def as_json(self) -> dict[str, object]:
        return {"ok": self.ready, **self.checks}


def readiness(core: Core, worker_alive: Callable[[], bool] | None = None) -> Readiness:
    """Database reachable, its schema at the migrations' head, and (when the process runs
    one) the worker's thread alive."""
    checks: dict[str, bool] = {}
    try:
        checks["migrations"] = at_head(core.db.read_engine)
        checks["database"] = True
    except Exception:
        checks["database"] = False
        checks["migrations"] = False
    if worker_alive is not None:
        try:
            checks["worker"] = bool(worker_alive())
        except Exception:
            checks["worker"] = False
    return Readiness({name: checks[name] for name in sorted(checks)})

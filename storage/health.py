"""Reads of how the queue is doing (jobs, the outbox) and the workers' heartbeats, for
`omi-bot status`, /metrics and /readyz. Aggregates only, each answered from an index, so a
scrape stays cheap however many jobs and notices are kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from commands.model import Heartbeat, Job, JobState, OutboxState
from storage.orm import jobs, outbox, workers

# Done jobs and sent notices pile up for good; the counts read only the states that do not.
OPEN_JOB_STATES = (JobState.PENDING.value, JobState.RUNNING.value, JobState.FAILED.value)
QUEUED_NOTICE_STATES = (OutboxState.PENDING.value, OutboxState.SENDING.value)


class Health:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- heartbeats -----------------------------------------------------------------------
    def beat(self, worker: str, role: str, at: datetime) -> None:
        """Records that `worker` is alive at `at` (the row is made on its first beat)."""
        done = self.session.execute(
            update(workers)
            .where(workers.c.name == worker)
            .values(beat_at=at, role=role, stopped_at=None)
        )
        if done.rowcount == 0:  # type: ignore[attr-defined]
            self.session.execute(
                insert(workers).values(name=worker, role=role, started_at=at, beat_at=at)
            )

    def stopped(self, worker: str, at: datetime) -> None:
        self.session.execute(
            update(workers).where(workers.c.name == worker).values(stopped_at=at, beat_at=at)
        )

    def forget_before(self, at: datetime) -> None:
        """Workers silent since before `at` are forgotten (a restarted host gets a new name)."""
        self.session.execute(delete(workers).where(workers.c.beat_at < at))

    def heartbeats(self) -> list[Heartbeat]:
        rows = self.session.execute(
            select(
                workers.c.name,
                workers.c.role,
                workers.c.started_at,
                workers.c.beat_at,
                workers.c.stopped_at,
            ).order_by(workers.c.beat_at.desc(), workers.c.name)
        )
        return [Heartbeat(*row) for row in rows]

    # -- jobs -----------------------------------------------------------------------------
    def job_counts(self) -> dict[tuple[str, str], int]:
        """(kind, state) -> how many, for the jobs pending, running or failed."""
        stmt = (
            select(jobs.c.kind, jobs.c.state, func.count())
            .where(jobs.c.state.in_(OPEN_JOB_STATES))
            .group_by(jobs.c.kind, jobs.c.state)
        )
        return {(str(kind), str(state)): int(n) for kind, state, n in self.session.execute(stmt)}

    def running_jobs(self, limit: int = 50) -> list[Job]:
        stmt = (
            select(Job)
            .where(jobs.c.state == JobState.RUNNING.value)
            .order_by(jobs.c.run_at, jobs.c.id)
            .limit(limit)
        )
        return list(self.session.scalars(stmt))

    def failed_jobs(self, limit: int = 20) -> list[Job]:
        stmt = (
            select(Job)
            .where(jobs.c.state == JobState.FAILED.value)
            .order_by(jobs.c.id.desc())
            .limit(limit)
        )
        return list(self.session.scalars(stmt))

    # -- the outbox -----------------------------------------------------------------------
    def outbox_depths(self) -> dict[str, tuple[int, datetime | None]]:
        """channel -> (notices queued or being sent, when the oldest of them was queued)."""
        stmt = (
            select(outbox.c.channel, func.count(), func.min(outbox.c.created_at))
            .where(outbox.c.state.in_(QUEUED_NOTICE_STATES))
            .group_by(outbox.c.channel)
        )
        return {str(channel): (int(n), oldest) for channel, n, oldest in self.session.execute(stmt)}

    def failed_notices(self) -> dict[str, int]:
        """channel -> notices that failed for good."""
        stmt = (
            select(outbox.c.channel, func.count())
            .where(outbox.c.state == OutboxState.FAILED.value)
            .group_by(outbox.c.channel)
        )
        return {str(channel): int(n) for channel, n in self.session.execute(stmt)}


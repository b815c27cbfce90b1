"""The worker: runs queued jobs and delivers the outbox, on APScheduler's clock.

A job is claimed with a lease (state running, lease_until); a worker that dies leaves its job
to be claimed again once the lease runs out, and each step is written to be run again safely.
Every write a step makes checks that this worker still holds the lease, so a worker that
stalled past its lease cannot overwrite the one that took over."""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from commands import deprecation, drift, drift_repair, health, lifecycle, logs, metrics, pipeline
from commands.bootstrap import Core
from commands.errors import CloudError
from commands.model import Job, JobState
from storage.db import timed_out, unreachable, why_unreachable
from storage.uow import UnitOfWork

log = logging.getLogger("omi_bot.worker")


class LeaseLost(Exception):
    """Another worker took the job over; this one must stop touching it."""


class Stopping(Exception):
    """The worker is shutting down: the step stops at the checkpoint it just recorded."""


class _JobContext:
    def __init__(self, worker: Worker, job: Job) -> None:
        self.core = worker.core
        self.job = job
        self._worker = worker

    def checkpoint(self, payload: dict[str, object]) -> None:
        with self.core.uow() as uow:
            job = self._worker.held(uow, self.job)
            job.payload = {**job.payload, **payload}
            job.lease_until = self.core.clock() + self._worker.lease
            uow.commit()
            self.job.payload = dict(job.payload)
        if self._worker.stopping:
            # A checkpoint is a safe place to stop: the next run resumes from it.
            raise Stopping


Deliverer = Callable[[], int]

# Every job kind the worker runs: the publication pipeline's steps, the scheduled
# unpublications', the drift checks and repairs.
HANDLERS: dict[str, Callable[[pipeline.Context], pipeline.Step]] = {
    **pipeline.HANDLERS,
    **deprecation.HANDLERS,
    **drift.HANDLERS,
    **drift_repair.HANDLERS,
}


class Worker:
    def __init__(
        self,
        core: Core,
        *,
        name: str | None = None,
        deliverers: Sequence[Deliverer] | None = None,
        role: str = "worker",
    ) -> None:
        self.core = core
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.role = role  # "worker", or "serve" for the one inside the bot's process
        self.lease = timedelta(seconds=core.settings.job_lease_seconds)
        self._stop = threading.Event()
        if deliverers is None:
            from commands.delivery import deliverers as default_deliverers

            deliverers = default_deliverers(core, self.name, stopping=self._stop.is_set)
        self.deliverers = list(deliverers)
        self._tick_lock = threading.Lock()
        self._running: Job | None = None
        self._scheduler: BackgroundScheduler | None = None
        self._last_tick = 0.0  # time.monotonic() of the clock's last call of tick()
        self._away = False

    # -- stopping -------------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """Takes no new job or delivery from now on; the running step goes on to its end."""
        self._stop.set()

    def finish(self, timeout: float) -> bool:
        """After stop(): waits up to `timeout` for the running tick. A step still running then
        gives its lease back, so another worker takes the job without waiting for the lease
        to run out. True when nothing was left running."""
        if self._tick_lock.acquire(timeout=max(timeout, 0.0)):
            self._tick_lock.release()
            return True
        job = self._running
        if job is not None:
            # Its OUTSCALE call may still be under way: the job waits out that call's timeout,
            # and the step, written to be run again, finds what the call did.
            self.give_back(job, after=self.core.settings.osc_timeout)
        return False

    def said_goodbye(self) -> None:
        """Marks this worker stopped in the heartbeats (a clean stop, not a crash)."""
        try:
            health.stopped(self.core, self.name)
        except Exception as exc:
            log.warning("stop not recorded in the heartbeats (%s)", type(exc).__name__)

    def give_back(self, mine: Job, after: float = 0.0) -> bool:
        """Hands a job this worker holds back to the queue, the attempt not counted."""
        with self.core.uow() as uow:
            try:
                job = self.held(uow, mine)
            except LeaseLost:
                return False
            job.state = JobState.PENDING
            job.attempts -= 1
            job.lease_until = None
            job.worker = None
            job.run_at = self.core.clock() + timedelta(seconds=after)
            uow.commit()
        log.info("job %s (%s) given back", mine.id, mine.kind)
        return True

    # -- one job --------------------------------------------------------------------------
    def held(self, uow: UnitOfWork, mine: Job) -> Job:
        """The job as this worker claimed it, locked until the caller's commit, or LeaseLost."""
        job = uow.jobs.get(mine.id, lock=True)
        if (
            job is None
            or job.state is not JobState.RUNNING
            or job.worker != self.name
            or job.attempts != mine.attempts
        ):
            raise LeaseLost(f"job {mine.id} was taken over")
        return job

    def claim(self) -> Job | None:
        with self.core.uow() as uow:
            job = uow.jobs.claim(self.name, self.core.clock(), self.lease)
            uow.commit()
        if job is not None and job.taken_over:
            metrics.leases_taken_over.labels("job").inc()
            log.info("job %s (%s) taken over: its worker's lease ran out", job.id, job.kind)
        return job

    def run_one(self) -> bool:
        """Claims and runs one due job. Returns False when none was due."""
        job = self.claim()
        if job is None:
            return False
        self._running = job
        handler = HANDLERS.get(job.kind)
        metrics.job_attempts.labels(job.kind).inc()
        started = time.perf_counter()
        with logs.bound(job_id=job.id, version_id=job.version_id):
            try:
                if handler is None:
                    raise pipeline.StepFailed(f"unknown job kind {job.kind!r}")
                step = handler(_JobContext(self, job))
                self._finish(job, step)
                outcome = "later" if step.later is not None else "done"
            except LeaseLost:
                log.warning("job %s (%s) was taken over by another worker", job.id, job.kind)
                outcome = "lost"
            except Stopping:
                self.give_back(job)
                outcome = "given_back"
            except Exception as error:  # every failure is recorded on the job, never lost
                if unreachable(error):
                    # Nothing can be recorded now: the job keeps its lease, which runs out, and
                    # it is taken again once the database is back. A statement cut off by a
                    # time limit is not the database gone: the job is handed back for a
                    # moment later, the attempt not counted, without waiting out the lease.
                    if timed_out(error) is not None:
                        self._give_back_after_timeout(job)
                    raise
                metrics.job_failures.labels(job.kind).inc()
                outcome = self._failed(job, error)
            finally:
                self._running = None
                took = time.perf_counter() - started
                metrics.job_step_seconds.labels(job.kind).observe(took)
            metrics.job_outcomes.labels(job.kind, outcome).inc()
            if outcome in ("done", "later"):  # the other outcomes said so already
                log.info("job %s (%s) step %s in %.2f s", job.id, job.kind, outcome, took)
        return True

    def _give_back_after_timeout(self, job: Job) -> None:
        try:
            self.give_back(job, after=self.backoff(1))
        except Exception as error:
            if not unreachable(error):
                raise
            # Not even that: the lease runs out, as in an outage.

    def _finish(self, mine: Job, step: pipeline.Step) -> None:
        with self.core.uow() as uow:
            job = self.held(uow, mine)
            at = self.core.clock()
            job.lease_until = None
            if step.later is not None:
                # Waiting on the cloud is not a failed attempt.
                job.state = JobState.PENDING
                job.attempts -= 1
                job.run_at = at + timedelta(seconds=step.later)
            else:
                for follow in step.apply(uow) if step.apply else ():
                    uow.jobs.add(follow)
                job.state = JobState.DONE
                job.finished_at = at
            uow.commit()

    def _failed(self, mine: Job, error: Exception) -> str:
        """Records the failure; returns the outcome: retry, stuck, failed, or lost."""
        retry = not isinstance(error, pipeline.StepFailed) and (
            not isinstance(error, CloudError) or error.retryable
        )
        reason = pipeline.describe(error)
        if not isinstance(error, CloudError | pipeline.StepFailed):
            log.exception("job %s (%s) failed", mine.id, mine.kind)
        with self.core.uow() as uow:
            try:
                job = self.held(uow, mine)
            except LeaseLost:
                return "lost"
            at = self.core.clock()
            job.last_error = reason
            job.lease_until = None
            exhausted = job.attempts >= self.core.settings.job_max_attempts
            if retry and not exhausted:
                job.state = JobState.PENDING
                job.run_at = at + timedelta(seconds=self.backoff(job.attempts))
                log.info("job %s (%s) will retry: %s", job.id, job.kind, reason)
                outcome = "retry"
            elif job.kind in pipeline.UNTIL_DONE and not isinstance(error, pipeline.StepFailed):
                # Whatever OUTSCALE answers, a copy that must go is tried again; the release
                # managers hear of it once (the alert is keyed).
                job.state = JobState.PENDING
                job.run_at = at + timedelta(seconds=self.backoff(job.attempts))
                pipeline.on_stuck(uow, job, reason, at)
                log.warning("job %s (%s) keeps failing, will retry: %s", job.id, job.kind, reason)
                outcome = "stuck"
            else:
                job.state = JobState.FAILED
                job.finished_at = at
                pipeline.on_failure(uow, job, reason, at)
                log.warning("job %s (%s) failed: %s", job.id, job.kind, reason)
                outcome = "failed"
            uow.commit()
        return outcome

    def backoff(self, attempts: int) -> float:
        base = self.core.settings.retry_base_seconds
        return min(base * 2 ** (attempts - 1), 3600.0) * random.uniform(0.8, 1.2)

    # -- the loop -------------------------------------------------------------------------
    def tick(self, max_jobs: int = 200) -> int:
        """Runs the jobs due now, then delivers what the outbox holds. Returns the work done.

        While the database is out of reach a tick does nothing and says so once; the next
        tick after it is back carries on (broken connections are replaced before use). A job
        cut off in the middle keeps its lease until it runs out, then is taken again."""
        self._last_tick = time.monotonic()
        if not self._tick_lock.acquire(blocking=False):
            return 0  # the previous tick is still running
        done = 0
        try:
            try:
                # Schedules whose moment has come become jobs, run just below.
                deprecation.promote_due(self.core)
            except Exception as error:
                if unreachable(error):
                    raise
                log.exception("due schedules could not be read; will try again on the next tick")
            while done < max_jobs and not self.stopping and self.run_one():
                done += 1
            for deliver in self.deliverers:
                if self.stopping:
                    break
                try:
                    done += deliver()
                except Exception as error:
                    if unreachable(error):
                        raise
                    log.exception("delivery failed; will try again on the next tick")
            self._database_back()
            return done
        except Exception as error:
            if not self._database_away(error):
                raise
            return done
        finally:
            self._tick_lock.release()

    def _database_away(self, error: BaseException) -> bool:
        """Whether `error` is the database being out of reach; said once per outage."""
        if not unreachable(error):
            return False
        if not self._away:
            self._away = True
            # A lock held elsewhere is not a network problem: the log says which it is.
            said = "did not answer in time" if timed_out(error) is not None else "cannot be reached"
            log.warning(
                "worker %s: the database %s (%s); waiting for it",
                self.name,
                said,
                why_unreachable(error),
            )
        return True

    def _database_back(self) -> None:
        if self._away:
            self._away = False
            log.info("worker %s: the database is reachable again", self.name)

    def run_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Works until `done()` (for --wait); False if the time ran out first."""
        deadline = time.monotonic() + timeout
        while True:
            worked = self.tick()
            if done():
                return True
            if time.monotonic() >= deadline:
                return False
            if not worked:
                time.sleep(min(self._idle_seconds(), max(0.0, deadline - time.monotonic())))

    def _idle_seconds(self) -> float:
        with self.core.reading() as uow:
            next_at = uow.jobs.next_run_at()
        poll = self.core.settings.worker_poll_seconds
        if next_at is None:
            return poll
        wait = (next_at - datetime.now(UTC)).total_seconds()
        return max(0.02, min(poll, wait))

    def _schedule(self, scheduler: BackgroundScheduler) -> None:
        scheduler.add_job(
            self.tick,
            "interval",
            seconds=max(self.core.settings.worker_poll_seconds, 0.05),
            id="omi-bot-worker",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        interval = self.core.settings.drift_interval_seconds
        if interval > 0:
            # Every worker queues the period's check under one key; one of them runs it.
            scheduler.add_job(
                self._enqueue_drift_check,
                "interval",
                seconds=interval,
                id="omi-bot-drift",
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(UTC) + timedelta(seconds=min(interval, 60)),
            )

        scheduler.add_job(
            self.beat,
            "interval",
            seconds=health.HEARTBEAT_SECONDS,
            id="omi-bot-heartbeat",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )

    def beat(self) -> None:
        """Tells the database this worker is alive (`omi-bot status` lists the workers)."""
        try:
            health.beat(self.core, self.name, self.role)
            if random.random() < 0.01:
                health.forget_silent(self.core)
        except Exception as exc:
            # Only the type: messages of storage errors may embed connection URLs.
            log.warning("heartbeat not written (%s); will try again", type(exc).__name__)

    def alive(self) -> bool:
        """The worker's clock runs and has called it lately (a long step holds the tick, and
        the clock still calls it on time: the tick returns at once then)."""
        scheduler = self._scheduler
        if scheduler is None or not scheduler.running or self.stopping:
            return False
        late = max(30.0, 5 * self.core.settings.worker_poll_seconds)
        return time.monotonic() - self._last_tick <= late

    def _enqueue_drift_check(self) -> None:
        try:
            drift.enqueue_check(self.core)
        except Exception as error:
            if self._database_away(error):
                return
            log.exception("the drift check could not be queued; will try at the next interval")

    def start_background(self) -> BackgroundScheduler:
        scheduler = BackgroundScheduler(timezone=UTC)
        self._schedule(scheduler)
        scheduler.start()
        self._scheduler = scheduler
        return scheduler

    def run_forever(self, metrics_port: int | None = None, metrics_host: str = "0.0.0.0") -> None:
        """`omi-bot worker`: works until SIGTERM or SIGINT, then stops within
        OMI_SHUTDOWN_SECONDS (see shutdown()). With `metrics_port`, serves /metrics, /readyz
        and /healthz there meanwhile."""
        from commands.probes import ProbeServer, probes_app

        probes = None
        if metrics_port is not None:
            application = probes_app(
                lambda: health.readiness(self.core, self.alive),
                metrics.Exposition(self.core),
                self.core.db.reachable,
            )
            probes = ProbeServer(application, metrics_host, metrics_port).start()
        lifecycle.settle_heap()
        scheduler = self.start_background()
        log.info("worker %s started", self.name)
        lifecycle.wait_for_stop()
        log.info("worker %s stopping", self.name)
        done = self.shutdown(scheduler, self.core.settings.shutdown_seconds)
        if probes is not None:
            probes.stop()
        lifecycle.exit_when_done(done)

    def shutdown(self, scheduler: BackgroundScheduler, timeout: float) -> bool:
        """Stops the clock, lets the running step end or gives its lease back. True when
        nothing was left running."""
        self.stop()
        scheduler.shutdown(wait=False)
        done = self.finish(timeout)
        self.said_goodbye()
        log.info("worker %s stopped%s", self.name, "" if done else " (a step was cut short)")
        return done

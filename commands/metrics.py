"""The numbers an operator watches, in Prometheus's text format (prometheus-client).

Two kinds:

- counters and histograms the process updates as things happen (Slack requests and their
  acknowledgements, job steps, mails, Slack posts, OUTSCALE calls, leases taken over): an
  increment or an observation, nothing more, on the hot path;
- gauges read from the database at scrape time (jobs by kind and state, the outbox's depth by
  channel and its oldest queued notice, the workers): a few aggregate queries answered from
  indexes, and cached CACHE_SECONDS so that several scrapers, or a scrape every second, cost the
  database one read every few seconds.

Counters are the process's own (each replica and worker counts what it did; Prometheus sums
them); the database gauges are the same in every process (take one, or the max)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from commands.bootstrap import Core
    from commands.health import Snapshot

log = logging.getLogger("omi_bot.metrics")

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

# Slack waits 3 s for an acknowledgement; the buckets are finest where answers should be.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
STEP_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)
CALL_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

slack_requests = Counter(
    "omi_slack_requests", "Slack requests received, by kind.", ["kind"], registry=REGISTRY
)
slack_acks = Counter(
    "omi_slack_acks",
    "Slack requests answered, by kind and HTTP status of the answer.",
    ["kind", "status"],
    registry=REGISTRY,
)
slack_ack_seconds = Histogram(
    "omi_slack_ack_seconds",
    "Seconds from a Slack request reaching the app to its acknowledgement, by kind.",
    ["kind"],
    buckets=ACK_BUCKETS,
    registry=REGISTRY,
)
slack_rate_limited = Counter(
    "omi_slack_rate_limited",
    "Slack Web API answers 429 (rate limited), by client: the bot's, or the outbox's.",
    ["client"],
    registry=REGISTRY,
)
job_attempts = Counter(
    "omi_job_attempts", "Job steps started, by job kind.", ["kind"], registry=REGISTRY
)
job_outcomes = Counter(
    "omi_job_outcomes",
    "Job steps ended, by kind and outcome: done, later (waits on the cloud), retry, failed "
    "(for good), stuck (retried until done), given_back (at a stop), lost (taken over).",
    ["kind", "outcome"],
    registry=REGISTRY,
)
job_failures = Counter(
    "omi_job_failures",
    "Job steps that failed (retried or not), by kind.",
    ["kind"],
    registry=REGISTRY,
)
job_step_seconds = Histogram(
    "omi_job_step_seconds",
    "Seconds a job step ran, by kind.",
    ["kind"],
    buckets=STEP_BUCKETS,
    registry=REGISTRY,
)
leases_taken_over = Counter(
    "omi_leases_taken_over",
    "Claims that took work from a worker whose lease ran out: job, email or slack.",
    ["what"],
    registry=REGISTRY,
)
mails = Counter(
    "omi_mails",
    "Mails handled, by outcome: sent, retry (deferred), failed (for good), lost (taken over).",
    ["outcome"],
    registry=REGISTRY,
)
slack_notices = Counter(
    "omi_slack_notices",
    "Slack posts of the outbox, by outcome: sent, retry, put_back (paced or 429), failed.",
    ["outcome"],
    registry=REGISTRY,
)
outscale_calls = Counter(
    "omi_outscale_calls",
    "OUTSCALE API calls, by action and outcome: ok, the OUTSCALE error code, or the kind of "
    "failure (timeout, unreachable, http_NNN).",
    ["action", "code"],
    registry=REGISTRY,
)
outscale_call_seconds = Histogram(
    "omi_outscale_call_seconds",
    "Seconds an OUTSCALE API call took (the SDK's own retries included), by action.",
    ["action"],
    buckets=CALL_BUCKETS,
    registry=REGISTRY,
)

# Slack request kinds, bounded: a label never takes a value from the payload.
KINDS = {
    "block_actions": "block_actions",
    "block_suggestion": "block_suggestion",
    "view_submission": "view_submission",
    "view_closed": "view_closed",
    "shortcut": "shortcut",
    "message_action": "shortcut",
    "event_callback": "event",
    "url_verification": "url_verification",
}


def request_kind(body: object) -> str:
    if not isinstance(body, dict):
        return "other"
    if "command" in body:
        return "slash_command"
    return KINDS.get(str(body.get("type")), "other")


@contextmanager
def outscale_call(action: str) -> Iterator[dict[str, str]]:
    """Around one OUTSCALE call: the caller sets `outcome["code"]` when it fails."""
    outcome = {"code": "ok"}
    started = time.perf_counter()
    try:
        yield outcome
    finally:
        outscale_call_seconds.labels(action).observe(time.perf_counter() - started)
        outscale_calls.labels(action, outcome["code"]).inc()


# -- the database gauges ------------------------------------------------------------------

CACHE_SECONDS = 5.0


class DatabaseGauges(Collector):
    """The queue's gauges, from commands.health.snapshot, read at most every CACHE_SECONDS."""

    def __init__(self, core: Core, cache_seconds: float = CACHE_SECONDS) -> None:
        self.core = core
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._snapshot: Snapshot | None = None
        self._up = False

    def _current(self) -> tuple[Snapshot | None, bool]:
        from commands.health import snapshot

        with self._lock:  # concurrent scrapes wait for one read instead of each making one
            if time.monotonic() - self._read_at >= self.cache_seconds:
                try:
                    self._snapshot, self._up = snapshot(self.core, details=False), True
                except Exception as exc:
                    # Only the type: messages of storage errors may embed connection URLs.
                    log.warning("database gauges not read (%s)", type(exc).__name__)
                    self._snapshot, self._up = None, False
                self._read_at = time.monotonic()
            return self._snapshot, self._up

    def collect(self) -> Iterable[Metric]:
        from commands.health import CHANNELS
        from storage.health import OPEN_JOB_STATES

        picture, up = self._current()
        yield GaugeMetricFamily(
            "omi_database_up", "1 when the last read of the database gauges worked.", int(up)
        )
        if picture is None:
            return
        jobs = GaugeMetricFamily(
            "omi_jobs",
            "Jobs pending, running or failed, by kind and state.",
            labels=["kind", "state"],
        )
        for (kind, state), n in sorted(picture.jobs.items()):
            jobs.add_metric([kind, state], n)
        totals = GaugeMetricFamily(
            "omi_jobs_by_state", "Jobs pending, running or failed.", labels=["state"]
        )
        for state in OPEN_JOB_STATES:
            totals.add_metric(
                [state], sum(n for (_, s), n in picture.jobs.items() if s == state)
            )
        depth = GaugeMetricFamily(
            "omi_outbox_queued",
            "Notices queued or being sent, by channel (email, slack).",
            labels=["channel"],
        )
        oldest = GaugeMetricFamily(
            "omi_outbox_oldest_queued_age_seconds",
            "Age of the oldest notice queued or being sent, by channel (0: none queued).",
            labels=["channel"],
        )
        failed = GaugeMetricFamily(
            "omi_outbox_failed", "Notices that failed for good, by channel.", labels=["channel"]
        )
        for channel in sorted({*CHANNELS, *picture.outbox}):
            c = picture.outbox[channel]
            depth.add_metric([channel], c.queued)
            age = (
                0.0
                if c.oldest_queued_at is None
                else max(0.0, (picture.at - c.oldest_queued_at).total_seconds())
            )
            oldest.add_metric([channel], age)
            failed.add_metric([channel], c.failed)
        workers = GaugeMetricFamily(
            "omi_workers",
            "Workers by the state of their heartbeat: alive, silent, stopped.",
            labels=["state"],
        )
        states = {"alive": 0, "silent": 0, "stopped": 0}
        for beat in picture.workers:
            if beat.stopped_at is not None:
                states["stopped"] += 1
            else:
                states["alive" if picture.alive(beat) else "silent"] += 1
        for state, n in states.items():
            workers.add_metric([state], n)
        yield from (jobs, totals, depth, oldest, failed, workers)


class Exposition:
    """What GET /metrics answers for one process: its counters and the database gauges."""

    def __init__(self, core: Core, cache_seconds: float = CACHE_SECONDS) -> None:
        self.gauges = DatabaseGauges(core, cache_seconds)

    def collect(self) -> Iterable[Metric]:
        yield from REGISTRY.collect()
        yield from self.gauges.collect()

    def __call__(self) -> tuple[bytes, str]:
        # The classic text format's type: every Prometheus version reads it.
        return generate_latest(self), CONTENT_TYPE_PLAIN_0_0_4  # type: ignore[arg-type]

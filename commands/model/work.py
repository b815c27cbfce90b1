"""What a decision leaves to do after its transaction: the cloud work (jobs) and the notices to
deliver (the outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class JobState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job:
    """One step of the cloud work a decision implies (copy, wait, share, delete...).

    Written in the same transaction as the state change that needs it, run later by a worker.
    `key` makes enqueuing idempotent: the same step of the same thing is queued once."""

    id: int
    kind: str
    key: str | None
    version_id: str | None
    product_code: str | None
    payload: dict[str, object]
    state: JobState
    attempts: int
    run_at: datetime
    lease_until: datetime | None
    worker: str | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    # Set by a claim that took the job from a worker whose lease ran out (not stored).
    taken_over: bool = False

    def __init__(
        self,
        kind: str,
        *,
        at: datetime,
        key: str | None = None,
        version_id: str | None = None,
        product_code: str | None = None,
        payload: dict[str, object] | None = None,
        run_at: datetime | None = None,
    ) -> None:
        self.kind = kind
        self.key = key
        self.version_id = version_id
        self.product_code = product_code
        self.payload = dict(payload or {})
        self.state = JobState.PENDING
        self.attempts = 0
        self.run_at = run_at or at
        self.lease_until = None
        self.worker = None
        self.last_error = None
        self.created_at = at
        self.finished_at = None


class OutboxState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class OutboxItem:
    """A notice to deliver (an email or a Slack post), written in the same transaction as the
    event it tells of and delivered by the worker. `key` (event + recipient) is unique, so a
    recipient is told once per event."""

    id: int
    channel: str  # "email" or "slack"
    key: str
    event: str
    product_code: str
    version_id: str | None
    recipient: str
    language: str
    payload: dict[str, object]
    state: OutboxState
    attempts: int
    next_attempt_at: datetime
    lease_until: datetime | None
    worker: str | None  # who holds the lease; with `attempts`, the fence of every outcome
    last_error: str | None
    sent_at: datetime | None
    created_at: datetime
    # Set by a claim that took the notice from a worker whose lease ran out (not stored).
    taken_over: bool = False

    def __init__(
        self,
        *,
        channel: str,
        key: str,
        event: str,
        product_code: str,
        recipient: str,
        language: str,
        payload: dict[str, object],
        at: datetime,
        version_id: str | None = None,
    ) -> None:
        self.channel = channel
        self.key = key
        self.event = event
        self.product_code = product_code
        self.version_id = version_id
        self.recipient = recipient
        self.language = language
        self.payload = dict(payload)
        self.state = OutboxState.PENDING
        self.attempts = 0
        self.next_attempt_at = at
        self.lease_until = None
        self.worker = None
        self.last_error = None
        self.sent_at = None
        self.created_at = at


@dataclass(frozen=True)
class Heartbeat:
    """A worker's last sign of life: `omi-bot worker`, or the worker inside `omi-bot serve`."""

    worker: str
    role: str
    started_at: datetime
    beat_at: datetime
    stopped_at: datetime | None = None

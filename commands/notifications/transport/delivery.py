"""What every transport answers for each mail, and what the outbox does with a RETRY: the
outbox records the answer and knows nothing of SMTP or Maildir, so a transport is anything that
takes a message and says SENT, RETRY or FAILED."""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.message import EmailMessage
from enum import StrEnum
from typing import Protocol

from commands.notifications.transport.envelope import Envelope


class DeliveryStatus(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class Delivery:
    status: DeliveryStatus
    detail: str  # the server's answer, e.g. "550 5.1.1 no such user"; never credentials


class Transport(Protocol):
    def __enter__(self) -> Transport: ...

    def __exit__(self, *exc: object) -> None: ...

    def send(self, message: EmailMessage | Envelope) -> Delivery: ...


def backoff(attempt: int, base: float = 30.0, cap: float = 3600.0) -> float:
    """Seconds to wait before retry number `attempt` (1 for the first retry).

    The ceiling doubles per attempt up to `cap`; half of it is fixed and half random, so the
    mails of a batch that failed together spread out, yet none comes back almost at once.
    """
    if base <= 0 or cap <= 0:
        raise ValueError("base and cap must be positive")
    exponent = min(max(attempt, 1) - 1, 62)  # beyond that the cap wins anyway
    ceiling = min(cap, base * 2.0**exponent)
    return ceiling / 2 + random.uniform(0, ceiling / 2)

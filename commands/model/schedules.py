"""A scheduled unpublication: a version (R8) or a whole product (R9) unpublished on a date
announced in advance, with reminders before it.

The date is a calendar day; the unpublication is due at its first moment, 00:00 UTC. Reminders
are due a number of days before it (the product's cadence when it was scheduled); a reminder
whose moment had already passed when the unpublication was scheduled is not sent, the notice
of the schedule itself told the same thing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum


class ScheduleState(StrEnum):
    SCHEDULED = "scheduled"
    BLOCKED = "blocked"  # on the date, R7 kept the only published version published
    DONE = "done"
    CANCELLED = "cancelled"


ACTIVE = (ScheduleState.SCHEDULED, ScheduleState.BLOCKED)


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


@dataclass(frozen=True)
class Due:
    """Something a schedule asks the worker to do now: a reminder `days` before the date, or
    the unpublication itself (`days` None). `at` is when it was due, to tell how late it runs."""

    days: int | None
    at: datetime

    @property
    def kind(self) -> str:
        return "unpublication_reminder" if self.days is not None else "scheduled_unpublish"


class Unpublication:
    """A version, or a whole product when `version_id` is None, to unpublish on a date."""

    id: int
    product_code: str
    version_id: str | None
    request_id: int | None
    unpublish_on: date
    due_at: datetime
    state: ScheduleState
    reminder_days: list[int]
    reminders_sent: list[int]
    next_at: datetime | None
    scheduled_by: str
    created_at: datetime
    cancelled_by: str | None
    cancelled_at: datetime | None
    ran_at: datetime | None
    late_seconds: int | None
    reason: str | None

    def __init__(
        self,
        *,
        product_code: str,
        version_id: str | None,
        unpublish_on: date,
        reminder_days: Iterable[int],
        scheduled_by: str,
        at: datetime,
        request_id: int | None = None,
    ) -> None:
        self.product_code = product_code
        self.version_id = version_id
        self.request_id = request_id
        self.unpublish_on = unpublish_on
        self.due_at = start_of(unpublish_on)
        self.state = ScheduleState.SCHEDULED
        self.reminder_days = sorted(set(reminder_days), reverse=True)
        # Reminders whose moment is already past are as good as sent: the notice of the
        # schedule, sent now, says the same.
        self.reminders_sent = [d for d in self.reminder_days if self.reminder_at(d) <= at]
        self.scheduled_by = scheduled_by
        self.created_at = at
        self.cancelled_by = None
        self.cancelled_at = None
        self.ran_at = None
        self.late_seconds = None
        self.reason = None
        self.next_at = self._next()

    @property
    def whole_product(self) -> bool:
        return self.version_id is None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def reminder_at(self, days: int) -> datetime:
        return self.due_at - timedelta(days=days)

    def _next(self) -> datetime | None:
        pending = [self.reminder_at(d) for d in self.reminder_days if d not in self.reminders_sent]
        return min([*pending, self.due_at])

    def take_due(self, now: datetime) -> Due | None:
        """What is due at `now`, marked as taken so it is handed out once. A worker that was
        down over several moments sends only the latest: the unpublication itself once the date
        has come (the reminders it missed would only say less), else the nearest reminder."""
        if self.state is not ScheduleState.SCHEDULED or self.next_at is None or now < self.next_at:
            return None
        if now >= self.due_at:
            self.reminders_sent = list(self.reminder_days)
            self.next_at = None  # the unpublication job decides what happens next
            return Due(None, self.due_at)
        missed = [
            d
            for d in self.reminder_days
            if d not in self.reminders_sent and self.reminder_at(d) <= now
        ]
        nearest = min(missed)
        self.reminders_sent = sorted({*self.reminders_sent, *missed}, reverse=True)
        self.next_at = self._next()
        return Due(nearest, self.reminder_at(nearest))

    def cancel(self, by: str, at: datetime) -> None:
        self.state = ScheduleState.CANCELLED
        self.cancelled_by = by
        self.cancelled_at = at
        self.next_at = None

    def ran(self, at: datetime, due: datetime) -> int:
        """The unpublication ran at `at`; returns how many seconds late."""
        self.ran_at = at
        self.late_seconds = max(0, int((at - due).total_seconds()))
        return self.late_seconds

    def done(self, reason: str | None = None) -> None:
        self.state = ScheduleState.DONE
        self.next_at = None
        self.reason = reason

    def blocked(self, reason: str) -> None:
        self.state = ScheduleState.BLOCKED
        self.next_at = None
        self.reason = reason

    def label(self) -> str:
        """How the Versions table shows it: `unpublish on 2026-12-01`, or `blocked by R7`."""
        if self.state is ScheduleState.BLOCKED:
            return "blocked by R7"
        return f"unpublish on {self.unpublish_on.isoformat()}"

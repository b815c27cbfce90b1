"""The audit trail: who asked for what, who decided, what changed, what the worker and the
cloud made of it, and what subscribers were told.

An event is written by the operation itself, in the unit of work that makes the change, so an
event exists exactly when its change was committed; nothing ever updates or deletes one (the
database refuses it, see the migration that creates the table)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from commands.model import Actor, OutboxItem

if TYPE_CHECKING:
    from commands.bootstrap import Core
    from storage.uow import UnitOfWork

# Who acts when nobody does: the worker carrying out a job, a schedule reaching its date.
WORKER = "omi-bot:worker"
# Each event's detail is cut so that no single value can bloat the table; a release note is
# 3000 characters at most and is kept whole.
DETAIL_MAX = 4000


class Kind(StrEnum):
    REQUESTED = "request.created"
    APPROVED = "request.approved"
    REJECTED = "request.rejected"
    REQUEST_FAILED = "request.failed"  # approved, but the rules no longer allowed it
    PUBLISH_STARTED = "version.publishing"  # the CLI's direct publication (no request)
    PUBLISHED = "version.published"
    PUBLISH_FAILED = "version.failed"
    MODIFIED = "version.modified"
    UNPUBLISHED = "version.unpublished"
    COPY_DELETED = "copy.deleted"
    BROKEN = "version.broken"
    SCHEDULED = "schedule.created"
    SCHEDULE_CANCELLED = "schedule.cancelled"
    REMINDER_SENT = "schedule.reminder"
    SCHEDULE_BLOCKED = "schedule.blocked"  # R7 on the date: the version stays published
    SCHEDULE_DONE = "schedule.done"
    NOTICE_QUEUED = "notice.queued"
    NOTICE_SENT = "notice.sent"
    NOTICE_FAILED = "notice.failed"
    REPAIR_ASKED = "drift.repair_asked"
    REPAIRED = "drift.repaired"


class Source(StrEnum):
    SLACK = "slack"
    CLI = "cli"
    SYSTEM = "system"  # omi-bot itself: the worker, a schedule, a retention proposal


class AuditEvent:
    """One thing that happened, as it was when it happened. `detail` holds the facts of its
    kind: the fields a modification changed ({field: [before, after]}), a reason, a date, the
    number of recipients of a notice."""

    id: int
    at: datetime
    kind: Kind
    product_code: str
    version_id: str | None
    request_id: int | None
    schedule_id: int | None
    actor_id: str
    actor_name: str
    source: Source
    detail: dict[str, Any]

    def __init__(
        self,
        kind: Kind,
        *,
        at: datetime,
        product_code: str,
        actor_id: str,
        source: Source,
        actor_name: str = "",
        version_id: str | None = None,
        request_id: int | None = None,
        schedule_id: int | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        self.kind = kind
        self.at = at
        self.product_code = product_code
        self.version_id = version_id
        self.request_id = request_id
        self.schedule_id = schedule_id
        self.actor_id = actor_id[:64]
        self.actor_name = actor_name[:200]
        self.source = source
        self.detail = _clip(dict(detail or {}))

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": getattr(self, "id", None),
            "at": self.at.isoformat(),
            "kind": Kind(self.kind).value,
            "product_code": self.product_code,
            "version_id": self.version_id,
            "request_id": self.request_id,
            "schedule_id": self.schedule_id,
            "actor_id": self.actor_id,
            "actor_name": self.actor_name,
            "source": Source(self.source).value,
            "detail": self.detail,
            "summary": summary(self),
        }


@dataclass(frozen=True)
class Who:
    id: str
    name: str
    source: Source


def who(by: Actor | str | None) -> Who:
    """An Actor as the trail names it; a bare ID (a request's `requested_by`) is told apart by
    its shape: a Slack user ID (U… or W…) is Slack, `omi-bot:…` is omi-bot itself, anything
    else (`cli:USER`, a pipeline's `--requested-by`) came through the CLI."""
    if by is None:
        return Who(WORKER, "", Source.SYSTEM)
    if isinstance(by, Actor):
        source = Source.CLI if by.operator else _source_of(by.id)
        return Who(by.id, by.name, source)
    return Who(by, "", _source_of(by))


SLACK_USER = re.compile(r"^[UW][A-Z0-9]+$")


def _source_of(actor_id: str) -> Source:
    if actor_id.startswith("omi-bot:"):
        return Source.SYSTEM
    return Source.SLACK if SLACK_USER.match(actor_id) else Source.CLI


def record(
    uow: UnitOfWork,
    kind: Kind,
    *,
    at: datetime,
    product_code: str,
    by: Actor | str | None = None,
    name: str = "",
    version_id: str | None = None,
    request_id: int | None = None,
    schedule_id: int | None = None,
    **detail: Any,
) -> AuditEvent:
    """Writes the event in the caller's unit of work: it is committed with the change, or
    rolled back with it."""
    actor = who(by)
    event = AuditEvent(
        kind,
        at=at,
        product_code=product_code,
        actor_id=actor.id,
        actor_name=name or actor.name,
        source=actor.source,
        version_id=version_id,
        request_id=request_id,
        schedule_id=schedule_id,
        detail={k: v for k, v in detail.items() if v is not None},
    )
    uow.audit.add(event)
    return event


def record_all(uow: UnitOfWork, events: Sequence[AuditEvent]) -> None:
    """Several events in one statement (a notice batch's outcomes)."""
    if events:
        uow.audit.add_all(events)


def events(
    core: Core,
    *,
    product_code: str | None = None,
    version_id: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[AuditEvent]:
    """The trail in the order it happened, filtered; with `limit`, the last ones."""
    with core.reading() as uow:
        found = uow.audit.list(
            product_code=product_code,
            version_id=version_id,
            since=since,
            limit=limit,
            newest_first=limit is not None,
        )
    return sorted(found, key=lambda e: e.id) if limit is not None else found


# -- notices -------------------------------------------------------------------------------------
#
# A notice goes to every subscriber and administrator: ten thousand mails for one event. The
# trail keeps one event when it is queued (with how many recipients), one per batch of sends
# committed together (with how many were sent), and one per recipient only when a mail or post
# fails for good, which is rare and worth naming.


def notice_name(item: OutboxItem) -> str:
    """`event:version-or-schedule`: what one notice's rows share."""
    return ":".join(item.key.split(":", 2)[:2])


def notices_sent(uow: UnitOfWork, items: Sequence[OutboxItem], at: datetime) -> None:
    """One event per notice among `items`, committed in the transaction that marks them sent."""
    groups: dict[tuple[str, str, str | None, str], int] = {}
    for item in items:
        key = (notice_name(item), item.product_code, item.version_id, item.channel)
        groups[key] = groups.get(key, 0) + 1
    record_all(
        uow,
        [
            AuditEvent(
                Kind.NOTICE_SENT,
                at=at,
                product_code=code,
                actor_id=WORKER,
                source=Source.SYSTEM,
                version_id=version_id,
                detail={"notice": notice, "channel": channel, "sent": count},
            )
            for (notice, code, version_id, channel), count in groups.items()
        ],
    )


def notice_failed(uow: UnitOfWork, item: OutboxItem, reason: str, at: datetime) -> None:
    record(
        uow,
        Kind.NOTICE_FAILED,
        at=at,
        product_code=item.product_code,
        version_id=item.version_id,
        notice=notice_name(item),
        channel=item.channel,
        recipient=item.recipient,
        reason=reason,
    )


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """{field: [before, after]} for each field whose value differs."""
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}


def _clip(detail: dict[str, Any]) -> dict[str, Any]:
    def cut(value: Any) -> Any:
        if isinstance(value, str) and len(value) > DETAIL_MAX:
            return value[:DETAIL_MAX] + "…"
        if isinstance(value, list):
            return [cut(v) for v in value[:100]]
        if isinstance(value, dict):
            return {str(k): cut(v) for k, v in list(value.items())[:50]}
        return value

    return {k: cut(v) for k, v in detail.items()}


# -- how an event reads -----------------------------------------------------------------------


def _short(value: Any, limit: int = 60) -> str:
    if isinstance(value, list):
        text = ", ".join(str(v) for v in value) or "-"
    else:
        text = str(value) if value not in (None, "") else "-"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary(event: AuditEvent) -> str:
    """One line of plain English on what the event says, beyond its kind and actor."""
    d = event.detail
    kind = Kind(event.kind)
    if kind is Kind.MODIFIED:
        fields = d.get("changes") or {}
        return "; ".join(
            f"{name}: {_short(pair[0])} → {_short(pair[1])}" for name, pair in fields.items()
        )
    parts: list[str] = []
    for key in ("request_kind", "unpublish_on", "omi", "software_version", "copy_id"):
        if d.get(key):
            parts.append(f"{key.replace('_', ' ')} {_short(d[key])}")
    if d.get("notice"):
        parts.append(f"notice {d['notice']}" + (f" by {d['channel']}" if d.get("channel") else ""))
    for key in ("recipients", "channels", "sent", "shared_with", "days_left", "late_seconds"):
        if d.get(key) is not None:
            parts.append(f"{key.replace('_', ' ')} {d[key]}")
    for key in ("recipient", "finding", "outcome", "reason"):
        if d.get(key):
            parts.append(f"{key} {_short(d[key], 200)}")
    return ", ".join(parts)

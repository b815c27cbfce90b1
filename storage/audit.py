"""Reads and writes of the audit trail. Only inserts and reads: the table refuses the rest."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, insert, or_, select
from sqlalchemy.orm import Session

from commands.audit import AuditEvent
from storage.orm import audit_events, requests

_COLUMNS = [c.key for c in audit_events.columns if c.key != "id"]


class AuditLog:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, event: AuditEvent) -> None:
        self.session.add(event)

    def add_all(self, events: Sequence[AuditEvent]) -> None:
        """One executemany: nothing needs the new IDs, and the ORM would insert row by row."""
        rows = [{name: getattr(e, name) for name in _COLUMNS} for e in events]
        self.session.execute(insert(audit_events), rows)

    def list(
        self,
        *,
        product_code: str | None = None,
        version_id: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[AuditEvent]:
        """In the order they happened (the ID's order); `newest_first` with `limit` gives the
        last ones."""
        stmt = select(AuditEvent)
        if product_code is not None:
            stmt = stmt.where(audit_events.c.product_code == product_code)
        if version_id is not None:
            stmt = stmt.where(_about(version_id))
        if since is not None:
            stmt = stmt.where(audit_events.c.at >= since)
        stmt = stmt.order_by(audit_events.c.id.desc() if newest_first else audit_events.c.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(self.session.scalars(stmt))

    def count(self, version_id: str) -> int:
        return int(self.session.scalar(select(func.count()).where(_about(version_id))) or 0)


def _about(version_id: str) -> ColumnElement[bool]:
    """A version's events, and those of the requests about it: a publication request names
    its version only once approved, so its own event does not."""
    asked = select(requests.c.id).where(requests.c.version_id == version_id)
    return or_(audit_events.c.version_id == version_id, audit_events.c.request_id.in_(asked))

"""Reads and writes of drift findings. Queries only; the rules are in commands/."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from commands.model import Finding
from storage.orm import drift_findings


class DriftFindings:
    """Differences between the cloud and the Versions table, as recorded."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, finding: Finding) -> None:
        self.session.add(finding)
        self.session.flush()

    def get(self, finding_id: int) -> Finding | None:
        return self.session.get(Finding, finding_id)

    def open(self, product_code: str | None = None) -> list[Finding]:
        stmt = select(Finding).where(drift_findings.c.resolved_at.is_(None))
        if product_code is not None:
            stmt = stmt.where(drift_findings.c.product_code == product_code)
        return list(self.session.scalars(stmt.order_by(drift_findings.c.id)))

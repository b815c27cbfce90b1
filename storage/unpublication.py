"""Reads and writes of scheduled unpublications. Queries only; the rules are in commands/."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from commands.model import ScheduleState, Unpublication
from storage.orm import schedules


class Schedules:
    """Scheduled unpublications."""

    ACTIVE = (ScheduleState.SCHEDULED.value, ScheduleState.BLOCKED.value)

    def __init__(self, session: Session, *, sqlite: bool) -> None:
        self.session = session
        self.sqlite = sqlite

    def add(self, schedule: Unpublication) -> None:
        self.session.add(schedule)
        self.session.flush()  # its ID names its notices

    def get(self, schedule_id: int, *, lock: bool = False) -> Unpublication | None:
        stmt = select(Unpublication).where(schedules.c.id == schedule_id)
        if lock:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def active(self, product_code: str | None = None) -> list[Unpublication]:
        """Schedules still to run or held by R7, by date."""
        stmt = select(Unpublication).where(schedules.c.state.in_(self.ACTIVE))
        if product_code is not None:
            stmt = stmt.where(schedules.c.product_code == product_code)
        return list(self.session.scalars(stmt.order_by(schedules.c.due_at, schedules.c.id)))

    def list(self, product_code: str | None = None) -> list[Unpublication]:
        stmt = select(Unpublication).order_by(schedules.c.id)
        if product_code is not None:
            stmt = stmt.where(schedules.c.product_code == product_code)
        return list(self.session.scalars(stmt))

    def due(self, at: datetime, limit: int = 100) -> list[Unpublication]:
        """Schedules with something due at `at`, locked so that a second worker skips them
        (SKIP LOCKED on PostgreSQL; SQLite's write lock makes it serial)."""
        stmt = (
            select(Unpublication)
            .where(
                schedules.c.state == ScheduleState.SCHEDULED.value,
                schedules.c.next_at.is_not(None),
                schedules.c.next_at <= at,
            )
            .order_by(schedules.c.next_at, schedules.c.id)
            .limit(limit)
        )
        if not self.sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        return list(self.session.scalars(stmt))

"""Reads and writes of the Slack deliveries already taken. Queries only."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import CursorResult, delete
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.orm import Session

from storage.orm import slack_deliveries


class Deliveries:
    """One row per Slack delivery (team, trigger or event ID) a replica has taken."""

    def __init__(self, session: Session, *, sqlite: bool) -> None:
        self.session = session
        self.sqlite = sqlite

    def claim(self, team_id: str, delivery_id: str, at: datetime, until: datetime) -> bool:
        """Takes the delivery until `until`, in one statement: True for the first taker, False
        while another's claim is unexpired. Both databases settle two claims at once on the
        primary key (ON CONFLICT), so no read-then-write race exists; an expired row is taken
        over in place, so a purge that has not run yet changes nothing."""
        insert = sqlite_dialect.insert if self.sqlite else postgresql.insert
        stmt = insert(slack_deliveries).values(
            team_id=team_id, delivery_id=delivery_id, expires_at=until
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[slack_deliveries.c.team_id, slack_deliveries.c.delivery_id],
            set_={"expires_at": stmt.excluded.expires_at},
            where=slack_deliveries.c.expires_at <= at,
        )
        # RETURNING, not rowcount: through a Session on psycopg this INSERT reports -1.
        taken = self.session.execute(stmt.returning(slack_deliveries.c.delivery_id))
        return taken.first() is not None

    def purge(self, at: datetime) -> int:
        """Deletes the expired rows (read from the index on expires_at)."""
        stmt = delete(slack_deliveries).where(slack_deliveries.c.expires_at <= at)
        return cast(CursorResult[object], self.session.execute(stmt)).rowcount

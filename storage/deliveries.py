"""Reads and writes of the Slack deliveries already taken. Queries only."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, bindparam, delete, literal, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.sql.dml import Delete, ReturningInsert

from storage.db import is_sqlite
from storage.orm import slack_deliveries

_PURGE: Delete = delete(slack_deliveries).where(slack_deliveries.c.expires_at <= bindparam("at"))
_TAKEN = select(literal(1)).where(
    slack_deliveries.c.team_id == bindparam("team_id"),
    slack_deliveries.c.delivery_id == bindparam("delivery_id"),
    slack_deliveries.c.expires_at > bindparam("at", type_=slack_deliveries.c.expires_at.type),
)


@dataclass(eq=False)
class _Claim:
    key: tuple[str, str]
    at: datetime
    until: datetime
    done: threading.Event = field(default_factory=threading.Event)
    leads: bool = False
    taken: bool = False
    error: BaseException | None = None


class Deliveries:
    """One row per Slack delivery (team, trigger or event ID) a replica has taken.

    A claim comes before every acknowledgement, so claims are cheap: a statement on a plain
    connection (no session), and the claims that arrive while one is being written are written
    together by the next, in one statement and one commit. Fifty requests at once then wait
    for a few commits instead of queueing for fifty."""

    def __init__(self, engine: Engine, read_engine: Engine | None = None) -> None:
        self.engine = engine
        self.read_engine = read_engine or engine
        self._insert = sqlite_dialect.insert if is_sqlite(engine) else postgresql.insert
        self._one = self._statement(
            {
                "team_id": bindparam("team_id"),
                "delivery_id": bindparam("delivery_id"),
                "expires_at": bindparam("until", type_=slack_deliveries.c.expires_at.type),
            },
            bindparam("at", type_=slack_deliveries.c.expires_at.type),
        )
        self._lock = threading.Lock()
        self._waiting: list[_Claim] = []
        self._writing = False

    def claim(self, team_id: str, delivery_id: str, at: datetime, until: datetime) -> bool:
        """Takes the delivery until `until`: True for the first taker, False while another's
        claim is unexpired. Both databases settle two claims at once on the primary key
        (ON CONFLICT), so no read-then-write race exists; an expired row is taken over in
        place, so a purge that has not run yet changes nothing."""
        mine = _Claim((team_id, delivery_id), at, until)
        with self._lock:
            self._waiting.append(mine)
            mine.leads = not self._writing
            self._writing = True
        if not mine.leads:
            mine.done.wait()
        if mine.leads:
            self._write_waiting()
        if mine.error is not None:
            raise mine.error
        return mine.taken

    def taken(self, team_id: str, delivery_id: str, at: datetime) -> bool:
        """Whether a replica has taken the delivery (an unexpired claim): one read by the
        primary key, which waits for no writer."""
        values = {"team_id": team_id, "delivery_id": delivery_id, "at": at}
        with self.read_engine.connect() as connection:
            return connection.execute(_TAKEN, values).first() is not None

    def _write_waiting(self) -> None:
        """Writes every claim waiting, then hands the writing to a claim that came meanwhile."""
        with self._lock:
            batch, self._waiting = self._waiting, []
        try:
            taken = self._write(batch)
        except BaseException as error:
            for claim in batch:
                claim.error = error
        else:
            seen: set[tuple[str, str]] = set()
            for claim in batch:
                claim.taken = claim.key in taken and claim.key not in seen
                seen.add(claim.key)
        with self._lock:
            if self._waiting:
                self._waiting[0].leads = True
                self._waiting[0].done.set()
            else:
                self._writing = False
        for claim in batch:
            claim.done.set()

    def _statement(self, rows: Any, at: Any) -> ReturningInsert[tuple[str, str]]:
        stmt = self._insert(slack_deliveries).values(rows)
        stmt = stmt.on_conflict_do_update(
            index_elements=[slack_deliveries.c.team_id, slack_deliveries.c.delivery_id],
            set_={"expires_at": stmt.excluded.expires_at},
            where=slack_deliveries.c.expires_at <= at,
        )
        # RETURNING, not rowcount: on psycopg this INSERT reports -1.
        return stmt.returning(slack_deliveries.c.team_id, slack_deliveries.c.delivery_id)

    def _write(self, batch: list[_Claim]) -> set[tuple[str, str]]:
        with self.engine.begin() as connection:
            if len(batch) == 1:  # the statement built once
                (claim,) = batch
                team_id, delivery_id = claim.key
                values = {"team_id": team_id, "delivery_id": delivery_id}
                values |= {"until": claim.until, "at": claim.at}
                rows = connection.execute(self._one, values)
            else:
                # A statement may not touch a row twice (PostgreSQL refuses it).
                unique = {
                    claim.key: {
                        "team_id": claim.key[0],
                        "delivery_id": claim.key[1],
                        "expires_at": claim.until,
                    }
                    for claim in reversed(batch)
                }
                at = max(claim.at for claim in batch)
                rows = connection.execute(self._statement(list(unique.values()), at))
            return {(row[0], row[1]) for row in rows}

    def purge(self, at: datetime) -> int:
        """Deletes the expired rows (read from the index on expires_at). Returns how many."""
        with self.engine.begin() as connection:
            return cast(CursorResult[object], connection.execute(_PURGE, {"at": at})).rowcount

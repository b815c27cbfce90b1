"""Reads and writes of the outbox's notices: queueing, the claims with their leases, the
outcomes fenced on the claim that sent. Queries only; the rules are in commands/."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commands.model import OutboxItem, OutboxState
from storage.orm import outbox

CHUNK = 500


def _chunks(items: Iterable[OutboxItem], size: int) -> Iterator[list[OutboxItem]]:
    chunk: list[OutboxItem] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Outbox:
    def __init__(self, session: Session, *, sqlite: bool) -> None:
        self.session = session
        self.sqlite = sqlite

    def add(self, item: OutboxItem) -> bool:
        """Queues a notice unless the same one (same key) was queued before."""
        exists = self.session.scalar(select(outbox.c.id).where(outbox.c.key == item.key))
        if exists is not None:
            return False
        try:
            with self.session.begin_nested():
                self.session.add(item)
        except IntegrityError:
            return False
        return True

    def add_all(self, items: Iterable[OutboxItem]) -> int:
        """Queues many notices (every recipient of one event), minus those whose key was
        queued before. Returns how many were added. They are read and inserted CHUNK at a
        time: a publication to ten thousand recipients, each mail carrying its bodies, never
        has all its rows (and their JSON) in memory at once, only a few hundred."""
        added = 0
        seen: set[str] = set()
        for chunk in _chunks(items, CHUNK):
            fresh: dict[str, OutboxItem] = {}
            for item in chunk:
                if item.key not in seen:
                    seen.add(item.key)
                    fresh[item.key] = item
            queued = select(outbox.c.key).where(outbox.c.key.in_(list(fresh)))
            for key in self.session.scalars(queued):
                fresh.pop(key, None)
            if fresh:
                added += self._insert(list(fresh.values()))
        return added

    def _insert(self, items: Sequence[OutboxItem]) -> int:
        # A Core executemany: the ORM would insert one row per statement on SQLite to read
        # each new ID back, and nothing here needs the IDs.
        columns = [c.key for c in outbox.columns if c.key != "id"]
        rows = [{name: getattr(item, name) for name in columns} for item in items]
        try:
            with self.session.begin_nested():
                self.session.execute(insert(outbox), rows)
        except IntegrityError:
            # Another transaction queued some of the same keys meanwhile: one by one.
            return sum(self.add(item) for item in items)
        return len(items)

    def get(self, item_id: int) -> OutboxItem | None:
        return self.session.get(OutboxItem, item_id)

    @staticmethod
    def _held(item: OutboxItem) -> ColumnElement[bool]:
        """The fence of a claim: the notice is still sending, under the same attempt, for the
        same worker. Checked by the database in the statement that writes, never read first and
        written after, so a worker that stalled past its lease cannot overwrite the claim of the
        one that took over (PostgreSQL re-checks the condition on the row it locks)."""
        return and_(
            outbox.c.id == item.id,
            outbox.c.state == OutboxState.SENDING.value,
            outbox.c.attempts == item.attempts,
            outbox.c.worker == item.worker,
        )

    def settle(self, item: OutboxItem, **values: object) -> bool:
        """Writes a delivery's outcome (or a checkpoint) in one statement, only if `item` is
        still held by the claim that sent it. False when another worker took it over after the
        lease ran out."""
        result = self.session.execute(update(outbox).where(self._held(item)).values(**values))
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def settle_sent(self, sent: Sequence[tuple[OutboxItem, datetime]]) -> set[int]:
        """Marks notices sent, each at its own time, `(item, sent_at)`, those still held by
        their claims only: one UPDATE … RETURNING per claim fenced as `settle` is, instead of
        one per notice. Returns the IDs written; the others were taken over by another worker
        after the lease ran out."""
        held: set[int] = set()
        by_claim: dict[tuple[int, str | None], list[tuple[int, datetime]]] = {}
        for item, at in sent:
            by_claim.setdefault((item.attempts, item.worker), []).append((item.id, at))
        for (attempts, worker), rows in by_claim.items():
            for start in range(0, len(rows), 500):
                chunk = rows[start : start + 500]
                when = case(
                    *(
                        (outbox.c.id == i, bindparam(None, at, outbox.c.sent_at.type))
                        for i, at in chunk
                    )
                )
                result = self.session.execute(
                    update(outbox)
                    .where(
                        outbox.c.id.in_([i for i, _ in chunk]),
                        outbox.c.state == OutboxState.SENDING.value,
                        outbox.c.attempts == attempts,
                        outbox.c.worker == worker,
                    )
                    .values(
                        state=OutboxState.SENT.value,
                        sent_at=when,
                        lease_until=None,
                        last_error=None,
                    )
                    .returning(outbox.c.id)
                )
                held.update(result.scalars())
        return held

    def renew(self, items: Sequence[OutboxItem], until: datetime) -> set[int]:
        """Extends the lease of the notices still held by their claims; returns their IDs."""
        held: set[int] = set()
        by_claim: dict[tuple[int, str | None], list[int]] = {}
        for item in items:
            by_claim.setdefault((item.attempts, item.worker), []).append(item.id)
        for (attempts, worker), ids in by_claim.items():
            for start in range(0, len(ids), 500):
                rows = self.session.execute(
                    update(outbox)
                    .where(
                        outbox.c.id.in_(ids[start : start + 500]),
                        outbox.c.state == OutboxState.SENDING.value,
                        outbox.c.attempts == attempts,
                        outbox.c.worker == worker,
                    )
                    .values(lease_until=until)
                    .returning(outbox.c.id)
                )
                held.update(rows.scalars())
        return held

    def claim(
        self, channel: str, worker: str, at: datetime, lease: timedelta, limit: int
    ) -> list[OutboxItem]:
        """Takes due notices for delivery, as Jobs.claim does: first those whose worker's
        lease ran out (it died), then pending ones that are due, oldest first."""
        taken = self._claim(
            channel,
            and_(outbox.c.state == OutboxState.SENDING.value, outbox.c.lease_until < at),
            worker,
            at + lease,
            limit,
        )
        for item in taken:
            item.taken_over = True
        if len(taken) < limit:
            taken += self._claim(
                channel,
                and_(outbox.c.state == OutboxState.PENDING.value, outbox.c.next_attempt_at <= at),
                worker,
                at + lease,
                limit - len(taken),
            )
        return taken

    def _claim(
        self,
        channel: str,
        condition: ColumnElement[bool],
        worker: str,
        lease_until: datetime,
        limit: int,
    ) -> list[OutboxItem]:
        # One UPDATE … RETURNING whose rows come from ix_outbox_due in its order (a read then
        # a write of each row cost more than sending a mail to a nearby server).
        due = (
            select(outbox.c.id)
            .where(outbox.c.channel == channel, condition)
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(limit)
        )
        if not self.sqlite:
            due = due.with_for_update(skip_locked=True)
        stmt = (
            update(OutboxItem)
            .where(outbox.c.id.in_(due.scalar_subquery()))
            .values(
                state=OutboxState.SENDING,
                attempts=outbox.c.attempts + 1,
                lease_until=lease_until,
                worker=worker,
            )
            .returning(OutboxItem)
            .execution_options(synchronize_session=False)
        )
        return sorted(self.session.scalars(stmt), key=lambda i: (i.next_attempt_at, i.id))

    def list(
        self,
        channel: str | None = None,
        state: OutboxState | None = None,
        limit: int = 200,
        version_id: str | None = None,
    ) -> list[OutboxItem]:
        stmt = select(OutboxItem).order_by(outbox.c.id.desc()).limit(limit)
        if channel is not None:
            stmt = stmt.where(outbox.c.channel == channel)
        if state is not None:
            stmt = stmt.where(outbox.c.state == state.value)
        if version_id is not None:
            stmt = stmt.where(outbox.c.version_id == version_id)
        return list(self.session.scalars(stmt))

    def counts(self, version_id: str, channel: str) -> dict[str, int]:
        stmt = (
            select(outbox.c.state, func.count())
            .where(outbox.c.version_id == version_id, outbox.c.channel == channel)
            .group_by(outbox.c.state)
        )
        return {str(state): int(n) for state, n in self.session.execute(stmt)}

    def unfinished(self) -> int:
        return (
            self.session.scalar(
                select(func.count()).where(
                    outbox.c.state.in_([OutboxState.PENDING.value, OutboxState.SENDING.value])
                )
            )
            or 0
        )

    def recipients(self, key_prefixes: Sequence[str]) -> list[tuple[str, str, str]]:
        """(channel, recipient, language) of the notices whose key starts with one of the
        prefixes, once each: who was told of an event."""
        if not key_prefixes:
            return []
        stmt = (
            select(outbox.c.channel, outbox.c.recipient, outbox.c.language)
            .where(or_(*(outbox.c.key.startswith(p, autoescape=True) for p in key_prefixes)))
            .order_by(outbox.c.id)
        )
        found: dict[tuple[str, str], tuple[str, str, str]] = {}
        for channel, recipient, language in self.session.execute(stmt):
            key = (channel, recipient.lower() if channel == "email" else recipient)
            found.setdefault(key, (channel, recipient, language))
        return list(found.values())

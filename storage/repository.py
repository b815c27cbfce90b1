"""Reads and writes of the domain objects. Queries only; the rules are in commands/."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload

from commands.model import (
    Job,
    JobState,
    Organization,
    OutboxItem,
    OutboxState,
    Product,
    Request,
    RequestKind,
    RequestState,
    Status,
    Subscriber,
    Subscription,
    Version,
)
from storage.orm import jobs, outbox, products, requests, subscribers, subscriptions, versions


class Products:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, product: Product) -> None:
        self.session.add(product)

    def get(self, code: str, *, lock: bool = False, versions: bool = True) -> Product | None:
        """The product with its whole Versions table (unless `versions` is false, for reading
        only). `lock` holds the product's row until commit, so two decisions on one product
        run one after the other (R7)."""
        stmt = select(Product).where(products.c.code == code)
        if not versions:
            stmt = stmt.options(lazyload(Product.versions))  # type: ignore[attr-defined]
        if lock:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def list(self) -> list[Product]:
        return list(self.session.scalars(select(Product).order_by(products.c.code)))

    def summaries(self) -> list[tuple[Product, int]]:
        """Products with their number of published versions, without loading the tables."""
        count = (
            select(func.count())
            .where(
                and_(
                    versions.c.product_code == products.c.code,
                    versions.c.status == Status.PUBLISHED.value,
                )
            )
            .scalar_subquery()
        )
        stmt = (
            select(Product, count)
            .options(lazyload(Product.versions))  # type: ignore[attr-defined]
            .order_by(products.c.code)
        )
        return [(p, n) for p, n in self.session.execute(stmt)]


class Versions:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, version_id: str) -> Version | None:
        return self.session.get(Version, version_id)

    def table(
        self, product_code: str, *, limit: int | None = None, offset: int = 0
    ) -> list[Version]:
        """A product's Versions table, newest first, read straight from its index."""
        stmt = (
            select(Version)
            .where(versions.c.product_code == product_code)
            .order_by(versions.c.created_at.desc(), versions.c.id.desc())
            .offset(offset)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(self.session.scalars(stmt))

    def count(self, product_code: str) -> int:
        return (
            self.session.scalar(select(func.count()).where(versions.c.product_code == product_code))
            or 0
        )

    def last_available(self, product_code: str) -> Version | None:
        stmt = (
            select(Version)
            .where(
                versions.c.product_code == product_code, versions.c.status == Status.PUBLISHED.value
            )
            .order_by(versions.c.published_at.desc(), versions.c.id.desc())
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def last_available_of_all(self) -> dict[str, Version]:
        """The last available version of every product that has one, in one statement."""
        latest = versions.alias("latest")
        newest = (
            select(latest.c.id)
            .where(
                latest.c.product_code == products.c.code,
                latest.c.status == Status.PUBLISHED.value,
            )
            .order_by(latest.c.published_at.desc(), latest.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        stmt = select(Version).join_from(products, Version, versions.c.id == newest)
        return {v.product_code: v for v in self.session.scalars(stmt)}

    def published_copies(self, product_code: str) -> list[Version]:
        stmt = select(Version).where(
            versions.c.product_code == product_code,
            versions.c.status == Status.PUBLISHED.value,
            versions.c.copy_id.is_not(None),
        )
        return list(self.session.scalars(stmt))


class Requests:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, request: Request) -> None:
        self.session.add(request)
        self.session.flush()  # the request's ID is shown at once

    def get(self, request_id: int, *, lock: bool = False) -> Request | None:
        stmt = select(Request).where(requests.c.id == request_id)
        if lock:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def pending(self, product_codes: Sequence[str] | None = None) -> list[Request]:
        stmt = select(Request).where(requests.c.state == RequestState.PENDING.value)
        if product_codes is not None:
            stmt = stmt.where(requests.c.product_code.in_(product_codes))
        return list(self.session.scalars(stmt.order_by(requests.c.id)))

    def about_version(self, version_id: str, product_code: str) -> Request | None:
        """The latest request that decided this version's fate: its own publish or unpublish
        request, else an approved unpublication of its whole product."""
        own = self.session.scalars(
            select(Request)
            .where(requests.c.version_id == version_id)
            .order_by(requests.c.id.desc())
            .limit(1)
        ).first()
        if own is not None:
            return own
        return self.session.scalars(
            select(Request)
            .where(
                requests.c.product_code == product_code,
                requests.c.kind == RequestKind.UNPUBLISH_PRODUCT.value,
                requests.c.state == RequestState.APPROVED.value,
            )
            .order_by(requests.c.id.desc())
            .limit(1)
        ).first()

    def by_requester(self, user_id: str, limit: int = 10) -> list[Request]:
        stmt = (
            select(Request)
            .where(requests.c.requested_by == user_id)
            .order_by(requests.c.id.desc())
            .limit(limit)
        )
        return list(self.session.scalars(stmt))


class Jobs:
    def __init__(self, session: Session, *, sqlite: bool) -> None:
        self.session = session
        self.sqlite = sqlite

    def add(self, job: Job) -> bool:
        """Queues a job unless one with the same key is already queued. Returns whether it was
        added."""
        if job.key is not None:
            exists = self.session.scalar(select(jobs.c.id).where(jobs.c.key == job.key))
            if exists is not None:
                return False
        try:
            with self.session.begin_nested():
                self.session.add(job)
        except IntegrityError:
            return False  # another transaction queued the same key first
        return True

    def get(self, job_id: int, *, lock: bool = False) -> Job | None:
        """`lock` holds the job's row until commit: what a worker reads of its claim then stays
        true while it writes (a claim by another worker waits, or skips the row)."""
        if not lock:
            return self.session.get(Job, job_id)
        return self.session.scalars(
            select(Job).where(jobs.c.id == job_id).with_for_update()
        ).first()

    def claim(self, worker: str, at: datetime, lease: timedelta) -> Job | None:
        """Takes the next due job: pending ones, and running ones whose worker's lease ran
        out (it died). SKIP LOCKED lets several workers claim side by side on PostgreSQL;
        SQLite's write lock makes the claim serial."""
        stmt = (
            select(Job)
            .where(
                or_(
                    and_(jobs.c.state == JobState.PENDING.value, jobs.c.run_at <= at),
                    and_(jobs.c.state == JobState.RUNNING.value, jobs.c.lease_until < at),
                )
            )
            .order_by(jobs.c.run_at, jobs.c.id)
            .limit(1)
        )
        if not self.sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        job = self.session.scalars(stmt).first()
        if job is None:
            return None
        job.state = JobState.RUNNING
        job.attempts += 1
        job.worker = worker
        job.lease_until = at + lease
        return job

    def for_version(self, version_id: str) -> list[Job]:
        return list(
            self.session.scalars(
                select(Job).where(jobs.c.version_id == version_id).order_by(jobs.c.id)
            )
        )

    def busy_versions(self, product_code: str) -> set[str]:
        """The product's versions with a job pending or running."""
        stmt = select(jobs.c.version_id).where(
            jobs.c.product_code == product_code,
            jobs.c.version_id.is_not(None),
            jobs.c.state.in_([JobState.PENDING.value, JobState.RUNNING.value]),
        )
        return {str(v) for v in self.session.scalars(stmt)}

    def unfinished(self, version_id: str | None = None) -> int:
        stmt = select(func.count()).where(
            jobs.c.state.in_([JobState.PENDING.value, JobState.RUNNING.value])
        )
        if version_id is not None:
            stmt = stmt.where(jobs.c.version_id == version_id)
        return self.session.scalar(stmt) or 0

    def unfinished_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of these keys name a job still pending or running."""
        if not keys:
            return set()
        stmt = select(jobs.c.key).where(
            jobs.c.key.in_(list(keys)),
            jobs.c.state.in_([JobState.PENDING.value, JobState.RUNNING.value]),
        )
        return {str(k) for k in self.session.scalars(stmt)}

    def next_run_at(self) -> datetime | None:
        return self.session.scalar(
            select(func.min(jobs.c.run_at)).where(jobs.c.state == JobState.PENDING.value)
        )

    def list(self, state: JobState | None = None, limit: int = 100) -> list[Job]:
        stmt = select(Job).order_by(jobs.c.id.desc()).limit(limit)
        if state is not None:
            stmt = stmt.where(jobs.c.state == state.value)
        return list(self.session.scalars(stmt))


class Subscribers:
    def __init__(self, session: Session) -> None:
        self.session = session

    def organization(self, name: str) -> Organization | None:
        return self.session.scalars(
            select(Organization).where(Organization.name == name)  # type: ignore[arg-type]
        ).first()

    def organization_by_id(self, org_id: int) -> Organization | None:
        return self.session.get(Organization, org_id)

    def organizations(self) -> list[Organization]:
        return list(self.session.scalars(select(Organization).order_by(Organization.name)))  # type: ignore[arg-type]

    def add_organization(self, org: Organization) -> None:
        self.session.add(org)
        self.session.flush()

    def get(self, account_id: str) -> Subscriber | None:
        return self.session.get(Subscriber, account_id)

    def add(self, subscriber: Subscriber) -> None:
        self.session.add(subscriber)

    def delete(self, obj: object) -> None:
        self.session.delete(obj)

    def list(self, product_code: str | None = None) -> list[Subscriber]:
        stmt = select(Subscriber).order_by(subscribers.c.account_id)
        if product_code is not None:
            stmt = stmt.join(
                subscriptions, subscriptions.c.account_id == subscribers.c.account_id
            ).where(subscriptions.c.product_code == product_code)
        return list(self.session.scalars(stmt))

    def subscription(self, account_id: str, product_code: str) -> Subscription | None:
        return self.session.get(Subscription, (account_id, product_code))

    def add_subscription(self, subscription: Subscription) -> None:
        self.session.add(subscription)

    def subscriptions_of(self, account_id: str) -> list[Subscription]:
        return list(
            self.session.scalars(
                select(Subscription).where(subscriptions.c.account_id == account_id)
            )
        )

    def account_ids(self, product_code: str) -> list[str]:
        """The subscriber accounts of a product, in a stable order (sharing checkpoints rely
        on it)."""
        stmt = (
            select(subscriptions.c.account_id)
            .where(subscriptions.c.product_code == product_code)
            .order_by(subscriptions.c.account_id)
        )
        return list(self.session.scalars(stmt))


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

    def add_all(self, items: Sequence[OutboxItem]) -> int:
        """Queues many notices (every recipient of one event) in one statement batch, minus
        those whose key was queued before. Returns how many were added."""
        fresh: dict[str, OutboxItem] = {}
        for item in items:
            fresh.setdefault(item.key, item)
        keys = list(fresh)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            for key in self.session.scalars(select(outbox.c.key).where(outbox.c.key.in_(chunk))):
                fresh.pop(key, None)
        if not fresh:
            return 0
        # A Core executemany: the ORM would insert one row per statement on SQLite to read
        # each new ID back, and nothing here needs the IDs.
        columns = [c.key for c in outbox.columns if c.key != "id"]
        rows = [{name: getattr(item, name) for name in columns} for item in fresh.values()]
        try:
            with self.session.begin_nested():
                self.session.execute(insert(outbox), rows)
        except IntegrityError:
            # Another transaction queued some of the same keys meanwhile: one by one.
            return sum(self.add(item) for item in fresh.values())
        return len(fresh)

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

"""Reads and writes of the domain objects. Queries only; the rules are in commands/."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from commands.model import (
    LIVE,
    Excerpt,
    Job,
    JobState,
    Organization,
    Product,
    Request,
    RequestKind,
    RequestState,
    Status,
    Subscriber,
    Subscription,
    Version,
)
from storage.orm import (
    jobs,
    organizations,
    products,
    requests,
    subscribers,
    subscriptions,
    versions,
)


def _storable(key: str) -> bool:
    """PostgreSQL refuses a NUL anywhere in a query, so no key holds one: a key that does
    (typed in Slack, pasted in a form) is simply not found, on both databases alike."""
    return "\x00" not in key


# The statements a Slack answer runs are built once, with their parameters bound at each call:
# building and keying a statement anew costs more than running it on a small table.


@functools.cache
def _product_by_code(versions: bool, lock: bool) -> Select[tuple[Product]]:
    stmt = select(Product).where(products.c.code == bindparam("code"))
    if not versions:
        stmt = stmt.options(lazyload(Product.versions))  # type: ignore[attr-defined]
    if lock:
        stmt = stmt.with_for_update()
    return stmt


@functools.cache
def _excerpt_of(omis: bool, version: bool, live: bool) -> Select[tuple[Version]]:
    """The versions of product :code an Excerpt names: the last created one, those holding
    one of :omis, the version :version_id, those in :live."""
    code = bindparam("code")
    mine = versions.c.product_code == code
    last = (
        select(versions.c.id)
        .where(mine)
        .order_by(versions.c.created_at.desc(), versions.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    # Each alternative names the product and none sorts, so that each is read from an index
    # of its own instead of from the product's whole table in order.
    wanted = [and_(mine, versions.c.id == last)]
    if omis:
        wanted.append(and_(mine, versions.c.omi_id.in_(bindparam("omis", expanding=True))))
    if version:
        wanted.append(and_(mine, versions.c.id == bindparam("version_id")))
    if live:
        wanted.append(and_(mine, versions.c.status.in_(bindparam("live", expanding=True))))
    return select(Version).where(or_(*wanted))


class Products:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, product: Product) -> None:
        self.session.add(product)

    def get(self, code: str, *, lock: bool = False, versions: bool = True) -> Product | None:
        """The product with its whole Versions table (unless `versions` is false, for reading
        only). `lock` holds the product's row until commit, so two decisions on one product
        run one after the other (R7)."""
        if not _storable(code):
            return None
        return self.session.scalars(_product_by_code(versions, lock), {"code": code}).first()

    def excerpt(self, code: str, excerpt: Excerpt) -> Product | None:
        """The product with only the rows of its Versions table that `excerpt` names, in two
        statements whatever the table's size; for reading (its rules that need other rows
        refuse to run). A product this session already read whole stays whole."""
        product = self.get(code, versions=False)
        if product is None or "versions" in product.__dict__:
            return product
        omis = sorted(o for o in excerpt.omis if _storable(o))
        version_id = excerpt.version_id
        if version_id is not None and not _storable(version_id):
            version_id = None
        stmt = _excerpt_of(bool(omis), version_id is not None, excerpt.live)
        values = {"code": code, "omis": omis, "version_id": version_id, "live": list(LIVE)}
        rows = self.session.scalars(stmt, values)
        # In the order of the whole table's relationship.
        excerpted = sorted(rows, key=lambda v: (v.created_at, v.id))
        set_committed_value(product, "versions", excerpted)
        product.excerpt = excerpt
        return product

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
        return self.session.get(Version, version_id) if _storable(version_id) else None

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

    def add_once(self, request: Request) -> Request:
        """Adds the request, unless another transaction wrote one with the same idempotency
        key first (the key is unique): that one is returned instead."""
        if request.idempotency_key is None:
            self.add(request)
            return request
        try:
            with self.session.begin_nested():
                self.session.add(request)
                self.session.flush()
        except IntegrityError:
            existing = self.by_key(request.idempotency_key)
            if existing is None:
                raise
            return existing
        return request

    def by_key(self, idempotency_key: str) -> Request | None:
        return self.session.scalars(
            select(Request).where(requests.c.idempotency_key == idempotency_key)
        ).first()

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

    def add(self, job: Job, *, again_if_failed: bool = False) -> bool:
        """Queues a job unless one with the same key is already queued. Returns whether it was
        added. With `again_if_failed`, a failed job of that key gives its key up to the new
        one and stays on record as it ended."""
        if job.key is not None:
            exists = self.session.execute(
                select(jobs.c.id, jobs.c.state).where(jobs.c.key == job.key)
            ).first()
            if exists is not None:
                if not (again_if_failed and exists.state == JobState.FAILED.value):
                    return False
                self.session.execute(update(jobs).where(jobs.c.id == exists.id).values(key=None))
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
        job.taken_over = job.state is JobState.RUNNING
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

    def organizations_by_id(self, org_ids: Iterable[int]) -> dict[int, Organization]:
        """The organizations of these IDs, a few statements for any number of them (a
        publication reaches thousands of subscribers in hundreds of organizations)."""
        wanted = sorted(set(org_ids))
        found: dict[int, Organization] = {}
        for start in range(0, len(wanted), 500):
            stmt = select(Organization).where(organizations.c.id.in_(wanted[start : start + 500]))
            found.update((org.id, org) for org in self.session.scalars(stmt))
        return found

    def organizations(self) -> list[Organization]:
        return list(self.session.scalars(select(Organization).order_by(Organization.name)))  # type: ignore[arg-type]

    def add_organization(self, org: Organization) -> None:
        self.session.add(org)
        self.session.flush()

    def get(self, account_id: str) -> Subscriber | None:
        return self.session.get(Subscriber, account_id) if _storable(account_id) else None

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

"""The unit of work: one transaction, with the repositories that read and write in it.

Nothing is written unless `commit()` is called; leaving the block rolls back the rest."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from storage import audit, deliveries, drift, health, outbox, repository, unpublication
from storage.db import is_sqlite
from storage.orm import start_mappers


class UnitOfWork:
    session: Session
    products: repository.Products
    versions: repository.Versions
    requests: repository.Requests
    jobs: repository.Jobs
    subscribers: repository.Subscribers
    outbox: outbox.Outbox
    schedules: unpublication.Schedules
    drift: drift.DriftFindings
    health: health.Health
    audit: audit.AuditLog
    deliveries: deliveries.Deliveries

    def __init__(self, session_factory: Callable[[], Session], *, sqlite: bool) -> None:
        self._session_factory = session_factory
        self._sqlite = sqlite

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.products = repository.Products(self.session)
        self.versions = repository.Versions(self.session)
        self.requests = repository.Requests(self.session)
        self.jobs = repository.Jobs(self.session, sqlite=self._sqlite)
        self.subscribers = repository.Subscribers(self.session)
        self.outbox = outbox.Outbox(self.session, sqlite=self._sqlite)
        self.schedules = unpublication.Schedules(self.session, sqlite=self._sqlite)
        self.drift = drift.DriftFindings(self.session)
        self.health = health.Health(self.session)
        self.audit = audit.AuditLog(self.session)
        self.deliveries = deliveries.Deliveries(self.session, sqlite=self._sqlite)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() ends the transaction without committing, like a rollback, but leaves the
        # objects read in it loaded, so callers can keep reading what they were given.
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()


class Database:
    """Hands out units of work on one engine."""

    def __init__(self, engine: Engine) -> None:
        start_mappers()
        self.engine = engine
        self._factory = sessionmaker(bind=engine, expire_on_commit=False)
        self._sqlite = is_sqlite(engine)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self._factory, sqlite=self._sqlite)

    def reachable(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False

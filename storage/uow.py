"""The unit of work: one transaction, with the repositories that read and write in it.

Nothing is written unless `commit()` is called; leaving the block rolls back the rest.

`Database.uow()` may write: on SQLite it takes the write lock at BEGIN, so that check-then-write
operations run one at a time. `Database.reading()` only reads: on SQLite it begins deferred and
reads beside the writer (WAL), and it refuses to write anything."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, sessionmaker

from storage import audit, deliveries, drift, health, outbox, repository, unpublication
from storage.db import READ_ONLY, is_sqlite
from storage.orm import start_mappers


class UnitOfWork:
    """The repositories are made on first use: most units of work touch one or two of them."""

    session: Session

    def __init__(self, session_factory: Callable[[], Session], *, sqlite: bool) -> None:
        self._session_factory = session_factory
        self._sqlite = sqlite

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        # A unit of work used again starts with repositories of its new session.
        for name in _REPOSITORIES:
            self.__dict__.pop(name, None)
        return self

    @cached_property
    def products(self) -> repository.Products:
        return repository.Products(self.session)

    @cached_property
    def versions(self) -> repository.Versions:
        return repository.Versions(self.session)

    @cached_property
    def requests(self) -> repository.Requests:
        return repository.Requests(self.session)

    @cached_property
    def jobs(self) -> repository.Jobs:
        return repository.Jobs(self.session, sqlite=self._sqlite)

    @cached_property
    def subscribers(self) -> repository.Subscribers:
        return repository.Subscribers(self.session)

    @cached_property
    def outbox(self) -> outbox.Outbox:
        return outbox.Outbox(self.session, sqlite=self._sqlite)

    @cached_property
    def schedules(self) -> unpublication.Schedules:
        return unpublication.Schedules(self.session, sqlite=self._sqlite)

    @cached_property
    def drift(self) -> drift.DriftFindings:
        return drift.DriftFindings(self.session)

    @cached_property
    def health(self) -> health.Health:
        return health.Health(self.session)

    @cached_property
    def audit(self) -> audit.AuditLog:
        return audit.AuditLog(self.session)

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


_REPOSITORIES = [
    name for name, value in vars(UnitOfWork).items() if isinstance(value, cached_property)
]


class ReadOnlyViolation(RuntimeError):
    """A read unit of work was asked to write: a programming error, the caller wants `uow()`."""


class _ReadSession(Session):
    """A session that never writes: it has no autoflush, and a flush, an INSERT, UPDATE or
    DELETE, or a commit raises instead of being silently rolled back at the end."""


@event.listens_for(_ReadSession, "before_flush")
def _refuse_flush(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    raise ReadOnlyViolation(
        "a read-only unit of work (Database.reading()) cannot flush changes; use uow()"
    )


@event.listens_for(_ReadSession, "do_orm_execute")
def _refuse_writes(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise ReadOnlyViolation(
            "a read-only unit of work (Database.reading()) cannot run INSERT, UPDATE or DELETE;"
            " use uow()"
        )


class ReadUnitOfWork(UnitOfWork):
    """A unit of work for reads only (see the module's docstring)."""

    def commit(self) -> None:
        raise ReadOnlyViolation(
            "a read-only unit of work (Database.reading()) cannot commit; use uow() to write"
        )


class Database:
    """Hands out units of work on one engine."""

    def __init__(self, engine: Engine) -> None:
        start_mappers()
        self.engine = engine
        # The same engine and pool, for connections that only read. The option only changes
        # how a SQLite transaction begins (storage.db); PostgreSQL ignores it, so a read there
        # costs what any checkout costs.
        self.read_engine = engine.execution_options(**{READ_ONLY: True})
        self._factory = sessionmaker(bind=engine, expire_on_commit=False)
        self._read_factory = sessionmaker(
            bind=self.read_engine,
            class_=_ReadSession,
            autoflush=False,
            expire_on_commit=False,
        )
        self._sqlite = is_sqlite(engine)
        # Slack's deliveries taken, claimed around acknowledgements outside any unit of work.
        self.deliveries = deliveries.Deliveries(engine, self.read_engine)

    def uow(self) -> UnitOfWork:
        """A unit of work that may write; on SQLite it holds the write lock from its BEGIN."""
        return UnitOfWork(self._factory, sqlite=self._sqlite)

    def reading(self) -> ReadUnitOfWork:
        """A unit of work that only reads: it does not wait for the write lock on SQLite, and
        it raises ReadOnlyViolation on commit, flush or any INSERT, UPDATE or DELETE."""
        return ReadUnitOfWork(self._read_factory, sqlite=self._sqlite)

    def reachable(self) -> bool:
        try:
            with self.read_engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False

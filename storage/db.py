"""Engines for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.pool import QueuePool

# The execution option that marks an engine (and the connections it hands out) as reading only:
# on SQLite their transactions begin deferred, without the write lock.
READ_ONLY = "omi_read_only"


# TCP keepalives, so that a peer gone without a word (a host that died, a failover that moved
# the address, a firewall that forgot the connection) is noticed in seconds, not after the
# kernel's two hours: probes start after 5 idle seconds, every 2 seconds, and 3 unanswered
# ones end the connection; data sent and not acknowledged for 10 seconds ends it too. A
# statement that waits on a live server is not cut: the server answers the probes.
KEEPALIVES: dict[str, int] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,  # milliseconds
}


def make_engine(
    url: str, *, statement_timeout: float | None = None, lock_timeout: float | None = None
) -> Engine:
    """An engine for `url`. On PostgreSQL, `statement_timeout` and `lock_timeout` (seconds;
    None or 0: the server's own setting) bound every statement of every connection; SQLite
    ignores them (its busy timeout bounds its waits)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    # pool_pre_ping replaces connections a restart has broken.
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        connect_args=_postgresql_connect_args(parsed.query, statement_timeout, lock_timeout),
    )


def _postgresql_connect_args(
    query: Mapping[str, str | tuple[str, ...]],
    statement_timeout: float | None,
    lock_timeout: float | None,
) -> dict[str, Any]:
    """The libpq parameters omi-bot sets; connect_args replace the URL's, so whatever the URL
    says itself is kept."""
    # A connection that cannot be made within seconds fails instead of hanging: a Slack
    # request waits on the database before its answer, and Slack waits 3 seconds.
    args: dict[str, Any] = {"connect_timeout": 2}
    args.update(KEEPALIVES)
    args = {name: value for name, value in args.items() if name not in query}
    # Set at connection start (libpq's startup packet), so they cost no round trip and hold
    # from the first statement. The URL's own options come after ours, and PostgreSQL keeps
    # the last value given: a "-c statement_timeout=..." in the URL wins, and its other
    # options (a search_path) are kept.
    limits = {"statement_timeout": statement_timeout, "lock_timeout": lock_timeout}
    # In milliseconds, never rounded down to 0, which would mean no limit at all.
    server = [f"-c {name}={max(1, round(s * 1000))}" for name, s in limits.items() if s]
    own = query.get("options")
    if server:
        given = [own] if isinstance(own, str) else list(own or ())
        args["options"] = " ".join([*server, *given])
    return args


# How long a writer waits for its turn in this process before it queues in SQLite instead.
TURN_TIMEOUT = 30.0
_turns: dict[str, threading.Lock] = {}
_turns_lock = threading.Lock()


def _write_turn(database: str) -> threading.Lock:
    """The lock that writers of this process take before SQLite's write lock, one per file."""
    key = os.path.abspath(database) if database and database != ":memory:" else ""
    with _turns_lock:
        return _turns.setdefault(key, threading.Lock())


class _TurnConnection(sqlite3.Connection):
    """A connection that gives its process's write turn back when its transaction ends.

    SQLite makes a writer that finds the file locked sleep and retry (1, 2, 5 … 100 ms), so
    writers of one process racing for it wait far longer than their transactions last: at 50
    at once, the last one waited 240 ms for about 50 transactions of 1 ms. Taking turns on a
    lock of this process first, they queue without sleeping; SQLite's own wait is left for
    writers of other processes."""

    turn: threading.Lock | None = None

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.end_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.end_turn()

    def end_turn(self) -> None:
        turn, self.turn = self.turn, None
        if turn is not None:
            turn.release()


def _sqlite_engine(url: str) -> Engine:
    # Memory databases would be a different database per connection; NullPool plus a file is
    # what the tests and the default use.
    engine = create_engine(
        url,
        connect_args={"timeout": 30, "check_same_thread": False, "factory": _TurnConnection},
        poolclass=QueuePool,
    )
    turn = _write_turn(make_url(url).database or "")

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite opens transactions lazily and lets two of them read, then fail to write;
        # taking the write lock at BEGIN (below, for every unit of work but the read-only ones)
        # makes check-then-write operations (R7) serial.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # A read takes no write lock: in WAL mode it reads its snapshot beside a writer instead
        # of queueing behind it. It never writes (storage.uow refuses that), so it can never
        # need to upgrade its lock halfway and fail with "database is locked".
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
            return
        raw = connection.connection.dbapi_connection
        if raw.turn is None and turn.acquire(timeout=TURN_TIMEOUT):
            raw.turn = turn
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            raw.end_turn()
            raise

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


# What PostgreSQL answers when it cancels a statement for taking too long: statement_timeout
# (or a cancel by an administrator), and lock_timeout.
TIMED_OUT = {"57014": "statement timeout", "55P03": "lock timeout"}


def timed_out(error: BaseException) -> str | None:
    """Which time limit cut the statement off ("statement timeout", "lock timeout"), if one
    did; `error` as SQLAlchemy wraps it (OperationalError, or any DBAPIError) or as the
    driver raised it."""
    cause = error.orig if isinstance(error, DBAPIError) else error
    return TIMED_OUT.get(str(getattr(cause, "sqlstate", None) or ""))


def unreachable(error: BaseException) -> bool:
    """Whether `error` says the database is out of reach (refused, dropped, timed out) rather
    than that a statement is wrong: the kind that passes once the database is back.

    A statement cut off by statement_timeout or lock_timeout counts, deliberately and
    whatever class wraps it: its transaction was rolled back, so nothing was done, and the
    same request or step passes once the lock is released or the server keeps up again. It is
    answered as an outage is: "try again" in Slack, the step taken again later by the worker,
    never a traceback nor a failure recorded."""
    if timed_out(error) is not None:
        return True
    if isinstance(error, OperationalError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def why_unreachable(error: BaseException) -> str:
    """A few words for the log: the time limit, else the driver's error class (never its
    message, which may hold a connection URL)."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    return timed_out(error) or type(cause).__name__

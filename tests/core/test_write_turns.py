"""On SQLite, writers of one process take turns on a lock of the process before SQLite's write
lock (storage.db), so that they queue instead of sleeping in SQLite's retry loop; the turn is
given back however the transaction ends, and a turn that does not come leaves the writer to
SQLite's own wait instead of hanging it."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from commands.model import Organization
from storage import db as storage_db
from storage.db import make_engine
from storage.uow import Database

JOIN_TIMEOUT = 10


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    if not database_url.startswith("sqlite"):
        pytest.skip("write turns are SQLite's; PostgreSQL locks rows")
    engine = make_engine(database_url)
    yield Database(engine)
    engine.dispose()


def _turn(db: Database) -> threading.Lock:
    return storage_db._write_turn(db.engine.url.database or "")


def _add(db: Database, name: str) -> None:
    with db.uow() as uow:
        uow.subscribers.add_organization(Organization(name=name))
        uow.commit()


def test_the_turn_is_held_for_the_transaction_and_given_back_on_commit(db: Database) -> None:
    with db.uow() as uow:
        uow.subscribers.add_organization(Organization(name="Acme"))
        uow.session.flush()
        assert _turn(db).locked()
        uow.commit()
        assert not _turn(db).locked()


def test_the_turn_is_given_back_when_the_unit_of_work_ends_without_a_commit(db: Database) -> None:
    with db.uow() as uow:
        uow.subscribers.add_organization(Organization(name="Acme"))
        uow.session.flush()
    assert not _turn(db).locked()
    with pytest.raises(RuntimeError), db.uow() as uow:
        uow.subscribers.organizations()
        raise RuntimeError("a rule refused")
    assert not _turn(db).locked()
    with db.reading() as uow:
        assert uow.subscribers.organizations() == []


def test_a_read_takes_no_turn(db: Database) -> None:
    _add(db, "Acme")
    with db.reading() as uow:
        uow.subscribers.organizations()
        assert not _turn(db).locked()


def test_the_turn_is_given_back_when_begin_fails(db: Database) -> None:
    # Another process (here: a connection of another engine) holds SQLite's write lock.
    other = make_engine(str(db.engine.url))
    blocker = other.raw_connection()
    blocker.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
    try:
        with db.engine.connect() as connection:
            # Set on the driver's connection: a statement through SQLAlchemy would begin.
            connection.connection.dbapi_connection.execute("PRAGMA busy_timeout=50")  # type: ignore[union-attr]
            with pytest.raises(OperationalError, match="locked"):
                connection.begin()
        assert not _turn(db).locked()
    finally:
        blocker.rollback()
        blocker.close()
        other.dispose()
    _add(db, "Acme")


def test_writers_of_one_process_all_write(db: Database) -> None:
    names = [f"org {i}" for i in range(40)]
    start = threading.Barrier(len(names))

    def write(name: str) -> None:
        start.wait()
        _add(db, name)

    threads = [threading.Thread(target=write, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    with db.reading() as uow:
        assert sorted(o.name for o in uow.subscribers.organizations()) == sorted(names)
    assert not _turn(db).locked()


def test_a_turn_that_does_not_come_leaves_the_writer_to_sqlites_wait(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage_db, "TURN_TIMEOUT", 0.05)
    turn = _turn(db)
    turn.acquire()  # held by a transaction that never ends, without SQLite's lock
    try:
        _add(db, "Acme")  # waits 50 ms for the turn, then writes without it
    finally:
        turn.release()
    with db.reading() as uow:
        assert [o.name for o in uow.subscribers.organizations()] == ["Acme"]
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM organizations")).scalar() == 1

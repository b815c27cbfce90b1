"""The two kinds of unit of work: `uow()` may write (on SQLite it takes the write lock at
BEGIN, so check-then-write rules stay serial), `reading()` only reads (on SQLite it begins
deferred and reads beside a writer) and can never write."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, insert
from sqlalchemy.engine import make_url

from commands import health, services
from commands.bootstrap import Core
from commands.model import Organization
from storage.db import make_engine
from storage.orm import organizations
from storage.uow import Database, ReadOnlyViolation

# Only a guard so that a read that waits on the write lock fails the test instead of hanging
# it for the 30 s busy timeout: a read that does not wait ends at once.
JOIN_TIMEOUT = 10


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    engine = make_engine(database_url)
    yield Database(engine)
    engine.dispose()


def _organization_names(db: Database) -> list[str]:
    with db.reading() as uow:
        return [o.name for o in uow.subscribers.organizations()]


def _add(db: Database, name: str) -> None:
    with db.uow() as uow:
        uow.subscribers.add_organization(Organization(name=name))
        uow.commit()


def test_a_read_unit_refuses_to_commit(db: Database) -> None:
    with db.reading() as uow, pytest.raises(ReadOnlyViolation, match="cannot commit"):
        uow.commit()


def test_nothing_can_be_flushed_or_written_through_a_read_unit(db: Database) -> None:
    _add(db, "Acme")
    with db.reading() as uow:
        # No autoflush: a query after a change neither writes it nor sees it.
        uow.session.add(Organization(name="Added"))
        assert [o.name for o in uow.subscribers.organizations()] == ["Acme"]
        with pytest.raises(ReadOnlyViolation, match="cannot flush"):
            uow.session.flush()
        uow.session.expunge_all()
        with pytest.raises(ReadOnlyViolation, match="cannot flush"):
            uow.subscribers.add_organization(Organization(name="Flushed"))
        uow.session.expunge_all()
        acme = uow.subscribers.organization("Acme")
        assert acme is not None
        acme.language = "fr"
        with pytest.raises(ReadOnlyViolation, match="cannot flush"):
            uow.session.flush()
        with pytest.raises(ReadOnlyViolation, match="INSERT, UPDATE or DELETE"):
            uow.session.execute(insert(organizations).values(name="Inserted", language="en"))
    with db.uow() as uow:
        acme = uow.subscribers.organization("Acme")
        assert acme is not None and acme.language == "en"
    assert _organization_names(db) == ["Acme"]


def test_a_write_unit_still_writes(db: Database) -> None:
    _add(db, "Acme")
    assert _organization_names(db) == ["Acme"]


def test_a_read_does_not_wait_for_a_writer(db: Database, database_url: str) -> None:
    """A writer inside uow() that has written and not committed yet holds the write lock (on
    SQLite) and its row (on PostgreSQL); a read beside it goes on and sees the last commit."""
    _add(db, "Acme")
    seen: list[list[str]] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            seen.append(_organization_names(db))
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)

    with db.uow() as writer:
        writer.subscribers.add_organization(Organization(name="Uncommitted"))
        acme = writer.subscribers.organization("Acme")
        assert acme is not None
        acme.language = "fr"
        writer.session.flush()
        if db.engine.dialect.name == "sqlite":
            _assert_write_lock_held(database_url)
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(JOIN_TIMEOUT)
        assert not reader.is_alive(), "the read waited on the writer's lock"
        assert not errors, errors
        assert seen == [["Acme"]]
        writer.commit()
    assert _organization_names(db) == ["Acme", "Uncommitted"]


def _assert_write_lock_held(database_url: str) -> None:
    """The test means something only if the writer really holds SQLite's write lock: another
    connection asking for it without waiting is refused."""
    other = sqlite3.connect(str(make_url(database_url).database), timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()


def _statements(db: Database) -> list[str]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        first = statement.split()[0].upper()
        seen.append(f"{first} IMMEDIATE" if "IMMEDIATE" in statement.upper() else first)

    event.listen(db.engine, "before_cursor_execute", record)
    return seen


def test_how_each_unit_begins(db: Database) -> None:
    """SQLite: a read begins deferred, a write immediate. PostgreSQL: a read sends nothing
    more than its query (no SET TRANSACTION, no round trip per checkout)."""
    _organization_names(db)  # the pool's connection is made and set up before recording
    seen = _statements(db)
    _organization_names(db)
    reads, seen[:] = list(seen), []
    with db.uow() as uow:
        uow.subscribers.organizations()
    writes = list(seen)
    if db.engine.dialect.name == "sqlite":
        assert reads == ["BEGIN", "SELECT"]
        assert writes == ["BEGIN IMMEDIATE", "SELECT"]
    else:
        assert reads == ["SELECT"]
        assert writes == ["SELECT"]


def test_readiness_and_reachability_read_without_the_write_lock(db: Database) -> None:
    assert db.reachable()
    seen = _statements(db)
    assert db.reachable()
    if db.engine.dialect.name == "sqlite":
        assert seen == ["BEGIN", "SELECT"]
    else:
        assert seen == ["SELECT"]


def test_the_lookups_before_a_form_opens_do_not_wait_for_a_writer(
    core: Core, product: str
) -> None:
    """The Versions table, a new Version form, the status and the release managers' groups:
    what a slash command or a click reads before Slack's acknowledgement."""
    results: list[object] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            results.append(services.versions_table(core, product).product.code)
            results.append(services.new_form(core, product)[0].code)
            results.append(health.snapshot(core).at is not None)
            results.append(services.release_manager_groups(core))
        except BaseException as error:
            errors.append(error)

    with core.uow() as writer:
        writer.subscribers.add_organization(Organization(name="Uncommitted"))
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(JOIN_TIMEOUT)
        assert not reader.is_alive(), "a lookup waited on the writer's lock"
    assert not errors, errors
    assert results == [product, product, True, ["SRM"]]

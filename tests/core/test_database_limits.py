"""Limits on PostgreSQL connections: every statement is bounded by OMI_DATABASE_STATEMENT_TIMEOUT_
SECONDS and every lock wait by OMI_DATABASE_LOCK_TIMEOUT_SECONDS, both set when the connection
starts, and TCP keepalives notice a peer that is gone; what the URL says itself wins. SQLite
is left as it was."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from commands.bootstrap import bootstrap
from commands.config import Settings
from commands.errors import UserError
from storage.db import KEEPALIVES, make_engine
from storage.migrate import UPGRADE_LOCK, upgrade
from tests.conftest import BASE_TEST_DATABASE_URL, PG_SCHEMA, TEST_DATABASE_URL

postgresql = pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="statement and lock timeouts are PostgreSQL's"
)


def _show(engine: Engine, name: str) -> str:
    with engine.connect() as conn:
        return str(conn.exec_driver_sql(f"SHOW {name}").scalar_one())


def _libpq(engine: Engine) -> dict[str, str]:
    """The connection parameters libpq was given (the URL's and omi-bot's)."""
    raw = engine.raw_connection()
    try:
        params = raw.driver_connection.info.get_parameters()  # type: ignore[union-attr]
    finally:
        raw.close()
    return dict(params)


def test_the_limits_are_read_from_the_environment() -> None:
    defaults = Settings.from_env({})
    assert defaults.statement_timeout_seconds == 30
    assert defaults.lock_timeout_seconds == 2
    # Under Slack's 3 seconds: a request blocked on a lock is still answered in time.
    assert defaults.lock_timeout_seconds < 3 < defaults.statement_timeout_seconds
    read = Settings.from_env(
        {
            "OMI_DATABASE_STATEMENT_TIMEOUT_SECONDS": "12.5",
            "OMI_DATABASE_LOCK_TIMEOUT_SECONDS": "0",
        }
    )
    assert read.database_limits() == {"statement_timeout": 12.5, "lock_timeout": 0}
    with pytest.raises(UserError, match="OMI_DATABASE_LOCK_TIMEOUT_SECONDS must be a number"):
        Settings.from_env({"OMI_DATABASE_LOCK_TIMEOUT_SECONDS": "2s"})
    with pytest.raises(UserError, match="must not be negative"):
        Settings.from_env({"OMI_DATABASE_STATEMENT_TIMEOUT_SECONDS": "-1"})


def test_sqlite_takes_no_limit(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}", statement_timeout=1, lock_timeout=1)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 30000
    finally:
        engine.dispose()


@postgresql
def test_the_settings_reach_every_connection(settings: Settings) -> None:
    core = bootstrap(
        replace(settings, statement_timeout_seconds=7, lock_timeout_seconds=0.25), migrate=False
    )
    engine = core.db.engine
    try:
        assert _show(engine, "statement_timeout") == "7s"
        assert _show(engine, "lock_timeout") == "250ms"
        # The URL's own options are kept beside them (the tests' schema).
        assert _show(engine, "search_path") == PG_SCHEMA
        params = _libpq(engine)
        for name, value in KEEPALIVES.items():
            assert params[name] == str(value), name
        assert params["connect_timeout"] == "2"
        # The read units of work share the engine, and its limits.
        with core.reading() as uow:
            shown = uow.session.execute(text("SHOW lock_timeout")).scalar_one()
        assert shown == "250ms"
    finally:
        engine.dispose()


@postgresql
def test_what_the_url_sets_itself_wins() -> None:
    url = (
        make_url(BASE_TEST_DATABASE_URL)
        .update_query_dict(
            {
                "options": f"-c statement_timeout=4s -csearch_path={PG_SCHEMA}",
                "keepalives_idle": "30",
                "connect_timeout": "9",
            }
        )
        .render_as_string(hide_password=False)
    )
    engine = make_engine(url, statement_timeout=7, lock_timeout=0.25)
    try:
        assert _show(engine, "statement_timeout") == "4s"
        assert _show(engine, "lock_timeout") == "250ms"  # not in the URL: the setting's
        assert _show(engine, "search_path") == PG_SCHEMA
        params = _libpq(engine)
        assert params["keepalives_idle"] == "30"
        assert params["connect_timeout"] == "9"
        assert params["keepalives_count"] == str(KEEPALIVES["keepalives_count"])
    finally:
        engine.dispose()


@postgresql
def test_zero_leaves_the_servers_own_setting() -> None:
    bare = make_engine(BASE_TEST_DATABASE_URL)
    unset = make_engine(BASE_TEST_DATABASE_URL, statement_timeout=0, lock_timeout=None)
    try:
        for name in ("statement_timeout", "lock_timeout"):
            assert _show(unset, name) == _show(bare, name)
        assert "options" not in _libpq(unset)
    finally:
        bare.dispose()
        unset.dispose()


@pytest.fixture
def empty_schema() -> Iterator[str]:
    schema = f"{PG_SCHEMA}_limits"
    admin = make_engine(BASE_TEST_DATABASE_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(BASE_TEST_DATABASE_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


@postgresql
def test_an_upgrade_waits_its_turn_beyond_the_lock_timeout(empty_schema: str) -> None:
    """Replicas starting together take turns on the upgrade's advisory lock: the later ones
    wait for as long as the first one migrates, not for the lock timeout only."""
    holder = make_engine(empty_schema)
    engine = make_engine(empty_schema, statement_timeout=0.5, lock_timeout=0.1)
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with holder.begin() as conn:
            conn.exec_driver_sql(
                f"SELECT pg_advisory_xact_lock({UPGRADE_LOCK}, hashtext(current_schema()))"
            )
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(10)
        timer = threading.Timer(1.0, release.set)  # beyond both limits
        timer.start()
        upgrade(engine)
        assert release.is_set()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar_one() == 1
            # The limits were lifted for the upgrade's transaction only.
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar_one() == "100ms"
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar_one() == "500ms"
    finally:
        release.set()
        thread.join(10)
        holder.dispose()
        engine.dispose()

"""Limits on PostgreSQL connections: every statement is bounded by OMI_DATABASE_STATEMENT_TIMEOUT_
SECONDS and every lock wait by OMI_DATABASE_LOCK_TIMEOUT_SECONDS, both set when the connection
starts, and TCP keepalives notice a peer that is gone; what the URL says itself wins. SQLite
is left as it was."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg.errors
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

from cli.main import main
from commands import services
from commands.bootstrap import Core, bootstrap
from commands.config import Settings
from commands.errors import UserError
from commands.model import JobState, Status, VersionForm
from commands.sandbox import SandboxServer
from commands.worker import Worker
from storage.db import KEEPALIVES, make_engine, timed_out, unreachable, why_unreachable
from storage.migrate import UPGRADE_LOCK, upgrade
from storage.orm import jobs
from tests.conftest import (
    BASE_TEST_DATABASE_URL,
    OMI_1,
    PG_SCHEMA,
    SUB_C,
    TEST_DATABASE_URL,
    fresh_schema,
)
from tests.locks import row_locked

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
    with fresh_schema("limits") as url:
        yield url


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


# Small, so that the tests wait little; the margin is for a loaded machine.
LOCK_TIMEOUT = 0.3
STATEMENT_TIMEOUT = 0.5
MARGIN = 2.0


def _wrapped(cause: Exception, as_: type[DBAPIError] = OperationalError) -> DBAPIError:
    return as_("SELECT 1", {}, cause)


def test_a_statement_cut_off_by_a_time_limit_is_the_database_unavailable() -> None:
    """Deliberately, whatever class SQLAlchemy wraps it in: nothing was done, and the same
    request passes once the lock is released."""
    for cause, limit in (
        (psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"), "lock"),
        (psycopg.errors.QueryCanceled("canceling statement due to statement timeout"), "statement"),
    ):
        for error in (_wrapped(cause), _wrapped(cause, DBAPIError), cause):
            assert unreachable(error), error
            assert timed_out(error) == f"{limit} timeout"
            assert why_unreachable(error) == f"{limit} timeout"
    # An outage is one too, told by its class; a wrong statement or a broken rule is not.
    gone = _wrapped(psycopg.OperationalError("connection refused"))
    assert unreachable(gone) and timed_out(gone) is None
    assert why_unreachable(gone) == "OperationalError"
    assert not unreachable(_wrapped(psycopg.errors.UndefinedTable("x"), ProgrammingError))
    assert not unreachable(_wrapped(psycopg.errors.UniqueViolation("x"), IntegrityError))
    assert not unreachable(ValueError("not a database error"))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(
        settings, lock_timeout_seconds=LOCK_TIMEOUT, statement_timeout_seconds=STATEMENT_TIMEOUT
    )


@postgresql
def test_a_unit_of_work_needing_a_locked_row_fails_within_the_lock_timeout(
    core: Core, product: str, subscribers: list[str]
) -> None:
    services.save_subscriber(core, account_id=SUB_C, organization="Acme", email="c@acme.example")
    with row_locked(core.settings.database_url, "products", "code = '0001'"):
        started = time.monotonic()
        with pytest.raises(OperationalError) as raised:
            services.subscribe(core, SUB_C, product)  # locks the product's row (R4's sharing)
        took = time.monotonic() - started
    assert isinstance(raised.value.orig, psycopg.errors.LockNotAvailable)
    assert unreachable(raised.value) and timed_out(raised.value) == "lock timeout"
    assert LOCK_TIMEOUT <= took < LOCK_TIMEOUT + MARGIN
    # Nothing was done (the account was not subscribed), and the same request passes once
    # the lock is gone.
    assert services.subscribe(core, SUB_C, product)


@postgresql
def test_a_statement_running_too_long_is_cancelled(core: Core) -> None:
    started = time.monotonic()
    with pytest.raises(OperationalError) as raised, core.reading() as uow:
        uow.session.execute(text("SELECT pg_sleep(10)"))
    assert time.monotonic() - started < STATEMENT_TIMEOUT + MARGIN
    assert isinstance(raised.value.orig, psycopg.errors.QueryCanceled)
    assert unreachable(raised.value) and timed_out(raised.value) == "statement timeout"
    # The connection went back to the pool in working order.
    with core.reading() as uow:
        assert uow.session.execute(text("SELECT 1")).scalar_one() == 1


@postgresql
def test_the_cli_says_the_database_did_not_answer_in_time(
    core: Core, product: str, osc_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    env = {
        "OMI_DATABASE_URL": core.settings.database_url,
        "OMI_DATABASE_LOCK_TIMEOUT_SECONDS": str(LOCK_TIMEOUT),
        "OMI_DEBUG": "",
    }
    args = ["products", "add", "0001", "--name", "Renamed", "--seller", "111111111111"]
    with row_locked(core.settings.database_url, "products", "code = '0001'"):
        result = CliRunner().invoke(main, [*args, "--pricing", "hourly"], env=env)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.strip() == (
        "omi-bot: the database did not answer in time (lock timeout); nothing was done, try again."
    )
    assert services.list_products(core)[0].product.name == "Nginx on Debian"


def _job_states(core: Core) -> list[tuple[str, str, int, str | None]]:
    with core.reading() as uow:
        rows = uow.session.execute(
            jobs.select().with_only_columns(
                jobs.c.kind, jobs.c.state, jobs.c.attempts, jobs.c.last_error
            )
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


@postgresql
def test_the_worker_waits_out_a_lock_and_carries_on(
    core: Core,
    subscribers: list[str],
    sandbox: SandboxServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A step whose statement waits past the lock timeout is not a failure: the job is handed
    back, its attempt not counted, the log says so once, and it runs when the lock is gone."""
    version = services.publish(
        core, "0001", VersionForm(omi=OMI_1, release_note="n"), requested_by="U1"
    )
    worker = Worker(core, deliverers=[])
    caplog.set_level(logging.INFO, logger="omi_bot.worker")
    # The publication's last step records it on the product's row (R4).
    with row_locked(core.settings.database_url, "products", "code = '0001'"):
        deadline = time.monotonic() + 60
        while "did not answer in time" not in caplog.text:
            assert time.monotonic() < deadline, caplog.text
            worker.tick()
            time.sleep(0.05)
        worker.tick()
        states = _job_states(core)
    said = [r.getMessage() for r in caplog.records if "did not answer in time" in r.getMessage()]
    assert len(said) == 1 and said[0].endswith("(lock timeout); waiting for it"), said
    assert "Traceback" not in caplog.text and "failed" not in caplog.text
    assert all(state != JobState.FAILED.value and error is None for _, state, _, error in states)
    assert services.show_version(core, version.id).version.status is Status.PUBLISHING
    # The job waiting on the lock was given back, not left to its lease.
    assert any(state == JobState.PENDING.value for _, state, _, _ in states), states
    assert "given back" in caplog.text

    deadline = time.monotonic() + 60
    while services.show_version(core, version.id).version.status is Status.PUBLISHING:
        assert time.monotonic() < deadline, _job_states(core)
        worker.tick()
        time.sleep(0.05)
    assert services.show_version(core, version.id).version.status is Status.PUBLISHED
    assert "the database is reachable again" in caplog.text
    assert len(sandbox.sandbox.calls_to("CreateImage")) == 1
    assert all(attempts == 1 for _, _, attempts, _ in _job_states(core)), _job_states(core)

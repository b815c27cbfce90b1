"""Shared fixtures: a database (SQLite by default, PostgreSQL when OMI_TEST_DATABASE_URL says
so), the OUTSCALE sandbox over HTTP with osc-sdk-python profiles pointing at it, and a wired
core. Nothing here replaces the project's own code with a double."""

from __future__ import annotations

import gc
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from commands import services
from commands.bootstrap import Core, bootstrap
from commands.config import Settings
from commands.model import Actor
from commands.sandbox import Sandbox, SandboxServer
from commands.worker import Worker
from storage.db import make_engine
from storage.migrate import upgrade
from storage.orm import metadata

SELLER = "111111111111"
DISTRIBUTION = "222222222222"
SUB_A, SUB_B, SUB_C = "333333333333", "444444444444", "555555555555"
OMI_1, OMI_2, OMI_3 = "ami-5e11e001", "ami-5e11e002", "ami-5e11e003"
OMI_NO_CODE, OMI_OTHER_CODE = "ami-5e11e004", "ami-5e11e005"
# Whoever runs the CLI: the database's rights, as `omi-bot versions modify` has them.
OPERATOR = Actor.cli_operator("cli:ops")

BASE_TEST_DATABASE_URL = os.environ.get("OMI_TEST_DATABASE_URL", "")
# Each run gets a schema of its own in the PostgreSQL database, so two runs side by side (a
# developer's and CI's) never truncate each other's tables.
PG_SCHEMA = f"omibot_test_{os.getpid()}"
TEST_DATABASE_URL = (
    str(
        make_url(BASE_TEST_DATABASE_URL)
        .update_query_dict({"options": f"-csearch_path={PG_SCHEMA}"})
        .render_as_string(hide_password=False)
    )
    if BASE_TEST_DATABASE_URL
    else ""
)



@contextmanager
def fresh_schema(name: str) -> Iterator[str]:
    """A URL of the PostgreSQL test database on an empty schema of this run's (`name` tells it
    apart), dropped afterwards: for what must start from nothing, migrations included."""
    schema = f"{PG_SCHEMA}_{name}"
    admin = make_engine(BASE_TEST_DATABASE_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(BASE_TEST_DATABASE_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()

@pytest.fixture(autouse=True)
def _heap_unsettled() -> Iterator[None]:
    """`omi-bot serve` sets its start-up heap aside from the garbage collector for the
    process's life (commands.lifecycle.settle_heap); in this process the tests after it must not
    keep what each test left."""
    yield
    if gc.get_freeze_count():
        gc.unfreeze()


def pytest_report_header() -> str:
    if BASE_TEST_DATABASE_URL:
        return f"omi-bot database: {BASE_TEST_DATABASE_URL} (schema {PG_SCHEMA})"
    return "omi-bot database: SQLite (a file per test)"


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The migrated schema, made once: a SQLite file to copy, or a PostgreSQL schema."""
    if TEST_DATABASE_URL:
        admin = make_engine(BASE_TEST_DATABASE_URL)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
        engine = make_engine(TEST_DATABASE_URL)
        upgrade(engine)
        engine.dispose()
        yield TEST_DATABASE_URL
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        admin.dispose()
        return
    path = tmp_path_factory.mktemp("template") / "omi-bot.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    yield str(path)


@pytest.fixture
def database_url(_template_db: str, tmp_path: Path) -> str:
    if TEST_DATABASE_URL:
        engine = make_engine(TEST_DATABASE_URL)
        names = ", ".join(t.name for t in metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return TEST_DATABASE_URL
    path = tmp_path / "omi-bot.db"
    shutil.copy(_template_db, path)
    return f"sqlite:///{path}"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    cloud = Sandbox.demo()
    cloud.copy_delay = 0.05
    server = SandboxServer(cloud).start()
    yield server
    server.stop()


def write_osc_config(path: Path, api_url: str) -> Path:
    """osc-sdk-python profiles for the sandbox's seller and distribution accounts."""
    from commands.sandbox import DEMO_ACCOUNTS

    by_role = {a["role"]: a for a in DEMO_ACCOUNTS if a.get("role") in ("seller", "distribution")}
    profiles = {
        role: {
            "access_key": account["access_key"],
            "secret_key": account["secret_key"],
            "region": "eu-west-2",
            "endpoints": {"api": api_url},
        }
        for role, account in by_role.items()
    }
    path.write_text(json.dumps(profiles))
    return path


@pytest.fixture
def osc_config(tmp_path: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("OSC_"):
            monkeypatch.delenv(name)
    path = write_osc_config(tmp_path / "osc-config.json", sandbox.url)
    monkeypatch.setenv("OSC_CONFIG_FILE", str(path))
    return path


@pytest.fixture
def settings(database_url: str, osc_config: Path, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        maildir=str(tmp_path / "mail"),
        seller_profile="seller",
        distribution_profile="distribution",
        osc_timeout=10,
        osc_max_retries=3,
        osc_retry_backoff=0.01,
        osc_rate_limit=1000,
        copy_poll_seconds=0.05,
        worker_poll_seconds=0.05,
        retry_base_seconds=0.05,
        job_lease_seconds=30,
    )


@pytest.fixture
def core(settings: Settings) -> Iterator[Core]:
    built = bootstrap(settings)
    yield built
    built.db.engine.dispose()


@pytest.fixture
def product(core: Core) -> str:
    """Product 0001, paid (hourly): copies are shared with subscriber accounts. No notice
    period, so that a release manager (or the CLI's operator) may unpublish at once."""
    services.save_product(
        core,
        code="0001",
        name="Nginx on Debian",
        seller_account_id=SELLER,
        pricing="hourly",
        release_managers=["URM1", "URM2"],
        release_manager_group="SRM",
        approval_channel="CREL",
        notice_days=0,
    )
    return "0001"


@pytest.fixture
def subscribers(core: Core, product: str) -> list[str]:
    """Two subscriber accounts of product 0001 in two organizations (fr and en)."""
    services.save_organization(
        core, name="Acme", language="fr", admin_emails=["admin@acme.example"]
    )
    services.save_organization(
        core, name="Globex", language="en", admin_emails=["it@globex.example"]
    )
    services.save_subscriber(
        core,
        account_id=SUB_A,
        organization="Acme",
        email="ops@acme.example",
        slack_channel="CACME",
    )
    services.save_subscriber(
        core,
        account_id=SUB_B,
        organization="Globex",
        email="cloud@globex.example",
        slack_channel="CGLOBEX",
    )
    services.subscribe(core, SUB_A, product)
    services.subscribe(core, SUB_B, product)
    return [SUB_A, SUB_B]


@pytest.fixture
def drain(core: Core) -> Callable[..., None]:
    """Runs a worker until no job is left (or fails the test after `timeout`)."""

    def run(timeout: float = 20.0) -> None:
        worker = Worker(core, deliverers=[])

        def idle() -> bool:
            with core.uow() as uow:
                return uow.jobs.unfinished() == 0

        assert worker.run_until(idle, timeout), "jobs still unfinished"

    return run

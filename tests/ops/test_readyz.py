"""/readyz: ready (200) when the database answers, its schema is at the migrations' head and
the worker's thread is alive; otherwise 503. Either way a tiny JSON of booleans, nothing of
the configuration."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import replace

import pytest
import requests
from alembic import command

from bot.app import BotSettings
from bot.service import Service
from commands import health
from commands.bootstrap import Core, bootstrap
from commands.config import Settings
from commands.probes import ProbeServer, probes_app
from commands.sandbox import SandboxServer
from storage.migrate import alembic_config
from tests.conftest import TEST_DATABASE_URL
from tests.notifications.smtp_server import free_port


@pytest.fixture
def service(bot_settings: BotSettings, core: Core, sandbox: SandboxServer) -> Iterator[Service]:
    running = Service(bot_settings, core, host="127.0.0.1", port=0).start()
    yield running
    running.stop(timeout=5)


def _ready(url: str) -> tuple[int, dict[str, object]]:
    answer = requests.get(url + "/readyz", timeout=10)
    return answer.status_code, answer.json()


def test_ready_when_database_migrations_and_worker_are(service: Service) -> None:
    # What start-up made is out of the garbage collector's way (commands.lifecycle.settle_heap).
    assert gc.get_freeze_count() > 10_000
    assert service.http is not None
    status, body = _ready(service.http.url)
    assert status == 200
    assert body == {
        "ok": True, "accepting": True, "database": True, "migrations": True, "worker": True,
    }  # fmt: skip


def test_not_ready_once_the_worker_thread_is_gone(service: Service) -> None:
    assert service.http is not None and service.worker is not None
    assert service.worker._scheduler is not None
    service.worker._scheduler.shutdown(wait=False)  # the clock's thread ends
    status, body = _ready(service.http.url)
    assert status == 503
    assert body["worker"] is False and body["database"] is True and body["ok"] is False


def test_not_ready_while_migrations_are_behind(service: Service, core: Core) -> None:
    assert service.http is not None
    url = core.db.engine.url.render_as_string(hide_password=False)
    core.db.engine.dispose()
    command.downgrade(alembic_config(url), "-1")
    try:
        status, body = _ready(service.http.url)
        assert status == 503
        assert body["migrations"] is False and body["database"] is True
    finally:
        command.upgrade(alembic_config(url), "head")
    assert _ready(service.http.url)[0] == 200


def _unreachable_url(tmp_path) -> str:
    if TEST_DATABASE_URL:
        return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test?connect_timeout=2"
    return f"sqlite:///{tmp_path / 'no-such-folder' / 'omi-bot.db'}"


def test_not_ready_when_the_database_is_unreachable(settings: Settings, tmp_path) -> None:
    gone = bootstrap(replace(settings, database_url=_unreachable_url(tmp_path)), migrate=False)
    try:
        state = health.readiness(gone, lambda: True)
        assert state.checks == {"database": False, "migrations": False, "worker": True}
        server = ProbeServer(
            probes_app(lambda: health.readiness(gone), None), "127.0.0.1", 0
        ).start()
        try:
            answer = requests.get(server.url + "/readyz", timeout=10)
            assert answer.status_code == 503
            assert answer.json() == {"ok": False, "database": False, "migrations": False}
            assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
            assert requests.get(server.url + "/metrics", timeout=10).status_code == 404
        finally:
            server.stop()
    finally:
        gone.db.engine.dispose()


def test_readiness_reveals_no_configuration(service: Service, core: Core) -> None:
    assert service.http is not None
    text = requests.get(service.http.url + "/readyz", timeout=10).text
    url = core.db.engine.url
    for secret in (str(url.database), "sqlite", "postgresql", service.settings.bot_token):
        assert secret not in text
    assert health.Readiness({"database": True}).ready


def test_a_worker_sets_its_start_up_aside_before_it_works(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`omi-bot worker`, as `serve`, puts what its start-up made out of the garbage
    collector's way before its first job (commands.lifecycle.settle_heap)."""
    from commands import lifecycle
    from commands.worker import Worker

    frozen: list[int] = []
    monkeypatch.setattr(lifecycle, "wait_for_stop", lambda: frozen.append(gc.get_freeze_count()))
    Worker(core).run_forever()
    assert frozen and frozen[0] > 10_000

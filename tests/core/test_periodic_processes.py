"""`omi-bot serve` (with its worker) and two `omi-bot worker` processes side by side on one
PostgreSQL: each job and each notice is done once, and the schedulers' periodic work runs once
per period across all three: the drift check (queued by every process's timer under the
period's key), a scheduled unpublication whose date has come, the outbox."""

from __future__ import annotations

import mailbox
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from commands import drift, services
from commands.bootstrap import Core
from commands.model import JobState, OutboxState, Status, VersionForm, now
from commands.sandbox import SandboxServer
from storage.orm import schedules
from tests.bot.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.conftest import DISTRIBUTION, OMI_1, OPERATOR, SUB_C, TEST_DATABASE_URL
from tests.notifications.smtp_server import free_port
from tests.processes import OmiProcess, omi_env, start_omi
from tests.slackfake import FakeSlackAPI

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="workers side by side share one PostgreSQL server"
)

DRIFT_SECONDS = 1


@pytest.fixture
def fake_slack() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI(token=BOT_TOKEN) as fake:
        yield fake


@pytest.fixture
def runners(
    database_url: str, osc_config: Path, tmp_path: Path, fake_slack: FakeSlackAPI
) -> Iterator[tuple[list[OmiProcess], str]]:
    env = omi_env(
        database_url,
        osc_config,
        tmp_path,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake_slack.url,
        OMI_DRIFT_INTERVAL_SECONDS=str(DRIFT_SECONDS),
    )
    port = free_port()
    started = [
        start_omi(["serve", "--host", "127.0.0.1"], {**env, "PORT": str(port)}, tmp_path, "serve"),
        start_omi(["-v", "worker"], env, tmp_path, "worker1"),
        start_omi(["-v", "worker"], env, tmp_path, "worker2"),
    ]
    yield started, f"http://127.0.0.1:{port}"
    for process in started:
        process.kill()


def _wait(what: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.1)


def _told(core: Core) -> bool:
    """No job left but the periodic drift checks, and every notice sent."""
    with core.uow() as uow:
        busy = [
            j
            for j in uow.jobs.list(limit=1000)
            if j.kind != "drift_check" and j.state in (JobState.PENDING, JobState.RUNNING)
        ]
        items = uow.outbox.list(limit=1000)
        return not busy and bool(items) and all(i.state is OutboxState.SENT for i in items)


def _drift_checks(core: Core) -> list[str]:
    with core.uow() as uow:
        return [str(j.key) for j in uow.jobs.list(limit=1000) if j.kind == "drift_check"]


def test_workers_side_by_side_do_each_thing_once_per_period(
    runners: tuple[list[OmiProcess], str],
    core: Core,
    subscribers: list[str],
    sandbox: SandboxServer,
    fake_slack: FakeSlackAPI,
    tmp_path: Path,
) -> None:
    processes, url = runners
    serve, *workers = processes
    serve.wait_http(url + "/healthz", timeout=180)
    for worker in workers:
        worker.wait_log("started", timeout=180)
    cloud = sandbox.sandbox

    version = services.publish(
        core, "0001", VersionForm(omi=OMI_1, release_note="n"), requested_by="U1"
    )
    _wait(lambda: services.show_version(core, version.id).version.status is Status.PUBLISHED)
    _wait(lambda: _told(core))
    assert len(cloud.calls_to("CreateImage")) == 1

    # Drift: someone shares the copy by hand. Every process's timer queues each period's check;
    # one of them runs it, and the finding is reported once however many checks see it.
    copy = str(services.show_version(core, version.id).version.copy_id)
    cloud.edit_image(copy, add_permitted=[SUB_C])
    _wait(lambda: bool(drift.open_findings(core, "0001")))
    seen = len(set(_drift_checks(core)))
    _wait(lambda: len(set(_drift_checks(core))) >= seen + 3)  # three more periods checked
    checks = _drift_checks(core)
    assert len(checks) == len(set(checks))  # one check per period, never two
    _wait(lambda: _told(core))
    reports = [
        c
        for c in fake_slack.calls_to("chat.postMessage")
        if c.params["channel"] == "CREL" and "differs from the Versions table" in c.params["text"]
    ]
    assert len(reports) == 1

    # A scheduled unpublication whose date comes while every worker looks for what is due:
    # one of them takes it; the copy is deleted once and each notice sent once.
    schedule = services.schedule_unpublish_product(
        core, "0001", on=services.today(core) + timedelta(days=1), by=OPERATOR
    )
    with core.uow() as uow:  # its day has come, as the clock would bring it
        at = now()
        uow.session.execute(
            update(schedules).where(schedules.c.id == schedule.id).values(due_at=at, next_at=at)
        )
        uow.commit()
    _wait(lambda: services.show_version(core, version.id).version.status is Status.UNPUBLISHED)
    _wait(lambda: _told(core))
    assert [p["ImageId"] for _, p in cloud.calls_to("DeleteImage")] == [copy]
    assert not [i for i in cloud.images.values() if i["AccountId"] == DISTRIBUTION]
    mails = list(mailbox.Maildir(tmp_path / "mail", create=False))
    # A notice sent twice would carry the same Message-ID twice (it is derived from the notice).
    sent = Counter(str(m["Message-ID"]) for m in mails)
    assert set(sent.values()) == {1}, sent
    per_recipient = Counter(str(m["To"]) for m in mails)
    # Both subscribers and both administrators, each told the same things: the publication,
    # the unpublication's date, the unpublication.
    subjects = sorted(str(m["Subject"]) for m in mails)
    assert len(per_recipient) == 4 and set(per_recipient.values()) == {3}, subjects
    announcements = Counter(
        c.params["channel"]
        for c in fake_slack.calls_to("chat.postMessage")
        if c.params["channel"] in ("CACME", "CGLOBEX")
    )
    assert announcements == {"CACME": 3, "CGLOBEX": 3}

    for process in processes:
        assert process.terminate() == 0, process.output
        assert "Traceback" not in process.output

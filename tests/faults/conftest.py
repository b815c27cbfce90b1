"""What the fault tests share: an SMTP server and a Slack Web API on loopback, a core whose mail
goes to that server, a version published to two organizations, and a clock to move."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from commands import services
from commands.bootstrap import Core
from commands.model import Job, OutboxItem, VersionForm, now
from commands.sandbox import Sandbox
from commands.worker import Worker
from tests.conftest import DISTRIBUTION, OMI_1
from tests.notifications.smtp_server import SmtpTestServer
from tests.slackfake import FakeSlackAPI

BOT_TOKEN = "xoxb-faults"


@pytest.fixture
def smtp_server() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


@pytest.fixture
def fake_slack() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI(token=BOT_TOKEN) as fake:
        yield fake


@pytest.fixture
def smtp_core(core: Core, smtp_server: SmtpTestServer) -> Core:
    return replace(core, settings=replace(core.settings, smtp_url=smtp_server.url))


@pytest.fixture
def published(core: Core, subscribers: list[str], drain: Callable[..., None]) -> str:
    """A version published to two organizations: 4 mails and 2 announcements queued."""
    form = VersionForm(omi=OMI_1, release_note="note", software_version="1.24")
    vid = services.publish(core, "0001", form, requested_by="U1").id
    drain()
    return vid


class Clock:
    """The core's clock, moved by hand: leases, backoffs and timeouts are read from it."""

    def __init__(self) -> None:
        self.at = now()

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


def set_clock(*cores: Core) -> Clock:
    clock = Clock()
    for core in cores:
        core.clock = clock
    return clock


def outbox(core: Core, channel: str) -> list[OutboxItem]:
    with core.uow() as uow:
        return sorted(uow.outbox.list(channel=channel), key=lambda i: i.id)


def run_jobs(core: Core, clock: Clock, *, limit: int = 200) -> None:
    """Runs every job that is due, moving the clock to the next one due, until none is left
    (or `limit` rounds): backoffs and waits pass without sleeping."""
    worker = Worker(core, deliverers=[])
    for _ in range(limit):
        while worker.run_one():
            pass
        with core.uow() as uow:
            next_at = uow.jobs.next_run_at()
        if next_at is None:
            return
        clock.at = max(clock.at, next_at)
    raise AssertionError("jobs still unfinished")


def jobs_of(core: Core, version_id: str) -> list[Job]:
    with core.uow() as uow:
        return uow.jobs.for_version(version_id)


def copies_of(cloud: Sandbox, version_id: str) -> list[dict[str, object]]:
    return [
        i
        for i in cloud.images.values()
        if i["AccountId"] == DISTRIBUTION and version_id in str(i["ImageName"])
    ]

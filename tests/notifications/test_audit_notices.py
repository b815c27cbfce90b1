"""The audit trail of notices: one event when a notice is queued, one per batch of mails sent
together, one per recipient only when a mail fails for good; Slack announcements likewise."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from commands import audit, services
from commands.audit import AuditEvent, Kind
from commands.bootstrap import Core
from commands.model import VersionForm
from commands.notifications.outbox import send_due_mail
from commands.notifications.slack import Pacer, deliver_slack, slack_client
from tests.conftest import OMI_1
from tests.notifications.smtp_server import SmtpTestServer
from tests.slackfake import FakeSlackAPI

Drain = Callable[..., None]
TOKEN = "xoxb-test-token"


@pytest.fixture
def smtp_core(core: Core, smtp_server: SmtpTestServer) -> Iterator[Core]:
    yield replace(core, settings=replace(core.settings, smtp_url=smtp_server.url))


@pytest.fixture
def queued(core: Core, subscribers: list[str], drain: Drain) -> str:
    vid = services.publish(
        core, "0001", VersionForm(omi=OMI_1, release_note="note"), requested_by="cli:ops"
    ).id
    drain()
    return vid


def of(core: Core, kind: Kind) -> list[AuditEvent]:
    return [e for e in audit.events(core) if e.kind is kind]


def test_a_queued_notice_is_one_event_with_its_recipients(core: Core, queued: str) -> None:
    (event,) = of(core, Kind.NOTICE_QUEUED)
    assert event.version_id == queued
    assert event.detail == {
        "notice": f"version_published:{queued}",
        "recipients": 4,
        "channels": 2,
    }


def test_mails_sent_together_are_one_event_and_a_refusal_names_its_recipient(
    smtp_core: Core, queued: str, smtp_server: SmtpTestServer
) -> None:
    smtp_server.refuse_recipient("it@globex.example", 550)
    report = send_due_mail(smtp_core, "w1")
    assert (report.sent, report.failed) == (3, 1)
    (sent,) = of(smtp_core, Kind.NOTICE_SENT)
    assert sent.detail == {
        "notice": f"version_published:{queued}",
        "channel": "email",
        "sent": 3,
    }
    (failed,) = of(smtp_core, Kind.NOTICE_FAILED)
    assert failed.detail["recipient"] == "it@globex.example"
    assert "550" in failed.detail["reason"]
    assert failed.version_id == queued


def test_mails_committed_in_several_groups_are_one_event_each(smtp_core: Core, queued: str) -> None:
    send_due_mail(smtp_core, "w1", record_every=3)
    sent = of(smtp_core, Kind.NOTICE_SENT)
    assert [e.detail["sent"] for e in sent] == [3, 1]


def test_slack_announcements_sent(core: Core, queued: str) -> None:
    with FakeSlackAPI(token=TOKEN) as fake:
        client = slack_client(TOKEN, fake.url)
        while deliver_slack(core, "w1", client, pacer=Pacer()):
            pass
    sent = of(core, Kind.NOTICE_SENT)
    assert sorted(e.detail["channel"] for e in sent) == ["slack", "slack"]
    assert all(e.detail["notice"] == f"version_published:{queued}" for e in sent)

"""Mail faults: a server that defers for hours is retried for a day, backing off up to an hour
between tries; a mail that fails for good is told in the request's thread (or the approval
channel) once per notice and listed by `mail list --failed`; Message-IDs use the sender's domain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from commands import services
from commands.bootstrap import Core
from commands.config import Settings
from commands.errors import UserError
from commands.model import Actor, OutboxState, VersionForm
from commands.notifications.outbox import list_mail, send_due_mail
from tests.conftest import OMI_1
from tests.notifications.smtp_server import SmtpTestServer

from .conftest import outbox, set_clock


def publish_from_slack(core: Core, drain: Callable[..., None]) -> str:
    request = services.request_publication(
        core, "0001", VersionForm(omi=OMI_1, release_note="n"), requested_by="UREQ"
    )
    services.record_surface(core, request.id, {"channel": "CREL", "ts": "7.000", "lang": "fr"})
    version = services.approve(core, request.id, by=Actor.slack_user("URM1")).versions[0]
    drain()
    return version.id


def alerts(core: Core) -> list[dict[str, object]]:
    return [
        {"recipient": i.recipient, **i.payload}
        for i in outbox(core, "slack")
        if i.event == "managers_mail_failed"
    ]


def test_a_deferring_server_is_retried_for_a_day_then_told_once_in_the_thread(
    smtp_core: Core, subscribers: list[str], drain: Callable[..., None], smtp_server: SmtpTestServer
) -> None:
    clock = set_clock(smtp_core)
    vid = publish_from_slack(smtp_core, drain)
    smtp_server.fail_temporarily(100_000)
    start = clock.at
    waits: list[float] = []
    while True:
        send_due_mail(smtp_core, "w1")
        pending = [i for i in outbox(smtp_core, "email") if i.state is OutboxState.PENDING]
        if not pending:
            break
        due = min(i.next_attempt_at for i in pending)
        waits.append((due - clock.at).total_seconds())
        assert alerts(smtp_core) == []  # nothing is told while it may still pass
        clock.at = due
    mails = outbox(smtp_core, "email")
    assert {i.state for i in mails} == {OutboxState.FAILED}
    assert all((i.last_error or "").startswith("gave up after") for i in mails)
    # Retried for the whole day, never more than an hour apart, and given up at its end.
    assert clock.at - start >= timedelta(days=1)
    assert max(waits) <= 3600 and len(waits) > 24
    assert {len(list_mail(smtp_core, failed=True))} == {4}
    told = alerts(smtp_core)
    assert len(told) == 1  # one notice, four failed mails: told once
    assert told[0]["recipient"] == "CREL" and told[0]["thread_ts"] == "7.000"
    assert "notify_user" not in told[0]
    assert vid in str(told[0]["text"]) and "mail list --failed" in str(told[0]["text"])
    assert "n'a pas pu être envoyé" in str(told[0]["text"])  # the request's language


def test_the_retry_time_is_configurable(
    smtp_core: Core, subscribers: list[str], drain: Callable[..., None], smtp_server: SmtpTestServer
) -> None:
    core = replace(smtp_core, settings=replace(smtp_core.settings, mail_retry_seconds=7200))
    clock = set_clock(core)
    services.publish(core, "0001", VersionForm(omi=OMI_1, release_note="n"), requested_by="ops")
    drain()
    smtp_server.fail_temporarily(100_000)
    start = clock.at
    for _ in range(200):
        send_due_mail(core, "w1")
        pending = [i for i in outbox(core, "email") if i.state is OutboxState.PENDING]
        if not pending:
            break
        clock.at = min(i.next_attempt_at for i in pending)
    assert {i.state for i in outbox(core, "email")} == {OutboxState.FAILED}
    assert timedelta(hours=2) <= clock.at - start < timedelta(hours=3)


def test_a_mail_refused_for_good_is_told_in_the_approval_channel(
    smtp_core: Core, subscribers: list[str], drain: Callable[..., None], smtp_server: SmtpTestServer
) -> None:
    services.publish(
        smtp_core, "0001", VersionForm(omi=OMI_1, release_note="n"), requested_by="ops"
    )
    drain()
    smtp_server.refuse_recipient("it@globex.example", 550)
    report = send_due_mail(smtp_core, "w1")
    assert (report.sent, report.failed) == (3, 1)
    told = alerts(smtp_core)
    # Published from the CLI: no thread, so the product's approval channel, at the top.
    assert [(t["recipient"], "thread_ts" in t) for t in told] == [("CREL", False)]
    assert "it@globex.example" in str(told[0]["text"]) and "550" in str(told[0]["text"])
    assert [m.recipient for m in list_mail(smtp_core, failed=True)] == ["it@globex.example"]


@pytest.mark.parametrize(
    "sender", ["", "not an address", "a@b.example, c@d.example", "x@", "Name <x@[127.0.0.1]>"]
)
def test_a_sender_without_a_usable_domain_is_refused_at_start(sender: str) -> None:
    env = {"OMI_MAIL_FROM": sender} if sender else {"OMI_MAIL_FROM": " "}
    with pytest.raises(UserError, match="OMI_MAIL_FROM"):
        Settings.from_env(env)


def test_message_ids_take_the_senders_domain(
    smtp_core: Core, published: str, smtp_server: SmtpTestServer
) -> None:
    core = replace(
        smtp_core,
        settings=replace(smtp_core.settings, mail_from="Market <noreply@Mail.Market.example>"),
    )
    assert Settings.from_env({}).mail_from.endswith("@localhost>")
    send_due_mail(core, "w1")
    ids = {m.message["Message-ID"] for m in smtp_server.messages}
    assert len(ids) == 4 and {i.split("@")[1] for i in ids} == {"mail.market.example>"}

"""Scheduled unpublications end to end: the database, the worker, the OUTSCALE sandbox over
HTTP, and a clock the test moves (never a sleep). Notices are checked in the outbox they are
delivered from."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from commands import services
from commands.bootstrap import Core
from commands.errors import NotAllowed, RuleBroken, UserError
from commands.model import (
    Actor,
    OutboxItem,
    RequestState,
    ScheduleState,
    Status,
    Unpublication,
    VersionForm,
)
from commands.sandbox import SandboxServer
from commands.worker import Worker
from tests.conftest import OMI_1, OMI_2, OMI_3, OPERATOR, SUB_C

Drain = Callable[..., None]
T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
RECIPIENTS = {"ops@acme.example", "admin@acme.example", "cloud@globex.example", "it@globex.example"}


class Clock:
    """What core.clock reads: the moment the test set, moving on at the real pace from there
    (copies still need their fraction of a second to become available)."""

    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    @property
    def at(self) -> datetime:
        return self._at + timedelta(seconds=time.monotonic() - self._set)

    @at.setter
    def at(self, value: datetime) -> None:
        self._at, self._set = value, time.monotonic()

    def __call__(self) -> datetime:
        return self.at

    def to(self, day: date, hour: int = 0, minute: int = 0) -> None:
        self.at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@pytest.fixture
def clock(core: Core) -> Clock:
    clock = Clock()
    core.clock = clock
    return clock


def publish(core: Core, drain: Drain, *omis: str) -> list[str]:
    ids = [
        services.publish(
            core,
            "0001",
            VersionForm(omi=o, release_note=o, software_version=o[-1]),
            requested_by="ops",
        ).id
        for o in omis
    ]
    drain()
    return ids


def items(core: Core, event: str, channel: str = "email") -> list[OutboxItem]:
    with core.uow() as uow:
        return [i for i in uow.outbox.list(channel=channel, limit=10_000) if i.event == event]


def tick(core: Core, name: str = "w1") -> int:
    return Worker(core, name=name, deliverers=[]).tick()


def status(core: Core, version_id: str) -> Status:
    return services.show_version(core, version_id).version.status


D = date(2026, 12, 10)  # 38 days after T0


@pytest.fixture
def two(core: Core, clock: Clock, subscribers: list[str], drain: Drain) -> list[str]:
    """Two published versions of 0001, the product giving 30 days' notice."""
    ids = publish(core, drain, OMI_1, OMI_2)
    services.set_product(core, "0001", notice_days=30)
    return ids


def test_the_notice_period_is_the_earliest_date_and_now_needs_none(
    core: Core, two: list[str]
) -> None:
    old, _ = two
    with pytest.raises(RuleBroken, match=r"30 days' notice.*2026-12-02"):
        services.unpublish(core, old, by=OPERATOR)
    with pytest.raises(RuleBroken, match=r"too soon.*earliest date is 2026-12-02"):
        services.schedule_unpublish(core, old, on=date(2026, 12, 1), by=OPERATOR)
    with pytest.raises(UserError, match="730 days ahead at most"):
        services.schedule_unpublish(core, old, on=date(2029, 1, 1), by=OPERATOR)
    # Through a request: "now" needs no notice period, and a release manager to ask for it.
    with pytest.raises(RuleBroken, match="notice"):
        services.request_unpublish(core, old, requested_by="URM1")
    services.set_product(core, "0001", notice_days=0)
    with pytest.raises(NotAllowed, match="Only a release manager"):
        services.request_unpublish(core, old, requested_by="USELLER")
    request = services.request_unpublish(core, old, requested_by="URM1")
    assert request.unpublish_on is None
    assert items(core, "unpublication_scheduled") == []  # nothing told, nothing changed


def test_scheduling_tells_subscribers_and_the_table_shows_the_date(
    core: Core, two: list[str]
) -> None:
    old, new = two
    schedule = services.schedule_unpublish(core, old, on=D, by=OPERATOR)
    assert schedule.due_at == datetime(2026, 12, 10, tzinfo=UTC)
    table = services.versions_table(core, "0001")
    shown = {v.id: (v.status, table.schedule_of(v)) for v in table.rows}
    assert shown[old][0] is Status.PUBLISHED
    assert shown[old][1] is not None and shown[old][1].label() == "unpublish on 2026-12-10"
    assert shown[new][1] is None
    mails = items(core, "unpublication_scheduled")
    assert {m.recipient for m in mails} == RECIPIENTS
    french = next(m for m in mails if m.recipient == "ops@acme.example")
    assert french.language == "fr"
    assert "10 décembre 2026" in str(french.payload["text"])
    assert "continuent de fonctionner" in str(french.payload["text"])
    english = next(m for m in mails if m.recipient == "it@globex.example")
    assert f"version ID {new}" in str(english.payload["text"])  # the replacement
    posts = items(core, "unpublication_scheduled", "slack")
    assert {p.recipient for p in posts} == {"CACME", "CGLOBEX"}
    assert posts[0].payload["unpublish_on"] == "2026-12-10T00:00:00+00:00"
    # Twice the same version: refused, and it says when the first one is.
    with pytest.raises(UserError, match="already scheduled for unpublication on 2026-12-10"):
        services.schedule_unpublish(core, old, on=date(2026, 12, 20), by=OPERATOR)


def test_reminders_at_the_cadence_then_the_unpublication_on_the_date(
    core: Core, clock: Clock, two: list[str], sandbox: SandboxServer, drain: Drain
) -> None:
    old, new = two
    copy = services.show_version(core, old).version.copy_id
    services.schedule_unpublish(core, old, on=D, by=OPERATOR)
    clock.to(D - timedelta(days=8), 23, 59)
    tick(core)
    assert items(core, "unpublication_reminder") == []
    clock.to(D - timedelta(days=7))
    tick(core)
    tick(core)  # a second tick at the same moment sends nothing more
    week = items(core, "unpublication_reminder")
    assert {m.recipient for m in week} == RECIPIENTS
    assert all(m.key.startswith("unpublication_reminder:schedule-") for m in week)
    assert "in 7 days" in str(next(m for m in week if m.language == "en").payload["text"])
    clock.to(D - timedelta(days=1), 12)
    tick(core)
    reminders = items(core, "unpublication_reminder")
    assert len(reminders) == 2 * len(RECIPIENTS)
    assert status(core, old) is Status.PUBLISHED
    clock.to(D)
    tick(core)
    drain()
    assert status(core, old) is Status.UNPUBLISHED
    assert sandbox.sandbox.image(str(copy)) is None  # the copy is deleted, as at once
    assert services.versions_table(core, "0001").last_available.id == new  # type: ignore[union-attr]
    assert {m.recipient for m in items(core, "version_unpublished")} == RECIPIENTS
    (schedule,) = _all(core)
    assert schedule.state is ScheduleState.DONE and schedule.late_seconds == 0
    assert items(core, "managers_late", "slack") == []


def _all(core: Core) -> list[Unpublication]:
    with core.uow() as uow:
        return uow.schedules.list()


def test_a_worker_down_over_the_date_unpublishes_when_back_and_says_how_late(
    core: Core, clock: Clock, two: list[str], drain: Drain
) -> None:
    old, _ = two
    services.schedule_unpublish(core, old, on=D, by=OPERATOR)
    clock.to(D + timedelta(days=3), 4)
    tick(core)
    drain()
    assert status(core, old) is Status.UNPUBLISHED
    # The reminders it missed would only have said less: none is sent now.
    assert items(core, "unpublication_reminder") == []
    (late,) = items(core, "managers_late", "slack")
    assert late.recipient == "CREL"
    assert "3 d 4 h late" in str(late.payload["text"])
    (schedule,) = _all(core)
    assert 0 <= (schedule.late_seconds or 0) - (3 * 86400 + 4 * 3600) < 60


def test_r7_on_the_date_keeps_the_version_and_tells_the_release_managers(
    core: Core, clock: Clock, two: list[str], drain: Drain
) -> None:
    old, new = two
    services.schedule_unpublish(core, new, on=D, by=OPERATOR)
    services.set_product(core, "0001", notice_days=0)
    services.unpublish(core, old, by=OPERATOR)  # now the scheduled one is the only one left
    drain()
    clock.to(D, 1)
    tick(core)
    drain()
    assert status(core, new) is Status.PUBLISHED
    (blocked,) = items(core, "managers_blocked", "slack")
    assert blocked.recipient == "CREL" and "(R7)" in str(blocked.payload["text"])
    buttons = [b for b in blocked.payload["blocks"] if b["type"] == "actions"]  # type: ignore[union-attr]
    assert buttons[0]["elements"][0]["action_id"] == "cancel_schedule"
    table = services.versions_table(core, "0001")
    row = next(v for v in table.rows if v.id == new)
    assert table.schedule_of(row).label() == "blocked by R7"  # type: ignore[union-attr]
    clock.to(D + timedelta(days=2))
    tick(core)
    assert len(items(core, "managers_blocked", "slack")) == 1  # said once, stays visible
    schedule = services.find_schedule(core, version_id=new)
    services.cancel_unpublication(core, schedule.id, by=Actor.slack_user("URM2"))
    assert services.versions_table(core, "0001").schedules == {}
    assert {m.recipient for m in items(core, "unpublication_cancelled")} == RECIPIENTS


def test_cancel_is_for_release_managers_and_tells_exactly_those_told(
    core: Core, clock: Clock, two: list[str], drain: Drain
) -> None:
    old, _ = two
    schedule = services.schedule_unpublish(core, old, on=D, by=OPERATOR)
    services.save_organization(
        core, name="Initech", language="en", admin_emails=["pm@initech.example"]
    )
    services.save_subscriber(
        core, account_id=SUB_C, organization="Initech", email="ops@initech.example"
    )
    services.subscribe(core, SUB_C, "0001")  # after the notice: never told
    drain()
    with pytest.raises(NotAllowed, match="Only the release managers"):
        services.cancel_unpublication(core, schedule.id, by=Actor.slack_user("USELLER"))
    services.cancel_unpublication(core, schedule.id, by=Actor.slack_user("UGRP", ["SRM"]))
    cancelled = items(core, "unpublication_cancelled")
    assert {m.recipient for m in cancelled} == RECIPIENTS
    assert {p.recipient for p in items(core, "unpublication_cancelled", "slack")} == {
        "CACME",
        "CGLOBEX",
    }
    french = next(m for m in cancelled if m.recipient == "admin@acme.example")
    assert french.language == "fr" and "plus à dépublier" in str(french.payload["subject"])
    with pytest.raises(UserError, match="already cancelled"):
        services.cancel_unpublication(core, schedule.id, by=Actor.slack_user("URM1"))
    clock.to(D + timedelta(days=1))
    tick(core)
    drain()
    assert status(core, old) is Status.PUBLISHED


def test_two_workers_one_unpublication_one_set_of_notices(
    core: Core, clock: Clock, two: list[str], sandbox: SandboxServer, drain: Drain
) -> None:
    old, _ = two
    services.schedule_unpublish(core, old, on=D, by=OPERATOR)
    clock.to(D - timedelta(days=7))
    barrier = threading.Barrier(4)

    def work(name: str) -> None:
        barrier.wait()
        Worker(core, name=name, deliverers=[]).tick()

    for moment in (D - timedelta(days=7), D):
        clock.to(moment)
        threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    drain()
    assert status(core, old) is Status.UNPUBLISHED
    with core.uow() as uow:
        kinds = Counter(j.kind for j in uow.jobs.list(limit=1000))
    assert kinds["scheduled_unpublish"] == 1 and kinds["unpublication_reminder"] == 1
    assert kinds["delete_copy"] == 1
    assert len(sandbox.sandbox.calls_to("DeleteImage")) == 1
    for event in ("unpublication_reminder", "version_unpublished"):
        sent = Counter(m.recipient for m in items(core, event))
        assert set(sent) == RECIPIENTS and set(sent.values()) == {1}


def test_a_whole_product_on_its_date(
    core: Core, clock: Clock, two: list[str], drain: Drain
) -> None:
    schedule = services.schedule_unpublish_product(core, "0001", on=D, by=OPERATOR)
    table = services.versions_table(core, "0001")
    assert {table.schedule_of(v).id for v in table.rows} == {schedule.id}  # type: ignore[union-attr]
    (one,) = {
        m.payload["subject"] for m in items(core, "unpublication_scheduled") if m.language == "en"
    }
    assert "product to be unpublished on 10 December 2026" in str(one)
    with pytest.raises(UserError, match="Product 0001 is already scheduled"):
        services.schedule_unpublish(core, two[0], on=date(2026, 12, 20), by=OPERATOR)
    clock.to(D)
    tick(core)
    drain()
    assert {status(core, v) for v in two} == {Status.UNPUBLISHED}
    assert {m.recipient for m in items(core, "product_unpublished")} == RECIPIENTS


def test_through_approval_the_notice_counts_from_the_approval(
    core: Core, clock: Clock, two: list[str]
) -> None:
    old, _ = two
    earliest = date(2026, 12, 2)
    request = services.request_unpublish(core, old, requested_by="USELLER", on=earliest)
    decision = services.approve(core, request.id, by=Actor.slack_user("URM1"))
    assert decision.schedule is not None and decision.schedule.request_id == request.id
    assert decision.schedule.unpublish_on == earliest
    services.cancel_unpublication(core, decision.schedule.id, by=Actor.slack_user("URM1"))
    late = services.request_unpublish(core, old, requested_by="USELLER", on=earliest)
    clock.at += timedelta(days=1)  # approved a day later: 29 days' notice is not enough
    with pytest.raises(RuleBroken, match="too soon"):
        services.approve(core, late.id, by=Actor.slack_user("URM2"))
    assert services.get_request(core, late.id).state is RequestState.FAILED
    assert services.versions_table(core, "0001").schedules == {}


def test_a_retention_proposal_approved_later_moves_its_date_with_the_notice(
    core: Core, clock: Clock, two: list[str], drain: Drain
) -> None:
    old, _ = two
    services.set_product(core, "0001", keep_published=2)
    services.publish(core, "0001", VersionForm(omi=OMI_3, release_note="3"), requested_by="o")
    drain()
    with core.uow() as uow:
        (proposal,) = uow.requests.pending(["0001"])
        (post,) = [i for i in uow.outbox.list(channel="slack") if i.event == "managers_request"]
    assert proposal.version_id == old and proposal.unpublish_on == date(2026, 12, 2)
    assert post.recipient == "CREL" and post.payload["request_id"] == proposal.id
    clock.at += timedelta(days=3)
    decision = services.approve(core, proposal.id, by=Actor.slack_user("URM1"))
    assert decision.schedule is not None and decision.schedule.unpublish_on == date(2026, 12, 5)

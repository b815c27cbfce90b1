"""The audit trail: each kind of change leaves its event, written with the change (a change
rolled back leaves none), and the table refuses to have an event changed or removed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from commands import audit, services
from commands.audit import AuditEvent, Kind, Source
from commands.bootstrap import Core
from commands.errors import RuleBroken
from commands.model import Actor, Status, VersionForm
from commands.sandbox import SandboxServer
from tests.conftest import OMI_1, OMI_2, OMI_3, OPERATOR

Drain = Callable[..., None]
RITA = Actor.slack_user("URM1", ["SRM"], name="rita")


def trail(core: Core, **filters: object) -> list[AuditEvent]:
    return audit.events(core, **filters)  # type: ignore[arg-type]


def kinds(core: Core, **filters: object) -> list[Kind]:
    return [Kind(e.kind) for e in trail(core, **filters)]


def form(omi: str, note: str = "note", **fields: str) -> VersionForm:
    return VersionForm(omi=omi, release_note=note, **fields)


def published(core: Core, drain: Drain, *omis: str) -> list[str]:
    ids = [services.publish(core, "0001", form(o), requested_by="cli:ops").id for o in omis]
    drain()
    return ids


def test_a_request_and_its_approval_name_who_when_and_where(
    core: Core, subscribers: list[str], drain: Drain
) -> None:
    request = services.request_publication(
        core, "0001", form(OMI_1, software_version="1.24"), requested_by="U1", name="ursula"
    )
    services.approve(core, request.id, by=RITA)
    drain()
    vid = services.get_request(core, request.id).version_id
    events = trail(core, product_code="0001")
    asked, approved = events[0], events[1]
    assert (asked.kind, asked.actor_id, asked.actor_name, asked.source) == (
        Kind.REQUESTED,
        "U1",
        "ursula",
        Source.SLACK,
    )
    assert asked.request_id == request.id
    assert asked.detail["omi"] == OMI_1 and asked.detail["software_version"] == "1.24"
    assert asked.at == request.created_at
    assert (approved.kind, approved.actor_id, approved.actor_name) == (
        Kind.APPROVED,
        "URM1",
        "rita",
    )
    assert approved.version_id == vid and approved.request_id == request.id
    assert approved.at == services.get_request(core, request.id).decided_at
    # The worker's outcome, by omi-bot itself.
    done = [e for e in events if e.kind is Kind.PUBLISHED]
    assert len(done) == 1 and done[0].version_id == vid and done[0].source is Source.SYSTEM
    assert done[0].detail["shared_with"] == 2


def test_a_rejection_keeps_its_reason(core: Core, product: str) -> None:
    request = services.request_publication(core, "0001", form(OMI_1), requested_by="U1")
    services.reject(core, request.id, by=RITA, reason="wrong  OMI")
    last = trail(core)[-1]
    assert last.kind is Kind.REJECTED and last.detail["reason"] == "wrong  OMI"
    assert last.actor_id == "URM1" and last.request_id == request.id


def test_an_approval_the_rules_no_longer_allow_is_on_record_as_failed(
    core: Core, product: str, drain: Drain
) -> None:
    old, new = published(core, drain, OMI_1, OMI_2)
    request = services.request_unpublish(core, old, requested_by="URM2")
    services.unpublish(core, new, by=OPERATOR)  # now `old` is the only published version
    with pytest.raises(RuleBroken):
        services.approve(core, request.id, by=RITA)
    last = trail(core)[-1]
    assert last.kind is Kind.REQUEST_FAILED and "only published version" in last.detail["reason"]
    assert Kind.UNPUBLISHED not in [
        Kind(e.kind) for e in trail(core, version_id=old)
    ]  # nothing of the refused unpublication stays


def test_a_direct_publication_from_the_cli(core: Core, product: str, drain: Drain) -> None:
    (vid,) = published(core, drain, OMI_1)
    started, done = trail(core, version_id=vid)
    assert started.kind is Kind.PUBLISH_STARTED
    assert (started.actor_id, started.source) == ("cli:ops", Source.CLI)
    assert started.detail["omi"] == OMI_1
    assert done.kind is Kind.PUBLISHED


def test_a_modification_says_each_field_before_and_after(
    core: Core, product: str, drain: Drain
) -> None:
    (vid,) = published(core, drain, OMI_1)
    services.modify(core, vid, form("", "new note", software_version="2.0"), by=RITA)
    services.modify(core, vid, form("", "new note", software_version="2.0"), by=RITA)
    modified = [e for e in trail(core, version_id=vid) if e.kind is Kind.MODIFIED]
    assert len(modified) == 1  # the second changed nothing: no event
    assert modified[0].detail["changes"] == {
        "software_version": ["", "2.0"],
        "release_note": ["note", "new note"],
    }
    assert "release_note: note → new note" in audit.summary(modified[0])


def test_unpublication_at_once_then_the_copy_deleted(
    core: Core, product: str, drain: Drain
) -> None:
    old, _ = published(core, drain, OMI_1, OMI_2)
    copy = services.show_version(core, old).version.copy_id
    services.unpublish(core, old, by=OPERATOR)
    drain()
    events = trail(core, version_id=old)
    assert [Kind(e.kind) for e in events][-2:] == [Kind.UNPUBLISHED, Kind.COPY_DELETED]
    assert events[-2].actor_id == "cli:ops" and events[-2].detail["copy_id"] == copy
    assert events[-1].source is Source.SYSTEM and events[-1].detail["copy_id"] == copy


def test_a_whole_product_unpublished_through_a_request(
    core: Core, product: str, drain: Drain
) -> None:
    ids = published(core, drain, OMI_1, OMI_2)
    request = services.request_unpublish_product(core, "0001", requested_by="URM2")
    services.approve(core, request.id, by=RITA)
    gone = [e for e in trail(core) if e.kind is Kind.UNPUBLISHED]
    assert sorted(str(e.version_id) for e in gone) == sorted(ids)
    assert all(e.request_id == request.id and e.actor_id == "URM1" for e in gone)


def test_a_failed_publication(core: Core, product: str, sandbox: SandboxServer) -> None:
    from commands.worker import Worker

    sandbox.sandbox.fail_copies(True)
    vid = services.publish(core, "0001", form(OMI_1), requested_by="cli:ops").id
    worker = Worker(core, deliverers=[])
    assert worker.run_until(
        lambda: services.show_version(core, vid).version.status is Status.FAILED, 20
    )
    failed = [e for e in trail(core, version_id=vid) if e.kind is Kind.PUBLISH_FAILED]
    assert len(failed) == 1 and "failed" in failed[0].detail["reason"]


def test_a_change_that_fails_leaves_no_event(
    core: Core, product: str, drain: Drain, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, _ = published(core, drain, OMI_1, OMI_2)
    before = len(trail(core))

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the outbox is down")

    # The unpublication's event is written before its deletion job; the failure comes after.
    monkeypatch.setattr("commands.services.unpublication._delete_copies", broken)
    with pytest.raises(RuntimeError):
        services.unpublish(core, old, by=OPERATOR)
    assert len(trail(core)) == before
    assert services.show_version(core, old).version.status is Status.PUBLISHED


def test_the_table_refuses_updates_and_deletes(core: Core, product: str) -> None:
    services.request_publication(core, "0001", form(OMI_1), requested_by="U1")
    for statement in (
        "UPDATE audit_events SET actor_id = 'someone else'",
        "DELETE FROM audit_events",
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            with core.db.engine.begin() as conn:
                conn.execute(text(statement))
    (event,) = trail(core)
    assert event.actor_id == "U1"


# -- scheduled unpublications -------------------------------------------------------------------


T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
D = date(2026, 12, 10)


@pytest.fixture
def dated(core: Core, product: str, drain: Drain) -> list[str]:
    """Two published versions, a 30 days' notice, and the clock at T0 (moved by the tests)."""
    ids = published(core, drain, OMI_1, OMI_2)
    services.set_product(core, "0001", notice_days=30)
    core.clock = lambda: T0
    return ids


def at(core: Core, moment: datetime) -> None:
    core.clock = lambda: moment


def tick(core: Core) -> None:
    from commands.worker import Worker

    Worker(core, deliverers=[]).tick()


def test_a_schedule_its_reminder_and_its_day(core: Core, dated: list[str], drain: Drain) -> None:
    old, _ = dated
    schedule = services.schedule_unpublish(core, old, on=D, by=RITA)
    at(core, datetime(2026, 12, 3, tzinfo=UTC))
    tick(core)
    at(core, datetime(2026, 12, 10, 0, 1, tzinfo=UTC))
    tick(core)
    drain()
    events = [e for e in trail(core, version_id=old) if e.schedule_id == schedule.id]
    assert [Kind(e.kind) for e in events] == [
        Kind.SCHEDULED,
        Kind.REMINDER_SENT,
        Kind.UNPUBLISHED,
        Kind.SCHEDULE_DONE,
    ]
    assert events[0].actor_id == "URM1" and events[0].detail["unpublish_on"] == "2026-12-10"
    assert events[1].detail["days_left"] == 7 and events[1].source is Source.SYSTEM
    assert events[2].source is Source.SYSTEM  # carried out by omi-bot on the date
    assert events[3].detail["late_seconds"] == 60


def test_a_cancelled_schedule(core: Core, dated: list[str]) -> None:
    old, _ = dated
    schedule = services.schedule_unpublish(core, old, on=D, by=OPERATOR)
    services.cancel_unpublication(core, schedule.id, by=RITA)
    last = trail(core)[-1]
    assert last.kind is Kind.SCHEDULE_CANCELLED and last.actor_id == "URM1"
    assert last.schedule_id == schedule.id


def test_a_schedule_blocked_by_r7(core: Core, dated: list[str], drain: Drain) -> None:
    old, new = dated
    schedule = services.schedule_unpublish(core, new, on=D, by=OPERATOR)
    services.set_product(core, "0001", notice_days=0)
    services.unpublish(core, old, by=OPERATOR)
    drain()
    at(core, datetime(2026, 12, 10, 1, tzinfo=UTC))
    tick(core)
    drain()
    blocked = [e for e in trail(core) if e.kind is Kind.SCHEDULE_BLOCKED]
    assert len(blocked) == 1 and blocked[0].schedule_id == schedule.id
    assert "only published version" in blocked[0].detail["reason"]
    assert Kind.UNPUBLISHED not in kinds(core, version_id=new)


def test_a_schedule_closed_by_an_unpublication_at_once(core: Core, dated: list[str]) -> None:
    old, _ = dated
    schedule = services.schedule_unpublish(core, old, on=D, by=OPERATOR)
    services.set_product(core, "0001", notice_days=0)
    services.unpublish(core, old, by=OPERATOR)
    done = [e for e in trail(core) if e.kind is Kind.SCHEDULE_DONE]
    assert len(done) == 1 and done[0].schedule_id == schedule.id
    assert done[0].detail["reason"] == "the version was unpublished"


def test_a_retention_proposal_is_omi_bots_request(core: Core, product: str, drain: Drain) -> None:
    services.set_product(core, "0001", keep_published=1, notice_days=30)
    published(core, drain, OMI_1, OMI_2)
    (proposal,) = [e for e in trail(core) if e.kind is Kind.REQUESTED]
    assert proposal.source is Source.SYSTEM and proposal.actor_id == "omi-bot:retention"
    assert proposal.detail["unpublish_on"]


def test_the_last_events_and_since(core: Core, product: str, drain: Drain) -> None:
    published(core, drain, OMI_1, OMI_2, OMI_3)
    every = trail(core)
    assert [e.id for e in trail(core, limit=2)] == [e.id for e in every[-2:]]
    later = every[-1].at
    assert all(e.at >= later for e in trail(core, since=later))
    assert trail(core, since=later + timedelta(days=1)) == []


# -- drift -------------------------------------------------------------------------------------


def test_a_repair_asked_and_carried_out(
    core: Core, subscribers: list[str], drain: Drain, sandbox: SandboxServer
) -> None:
    from commands import drift

    old, _ = published(core, drain, OMI_1, OMI_2)
    gone = str(services.show_version(core, old).version.copy_id)
    sandbox.sandbox.edit_image(gone, delete=True)
    drift.check(core, "0001")
    drift.repair(core, "0001", by=RITA)
    drain()
    asked, done = [e for e in trail(core, version_id=old) if e.kind.startswith("drift.")]
    assert asked.kind is Kind.REPAIR_ASKED and asked.actor_id == "URM1"
    assert "missing" in asked.detail["finding"] and gone in asked.detail["finding"]
    assert done.kind is Kind.REPAIRED and done.detail["outcome"] == "copied again"
    assert done.detail["copy_id"] == services.show_version(core, old).version.copy_id


def test_a_repair_that_finds_the_source_gone_marks_the_version_broken(
    core: Core, subscribers: list[str], drain: Drain, sandbox: SandboxServer
) -> None:
    from commands import drift

    old, _ = published(core, drain, OMI_1, OMI_2)
    sandbox.sandbox.edit_image(str(services.show_version(core, old).version.copy_id), delete=True)
    sandbox.sandbox.edit_image(OMI_1, delete=True)
    drift.check(core, "0001")
    drift.repair(core, "0001", by=RITA)
    drain()
    assert kinds(core, version_id=old)[-2:] == [Kind.BROKEN, Kind.REPAIRED]
    assert "no longer exists" in trail(core, version_id=old)[-2].detail["reason"]


def test_where_an_actor_comes_from() -> None:
    assert audit.who(Actor.slack_user("U024BE7LH", name="ana")) == audit.Who(
        "U024BE7LH", "ana", Source.SLACK
    )
    assert audit.who(OPERATOR).source is Source.CLI
    # A bare ID, as requests keep it: a pipeline's name is not a Slack user.
    assert audit.who("ci:release@build-7").source is Source.CLI
    assert audit.who("cli:ops").source is Source.CLI
    assert audit.who("omi-bot:retention").source is Source.SYSTEM
    assert audit.who(None) == audit.Who(audit.WORKER, "", Source.SYSTEM)

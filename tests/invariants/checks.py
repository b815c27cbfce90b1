"""The invariants the random operations must never break, checked against the database and the
cloud itself: after every step (what must hold at any moment) and once the worker has drained
(what the cloud must then look like)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from commands import services
from commands.model import VERSION_ID, JobState, ScheduleState, Status, Version
from commands.model.schedules import start_of
from tests.invariants.world import World

UNPUBLISHED = ("version_unpublished", "product_unpublished")
SCHEDULE = ("unpublication_scheduled", "unpublication_reminder", "unpublication_cancelled")
ANNOUNCED = ("version_published", *UNPUBLISHED, *SCHEDULE)


def check_always(world: World, statuses: dict[str, Status]) -> dict[str, Status]:
    """What holds after any step. `statuses` are the versions' statuses after the previous
    step; returns today's."""
    versions = world.versions()
    copies = world.copies()
    by_id = {v.id: v for v in versions}
    for version_id, images in copies.items():
        assert version_id in by_id, f"a copy of version {version_id}, which does not exist"
        assert len(images) == 1, f"version {version_id} has {len(images)} copies"
    for v in versions:
        check_version(world, v)
    for schedule in world.schedules():
        # A whole product's unpublication on its date is R9's as much as one at once.
        if schedule.whole_product and schedule.state is ScheduleState.DONE:
            world.unpublishing.add(schedule.product_code)
    for code in sorted(world.products):
        check_product(world, code, [v for v in versions if v.product_code == code], statuses)
    now = {v.id: v.status for v in versions}
    check_notices(world, by_id, statuses, now, copies)
    world.unpublishing.clear()
    return now


def check_version(world: World, v: Version) -> None:
    # R1: a row of the Versions table
    assert VERSION_ID.match(v.id) and v.status in Status
    assert v.created_at <= v.modified_at
    # R2: the seller's OMI carrying the product's code
    assert v.omi_id.startswith(f"ami-{v.product_code}"), f"{v.id} was published from {v.omi_id}"
    # R5: a version's OMI never changes
    assert world.omis.setdefault(v.id, v.omi_id) == v.omi_id, f"the OMI of {v.id} changed (R5)"
    if v.status is Status.PUBLISHED:
        # R4: published means copied and shared
        assert v.copy_id and v.published_at and v.published_at <= v.modified_at
    # R6: an unpublished version never changes again
    if v.status is Status.UNPUBLISHED:
        assert v.unpublished_at is not None and v.unpublished_at <= v.modified_at
        frozen = (
            v.software_version, v.operating_system, tuple(v.software_base), v.release_note,
            v.instructions, v.modified_at, v.copy_id,
        )  # fmt: skip
        assert world.frozen.setdefault(v.id, frozen) == frozen, f"{v.id} changed unpublished (R6)"


def check_product(
    world: World, code: str, versions: list[Version], before: dict[str, Status]
) -> None:
    published = [v for v in versions if v.status is Status.PUBLISHED]
    # R7: only a whole product's unpublication leaves it without a published version (R9);
    # a version that broke (its copy and its source both gone) left it without one too.
    unpublished = [
        v
        for v in versions
        if before.get(v.id) is Status.PUBLISHED and v.status is Status.UNPUBLISHED
    ]
    if world.published.get(code, 0) >= 1 and not published and unpublished:
        assert code in world.unpublishing, f"the last published version of {code} went (R7)"
    world.published[code] = len(published)
    # R4, R8: the last available version is the newest published one
    table = services.versions_table(world.core, code)
    newest = max(published, key=lambda v: (v.published_at, v.id)) if published else None
    shown = table.last_available.id if table.last_available else None
    assert shown == (newest.id if newest else None), f"{code}: last available {shown}"
    assert table.total == len(versions) and table.product.code == code  # R1


def check_notices(
    world: World,
    by_id: dict[str, Version],
    before: dict[str, Status],
    now: dict[str, Status],
    copies: dict[str, list[dict[str, Any]]],
) -> None:
    """Every event's recipients get one notice each, in the step the event happens: a
    publication when its version is published (R4), an unpublication once its copies are gone
    (R8, R9); never for a failed version, never twice."""
    with world.core.uow() as uow:
        items = uow.outbox.list(limit=1_000_000)
    groups: dict[tuple[str, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    listed: dict[tuple[str, str], list[str]] = {}
    codes: dict[tuple[str, str], str] = {}
    for item in items:
        if item.event.startswith(("progress_", "managers_")):
            continue  # to the people who asked and the release managers, not subscribers
        assert item.event in ANNOUNCED, f"an unexpected notice {item.event}"
        event, subject = item.key.split(":", 2)[:2]
        recipient = item.recipient.lower() if item.channel == "email" else item.recipient
        groups[(event, subject)][item.channel].append(recipient)
        codes[(event, subject)] = item.product_code
        if item.channel == "email":
            listed[(event, subject)] = [str(v) for v in item.payload.get("version_ids") or []]
    # Published in this step (and maybe unpublished in it too, right after); a broken version
    # was published before it broke.
    done = (Status.PUBLISHED, Status.UNPUBLISHED, Status.BROKEN)
    published_now = {v for v, s in now.items() if s in done and before.get(v) not in done}
    for v, s in now.items():
        if s is Status.UNPUBLISHED and before.get(v) is not s:
            world.awaiting.add(v)
    schedules = {f"schedule-{s.id}": s for s in world.schedules()}
    for key in sorted(set(groups) - set(world.events)):
        event, subject = key
        code = codes[key]
        mails, posts = groups[key]["email"], groups[key]["slack"]
        if event == "unpublication_cancelled":
            # "No longer scheduled", to exactly those who were told it was.
            told = [k for k in groups if k[0] in SCHEDULE[:2] and k[1].startswith(subject)]
            told = [k for k in told if k[1] == subject or k[1].startswith(f"{subject}-d")]
            assert sorted(mails) == sorted({r for k in told for r in groups[k]["email"]})
            assert sorted(posts) == sorted({r for k in told for r in groups[k]["slack"]})
            world.events[key] = set(mails)
            continue
        assert sorted(mails) == sorted(world.mail_recipients(code)), f"{key}: mailed {mails}"
        assert sorted(posts) == sorted(world.channels(code)), f"{key}: posted to {posts}"
        if event == "version_published":
            assert subject in published_now, f"{key}: {subject} was not published just now"
            published_now.discard(subject)
        elif event in UNPUBLISHED:
            gone = listed[key]
            assert gone and all(v in world.awaiting for v in gone), f"{key} told twice, or early"
            for v in gone:
                # "has been deleted": the copy is gone before the notice is written
                assert v not in copies, f"{key}: the copy of {v} is still there"
                assert by_id[v].status is Status.UNPUBLISHED
                world.awaiting.discard(v)
        elif event == "unpublication_reminder":
            schedule = schedules[subject.rsplit("-d", 1)[0]]
            assert schedule.state is not ScheduleState.CANCELLED, f"{key} after its cancel"
            days = int(subject.rsplit("-d", 1)[1])
            assert world.clock() >= start_of(schedule.unpublish_on) - timedelta(days=days)
        world.events[key] = set(mails)
    assert not published_now, f"published without a notice: {sorted(published_now)}"
    for key in world.events:
        assert len(groups[key]["email"]) == len(world.events[key]), f"{key} changed afterwards"


def check_settled(world: World) -> None:
    """Once the worker has drained: the cloud is what the Versions table says."""
    with world.core.uow() as uow:
        jobs = uow.jobs.list(limit=100_000)
    versions = {v.id: v for v in world.versions()}
    for job in jobs:
        assert job.state in (JobState.DONE, JobState.FAILED), f"job {job.kind} is {job.state}"
        if job.state is JobState.FAILED and job.version_id not in world.tampered:
            # Only a publication may fail (a failed copy, a copy that took too long), or work
            # on a copy someone changed by hand (the drift repair takes it from there).
            assert job.kind in ("copy_omi", "await_copy", "share_copy"), job.last_error
            assert versions[str(job.version_id)].status is Status.FAILED, job.last_error
    for schedule in world.schedules():
        if schedule.state is ScheduleState.SCHEDULED:
            # A worker was running: nothing due is left undone.
            assert start_of(schedule.unpublish_on) > world.clock(), f"{schedule.label()} missed"
        if schedule.state is ScheduleState.DONE and schedule.version_id is not None:
            assert versions[schedule.version_id].status is Status.UNPUBLISHED
    copies = world.copies()
    for v in versions.values():
        found = copies.get(v.id, [])
        if v.status is not Status.PUBLISHED:
            assert found == [], f"{v.id} is {v.status.value} but its copy is still there"
            continue
        assert [c["ImageId"] for c in found] == [v.copy_id], f"{v.id}: copies {found}"
        copy = found[0]
        assert copy["State"] == "available", f"{v.id}: copy {copy['State']}"
        assert v.product_code in copy["ProductCodes"]
        launch = copy["PermissionsToLaunch"]
        if world.products[v.product_code] in ("free", "byol"):
            assert launch["GlobalPermission"] is True, f"{v.id}: not public"
        else:
            assert launch["GlobalPermission"] is False, f"{v.id}: public"
            assert sorted(launch["AccountIds"]) == sorted(world.accounts(v.product_code)), (
                f"{v.id}: shared with {launch['AccountIds']}"
            )
    assert not world.awaiting, f"unpublished, never told: {sorted(world.awaiting)}"

"""Drift end to end: each kind staged in the sandbox as an image's owner would do it by hand,
found by a check (one paged ReadImages per product), reported once, repaired by the jobs a
repair queues, and gone from the next check."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from commands import drift, services
from commands.bootstrap import Core
from commands.errors import NotAllowed
from commands.model import (
    VERSION_TAG,
    Actor,
    DriftKind,
    JobState,
    OutboxItem,
    Status,
    VersionForm,
)
from commands.sandbox import SandboxServer
from commands.worker import HANDLERS, Worker, _JobContext
from tests.conftest import (
    DISTRIBUTION,
    OMI_1,
    OMI_2,
    OMI_OTHER_CODE,
    OPERATOR,
    SELLER,
    SUB_A,
    SUB_B,
    SUB_C,
)

Drain = Callable[..., None]


@pytest.fixture
def versions(core: Core, subscribers: list[str], drain: Drain) -> list[str]:
    """Two published versions of the paid product 0001, shared with SUB_A and SUB_B."""
    ids = [
        services.publish(core, "0001", VersionForm(omi=o, release_note=o), requested_by="o").id
        for o in (OMI_1, OMI_2)
    ]
    drain()
    return ids


def copy_of(core: Core, version_id: str) -> str:
    copy = services.show_version(core, version_id).version.copy_id
    assert copy
    return copy


def reports(core: Core) -> list[OutboxItem]:
    with core.uow() as uow:
        return [i for i in uow.outbox.list(channel="slack") if i.event == "managers_drift"]


def kinds(core: Core, code: str = "0001") -> dict[tuple[str, str], str]:
    (report,) = drift.check(core, code)
    return {(f.kind.value, f.version_id): f.detail for f in report.findings}


def repaired(core: Core, drain: Drain, code: str = "0001") -> None:
    assert drift.repair(core, code, by=Actor.slack_user("URM1"))
    drain()
    assert kinds(core, code) == {}
    assert drift.open_findings(core, code) == []


def test_no_drift_after_publishing_in_one_read_images(
    core: Core, versions: list[str], sandbox: SandboxServer
) -> None:
    sandbox.sandbox.clear_calls()
    assert kinds(core) == {}
    assert [a for a, _ in sandbox.sandbox.calls_to("ReadImages")] == [DISTRIBUTION]
    (_, params) = sandbox.sandbox.calls_to("ReadImages")[0]
    assert params["Filters"] == {"AccountIds": [DISTRIBUTION], "ProductCodes": ["0001"]}
    assert reports(core) == []


def test_permissions_added_and_removed_by_hand_are_reported_once_and_reshared(
    core: Core, versions: list[str], sandbox: SandboxServer, drain: Drain
) -> None:
    old, new = versions
    sandbox.sandbox.edit_image(copy_of(core, old), add_permitted=[SUB_C])
    sandbox.sandbox.edit_image(copy_of(core, new), remove_permitted=[SUB_B])
    found = kinds(core)
    assert set(found) == {("permissions", old), ("permissions", new)}
    assert f"1 other account(s) can ({SUB_C})" in found[("permissions", old)]
    assert f"1 subscriber(s) cannot launch it ({SUB_B})" in found[("permissions", new)]
    (report,) = reports(core)
    assert report.recipient == "CREL"
    actions = next(b for b in report.payload["blocks"] if b["type"] == "actions")  # type: ignore[union-attr]
    assert actions["elements"][0]["action_id"] == "repair_drift"
    assert actions["elements"][0]["value"] == "0001"
    assert set(kinds(core)) == set(found)
    assert len(reports(core)) == 1  # seen again: not reported again
    with pytest.raises(NotAllowed):
        drift.repair(core, "0001", by=Actor.slack_user("USELLER"))
    repaired(core, drain)
    for vid in versions:
        image = sandbox.sandbox.image(copy_of(core, vid))
        assert image is not None
        assert sorted(image["PermissionsToLaunch"]["AccountIds"]) == [SUB_A, SUB_B]


def test_a_free_products_copy_made_private_is_made_public_again(
    core: Core, product: str, sandbox: SandboxServer, drain: Drain
) -> None:
    services.save_product(
        core,
        code="0002",
        name="PostgreSQL",
        seller_account_id=SELLER,
        pricing="free",
        release_managers=["URM1"],
        approval_channel="CREL",
    )
    vid = services.publish(
        core, "0002", VersionForm(omi=OMI_OTHER_CODE, release_note="pg"), requested_by="o"
    ).id
    drain()
    sandbox.sandbox.edit_image(copy_of(core, vid), global_permission=False)
    assert kinds(core, "0002") == {
        ("permissions", vid): f"launch permissions of the OMI copy {copy_of(core, vid)} of "
        f"version {vid}: it is no longer public"
    }
    repaired(core, drain, "0002")
    image = sandbox.sandbox.image(copy_of(core, vid))
    assert image is not None and image["PermissionsToLaunch"]["GlobalPermission"] is True


def test_product_code_and_tag_removed_are_put_back(
    core: Core, versions: list[str], sandbox: SandboxServer, drain: Drain
) -> None:
    old, new = versions
    sandbox.sandbox.edit_image(copy_of(core, old), product_codes=[])
    sandbox.sandbox.edit_image(copy_of(core, new), remove_tags=[VERSION_TAG])
    sandbox.sandbox.clear_calls()
    assert set(kinds(core)) == {("product_code", old), ("tag", new)}
    # The copy without its code is not in the product's listing: looked up by ID, once.
    filters = [p["Filters"] for _, p in sandbox.sandbox.calls_to("ReadImages")]
    assert filters == [
        {"AccountIds": [DISTRIBUTION], "ProductCodes": ["0001"]},
        {"ImageIds": [copy_of(core, old)]},
    ]
    repaired(core, drain)
    assert sandbox.sandbox.image(copy_of(core, old))["ProductCodes"] == ["0001"]  # type: ignore[index]
    assert {"Key": VERSION_TAG, "Value": new} in sandbox.sandbox.image(copy_of(core, new))["Tags"]  # type: ignore[index]


def test_a_deleted_copy_is_made_again_from_its_source(
    core: Core, versions: list[str], sandbox: SandboxServer, drain: Drain
) -> None:
    old, _ = versions
    gone = copy_of(core, old)
    sandbox.sandbox.edit_image(gone, delete=True)
    assert set(kinds(core)) == {("missing", old)}
    repaired(core, drain)
    again = copy_of(core, old)
    assert again != gone
    image = sandbox.sandbox.image(again)
    assert image is not None and image["State"] == "available"
    assert image["AccountId"] == DISTRIBUTION and image["ProductCodes"] == ["0001"]
    assert sorted(image["PermissionsToLaunch"]["AccountIds"]) == [SUB_A, SUB_B]
    assert {"Key": VERSION_TAG, "Value": old} in image["Tags"]
    assert services.show_version(core, old).version.status is Status.PUBLISHED


def test_a_copy_that_is_not_available_is_replaced(
    core: Core, versions: list[str], sandbox: SandboxServer, drain: Drain
) -> None:
    old, _ = versions
    bad = copy_of(core, old)
    sandbox.sandbox.edit_image(bad, state="failed")
    assert set(kinds(core)) == {("not_available", old)}
    repaired(core, drain)
    assert sandbox.sandbox.image(bad) is None  # ours, unusable: deleted before the new one
    assert sandbox.sandbox.image(copy_of(core, old))["State"] == "available"  # type: ignore[index]


def copies_named_for(sandbox: SandboxServer, version_id: str) -> list[str]:
    return [
        str(i["ImageId"])
        for i in sandbox.sandbox.images.values()
        if i["AccountId"] == DISTRIBUTION and str(i["ImageName"]).endswith(version_id)
    ]


def deleted_by_hand(core: Core, sandbox: SandboxServer, version_id: str) -> None:
    sandbox.sandbox.edit_image(copy_of(core, version_id), delete=True)
    assert set(kinds(core)) == {("missing", version_id)}


def test_a_repair_whose_new_copy_fails_deletes_it_and_runs_again_when_asked_again(
    core: Core, versions: list[str], sandbox: SandboxServer, drain: Drain
) -> None:
    old, _ = versions
    deleted_by_hand(core, sandbox, old)
    sandbox.sandbox.fail_copies(True)
    assert drift.repair(core, "0001", by=Actor.slack_user("URM1"))
    drain()
    assert copies_named_for(sandbox, old) == []  # the failed copy is not left behind
    assert set(kinds(core)) == {("missing", old)}
    sandbox.sandbox.fail_copies(False)
    repaired(core, drain)  # asked again after the failure: queued and done this time
    assert copies_named_for(sandbox, old) == [copy_of(core, old)]


def test_a_failed_copy_an_earlier_repair_left_is_deleted_and_the_source_copied_afresh(
    core: Core, versions: list[str], sandbox: SandboxServer, drain: Drain
) -> None:
    """A repair whose job ended before its copy did (its finding closed meanwhile) leaves a
    copy named and tagged for the version, which then fails: the next repair, finding it by
    its name, must not take it for its own new copy."""
    old, _ = versions
    deleted_by_hand(core, sandbox, old)
    version = services.show_version(core, old).version
    dist = core.cloud.distribution
    sandbox.sandbox.fail_copies(True)
    left = dist.copy(version.omi_id, version.copy_name(), "0001", "an earlier repair's copy")
    dist.tag_version(left, old)
    sandbox.sandbox.fail_copies(False)
    sandbox.sandbox.finish_copies()
    assert sandbox.sandbox.image(left)["State"] == "failed"  # type: ignore[index]
    repaired(core, drain)
    assert sandbox.sandbox.image(left) is None
    assert copies_named_for(sandbox, old) == [copy_of(core, old)]
    assert sandbox.sandbox.image(copy_of(core, old))["State"] == "available"  # type: ignore[index]


def test_a_check_while_a_repair_is_under_way_keeps_its_finding_and_the_repair_finishes(
    core: Core, versions: list[str], sandbox: SandboxServer, drain: Drain
) -> None:
    old, _ = versions
    deleted_by_hand(core, sandbox, old)
    assert drift.repair(core, "0001", by=Actor.slack_user("URM1"))
    # The periodic check comes before the worker: the version is busy, its finding stays open.
    assert set(kinds(core)) == {("missing", old)}
    drain()
    assert kinds(core) == {} and drift.open_findings(core, "0001") == []
    assert copies_named_for(sandbox, old) == [copy_of(core, old)]
    assert len(reports(core)) == 1  # told once, not again as a new finding


def test_a_version_unpublished_while_its_copy_is_made_again_keeps_no_copy(
    core: Core, versions: list[str], sandbox: SandboxServer, drain: Drain
) -> None:
    old, _ = versions
    deleted_by_hand(core, sandbox, old)
    sandbox.sandbox.copy_delay = 10**6
    assert drift.repair(core, "0001", by=Actor.slack_user("URM1"))
    assert Worker(core, deliverers=[]).run_one()  # the new copy is made, still pending
    (making,) = copies_named_for(sandbox, old)
    services.unpublish(core, old, by=OPERATOR)
    sandbox.sandbox.copy_delay = 0
    sandbox.sandbox.finish_copies()
    drain()
    assert sandbox.sandbox.image(making) is None
    assert copies_named_for(sandbox, old) == []
    assert services.show_version(core, old).version.status is Status.UNPUBLISHED
    assert kinds(core) == {}


def test_a_repair_that_finds_its_version_unpublished_deletes_the_copy_it_made(
    core: Core, versions: list[str], sandbox: SandboxServer
) -> None:
    """The repair's own side: its copy made, the version then unpublished by another worker
    (whose deletion ran before that copy existed); the repair's next run deletes it."""
    old, _ = versions
    deleted_by_hand(core, sandbox, old)
    assert drift.repair(core, "0001", by=Actor.slack_user("URM1"))
    sandbox.sandbox.copy_delay = 10**6
    worker = Worker(core, deliverers=[])
    assert worker.run_one()
    (making,) = copies_named_for(sandbox, old)
    services.unpublish(core, old, by=OPERATOR)
    with core.uow() as uow:
        (job,) = [j for j in uow.jobs.list(JobState.PENDING) if j.kind == "drift_repair"]
    assert job.payload["copy_id"] == making
    HANDLERS["drift_repair"](_JobContext(worker, job))
    assert sandbox.sandbox.image(making) is None


def test_a_deleted_copy_whose_source_is_gone_marks_the_version_broken(
    core: Core, versions: list[str], sandbox: SandboxServer, drain: Drain
) -> None:
    old, new = versions
    sandbox.sandbox.edit_image(copy_of(core, old), delete=True)
    sandbox.sandbox.edit_image(OMI_1, delete=True)  # the seller deleted the source OMI too
    assert set(kinds(core)) == {("missing", old)}
    repaired(core, drain)
    version = services.show_version(core, old).version
    assert version.status is Status.BROKEN
    assert f"source OMI {OMI_1} no longer exists" in str(version.failure)
    table = services.versions_table(core, "0001")
    assert table.last_available is not None and table.last_available.id == new
    with core.uow() as uow:
        (told,) = [i for i in uow.outbox.list(channel="slack") if i.event == "managers_broken"]
    assert f"Version `{old}`" in str(told.payload["text"]) and "is broken" in str(
        told.payload["text"]
    )
    assert not sandbox.sandbox.calls_to("CreateImage")[2:]  # no copy attempted


def test_a_leftover_copy_is_deleted_but_never_an_image_omi_bot_did_not_make(
    core: Core, versions: list[str], sandbox: SandboxServer, drain: Drain
) -> None:
    old, _ = versions
    leftover = copy_of(core, old)
    # The distribution account's owner makes an image of its own carrying the product code.
    dist = core.cloud.distribution
    foreign = dist.copy(OMI_2, "made-by-hand", "0001", "not omi-bot's")
    sandbox.sandbox.finish_copies()
    before = sandbox.sandbox.image(leftover)
    assert before is not None
    services.unpublish(core, old, by=OPERATOR)
    drain()
    assert sandbox.sandbox.image(leftover) is None
    # The cloud's state comes back from a backup, the unpublished version's copy with it.
    sandbox.sandbox.add_image(
        {
            "account_id": DISTRIBUTION,
            "image_id": leftover,
            "image_name": before["ImageName"],
            "product_codes": before["ProductCodes"],
            "permitted_account_ids": before["PermissionsToLaunch"]["AccountIds"],
            "tags": {t["Key"]: t["Value"] for t in before["Tags"]},
        }
    )
    assert kinds(core) == {
        ("leftover", old): f"the OMI copy {leftover} of unpublished version {old} is still in "
        "the distribution account"
    }
    repaired(core, drain)
    assert sandbox.sandbox.image(leftover) is None
    assert sandbox.sandbox.image(foreign) is not None
    deleted = [p["ImageId"] for _, p in sandbox.sandbox.calls_to("DeleteImage")]
    assert foreign not in deleted


def test_work_under_way_is_not_drift(core: Core, versions: list[str], drain: Drain) -> None:
    services.publish(
        core, "0001", VersionForm(omi="ami-5e11e003", release_note="3"), requested_by="o"
    )
    assert kinds(core) == {}
    drain()


def test_the_periodic_check_is_queued_once_per_interval_and_run_by_the_worker(
    core: Core, versions: list[str], sandbox: SandboxServer, drain: Drain
) -> None:
    assert drift.enqueue_check(core) is True
    assert drift.enqueue_check(core) is False  # another worker, same interval
    sandbox.sandbox.edit_image(copy_of(core, versions[0]), add_permitted=[SUB_C])
    drain()
    assert len(reports(core)) == 1
    assert [f.kind for f in drift.open_findings(core)] == [DriftKind.PERMISSIONS]


def test_the_sandbox_edits_images_over_http_from_loopback_only(
    versions: list[str], core: Core, sandbox: SandboxServer
) -> None:
    copy = copy_of(core, versions[0])
    answer = requests.post(
        f"{sandbox.base_url}/_sandbox/images",
        json={"image_id": copy, "remove_tags": [VERSION_TAG], "add_permitted": [SUB_C]},
        timeout=5,
    )
    assert answer.status_code == 200
    assert (
        answer.json()["Tags"] == [] and SUB_C in answer.json()["PermissionsToLaunch"]["AccountIds"]
    )
    bad = requests.post(
        f"{sandbox.base_url}/_sandbox/images", json={"image_id": copy, "colour": "red"}, timeout=5
    )
    assert bad.status_code == 400 and "unknown image changes: colour" in bad.json()["error"]
    gone = requests.post(
        f"{sandbox.base_url}/_sandbox/images", json={"image_id": copy, "delete": True}, timeout=5
    )
    assert gone.json() == {"deleted": True} and sandbox.sandbox.image(copy) is None
    back = requests.post(
        f"{sandbox.base_url}/_sandbox/images",
        json={"add": {"account_id": DISTRIBUTION, "image_id": copy, "image_name": "restored"}},
        timeout=5,
    )
    assert back.status_code == 200 and back.json()["ImageName"] == "restored"

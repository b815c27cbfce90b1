"""Operations end to end: the database, osc-sdk-python over HTTP, the OUTSCALE sandbox."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from commands import services
from commands.bootstrap import Core
from commands.errors import CloudError, FormErrors, NotFound, RuleBroken
from commands.model import Job, JobState, Status, Subscription, VersionForm
from commands.outscale import VERSION_TAG
from commands.sandbox import SandboxServer
from commands.worker import Worker
from tests.conftest import (
    DISTRIBUTION,
    OMI_1,
    OMI_2,
    OMI_3,
    OMI_NO_CODE,
    OMI_OTHER_CODE,
    OPERATOR,
    SELLER,
    SUB_A,
    SUB_B,
    SUB_C,
)

Drain = Callable[..., None]


def publish(core: Core, omi: str, note: str = "note", **fields: str) -> str:
    version = services.publish(
        core, "0001", VersionForm(omi=omi, release_note=note, **fields), requested_by="U1"
    )
    return version.id


def copies_of(sandbox: SandboxServer, version_id: str) -> list[dict]:
    return [
        image
        for image in sandbox.sandbox.images.values()
        if image["AccountId"] == DISTRIBUTION and version_id in image["ImageName"]
    ]


def test_publish_copies_shares_and_publishes(
    core: Core, subscribers: list[str], drain: Drain, sandbox: SandboxServer
) -> None:
    vid = publish(core, OMI_1, software_version="1.24")
    assert services.show_version(core, vid).version.status is Status.PUBLISHING
    drain()
    version = services.show_version(core, vid).version
    assert version.status is Status.PUBLISHED
    copy = sandbox.sandbox.image(str(version.copy_id))
    assert copy is not None
    assert copy["AccountId"] == DISTRIBUTION  # the distribution account owns the copy
    assert copy["State"] == "available"
    assert copy["ProductCodes"] == ["0001"]
    assert {"Key": VERSION_TAG, "Value": vid} in copy["Tags"]
    assert sorted(copy["PermissionsToLaunch"]["AccountIds"]) == [SUB_A, SUB_B]
    assert copy["PermissionsToLaunch"]["GlobalPermission"] is False
    # the seller let the distribution account launch the source, to copy it
    grants = [p for a, p in sandbox.sandbox.calls_to("UpdateImage") if a == SELLER]
    assert grants and grants[0]["ImageId"] == OMI_1
    table = services.versions_table(core, "0001")
    assert table.last_available is not None and table.last_available.id == vid
    assert table.product.modified_at == version.published_at


def test_free_product_copies_are_public(
    core: Core, product: str, drain: Drain, sandbox: SandboxServer
) -> None:
    services.save_product(
        core, code="0002", name="PostgreSQL", seller_account_id=SELLER, pricing="free"
    )
    version = services.publish(
        core, "0002", VersionForm(omi=OMI_OTHER_CODE, release_note="n"), requested_by="U1"
    )
    drain()
    copy = sandbox.sandbox.image(str(services.show_version(core, version.id).version.copy_id))
    assert copy is not None and copy["PermissionsToLaunch"]["GlobalPermission"] is True


def test_omi_by_name_and_fields_from_the_last_version(
    core: Core, product: str, drain: Drain
) -> None:
    first = publish(core, OMI_1, software_version="1.24", operating_system="Debian 12")
    second = publish(core, "debian-12-nginx-1.26", note="upgrade")
    version = services.show_version(core, second).version
    assert version.omi_id == OMI_2 and version.omi_name == "debian-12-nginx-1.26"
    assert version.operating_system == "Debian 12"  # R3
    assert first != second


@pytest.mark.parametrize(
    "omi, expected",
    [
        (OMI_NO_CODE, "R2"),  # the seller's, without the product code
        (OMI_OTHER_CODE, "R2"),  # another product's code
        ("ami-0f5ca1e1", "No OMI"),  # public, carries 0001, but not the seller's
        ("ami-12345678", "No OMI"),  # does not exist
        ("no-such-name", "No OMI"),
    ],
)
def test_r2_refusals_through_the_cloud_change_nothing(
    core: Core, product: str, omi: str, expected: str
) -> None:
    with pytest.raises(FormErrors) as refused:
        publish(core, omi)
    assert expected in refused.value.fields["omi"]
    with core.uow() as uow:
        assert uow.versions.count("0001") == 0
        assert uow.jobs.unfinished() == 0


def test_selectable_omis_are_the_sellers_with_the_code(core: Core, product: str) -> None:
    ids = [o.image_id for o in services.selectable_omis(core, "0001")]
    assert sorted(ids) == [OMI_1, OMI_2, OMI_3]  # not ami-0f5ca1e1: public, another owner


def test_r5_same_omi_twice_is_refused(core: Core, product: str) -> None:
    publish(core, OMI_1)
    with pytest.raises(FormErrors, match="already the OMI"):
        publish(core, OMI_1)


def test_unpublish_deletes_the_copy_and_moves_last_available(
    core: Core, subscribers: list[str], drain: Drain, sandbox: SandboxServer
) -> None:
    v1 = publish(core, OMI_1)
    v2 = publish(core, OMI_2)
    drain()
    copy2 = services.show_version(core, v2).version.copy_id
    services.unpublish(core, v2, by=OPERATOR)
    table = services.versions_table(core, "0001")
    assert table.last_available is not None and table.last_available.id == v1
    drain()
    assert sandbox.sandbox.image(str(copy2)) is None  # gone from the cloud (R8)
    assert services.show_version(core, v2).version.status is Status.UNPUBLISHED


def test_r7_through_the_service(core: Core, product: str, drain: Drain) -> None:
    v1 = publish(core, OMI_1)
    drain()
    with pytest.raises(RuleBroken, match="only published version"):
        services.unpublish(core, v1, by=OPERATOR)
    assert services.show_version(core, v1).version.status is Status.PUBLISHED


def test_r7_holds_under_concurrent_unpublishes(core: Core, product: str, drain: Drain) -> None:
    """Two people unpublish the last two versions at the same time: one must be refused."""
    ids = [publish(core, OMI_1), publish(core, OMI_2)]
    drain()
    outcomes: list[str] = []

    def attempt(vid: str) -> None:
        try:
            services.unpublish(core, vid, by=OPERATOR)
            outcomes.append("done")
        except RuleBroken:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt, args=(vid,)) for vid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["done", "refused"]
    statuses = [services.show_version(core, vid).version.status for vid in ids]
    assert statuses.count(Status.PUBLISHED) == 1


def test_unpublish_product_deletes_every_copy(
    core: Core, product: str, drain: Drain, sandbox: SandboxServer
) -> None:
    ids = [publish(core, OMI_1), publish(core, OMI_2)]
    drain()
    copies = [services.show_version(core, v).version.copy_id for v in ids]
    gone = services.unpublish_product(core, "0001", by=OPERATOR)
    assert {v.id for v in gone} == set(ids)
    drain()
    assert all(sandbox.sandbox.image(str(c)) is None for c in copies)
    assert services.versions_table(core, "0001").last_available is None


def test_modify_changes_fields_not_the_omi(core: Core, product: str, drain: Drain) -> None:
    vid = publish(core, OMI_1)
    drain()
    before = services.show_version(core, vid).version
    version, changed = services.modify(
        core,
        vid,
        VersionForm(omi=OMI_1, release_note="new note", software_version="9"),
        by=OPERATOR,
    )
    assert changed == ["software_version", "release_note"]
    assert version.modified_at > before.modified_at
    with pytest.raises(RuleBroken, match="cannot change"):
        services.modify(core, vid, VersionForm(omi=OMI_2, release_note="x"), by=OPERATOR)
    assert services.show_version(core, vid).version.omi_id == OMI_1


def test_unknown_names_are_clear(core: Core, product: str) -> None:
    with pytest.raises(NotFound, match="ver-0000000000"):
        services.unpublish(core, "ver-0000000000", by=OPERATOR)
    with pytest.raises(NotFound, match="product code 'nope'"):
        services.versions_table(core, "nope")


def test_a_new_subscriber_gets_every_published_copy_and_loses_it_on_leaving(
    core: Core, subscribers: list[str], drain: Drain, sandbox: SandboxServer
) -> None:
    vid = publish(core, OMI_1)
    drain()
    copy_id = str(services.show_version(core, vid).version.copy_id)
    services.save_subscriber(core, account_id=SUB_C, organization="Acme", email="c@acme.example")
    assert services.subscribe(core, SUB_C, "0001") is True
    assert services.subscribe(core, SUB_C, "0001") is False  # once
    drain()
    image = sandbox.sandbox.image(copy_id)
    assert image is not None and SUB_C in image["PermissionsToLaunch"]["AccountIds"]
    services.unsubscribe(core, SUB_C, "0001")
    drain()
    image = sandbox.sandbox.image(copy_id)
    assert image is not None and SUB_C not in image["PermissionsToLaunch"]["AccountIds"]
    assert SUB_A in image["PermissionsToLaunch"]["AccountIds"]


def test_a_failed_copy_fails_the_version_and_cleans_up(
    core: Core, subscribers: list[str], drain: Drain, sandbox: SandboxServer
) -> None:
    sandbox.sandbox.fail_copies(True)
    vid = publish(core, OMI_1)
    drain()
    version = services.show_version(core, vid).version
    assert version.status is Status.FAILED
    assert version.failure and "failed" in version.failure
    assert copies_of(sandbox, vid) == []  # the failed copy was deleted
    assert services.versions_table(core, "0001").last_available is None
    # the OMI can be tried again (R5 does not hold a failed attempt)
    sandbox.sandbox.fail_copies(False)
    again = publish(core, OMI_1)
    drain()
    assert services.show_version(core, again).version.status is Status.PUBLISHED


def test_a_burst_of_503_is_absorbed(
    core: Core, product: str, drain: Drain, sandbox: SandboxServer
) -> None:
    vid = publish(core, OMI_1)
    sandbox.sandbox.fail_next(2, 503)
    drain()
    assert services.show_version(core, vid).version.status is Status.PUBLISHED
    assert len(copies_of(sandbox, vid)) == 1


def test_cloud_errors_are_one_sentence_with_the_code(core: Core) -> None:
    with pytest.raises(CloudError) as refused:
        core.cloud.distribution.call("DeleteImage", ImageId="ami-00000000")
    message = str(refused.value)
    assert "5023" in message and "DeleteImage" in message
    assert "\n" not in message
    assert refused.value.code == "5023" and refused.value.retryable is False


def test_unreachable_cloud_is_a_retryable_cloud_error(core: Core, sandbox: SandboxServer) -> None:
    sandbox.stop()
    with pytest.raises(CloudError, match="could not be reached") as refused:
        core.cloud.seller.call("ReadAccounts")
    assert refused.value.retryable


def test_crash_after_the_copy_never_copies_twice(
    core: Core, product: str, sandbox: SandboxServer
) -> None:
    """A worker dies after CreateImage and before recording the copy; another one takes the
    job over when the lease runs out and finds the copy instead of making a second one."""
    from commands import pipeline
    from commands.worker import _JobContext

    vid = publish(core, OMI_1)
    short = Worker(core, name="doomed", deliverers=[])
    short.lease = timedelta(milliseconds=200)
    job = short.claim()
    assert job is not None and job.kind == "copy_omi"
    pipeline.copy_omi(_JobContext(short, job))  # the cloud work happens, the commit never does
    assert len(copies_of(sandbox, vid)) == 1
    time.sleep(0.3)
    survivor = Worker(core, name="survivor", deliverers=[])
    assert survivor.run_until(lambda: services.is_settled(core, vid), 20)
    assert len(copies_of(sandbox, vid)) == 1
    assert len(sandbox.sandbox.calls_to("CreateImage")) == 1
    assert services.show_version(core, vid).version.status is Status.PUBLISHED
    # the dead worker waking up cannot record anything over the survivor's work
    from commands.worker import LeaseLost

    with pytest.raises(LeaseLost):
        with core.uow() as uow:
            short.held(uow, job)


def test_two_workers_never_run_the_same_job(
    core: Core, subscribers: list[str], drain: Drain, sandbox: SandboxServer
) -> None:
    vid = publish(core, OMI_1)
    drain()
    at = core.clock()
    accounts = [f"{n:012d}" for n in range(30)]
    for account in accounts:
        services.save_subscriber(
            core, account_id=account, organization="Acme", email="a@acme.example"
        )
    with core.uow() as uow:
        for account in accounts:
            # Subscribed, with the grant queued by hand: each job must run exactly once.
            uow.subscribers.add_subscription(Subscription(account, "0001", at))
            uow.jobs.add(
                Job(
                    "grant_account",
                    at=at,
                    version_id=vid,
                    product_code="0001",
                    payload={"account_ids": [account]},
                )
            )
        uow.commit()
    before = len(sandbox.sandbox.calls_to("UpdateImage"))
    workers = [Worker(core, name=f"w{i}", deliverers=[]) for i in range(2)]
    threads = [threading.Thread(target=w.tick) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with core.uow() as uow:
        done = uow.jobs.list(JobState.DONE, limit=1000)
        grants = [j for j in done if j.kind == "grant_account"]
        assert len(grants) == 30
        assert {j.attempts for j in grants} == {1}
    assert len(sandbox.sandbox.calls_to("UpdateImage")) - before == 30


def test_sharing_resumes_from_its_checkpoint(
    core: Core, product: str, sandbox: SandboxServer
) -> None:
    """Share in batches of 2 accounts; a worker dying after the first batch is taken over
    from the second batch on: nobody is shared twice, nobody is missed."""
    from dataclasses import replace

    from commands.model import Organization, Subscriber, Subscription

    with core.uow() as uow:
        org = Organization(name="Many", language="en", admin_emails=[])
        uow.subscribers.add_organization(org)
        assert org.id is not None
        for n in range(5):
            account = f"90000000000{n}"
            uow.subscribers.add(Subscriber(account, org.id, f"s{n}@many.example"))
            uow.subscribers.add_subscription(Subscription(account, "0001", core.clock()))
        uow.commit()
    core.settings = replace(core.settings, share_batch_size=2)
    vid = publish(core, OMI_1)
    worker = Worker(core, name="w", deliverers=[])
    # run copy and wait steps
    while True:
        with core.uow() as uow:
            kinds = [j.kind for j in uow.jobs.for_version(vid) if j.state is JobState.PENDING]
        if kinds == ["share_copy"]:
            break
        worker.run_one() or time.sleep(0.05)
    # a worker that dies right after recording its first batch
    from commands import pipeline
    from commands.worker import _JobContext

    class Crash(Exception):
        pass

    class DiesAfterOneBatch(_JobContext):
        def checkpoint(self, payload: dict[str, object]) -> None:
            super().checkpoint(payload)
            raise Crash

    doomed = Worker(core, name="doomed", deliverers=[])
    doomed.lease = timedelta(milliseconds=200)
    job = doomed.claim()
    assert job is not None and job.kind == "share_copy"
    with pytest.raises(Crash):
        pipeline.share_copy(DiesAfterOneBatch(doomed, job))
    time.sleep(0.3)
    assert worker.run_until(lambda: services.is_settled(core, vid), 20)
    with core.uow() as uow:
        share = next(j for j in uow.jobs.for_version(vid) if j.kind == "share_copy")
        assert share.state is JobState.DONE
        assert share.attempts == 2  # the dead worker's attempt, then the survivor's
    grants = [p for a, p in sandbox.sandbox.calls_to("UpdateImage") if a == DISTRIBUTION]
    shared = [acc for p in grants for acc in p["PermissionsToLaunch"]["Additions"]["AccountIds"]]
    assert sorted(shared) == [f"90000000000{n}" for n in range(5)]  # each account once
    assert [len(p["PermissionsToLaunch"]["Additions"]["AccountIds"]) for p in grants] == [2, 2, 1]

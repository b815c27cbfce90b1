"""Cloud faults, each with nothing lost and nothing doubled: a copy that stays pending, a copy
made but never recorded, a deletion that keeps failing (the unpublish notice waits for it), and
a cloud that lost its state (copies the Versions table knows are gone)."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from commands import services
from commands.bootstrap import Core
from commands.model import Actor, Job, JobState, OutboxItem, Status, VersionForm
from commands.sandbox import SandboxServer
from commands.worker import Worker
from tests.conftest import OMI_1, OMI_2, OPERATOR, SUB_A, SUB_B, SUB_C

from .conftest import copies_of, jobs_of, outbox, run_jobs, set_clock


def from_slack(core: Core, omi: str = OMI_1) -> str:
    """A publication asked for and approved in Slack: its thread is CREL 5.000."""
    request = services.request_publication(
        core, "0001", VersionForm(omi=omi, release_note="n", software_version="9"),
        requested_by="UREQ",
    )  # fmt: skip
    services.record_surface(core, request.id, {"channel": "CREL", "ts": "5.000", "lang": "en"})
    return services.approve(core, request.id, by=Actor.slack_user("URM1")).versions[0].id


def slack_items(core: Core, event: str) -> list[OutboxItem]:
    return [i for i in outbox(core, "slack") if i.event == event]


def notices(core: Core) -> list[OutboxItem]:
    """Every notice to subscribers about an unpublication, mail or Slack."""
    return [
        i
        for channel in ("email", "slack")
        for i in outbox(core, channel)
        if i.event in ("version_unpublished", "product_unpublished")
    ]


# -- a copy that stays pending --------------------------------------------------------------


def test_a_copy_pending_too_long_fails_the_version_and_is_deleted(
    core: Core, subscribers: list[str], sandbox: SandboxServer
) -> None:
    cloud = sandbox.sandbox
    cloud.copy_delay = 10**6  # this copy never finishes
    clock = set_clock(core)
    vid = from_slack(core)
    worker = Worker(core, deliverers=[])
    worker.run_one()  # copy_omi
    assert len(copies_of(cloud, vid)) == 1
    for _ in range(3):
        clock.advance(seconds=core.settings.copy_timeout_seconds / 3 - 1)
        assert worker.run_one()  # still pending: waits
    assert services.show_version(core, vid).version.status is Status.PUBLISHING
    clock.advance(seconds=5)
    run_jobs(core, clock)

    version = services.show_version(core, vid).version
    assert version.status is Status.FAILED
    assert version.failure and "still pending after 1 h (OMI_COPY_TIMEOUT_SECONDS)" in (
        version.failure
    )
    assert copies_of(cloud, vid) == []  # deleted, though it never finished
    failed = slack_items(core, "progress_failed")
    assert len(failed) == 1
    told = failed[0].payload
    assert (failed[0].recipient, told["thread_ts"], told["notify_user"]) == (
        "CREL",
        "5.000",
        "UREQ",
    )
    assert "still pending after 1 h" in str(told["text"])
    # Nothing is announced to subscribers for a failed publication.
    assert [i for i in outbox(core, "email")] == []


def test_the_copy_timeout_is_configurable(
    core: Core, subscribers: list[str], sandbox: SandboxServer
) -> None:
    sandbox.sandbox.copy_delay = 10**6
    short = replace(core, settings=replace(core.settings, copy_timeout_seconds=120))
    clock = set_clock(short)
    vid = services.publish(
        short, "0001", VersionForm(omi=OMI_1, release_note="n"), requested_by="o"
    ).id
    Worker(short, deliverers=[]).run_one()
    clock.advance(seconds=121)
    run_jobs(short, clock)
    assert "still pending after 2 min" in str(services.show_version(short, vid).version.failure)


def test_a_copy_made_but_never_recorded_is_found_and_deleted_when_publication_fails(
    core: Core, subscribers: list[str], sandbox: SandboxServer
) -> None:
    cloud = sandbox.sandbox
    clock = set_clock(core)
    vid = services.publish(
        core, "0001", VersionForm(omi=OMI_1, release_note="n"), requested_by="o"
    ).id
    # The copy is made; then OUTSCALE refuses its tag for good (a 400, not retried), so the
    # step gives up before recording the copy.
    cloud.hold("CreateImage", "after")
    runner = threading.Thread(target=Worker(core, deliverers=[]).run_one)
    runner.start()
    assert cloud.wait_held("CreateImage", timeout=30)
    cloud.fail_next(1, status=400)
    cloud.release()
    runner.join(30)
    assert services.show_version(core, vid).version.status is Status.FAILED
    assert services.show_version(core, vid).version.copy_id is None
    assert len(copies_of(cloud, vid)) == 1
    run_jobs(core, clock)
    assert copies_of(cloud, vid) == []
    assert [j.state for j in jobs_of(core, vid)] == [JobState.FAILED, JobState.DONE]


# -- the unpublish notice waits for the deletion --------------------------------------------


@pytest.fixture
def two_versions(core: Core, subscribers: list[str], sandbox: SandboxServer) -> list[str]:
    sandbox.sandbox.copy_delay = 0
    clock = set_clock(core)
    first = from_slack(core, OMI_1)
    run_jobs(core, clock)
    second = services.publish(
        core, "0001", VersionForm(omi=OMI_2, release_note="n"), requested_by="o"
    ).id
    run_jobs(core, clock)
    return [first, second]


def test_the_unpublish_notice_is_written_once_the_copy_is_deleted(
    core: Core, two_versions: list[str], sandbox: SandboxServer
) -> None:
    first, _ = two_versions
    services.unpublish(core, first, by=OPERATOR)
    assert notices(core) == []  # "has been deleted" is not true yet
    run_jobs(core, core.clock)  # type: ignore[arg-type]
    assert copies_of(sandbox.sandbox, first) == []
    told = notices(core)
    assert sorted(i.channel for i in told) == ["email"] * 4 + ["slack"] * 2
    mail = next(i for i in told if i.channel == "email" and i.language == "en")
    assert "has been deleted" in str(mail.payload["text"])


def test_a_deletion_that_keeps_failing_is_told_and_the_notice_waits(
    core: Core, two_versions: list[str], sandbox: SandboxServer
) -> None:
    cloud = sandbox.sandbox
    clock = core.clock
    first, _ = two_versions
    services.unpublish(core, first, by=OPERATOR)
    # Every call answers 503 (the SDK's own retries included) for as many attempts as a job has.
    per_attempt = (core.settings.osc_max_retries or 0) + 1
    cloud.fail_next(per_attempt * core.settings.job_max_attempts, status=503)
    worker = Worker(core, deliverers=[])
    for _ in range(core.settings.job_max_attempts):
        delete = next(j for j in jobs_of(core, first) if j.kind == "delete_copy")
        clock.at = max(clock.at, delete.run_at)  # type: ignore[attr-defined]
        assert worker.run_one()
    delete = next(j for j in jobs_of(core, first) if j.kind == "delete_copy")
    assert delete.state is JobState.PENDING  # never given up
    assert delete.attempts == core.settings.job_max_attempts
    stuck = slack_items(core, "managers_delete_stuck")
    assert len(stuck) == 1
    assert (stuck[0].recipient, stuck[0].payload["thread_ts"]) == ("CREL", "5.000")
    assert "subscribers are told of the unpublication once the copy is gone" in str(
        stuck[0].payload["text"]
    )
    assert notices(core) == [] and len(copies_of(cloud, first)) == 1
    # OUTSCALE answers again: the copy goes, then the notice, once; nothing more is told.
    run_jobs(core, clock)  # type: ignore[arg-type]
    assert copies_of(cloud, first) == []
    assert len(notices(core)) == 6
    assert len(slack_items(core, "managers_delete_stuck")) == 1
    assert len(slack_items(core, "progress_deleted")) == 1


def test_a_deletion_refused_for_good_is_told_at_once_and_tried_again(
    core: Core, two_versions: list[str], sandbox: SandboxServer
) -> None:
    first, _ = two_versions
    services.unpublish(core, first, by=OPERATOR)
    sandbox.sandbox.fail_next(1, status=400)
    assert Worker(core, deliverers=[]).run_one()
    delete = next(j for j in jobs_of(core, first) if j.kind == "delete_copy")
    assert (delete.state, delete.attempts) == (JobState.PENDING, 1)
    assert len(slack_items(core, "managers_delete_stuck")) == 1
    run_jobs(core, core.clock)  # type: ignore[arg-type]
    assert copies_of(sandbox.sandbox, first) == [] and len(notices(core)) == 6


def test_a_product_notice_waits_for_every_deletion_and_is_written_once(
    core: Core, two_versions: list[str], sandbox: SandboxServer
) -> None:
    first, second = two_versions
    services.unpublish_product(core, "0001", by=OPERATOR)
    worker = Worker(core, deliverers=[])
    sandbox.sandbox.fail_next(4, status=503)  # the first deletion fails once
    assert worker.run_one()
    assert worker.run_one()  # the second one is done
    assert notices(core) == []
    run_jobs(core, core.clock)  # type: ignore[arg-type]
    told = notices(core)
    assert sorted(i.channel for i in told) == ["email"] * 4 + ["slack"] * 2
    assert {i.event for i in told} == {"product_unpublished"}
    assert all(sorted(i.payload.get("version_ids") or [first, second]) == sorted([first, second])
               for i in told if i.channel == "email")  # fmt: skip
    for vid in two_versions:
        assert copies_of(sandbox.sandbox, vid) == []


# -- a cloud that lost its state ------------------------------------------------------------


def test_a_cloud_that_lost_its_copies_is_reported_not_retried(
    core: Core, two_versions: list[str], sandbox: SandboxServer
) -> None:
    cloud = sandbox.sandbox
    first, second = two_versions
    cloud.reset()  # the sandbox restarted: its copies are gone, the Versions table keeps them
    services.save_subscriber(core, account_id=SUB_C, organization="Acme", email="c@acme.example")
    services.subscribe(core, SUB_C, "0001")
    run_jobs(core, core.clock)  # type: ignore[arg-type]
    grants = [j for j in jobs_of(core, first) + jobs_of(core, second) if j.kind == "grant_account"]
    assert [(j.state, j.attempts) for j in grants] == [(JobState.FAILED, 1)] * 2
    assert all("is gone from the OUTSCALE Cloud" in (j.last_error or "") for j in grants)
    gone = slack_items(core, "managers_copy_gone")
    assert {i.version_id for i in gone} == {first, second} and len(gone) == 2
    # The version of the thread is told there; the CLI one at the top of the approval channel.
    assert {(i.version_id, "thread_ts" in i.payload) for i in gone} == {
        (first, True),
        (second, False),
    }
    # Unpublishing then finds nothing to delete, which is what it wanted: the notice goes.
    services.unpublish(core, first, by=OPERATOR)
    run_jobs(core, core.clock)  # type: ignore[arg-type]
    assert len(notices(core)) == 7  # C's contact is one more mail; C has no Slack channel


def test_a_copy_lost_while_publishing_fails_the_version_with_what_was_found(
    core: Core, subscribers: list[str], sandbox: SandboxServer
) -> None:
    cloud = sandbox.sandbox
    cloud.copy_delay = 10**6
    clock = set_clock(core)
    vid = from_slack(core)
    Worker(core, deliverers=[]).run_one()  # the copy is made and recorded
    cloud.reset()
    run_jobs(core, clock)
    version = services.show_version(core, vid).version
    assert version.status is Status.FAILED
    assert "disappeared from the cloud" in str(version.failure)
    assert [(j.kind, j.attempts) for j in jobs_of(core, vid)][:2] == [
        ("copy_omi", 1),
        ("await_copy", 1),
    ]


# -- subscriptions that change while a copy is shared ---------------------------------------


def test_a_grant_retried_after_the_unsubscription_that_followed_it_gives_nothing_back(
    core: Core, published: str, sandbox: SandboxServer
) -> None:
    clock = set_clock(core)
    cloud = sandbox.sandbox
    copy_id = str(services.show_version(core, published).version.copy_id)
    services.save_subscriber(core, account_id=SUB_C, organization="Acme", email="c@acme.example")
    services.subscribe(core, SUB_C, "0001")
    cloud.fail_next(20, 503)  # more than the SDK tries a call
    assert Worker(core, deliverers=[]).run_one()  # the grant meets the 503s: tried again later
    cloud.fail_next(0)
    services.unsubscribe(core, SUB_C, "0001")
    run_jobs(core, clock)  # the revoke, due at once; then the grant, after its backoff
    access = [(j.kind, j.state, j.attempts) for j in jobs_of(core, published)
              if j.kind in ("grant_account", "revoke_account")]  # fmt: skip
    assert sorted(access) == [
        ("grant_account", JobState.DONE, 2),
        ("revoke_account", JobState.DONE, 1),
    ]
    image = cloud.image(copy_id)
    assert image is not None and SUB_C not in image["PermissionsToLaunch"]["AccountIds"]


def test_a_share_cut_short_then_an_unsubscription_leaves_the_account_nothing(
    core: Core, subscribers: list[str], sandbox: SandboxServer
) -> None:
    """A sharing run shared with A, checkpointed past A and ended (a 503, a worker that died);
    A unsubscribed before the run that finishes, which no longer lists A."""
    clock = set_clock(core)
    form = VersionForm(omi=OMI_1, release_note="n")
    vid = services.publish(core, "0001", form, requested_by="U1").id
    worker = Worker(core, deliverers=[])

    def share() -> Job | None:
        pending = [j for j in jobs_of(core, vid) if j.state is JobState.PENDING]
        return next((j for j in pending if j.kind == "share_copy"), None)

    for _ in range(50):
        if share() is not None:
            break
        if not worker.run_one():
            clock.advance(seconds=core.settings.copy_poll_seconds)
    job = share()
    assert job is not None
    copy_id = str(services.show_version(core, vid).version.copy_id)
    core.cloud.distribution.grant(copy_id, [SUB_A])
    with core.uow() as uow:
        stored = uow.jobs.get(job.id)
        assert stored is not None
        stored.payload = {**stored.payload, "shared_through": SUB_A}
        uow.commit()
    services.unsubscribe(core, SUB_A, "0001")  # publishing: no revoke job of its own
    run_jobs(core, clock)
    assert services.show_version(core, vid).version.status is Status.PUBLISHED
    image = sandbox.sandbox.image(copy_id)
    assert image is not None
    assert image["PermissionsToLaunch"]["AccountIds"] == [SUB_B]

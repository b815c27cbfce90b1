"""`omi-bot worker` killed (SIGKILL) at every step of every kind of work, one step per case: the
step's OUTSCALE call, SMTP DATA or Slack post is held, the process is killed there, the call is
let go, and another worker takes over once the lease has run out.

Each time: one copy per published version, shared with exactly the subscribers, none for an
unpublished version, every mail and post delivered, and none twice, but for the one whose
answer the dead worker never read (SMTP and Slack offer no way to ask whether it arrived; such
a mail keeps its Message-ID, so it is one mail to its reader).

The worker runs what `omi-bot worker` runs, in a process of its own forked from the test's: it
starts without importing everything again and parsing the SDK's API description (seconds
each time)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest

from commands import services
from commands.bootstrap import Core, bootstrap
from commands.config import Settings
from commands.model import Actor, JobState, OutboxState, Status, VersionForm, now
from commands.notifications.outbox import deliver_mail, message_id
from commands.notifications.slack import Pacer, deliver_slack, slack_client
from commands.sandbox import Sandbox, SandboxServer
from commands.worker import Worker
from tests.conftest import OMI_1, OMI_2, OPERATOR, SUB_B, SUB_C
from tests.notifications.smtp_server import SmtpTestServer
from tests.slackfake import FakeSlackAPI

from .conftest import BOT_TOKEN, copies_of


@dataclass
class World:
    core: Core
    cloud: Sandbox
    smtp: SmtpTestServer
    slack: FakeSlackAPI
    subscribed: set[str]

    def jobs(self) -> None:
        """Runs the jobs in this process until none is left, without delivering anything."""

        def idle() -> bool:
            self.cloud.finish_copies()
            with self.core.uow() as uow:
                return uow.jobs.unfinished() == 0

        assert Worker(self.core, deliverers=[]).run_until(idle, 30)


class SlackHold:
    """Holds chat.postMessage after Slack has the post and before it answers."""

    def __init__(self, fake: FakeSlackAPI) -> None:
        self.held = threading.Event()
        self.go = threading.Event()
        self.count = 0
        fake.set_response("chat.postMessage", self.post)

    def post(self, params: dict[str, Any]) -> dict[str, Any]:
        self.count += 1
        if not self.go.is_set():
            self.held.set()
            self.go.wait(60)
        return {"ok": True, "channel": params["channel"], "ts": f"{self.count}.0001"}


def publish(world: World, omi: str = OMI_1, *, from_slack: bool = False) -> str:
    form = VersionForm(omi=omi, release_note="note", software_version=omi[-3:])
    if not from_slack:
        return services.publish(world.core, "0001", form, requested_by="ops").id
    request = services.request_publication(world.core, "0001", form, requested_by="UREQ")
    services.record_surface(world.core, request.id, {"channel": "CREL", "ts": "5.000"})
    return services.approve(world.core, request.id, by=Actor.slack_user("URM1")).versions[0].id


def delivered(world: World) -> None:
    """Everything so far done and delivered, so that only the step under test is left."""
    world.jobs()
    deliver_mail(world.core, "prepare")
    client = slack_client(BOT_TOKEN, world.slack.url)
    while deliver_slack(world.core, "prepare", client, pacer=Pacer(timedelta(0))):
        pass


# What each case stages before the worker starts, the call it is killed in, and whether that
# call's answer is lost after its effect ("after") or before it ("before").
Stage = Callable[[World], None]


def until_share(world: World) -> None:
    publish(world)
    worker = Worker(world.core, deliverers=[])
    worker.run_one()  # copy_omi
    world.cloud.finish_copies()
    worker.run_one()  # await_copy: share_copy is next


def until_await(world: World) -> None:
    publish(world)
    Worker(world.core, deliverers=[]).run_one()  # copy_omi: await_copy is next


def two_published(world: World) -> list[str]:
    first = publish(world, OMI_1)
    delivered(world)
    second = publish(world, OMI_2)
    delivered(world)
    return [first, second]


def unpublish_one(world: World) -> None:
    first, _ = two_published(world)
    services.unpublish(world.core, first, by=OPERATOR)


def unpublish_product(world: World) -> None:
    two_published(world)
    services.unpublish_product(world.core, "0001", by=OPERATOR)


def grant(world: World) -> None:
    publish(world)
    delivered(world)
    services.save_subscriber(
        world.core, account_id=SUB_C, organization="Acme", email="c@acme.example"
    )
    services.subscribe(world.core, SUB_C, "0001")
    world.subscribed.add(SUB_C)


def revoke(world: World) -> None:
    publish(world)
    delivered(world)
    services.unsubscribe(world.core, SUB_B, "0001")
    world.subscribed.discard(SUB_B)


def mail_queued(world: World) -> None:
    publish(world)
    world.jobs()


def posts_queued(world: World) -> None:
    mail_queued(world)
    deliver_mail(world.core, "prepare")


def progress_queued(world: World) -> None:
    publish(world, from_slack=True)
    world.jobs()
    deliver_mail(world.core, "prepare")


CASES: dict[str, tuple[Stage, str, str]] = {
    "publish: seller lets the distribution account launch the OMI": (
        publish, "UpdateImage", "after"
    ),
    "publish: copy asked, not made yet": (publish, "CreateImage", "before"),
    "publish: copy made, not recorded": (publish, "CreateImage", "after"),
    "publish: copy tagged, not recorded": (publish, "CreateTags", "after"),
    "publish: waiting for the copy": (until_await, "ReadImages", "after"),
    "share: a batch granted, not checkpointed": (until_share, "UpdateImage", "after"),
    "unpublish: copy deleted, not recorded": (unpublish_one, "DeleteImage", "after"),
    "unpublish product: a copy deleted, not recorded": (unpublish_product, "DeleteImage", "after"),
    "grant: a new subscriber's access given, not recorded": (grant, "UpdateImage", "after"),
    "revoke: a subscriber's access removed, not recorded": (revoke, "UpdateImage", "before"),
    "mail: DATA sent, no answer": (mail_queued, "smtp", "after"),
    "slack announcement: posted, no answer": (posts_queued, "slack", "after"),
    "slack progress in the thread: posted, no answer": (progress_queued, "slack", "after"),
}  # fmt: skip


def fork_worker(settings: Settings, env: dict[str, str]) -> int:
    """Forks a process that runs the worker as `omi-bot worker` does, on its own database
    connections, until it is killed."""
    pid = os.fork()
    if pid == 0:  # the child never returns into the test
        code = 1
        try:
            os.environ.update(env)
            Worker(bootstrap(settings, migrate=False)).run_forever()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


@pytest.fixture
def world(
    core: Core,
    subscribers: list[str],
    sandbox: SandboxServer,
    fake_slack: FakeSlackAPI,
    smtp_server: SmtpTestServer,
) -> Iterator[World]:
    mailing = replace(core, settings=replace(core.settings, smtp_url=smtp_server.url))
    yield World(mailing, sandbox.sandbox, smtp_server, fake_slack, set(subscribers))
    sandbox.sandbox.release()


@pytest.mark.parametrize("case", list(CASES))
def test_a_worker_killed_at_each_step_loses_nothing_and_doubles_nothing(
    case: str, world: World
) -> None:
    stage, action, when = CASES[case]
    stage(world)
    slack_hold: SlackHold | None = None
    if action == "smtp":
        world.smtp.hold_after(len(world.smtp.messages))
        wait = world.smtp.wait_holding
    elif action == "slack":
        slack_hold = SlackHold(world.slack)
        wait = slack_hold.held.wait
    else:
        world.cloud.hold(action, when)  # type: ignore[arg-type]

        def wait(timeout: float) -> bool:
            return world.cloud.wait_held(action, 1, timeout=timeout)

    settings = replace(
        world.core.settings, job_lease_seconds=1, share_batch_size=1, smtp_url=world.smtp.url
    )
    pid = fork_worker(settings, {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": world.slack.url})
    try:
        assert wait(60), f"the worker never reached {action}"
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        # The call the dead worker made goes on without it: its effect lands after the kill.
        world.cloud.release()
        world.smtp.release()
        if slack_hold is not None:
            slack_hold.go.set()

    # Another worker, once the dead one's lease has run out.
    core = world.core
    core.clock = lambda: now() + timedelta(seconds=5)
    client = slack_client(BOT_TOKEN, world.slack.url)
    takeover = Worker(
        core,
        deliverers=[
            lambda: deliver_mail(core, "takeover"),
            lambda: deliver_slack(core, "takeover", client, pacer=Pacer(timedelta(0))),
        ],
    )

    def settled() -> bool:
        world.cloud.finish_copies()
        with core.uow() as uow:
            return uow.jobs.unfinished() == 0 and uow.outbox.unfinished() == 0

    assert takeover.run_until(settled, 60)
    check(world, case)


def check(world: World, case: str) -> None:
    core, cloud = world.core, world.cloud
    with core.uow() as uow:
        product = uow.products.get("0001")
        assert product is not None
        jobs = uow.jobs.list(limit=1000)
        mails = [i for i in uow.outbox.list(channel="email", limit=1000)]
        posts = [i for i in uow.outbox.list(channel="slack", limit=1000)]
    assert {j.state for j in jobs} == {JobState.DONE}, [(j.kind, j.last_error) for j in jobs]
    for version in product.versions:
        copies = copies_of(cloud, version.id)
        if version.status is Status.PUBLISHED:
            assert [c["ImageId"] for c in copies] == [version.copy_id]
            copy = copies[0]
            assert copy["State"] == "available" and copy["ProductCodes"] == ["0001"]
            launch = copy["PermissionsToLaunch"]
            assert sorted(launch["AccountIds"]) == sorted(world.subscribed)  # type: ignore[index]
        else:
            assert version.status is Status.UNPUBLISHED and copies == []
    # One copy made per version, whatever died when.
    made = Counter(
        name.rsplit("-omi-bot-", 1)[1]
        for _, params in cloud.calls_to("CreateImage")
        if "-omi-bot-" in (name := str(params["ImageName"]))
    )
    assert set(made.values()) <= {1}
    # Every notice delivered; none twice, but the one whose answer was lost.
    assert {i.state for i in mails + posts} <= {OutboxState.SENT}
    lost = 1 if "no answer" in case else 0
    received = Counter(
        (r.lower(), m.message["Message-ID"]) for m in world.smtp.messages for r in m.rcpt_tos
    )
    sender = core.settings.mail_from
    assert set(received) == {(i.recipient.lower(), message_id(i, sender)) for i in mails}
    assert sum(received.values()) - len(received) <= (lost if case.startswith("mail") else 0)
    keys = Counter(
        str(c.params["metadata"]["event_payload"]["key"])
        for c in world.slack.calls_to("chat.postMessage")
        if isinstance(c.params.get("metadata"), dict)
    )
    announcements = {i.key for i in posts if not i.event.startswith("progress_")}
    assert announcements <= set(keys)
    doubled = sum(keys.values()) - len(keys)
    assert doubled <= (lost if case.startswith("slack announcement") else 0)

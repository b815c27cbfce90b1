"""Two `omi-bot serve` processes behind one URL, on one PostgreSQL, each with its worker:
requests spread across them as a load balancer would spread them. A slash command Slack (or
the balancer) delivers again to the other replica opens one modal; Approve clicked on both at
once gives one version, one OMI copy and one set of notices."""

from __future__ import annotations

import mailbox
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import approvals, views
from commands import services
from commands.bootstrap import Core
from commands.model import OutboxState, Status
from commands.sandbox import SandboxServer
from tests.conftest import DISTRIBUTION, TEST_DATABASE_URL
from tests.notifications.smtp_server import free_port
from tests.processes import OmiProcess, omi_env, start_omi
from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import SlackClient

from .conftest import BOT_TOKEN, SIGNING_SECRET
from .flows import request_publication, submit, texts

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL,
    reason="replicas share one PostgreSQL server; scripts/test.sh runs this on PostgreSQL",
)


@pytest.fixture
def replicas(
    database_url: str,
    osc_config: Path,
    tmp_path: Path,
    fake_slack: FakeSlackAPI,
    sandbox: SandboxServer,
) -> Iterator[Callable[[int], list[tuple[OmiProcess, SlackClient]]]]:
    started: list[OmiProcess] = []

    def start(count: int) -> list[tuple[OmiProcess, SlackClient]]:
        env = omi_env(
            database_url,
            osc_config,
            tmp_path,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake_slack.url,
        )
        out = []
        for n in range(count):
            port = free_port()
            process = start_omi(
                ["-v", "serve", "--host", "127.0.0.1"],
                {**env, "PORT": str(port)},
                tmp_path,
                name=f"replica{n}",
            )
            started.append(process)
            out.append((process, f"http://127.0.0.1:{port}"))
        clients = []
        for process, url in out:
            process.wait_http(url + "/healthz", timeout=180)
            clients.append(
                (process, SlackClient(url, SIGNING_SECRET, response_urls=fake_slack.response_url))
            )
        return clients

    yield start
    for process in started:
        process.kill()


def test_a_command_redelivered_to_the_other_replica_opens_one_modal(
    replicas: Callable[[int], list[tuple[OmiProcess, SlackClient]]],
    fake_slack: FakeSlackAPI,
    product: str,
) -> None:
    (first, a), (second, b) = replicas(2)
    trigger = a.new_trigger_id()
    assert a.slash_command("publish 0001", user_id="USELLER", trigger_id=trigger).status_code == 200
    (form,) = fake_slack.wait_for("views.update", timeout=30)
    assert form.params["view"]["callback_id"] == views.FORM_CALLBACK
    again = b.slash_command("publish 0001", user_id="USELLER", trigger_id=trigger, retry_num=1)
    assert again.status_code == 200 and again.text == ""
    second.wait_log("redelivered request ignored (retry 1)")
    # A command of its own on the second replica is served: it is alive, only the copy went.
    assert b.slash_command("publish 0001", user_id="USELLER").status_code == 200
    fake_slack.wait_for("views.update", 2, timeout=30)
    assert len(fake_slack.calls_to("views.open")) == 2
    for process in (first, second):
        assert process.terminate() == 0, process.output
        assert "Traceback" not in process.output


def _at_once(*calls: Callable[[], Any]) -> list[Any]:
    results: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        start.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _views_with(fake: FakeSlackAPI, callback_id: str) -> list[dict[str, Any]]:
    return [
        c.params["view"]
        for c in fake.calls_to("views.update")
        if c.params["view"].get("callback_id") == callback_id
    ]


def _wait(what: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.1)


def test_approve_clicked_on_both_replicas_at_once_publishes_once(
    replicas: Callable[[int], list[tuple[OmiProcess, SlackClient]]],
    fake_slack: FakeSlackAPI,
    core: Core,
    subscribers: list[str],
    sandbox: SandboxServer,
    tmp_path: Path,
) -> None:
    fake_slack.set_usergroup("SRM", [])
    (first, a), (second, b) = replicas(2)
    request_id = request_publication(a, fake_slack)

    clicks = _at_once(
        lambda: a.block_action(
            approvals.APPROVE_ACTION, str(request_id), user_id="URM1", channel_id="CREL"
        ),
        lambda: b.block_action(
            approvals.APPROVE_ACTION, str(request_id), user_id="URM2", channel_id="CREL"
        ),
    )
    assert [c.status_code for c in clicks] == [200, 200]
    _wait(lambda: len(_views_with(fake_slack, approvals.CONFIRM_CALLBACK)) == 2)
    confirm = _views_with(fake_slack, approvals.CONFIRM_CALLBACK)[0]

    before = len(fake_slack.calls_to("views.update"))
    answers = _at_once(
        lambda: submit(a, confirm, user="URM1"), lambda: submit(b, confirm, user="URM2")
    )
    assert [x["response_action"] for x in answers] == ["update", "update"]
    outcomes = [c.params["view"] for c in fake_slack.wait_for("views.update", before + 2, 30)]
    outcomes = outcomes[before:]
    assert len([v for v in outcomes if "is approved" in texts(v)]) == 1
    assert len([v for v in outcomes if "already approved" in texts(v)]) == 1

    version_id = services.get_request(core, request_id).version_id
    assert version_id is not None

    def published_and_told() -> bool:
        if services.show_version(core, version_id).version.status is not Status.PUBLISHED:
            return False
        with core.uow() as uow:
            items = uow.outbox.list()
        return bool(items) and all(i.state is OutboxState.SENT for i in items)

    _wait(published_and_told)
    with core.uow() as uow:
        assert uow.versions.count("0001") == 1
    cloud = sandbox.sandbox
    assert len(cloud.calls_to("CreateImage")) == 1
    copies = [i for i in cloud.images.values() if i["AccountId"] == DISTRIBUTION]
    assert len(copies) == 1
    mails = list(mailbox.Maildir(tmp_path / "mail", create=False))
    recipients = Counter(address for m in mails for address in m.get_all("To", []))
    assert len(recipients) == 4 and set(recipients.values()) == {1}, recipients
    posts = Counter(c.params["channel"] for c in fake_slack.calls_to("chat.postMessage"))
    assert posts["CACME"] == 1 and posts["CGLOBEX"] == 1, posts
    for process in (first, second):
        assert process.terminate() == 0, process.output
        assert "Traceback" not in process.output

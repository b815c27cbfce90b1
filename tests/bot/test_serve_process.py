"""`omi-bot serve` as a real process, over HTTP and over Socket Mode, stopped with SIGTERM: in
the middle of a Slack request and of a publication step, nothing is lost or done twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from commands import services
from commands.bootstrap import Core
from commands.model import JobState, Status, VersionForm
from commands.sandbox import SandboxServer
from tests.conftest import DISTRIBUTION, OMI_1
from tests.notifications.smtp_server import free_port
from tests.processes import OmiProcess, omi_env, start_omi
from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import SlackClient
from tests.slackfake.socket_mode import FakeSocketMode, SocketModeSlack

from .conftest import BOT_TOKEN, SIGNING_SECRET

APP_TOKEN = "xapp-1-A1-process-app-token"


@pytest.fixture
def serve_env(
    database_url: str, osc_config: Path, tmp_path: Path, fake_slack: FakeSlackAPI
) -> Callable[..., dict[str, str]]:
    def make(**extra: str) -> dict[str, str]:
        return omi_env(
            database_url,
            osc_config,
            tmp_path,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake_slack.url,
            **extra,
        )

    return make


@pytest.fixture
def processes() -> Iterator[list[OmiProcess]]:
    started: list[OmiProcess] = []
    yield started
    for process in started:
        process.kill()


def serve_http(
    env: dict[str, str], tmp_path: Path, processes: list[OmiProcess]
) -> tuple[OmiProcess, str]:
    port = free_port()
    process = start_omi(["serve", "--host", "127.0.0.1"], {**env, "PORT": str(port)}, tmp_path)
    processes.append(process)
    url = f"http://127.0.0.1:{port}"
    # Building the OUTSCALE gateways at start parses the SDK's API spec: seconds, and more
    # than 30 on a busy machine.
    process.wait_http(url + "/healthz", timeout=90)
    return process, url


def test_http_serve_answers_then_stops_on_sigterm(
    serve_env: Callable[..., dict[str, str]],
    tmp_path: Path,
    fake_slack: FakeSlackAPI,
    product: str,
    processes: list[OmiProcess],
) -> None:
    process, url = serve_http(serve_env(), tmp_path, processes)
    slack = SlackClient(url, SIGNING_SECRET, response_urls=fake_slack.response_url)
    assert slack.slash_command("help").status_code == 200
    (answer,) = fake_slack.wait_for("response_url")
    assert "/omi publish" in answer.params["text"]
    assert process.terminate() == 0, process.output
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/healthz", timeout=2)
    assert "Traceback" not in process.output


def test_socket_mode_serve_answers_then_stops_on_sigterm(
    serve_env: Callable[..., dict[str, str]],
    tmp_path: Path,
    fake_slack: FakeSlackAPI,
    product: str,
    processes: list[OmiProcess],
) -> None:
    fake_slack.expected_app_token = APP_TOKEN
    with FakeSocketMode(fake_slack) as socket:
        process = start_omi(["serve"], serve_env(SLACK_APP_TOKEN=APP_TOKEN), tmp_path)
        processes.append(process)
        socket.wait_connected(1, timeout=60)
        slack = SocketModeSlack(socket, response_urls=fake_slack.response_url)
        assert slack.slash_command("help").status_code == 200
        (answer,) = fake_slack.wait_for("response_url")
        assert "/omi publish" in answer.params["text"]
        assert process.terminate() == 0, process.output
        socket.wait_closed(1)
        assert socket.connections == 1  # it closed for good, without reconnecting
    assert "Traceback" not in process.output


def test_sigterm_lets_the_request_and_the_copy_step_finish(
    serve_env: Callable[..., dict[str, str]],
    tmp_path: Path,
    fake_slack: FakeSlackAPI,
    core: Core,
    subscribers: list[str],
    sandbox: SandboxServer,
    processes: list[OmiProcess],
    drain: Callable[..., None],
) -> None:
    cloud = sandbox.sandbox
    version = services.publish(
        core, "0001", VersionForm(omi=OMI_1, release_note="n"), requested_by="U1"
    )
    cloud.hold("CreateImage", "after")  # the copy is made; its answer waits
    try:
        process, url = serve_http(serve_env(), tmp_path, processes)
        assert cloud.wait_held("CreateImage", 1, timeout=60), process.output
        # A Slack request under way: acknowledged, its modal filled in after the ack.
        fake_slack.delay("views.open", 1.0)
        slack = SlackClient(url, SIGNING_SECRET, response_urls=fake_slack.response_url)
        assert slack.slash_command("publish 0001", user_id="USELLER").status_code == 200
        process.popen.send_signal(15)
        process.wait_log("stopping")
    finally:
        cloud.release()
    assert process.wait() == 0, process.output
    assert len(fake_slack.calls_to("views.update")) == 1  # the request answered before exit
    with core.uow() as uow:
        jobs = uow.jobs.for_version(version.id)
        assert {j.state for j in jobs} <= {JobState.DONE, JobState.PENDING}
        copied = uow.versions.get(version.id)
        assert copied is not None and copied.copy_id is not None  # the step was recorded
    drain()
    final = services.show_version(core, version.id).version
    assert final.status is Status.PUBLISHED
    assert len(cloud.calls_to("CreateImage")) == 1
    copies = [i for i in cloud.images.values() if i["AccountId"] == DISTRIBUTION]
    assert [c["ImageId"] for c in copies] == [final.copy_id]


def test_sigterm_past_the_deadline_gives_the_lease_back(
    serve_env: Callable[..., dict[str, str]],
    tmp_path: Path,
    core: Core,
    subscribers: list[str],
    sandbox: SandboxServer,
    processes: list[OmiProcess],
    drain: Callable[..., None],
) -> None:
    cloud = sandbox.sandbox
    version = services.publish(
        core, "0001", VersionForm(omi=OMI_1, release_note="n"), requested_by="U1"
    )
    cloud.hold("CreateImage", "after")
    env = serve_env(OMI_SHUTDOWN_SECONDS="1", OMI_OSC_TIMEOUT="5", OMI_JOB_LEASE_SECONDS="600")
    try:
        process, _ = serve_http(env, tmp_path, processes)
        assert cloud.wait_held("CreateImage", 1, timeout=60), process.output
        assert process.terminate() == 0, process.output  # the call is still held
        with core.uow() as uow:
            (job,) = uow.jobs.for_version(version.id)
        # Given back: no 10-minute wait for the lease, and the attempt is not counted.
        assert (job.state, job.worker, job.lease_until, job.attempts) == (
            JobState.PENDING, None, None, 0,
        )
        assert "given back" in process.output
    finally:
        cloud.release()
    drain()
    final = services.show_version(core, version.id).version
    assert final.status is Status.PUBLISHED
    assert len(cloud.calls_to("CreateImage")) == 1  # the copy made before the stop was found

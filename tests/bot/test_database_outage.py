"""The database goes away, then comes back, under a real `omi-bot serve` and a real
`omi-bot worker`: a loopback proxy between them and PostgreSQL drops every connection and
leaves new ones unanswered for OUTAGE_SECONDS (a shorter outage than a real failover's 30
seconds, the same for omi-bot: every connection is gone and new ones hang). Meanwhile Slack is
answered at once with "try again" in the user's language, never a 500 or a hang, and /readyz
says not ready; afterwards both processes carry on by themselves."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy.engine import make_url

from bot import views
from commands import services
from commands.bootstrap import Core
from commands.model import Status, VersionForm
from commands.sandbox import SandboxServer
from tests.conftest import OMI_1, TEST_DATABASE_URL
from tests.notifications.smtp_server import free_port
from tests.outage import Outage
from tests.processes import OmiProcess, omi_env, start_omi
from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import SlackClient

from .conftest import BOT_TOKEN, SIGNING_SECRET

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL,
    reason="the outage is staged between the processes and a PostgreSQL server",
)

OUTAGE_SECONDS = 6.0


@pytest.fixture
def outage() -> Iterator[Outage]:
    url = make_url(TEST_DATABASE_URL)
    proxy = Outage(url.host or "127.0.0.1", url.port or 5432).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def processes() -> Iterator[list[OmiProcess]]:
    started: list[OmiProcess] = []
    yield started
    for process in started:
        process.kill()


def _wait(what: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not what():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.1)


def test_serve_and_worker_ride_out_a_database_outage(
    outage: Outage,
    osc_config: Path,
    tmp_path: Path,
    fake_slack: FakeSlackAPI,
    core: Core,
    subscribers: list[str],
    sandbox: SandboxServer,
    processes: list[OmiProcess],
) -> None:
    through = make_url(TEST_DATABASE_URL).set(host="127.0.0.1", port=outage.port)
    env = omi_env(
        through.render_as_string(hide_password=False),
        osc_config,
        tmp_path,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake_slack.url,
    )
    port = free_port()
    serve = start_omi(
        ["serve", "--host", "127.0.0.1", "--no-worker"], {**env, "PORT": str(port)}, tmp_path,
        name="serve",
    )  # fmt: skip
    worker = start_omi(["-v", "worker"], env, tmp_path, name="worker")
    processes += [serve, worker]
    url = f"http://127.0.0.1:{port}"
    serve.wait_http(url + "/healthz", timeout=180)
    worker.wait_log("started", timeout=180)
    fake_slack.set_user("UFR", locale="fr-FR")
    services.selectable_omis(core, "0001")  # the test's own OUTSCALE gateway, built now
    slack = SlackClient(url, SIGNING_SECRET, response_urls=fake_slack.response_url)
    assert slack.slash_command("publish 0001", user_id="UFR").status_code == 200
    fake_slack.wait_for("views.update", timeout=30)

    outage.cut()
    cut_at = time.monotonic()
    assert outage.dropped > 0  # the processes' connections were open, and are gone
    # Asked while the database is away (by a CLI elsewhere, straight to the database).
    version = services.publish(
        core, "0001", VersionForm(omi=OMI_1, release_note="n"), requested_by="U1"
    )
    answered_at = time.monotonic()
    answer = slack.slash_command("publish 0001", user_id="UFR")
    assert answer.status_code == 200 and answer.text == ""
    (told,) = fake_slack.wait_for("response_url", timeout=30)
    assert told.params["response_type"] == "ephemeral"
    assert "ne peut pas joindre sa base de données" in told.params["text"]
    assert "Réessayez dans une minute" in told.params["text"]
    assert time.monotonic() - answered_at < 10  # told in seconds, not after the outage
    assert len(fake_slack.calls_to("views.open")) == 1  # no modal for what could not be done
    assert requests.get(url + "/healthz", timeout=10).status_code == 503
    ready = requests.get(url + "/readyz", timeout=10)
    assert ready.status_code == 503 and ready.json()["database"] is False
    worker.wait_log("the database cannot be reached", timeout=30)
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut_at)))
    assert sandbox.sandbox.calls_to("CreateImage") == []  # the worker could not take the job
    outage.restore()

    serve.wait_http(url + "/healthz", timeout=30)
    serve.wait_http(url + "/readyz", timeout=30)  # ready again, by itself
    assert slack.slash_command("publish 0001", user_id="UFR").status_code == 200
    _wait(lambda: len(fake_slack.calls_to("views.open")) == 2)
    _wait(
        lambda: any(
            c.params["view"].get("callback_id") == views.FORM_CALLBACK
            for c in fake_slack.calls_to("views.update")[1:]
        )
    )
    _wait(lambda: services.show_version(core, version.id).version.status is Status.PUBLISHED)
    worker.wait_log("the database is reachable again")
    assert len(sandbox.sandbox.calls_to("CreateImage")) == 1
    for process in (serve, worker):
        assert process.terminate() == 0, process.output
        assert "Traceback" not in process.output, process.output

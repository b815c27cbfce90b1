"""A full run as an operator sees it: `omi-bot serve` as a real process with every secret set
(Slack's, OUTSCALE's, the SMTP password), JSON logs, a publication through approval done by its
worker, the mails sent over SMTP with a login. Every log line is JSON, the lines carry their
context, none holds a secret, and /metrics tells what happened. `omi-bot worker
--metrics-port` serves the same numbers from its own port."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from commands import services
from commands.bootstrap import Core
from commands.model import Status, VersionForm
from commands.sandbox import DEMO_ACCOUNTS, SandboxServer
from tests.bot.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.bot.flows import approve, request_publication
from tests.conftest import OMI_1
from tests.notifications.smtp_server import SmtpTestServer, free_port
from tests.processes import OmiProcess, omi_env, start_omi
from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import SlackClient

SMTP_USER = "omi-mailer"
SMTP_PASSWORD = "smtp-Pa55word-for-tests"


@pytest.fixture
def processes() -> Iterator[list[OmiProcess]]:
    started: list[OmiProcess] = []
    yield started
    for process in started:
        process.kill()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, labels) -> value, from a Prometheus text exposition."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_until(check, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.1)


def secrets_of_the_run() -> list[str]:
    keys = [
        a[k] for a in DEMO_ACCOUNTS if a.get("role") in ("seller", "distribution")
        for k in ("access_key", "secret_key")
    ]  # fmt: skip
    return [BOT_TOKEN, SIGNING_SECRET, SMTP_PASSWORD, *keys]


def test_full_run_json_logs_no_secret_and_metrics(
    database_url: str,
    osc_config: Path,
    tmp_path: Path,
    fake_slack: FakeSlackAPI,
    core: Core,
    subscribers: list[str],
    sandbox: SandboxServer,
    processes: list[OmiProcess],
) -> None:
    fake_slack.set_usergroup("SRM", ["UGRP"])
    with SmtpTestServer() as smtp:
        smtp.require_auth(SMTP_USER, SMTP_PASSWORD)
        port = free_port()
        env = omi_env(
            database_url,
            osc_config,
            tmp_path,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake_slack.url,
            OMI_SMTP_URL=f"smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{smtp.port}",
            OMI_LOG_FORMAT="json",
            PORT=str(port),
        )
        process = start_omi(["-v", "serve", "--host", "127.0.0.1"], env, tmp_path, "serve")
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        process.wait_http(url + "/readyz", timeout=60)
        slack = SlackClient(url, SIGNING_SECRET, response_urls=fake_slack.response_url)
        request_id = request_publication(slack, fake_slack)
        approve(slack, fake_slack, request_id)

        def published() -> bool:
            with core.uow() as uow:
                versions = [v for p in uow.products.list() for v in p.versions]
            return any(v.status is Status.PUBLISHED for v in versions)

        wait_until(published, what="the version published\n" + process.output)
        wait_until(lambda: len(smtp.messages) == 4, what="4 mails sent\n" + process.output)
        assert smtp.auth_attempts  # the password was used

        def scraped() -> dict:
            return samples(requests.get(url + "/metrics", timeout=10).text)

        def settled() -> bool:
            # The outcomes are recorded once the batch is sent; the database gauges are read
            # again once their cache (5 s) has run out.
            now = scraped()
            return (
                value(now, "omi_mails_total", outcome="sent") == 4
                and value(now, "omi_outbox_queued", channel="email") == 0
            )

        wait_until(settled)
        found = scraped()
        assert process.terminate() == 0, process.output

    assert value(found, "omi_slack_requests_total", kind="slash_command") >= 1
    assert value(found, "omi_slack_requests_total", kind="view_submission") >= 2
    assert value(found, "omi_slack_requests_total", kind="block_actions") >= 1
    assert value(found, "omi_slack_ack_seconds_count", kind="view_submission") >= 2
    assert value(found, "omi_slack_acks_total", kind="block_actions", status="200") >= 1
    for kind in ("copy_omi", "share_copy"):
        assert value(found, "omi_job_attempts_total", kind=kind) >= 1
        assert value(found, "omi_job_outcomes_total", kind=kind, outcome="done") == 1
    assert value(found, "omi_outscale_calls_total", action="CreateImage", code="ok") == 1
    assert value(found, "omi_outscale_call_seconds_count", action="CreateImage") == 1
    assert value(found, "omi_mails_total", outcome="sent") == 4
    assert value(found, "omi_outbox_queued", channel="email") == 0
    assert value(found, "omi_outbox_failed", channel="email") == 0
    assert value(found, "omi_workers", state="alive") == 1
    assert value(found, "omi_database_up") == 1

    output = process.output.splitlines()
    assert len(output) >= 10  # start, the Slack requests, the job steps, the mails, the stop
    parsed = []
    for line in output:
        parsed.append(json.loads(line))  # every line is one JSON object
        for secret in secrets_of_the_run():
            assert secret not in line, line
    assert "Traceback" not in process.output
    answered = [p for p in parsed if str(p["message"]).startswith("slash_command answered 200")]
    assert answered and answered[0]["user_id"] == "USELLER" and answered[0]["request_id"]
    steps = [p for p in parsed if "job_id" in p and p.get("version_id")]
    assert steps, "no line carries a job's context"
    messages = "\n".join(str(p["message"]) for p in parsed)
    assert "token will be unused" not in messages and "will be ignored" not in messages
    assert "maximum number of running instances" not in messages


def test_worker_serves_metrics_and_readiness_on_its_port(
    database_url: str,
    osc_config: Path,
    tmp_path: Path,
    core: Core,
    subscribers: list[str],
    sandbox: SandboxServer,
    processes: list[OmiProcess],
) -> None:
    version = services.publish(
        core, "0001", VersionForm(omi=OMI_1, release_note="n"), requested_by="U1"
    )
    port = free_port()
    env = omi_env(database_url, osc_config, tmp_path)
    process = start_omi(["worker", "--metrics-port", str(port)], env, tmp_path, "worker")
    processes.append(process)
    url = f"http://127.0.0.1:{port}"
    process.wait_http(url + "/readyz", timeout=60)
    assert requests.get(url + "/readyz", timeout=10).json() == {
        "ok": True, "database": True, "migrations": True, "worker": True,
    }  # fmt: skip
    wait_until(
        lambda: services.show_version(core, version.id).version.status is Status.PUBLISHED,
        what="published by the worker\n" + process.output,
    )

    def counted() -> dict:
        return samples(requests.get(url + "/metrics", timeout=10).text)

    wait_until(
        lambda: value(counted(), "omi_mails_total", outcome="sent") == 4,
        what="the mails counted\n" + process.output,
    )
    found = counted()
    assert value(found, "omi_job_outcomes_total", kind="copy_omi", outcome="done") == 1
    assert value(found, "omi_outscale_calls_total", action="CreateImage", code="ok") == 1
    assert value(found, "omi_jobs_by_state", state="pending") == 0
    assert value(found, "omi_workers", state="alive") == 1
    assert "omi_slack_requests_total" not in {name for name, _ in found}
    assert process.terminate() == 0, process.output
    with core.uow() as uow:
        (beat,) = uow.health.heartbeats()
    assert beat.role == "worker" and beat.stopped_at is not None

"""/metrics: the counters move with what happens (Slack requests and their acks, job steps,
OUTSCALE calls and their error codes, leases taken over, mails, Slack 429s) and the database
gauges tell the queue (jobs by kind and state, the outbox's depth and oldest notice), cached a
few seconds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
import requests

from bot.app import BotSettings, create_app
from bot.runtime import install
from bot.server import start_in_thread
from commands import metrics, services
from commands.bootstrap import Core, bootstrap
from commands.config import Settings
from commands.model import Job, OutboxItem, VersionForm
from commands.notifications.outbox import deliver_mail
from commands.notifications.slack import Pacer, deliver_slack, slack_client
from commands.sandbox import SandboxServer
from commands.worker import Worker
from tests.bot.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.bot.flows import approve, request_publication
from tests.conftest import OMI_1
from tests.ops.test_full_run import samples, value
from tests.ops.test_readyz import _unreachable_url
from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import SlackClient


def scrape(core: Core, cache_seconds: float = 0.0) -> dict:
    body, content_type = metrics.Exposition(core, cache_seconds)()
    assert content_type.startswith("text/plain; version=0.0.4")
    return samples(body.decode())


def local() -> dict:
    """The process's own counters (no database gauges)."""
    return samples(metrics.generate_latest(metrics.REGISTRY).decode())


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_metrics_after_a_slack_flow(
    core: Core,
    subscribers: list[str],
    sandbox: SandboxServer,
    fake_slack: FakeSlackAPI,
    drain: Callable[..., None],
) -> None:
    fake_slack.set_usergroup("SRM", ["UGRP"])
    services.selectable_omis(core, "0001")
    before = local()
    app = create_app(server_settings(fake_slack), lambda app: install(app, core))
    http = start_in_thread(app, core.db.reachable, metrics=metrics.Exposition(core, 0))
    try:
        slack = SlackClient(http.url, SIGNING_SECRET, response_urls=fake_slack.response_url)
        request_id = request_publication(slack, fake_slack)
        approve(slack, fake_slack, request_id)
        with core.uow() as uow:
            queued = uow.jobs.unfinished()
        assert queued >= 1
        answer = requests.get(http.url + "/metrics", timeout=10)
        assert answer.status_code == 200
        queued_view = samples(answer.text)
        assert value(queued_view, "omi_jobs_by_state", state="pending") == queued
        drain()
        after = samples(requests.get(http.url + "/metrics", timeout=10).text)
    finally:
        http.stop()
    assert delta(before, after, "omi_slack_requests_total", kind="slash_command") == 1
    assert delta(before, after, "omi_slack_requests_total", kind="view_submission") == 2
    assert delta(before, after, "omi_slack_requests_total", kind="block_actions") == 1
    assert delta(before, after, "omi_slack_acks_total", kind="view_submission", status="200") == 2
    assert delta(before, after, "omi_slack_ack_seconds_count", kind="slash_command") == 1
    assert value(after, "omi_slack_ack_seconds_bucket", kind="slash_command", le="+Inf") >= 1
    assert delta(before, after, "omi_job_outcomes_total", kind="copy_omi", outcome="done") == 1
    assert delta(before, after, "omi_job_attempts_total", kind="share_copy") == 1
    assert delta(before, after, "omi_outscale_calls_total", action="CreateImage", code="ok") == 1
    assert value(after, "omi_jobs_by_state", state="pending") == 0
    assert value(after, "omi_outbox_queued", channel="email") == 4  # no mail deliverer ran
    assert value(after, "omi_outbox_oldest_queued_age_seconds", channel="email") >= 0
    assert value(after, "omi_outbox_queued", channel="slack") >= 1


def server_settings(fake_slack: FakeSlackAPI) -> BotSettings:
    return BotSettings(
        bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=fake_slack.url, port=0
    )


def test_outscale_error_codes_and_failures_are_counted(
    core: Core, subscribers: list[str], sandbox: SandboxServer, drain: Callable[..., None]
) -> None:
    services.publish(core, "0001", VersionForm(omi=OMI_1, release_note="n"), requested_by="U1")
    before = local()
    sandbox.sandbox.fail_next(1, 400)  # the copy's first call
    drain()
    after = local()
    failed = {
        labels: n - value(before, name, **dict(labels))
        for (name, labels), n in after.items()
        if name == "omi_outscale_calls_total" and dict(labels)["code"] != "ok"
    }
    assert sum(failed.values()) == 1, failed
    ((labels, _),) = [(k, n) for k, n in failed.items() if n]
    assert dict(labels)["code"] not in ("", "error")
    assert delta(before, after, "omi_job_failures_total", kind="copy_omi") == 1
    # A 400 is not retried: the publication fails.
    assert delta(before, after, "omi_job_outcomes_total", kind="copy_omi", outcome="failed") == 1


def _mail(core: Core, key: str) -> OutboxItem:
    return OutboxItem(
        channel="email", key=key, event="published", product_code="0001",
        recipient="ops@acme.example", language="en", payload={}, at=core.clock(),
    )  # fmt: skip


def test_leases_taken_over_are_counted(
    core: Core, subscribers: list[str], sandbox: SandboxServer, drain: Callable[..., None]
) -> None:
    services.publish(core, "0001", VersionForm(omi=OMI_1, release_note="n"), requested_by="U1")
    drain()  # published: 4 mails queued
    dead = -timedelta(seconds=1)  # claimed by a worker that died at once: leases run out
    with core.uow() as uow:
        uow.jobs.add(Job("no-such-step", at=core.clock(), key="j"))
        uow.commit()
    with core.uow() as uow:
        assert uow.jobs.claim("dead:1", core.clock(), dead) is not None
        taken = uow.outbox.claim("email", "dead:1", core.clock(), dead, 10)
        uow.commit()
    assert len(taken) == 4 and not any(item.taken_over for item in taken)
    before = local()
    assert Worker(core, deliverers=[]).run_one()  # takes the job over, then it fails
    deliver_mail(core, "alive:2")
    after = local()
    assert delta(before, after, "omi_leases_taken_over_total", what="job") == 1
    assert delta(before, after, "omi_leases_taken_over_total", what="email") == 4
    assert delta(before, after, "omi_mails_total", outcome="sent") == 4


def test_slack_429s_are_counted(
    core: Core,
    subscribers: list[str],
    sandbox: SandboxServer,
    fake_slack: FakeSlackAPI,
    drain: Callable[..., None],
) -> None:
    services.publish(core, "0001", VersionForm(omi=OMI_1, release_note="n"), requested_by="U1")
    drain()  # published: the subscribers' channels have an announcement queued
    fake_slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    before = local()
    # A pacer of the test's own: the process's would keep the pause for the tests after it.
    deliver_slack(core, "w:1", slack_client(BOT_TOKEN, fake_slack.url), pacer=Pacer())
    after = local()
    assert delta(before, after, "omi_slack_rate_limited_total", client="outbox") == 1
    # That one, and the other channel's, paced while the method is paused: both put back.
    assert delta(before, after, "omi_slack_notices_total", outcome="put_back") == 2

    app = create_app(server_settings(fake_slack), lambda app: install(app, core))
    fake_slack.rate_limit("chat.postMessage", times=1, retry_after=0)
    app.client.chat_postMessage(channel="C1", text="hi")  # retried once by the bot's client
    again = local()
    assert delta(after, again, "omi_slack_rate_limited_total", client="bot") == 1


def test_database_gauges_are_cached_and_survive_an_outage(
    core: Core, product: str, settings: Settings, tmp_path
) -> None:
    with core.uow() as uow:
        uow.jobs.add(Job("copy_omi", at=core.clock(), key="a", run_at=core.clock() + timedelta(1)))
        uow.outbox.add(_mail(core, "m"))
        uow.commit()
    cached = metrics.Exposition(core, cache_seconds=60)
    first = samples(cached()[0].decode())
    assert value(first, "omi_jobs", kind="copy_omi", state="pending") == 1
    assert value(first, "omi_outbox_queued", channel="email") == 1
    with core.uow() as uow:
        uow.jobs.add(Job("copy_omi", at=core.clock(), key="b", run_at=core.clock() + timedelta(1)))
        uow.commit()
    assert value(samples(cached()[0].decode()), "omi_jobs", kind="copy_omi", state="pending") == 1
    assert value(scrape(core), "omi_jobs", kind="copy_omi", state="pending") == 2
    gone = bootstrap(replace(settings, database_url=_unreachable_url(tmp_path)), migrate=False)
    try:
        down = scrape(gone)
    finally:
        gone.db.engine.dispose()
    assert value(down, "omi_database_up") == 0
    assert ("omi_jobs_by_state", (("state", "pending"),)) not in down
    assert value(scrape(core), "omi_database_up") == 1


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"command": "/omi"}, "slash_command"),
        ({"type": "block_actions"}, "block_actions"),
        ({"type": "event_callback"}, "event"),
        ({"type": "something new"}, "other"),
        ("not a dict", "other"),
    ],
)
def test_request_kinds_are_bounded(body: object, kind: str) -> None:
    assert metrics.request_kind(body) == kind


def test_serve_metrics_port_answers_the_probes(
    bot_settings: BotSettings, core: Core, sandbox: SandboxServer
) -> None:
    from bot.service import Service
    from tests.notifications.smtp_server import free_port

    port = free_port()
    service = Service(bot_settings, core, host="127.0.0.1", port=0, metrics_port=port).start()
    try:
        url = f"http://127.0.0.1:{port}"
        assert value(scrape_url(url), "omi_database_up") == 1
        assert requests.get(url + "/readyz", timeout=10).json()["ok"] is True
        assert requests.get(url + "/healthz", timeout=10).status_code == 200
        assert requests.post(url + "/metrics", timeout=10).status_code == 405
    finally:
        service.stop(timeout=5)
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/metrics", timeout=2)


def scrape_url(url: str) -> dict:
    answer = requests.get(url + "/metrics", timeout=10)
    assert answer.status_code == 200
    return samples(answer.text)

"""Socket Mode end to end, offline: the bot's real listeners behind Bolt's builtin Socket Mode
client, which finds its WebSocket through the fake Web API's apps.connections.open
(SLACK_API_URL) and talks to a local WebSocket server that sends envelopes as Slack does."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot import approvals, views
from bot.app import BotSettings, create_app
from bot.runtime import install
from bot.server import start_socket_mode
from commands import services
from commands.bootstrap import Core
from commands.model import RequestState, Status
from commands.sandbox import SandboxServer
from tests.bot.flows import (
    SELLER_USER,
    approve,
    next_update,
    open_form,
    request_publication,
    submit,
    submit_then,
    texts,
)
from tests.conftest import OMI_1, OMI_NO_CODE
from tests.slackfake import FakeSlackAPI
from tests.slackfake.socket_mode import AckTimeout, FakeSocketMode, SocketModeSlack

from .conftest import BOT_TOKEN, SIGNING_SECRET

APP_TOKEN = "xapp-1-A1-test-app-token"


@pytest.fixture
def socket(fake_slack: FakeSlackAPI) -> Iterator[FakeSocketMode]:
    fake_slack.expected_app_token = APP_TOKEN
    with FakeSocketMode(fake_slack) as server:
        yield server


def socket_settings(fake_slack: FakeSlackAPI, core: Core, product: str) -> BotSettings:
    """The settings of an app on Socket Mode against the fakes, the release managers' group
    set and the OUTSCALE gateway warmed, as serve does."""
    fake_slack.set_usergroup("SRM", ["UGRP"])
    services.selectable_omis(core, product)
    return BotSettings(
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        app_token=APP_TOKEN,
        api_url=fake_slack.url,
        port=0,
    )


@pytest.fixture
def handler(
    socket: FakeSocketMode,
    fake_slack: FakeSlackAPI,
    core: Core,
    product: str,
    sandbox: SandboxServer,
) -> Iterator[SocketModeHandler]:
    app = create_app(socket_settings(fake_slack, core, product), lambda app: install(app, core))
    # A dropped link is noticed within a ping interval; one second keeps the test short.
    running = start_socket_mode(app, APP_TOKEN, ping_interval=1)
    socket.wait_connected(1)
    yield running
    running.close()


@pytest.fixture
def slack(
    handler: SocketModeHandler, socket: FakeSocketMode, fake_slack: FakeSlackAPI
) -> SocketModeSlack:
    return SocketModeSlack(socket, response_urls=fake_slack.response_url)


def home_opened(user: str) -> dict[str, Any]:
    return {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home",
            "event_ts": "1700000000.000100"}


def assert_each_acked_once(socket: FakeSocketMode) -> None:
    acked = [a.envelope_id for a in socket.acks()]
    assert sorted(acked) == sorted(socket.sent), "every envelope acked once, by its envelope_id"


def test_connects_through_apps_connections_open_with_the_app_token(
    slack: SocketModeSlack, socket: FakeSocketMode, fake_slack: FakeSlackAPI
) -> None:
    (opened,) = fake_slack.calls_to("apps.connections.open")
    assert opened.token == APP_TOKEN  # never the bot token
    assert socket.connections == socket.open_connections == 1


def test_publish_modal_submit_approve_published(
    slack: SocketModeSlack,
    socket: FakeSocketMode,
    fake_slack: FakeSlackAPI,
    core: Core,
    subscribers: list[str],
    sandbox: SandboxServer,
    drain: Callable[..., None],
) -> None:
    form = open_form(slack, fake_slack)
    assert form["callback_id"] == views.FORM_CALLBACK

    loaded = slack.block_suggestion(
        views.OMI_ACTION,
        "5e11",
        block_id="omi",
        view={"callback_id": form["callback_id"], "private_metadata": form["private_metadata"]},
    )
    values = [o["value"] for o in loaded.json()["options"]]  # the options ride in the ack
    assert OMI_1 in values and OMI_NO_CODE not in values

    refused = submit(slack, form, omi=OMI_1, release_note=" ")
    assert refused is not None and refused["response_action"] == "errors"  # in the ack
    assert set(refused["errors"]) == {"release_note"}

    request_id = request_publication(slack, fake_slack)
    confirm, outcome = approve(slack, fake_slack, request_id)
    assert "is being published" in texts(outcome)  # shown once the approval is done
    assert confirm["submit"]["text"] == "Proceed with publication"

    drain()
    request = services.get_request(core, request_id)
    assert request.state is RequestState.APPROVED
    assert services.show_version(core, str(request.version_id)).version.status is Status.PUBLISHED
    assert len(sandbox.sandbox.calls_to("CreateImage")) == 1

    slack.event(home_opened(SELLER_USER))
    (home,) = fake_slack.wait_for("views.publish")
    assert home.params["user_id"] == SELLER_USER
    assert_each_acked_once(socket)
    kinds = {socket.envelope(e)["type"] for e in socket.sent}
    assert kinds == {"slash_commands", "interactive", "events_api"}


def test_refresh_requested_reconnects_without_losing_or_repeating(
    slack: SocketModeSlack, socket: FakeSocketMode, fake_slack: FakeSlackAPI
) -> None:
    before = [f"UB{n}" for n in range(5)]
    after = [f"UA{n}" for n in range(5)]
    for user in before:
        slack.event(home_opened(user))
    old = socket.request_refresh()
    socket.wait_connected(2)
    socket.wait_closed(old)  # the app closes the old link once the new one is up
    assert socket.urls_issued == 2 and len(fake_slack.calls_to("apps.connections.open")) == 2
    for user in after:
        slack.event(home_opened(user))
    open_form(slack, fake_slack)

    published = fake_slack.wait_for("views.publish", len(before) + len(after))
    assert sorted(c.params["user_id"] for c in published) == sorted(before + after)
    assert len(fake_slack.calls_to("views.open")) == 1
    assert_each_acked_once(socket)
    assert {a.connection for a in socket.acks()} == {1, 2}


def test_dropped_connection_is_reopened(
    slack: SocketModeSlack, socket: FakeSocketMode, fake_slack: FakeSlackAPI
) -> None:
    socket.drop()
    socket.wait_connected(2)
    form = open_form(slack, fake_slack)
    assert form["callback_id"] == views.FORM_CALLBACK
    assert_each_acked_once(socket)


def command_whose_ack_is_lost(
    slack: SocketModeSlack, socket: FakeSocketMode, fake_slack: FakeSlackAPI
) -> str:
    """`/omi publish 0001` whose ack never reaches Slack; its envelope ID, once its work (the
    modal) is done."""
    slack.ack_timeout = 1.0
    socket.lose_next_ack()
    with pytest.raises(AckTimeout):
        slack.slash_command("publish 0001", user_id=SELLER_USER)
    command = slack.last_envelope_id
    assert command is not None
    fake_slack.wait_for("views.update")
    return command


def test_envelope_redelivered_after_a_lost_ack_runs_once(
    slack: SocketModeSlack, socket: FakeSocketMode, fake_slack: FakeSlackAPI
) -> None:
    command = command_whose_ack_is_lost(slack, socket, fake_slack)
    again = slack.redeliver(command)
    assert (again.envelope_id, again.payload) == (command, None)

    socket.lose_next_ack()
    with pytest.raises(AckTimeout):
        slack.event(home_opened(SELLER_USER))
    event = slack.last_envelope_id
    assert event is not None
    fake_slack.wait_for("views.publish")
    slack.redeliver(event)

    open_form(slack, fake_slack)  # a new command still runs
    assert len(fake_slack.calls_to("views.open")) == 2
    assert len(fake_slack.calls_to("views.publish")) == 1
    assert json.loads(json.dumps(socket.envelope(event)))["retry_attempt"] == 1


@pytest.fixture
def replicas(
    socket: FakeSocketMode,
    fake_slack: FakeSlackAPI,
    core: Core,
    product: str,
    sandbox: SandboxServer,
) -> Iterator[tuple[SocketModeSlack, SocketModeSlack]]:
    """Two apps on one database, each with a Socket Mode connection of its own (connections 1
    and 2), as two replicas of `omi-bot serve` with SLACK_APP_TOKEN are: Slack sends each
    envelope on one of them, and a redelivery may come on the other."""
    settings = socket_settings(fake_slack, core, product)
    running = []
    for count in (1, 2):
        app = create_app(settings, lambda app: install(app, core))
        running.append(start_socket_mode(app, APP_TOKEN, ping_interval=1))
        socket.wait_connected(count)
    yield (
        SocketModeSlack(socket, connection=1, response_urls=fake_slack.response_url),
        SocketModeSlack(socket, connection=2, response_urls=fake_slack.response_url),
    )
    for handler in running:
        handler.close()


def test_two_replicas_a_command_redelivered_to_the_other_opens_one_modal(
    replicas: tuple[SocketModeSlack, SocketModeSlack],
    socket: FakeSocketMode,
    fake_slack: FakeSlackAPI,
) -> None:
    one, other = replicas
    command = command_whose_ack_is_lost(one, socket, fake_slack)
    again = other.redeliver(command, connection=2)
    assert (again.envelope_id, again.payload) == (command, None)
    assert [a.connection for a in socket.acks(command)] == [2]  # the first ack was lost
    open_form(other, fake_slack)  # a new command on the other replica still runs
    assert len(fake_slack.calls_to("views.open")) == 2


def test_two_replicas_approve_delivered_to_both_approves_once(
    replicas: tuple[SocketModeSlack, SocketModeSlack],
    socket: FakeSocketMode,
    fake_slack: FakeSlackAPI,
    core: Core,
    sandbox: SandboxServer,
    drain: Callable[..., None],
) -> None:
    """The click and the Proceed submission each reach both replicas (a redelivery on the
    other connection): one confirmation modal, one approval, one copy."""
    one, other = replicas
    request_id = request_publication(one, fake_slack)
    opened = len(fake_slack.calls_to("views.open"))
    updated = len(fake_slack.calls_to("views.update"))
    click = one.block_action(
        approvals.APPROVE_ACTION, str(request_id), user_id="URM1", channel_id="CREL"
    )
    assert click.payload is None
    other.redeliver(one.last_envelope_id or "", connection=2)
    confirm = next_update(fake_slack, updated)
    assert confirm["callback_id"] == approvals.CONFIRM_CALLBACK
    time.sleep(0.5)  # the copy's work, had it run, would have opened a second modal by now
    assert len(fake_slack.calls_to("views.open")) == opened + 1

    answer, outcome = submit_then(one, fake_slack, confirm, "URM1")
    assert answer is not None and "is being published" in texts(outcome)
    again = other.redeliver(one.last_envelope_id or "", connection=2)
    assert again.payload is None  # the copy is acknowledged and dropped
    drain()
    request = services.get_request(core, request_id)
    assert request.state is RequestState.APPROVED
    assert services.show_version(core, str(request.version_id)).version.status is Status.PUBLISHED
    assert len(sandbox.sandbox.calls_to("CreateImage")) == 1
    assert_each_acked_once_per_connection(socket)


def assert_each_acked_once_per_connection(socket: FakeSocketMode) -> None:
    acks = [(a.envelope_id, a.connection) for a in socket.acks()]
    assert len(acks) == len(set(acks)), "no envelope acked twice on one connection"
    assert {e for e, _ in acks} == set(socket.sent)

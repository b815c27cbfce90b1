"""Scheduled unpublication from Slack: the date form, the request and its approval, *Cancel*
on the request message, the Versions table; signed requests against the real endpoint, the
Web API fake, the core on a real database and the sandbox behind it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from bot import unpublication
from bot.runtime import install
from commands import retention, services
from commands.bootstrap import Core
from commands.model import Actor, ScheduleState, VersionForm
from commands.notifications import managers
from commands.notifications.slack import Pacer, deliver_slack, slack_client
from commands.retention import RETENTION
from commands.sandbox import SandboxServer
from tests.bot.flows import (
    SELLER_USER,
    approve,
    ask_unpublish,
    open_form,
    posted_request,
    sent,
    texts,
)
from tests.conftest import OMI_1, OMI_2, OMI_3
from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import SlackClient

from .conftest import BOT_TOKEN, StartBot


@pytest.fixture
def slack(
    start_bot: StartBot,
    core: Core,
    product: str,
    subscribers: list[str],
    sandbox: SandboxServer,
    fake_slack: FakeSlackAPI,
    drain: Callable[..., None],
) -> SlackClient:
    fake_slack.set_usergroup("SRM", ["UGRP"])
    for omi in (OMI_1, OMI_2):
        services.publish(core, product, VersionForm(omi=omi, release_note=omi), requested_by="o")
    drain()
    services.set_product(core, product, notice_days=30)
    _, client = start_bot(lambda app: install(app, core), health=core.db.reachable)
    return client


def oldest(core: Core) -> str:
    return services.versions_table(core, "0001").rows[-1].id


def test_the_date_form_offers_the_notice_period_and_refuses_sooner(
    slack: SlackClient, fake_slack: FakeSlackAPI, core: Core
) -> None:
    version = oldest(core)
    form = open_form(slack, fake_slack, f"unpublish {version}", user="URM1")
    methods = [c.method for c in fake_slack.calls if c.method.startswith("views.")]
    assert methods[:2] == ["views.open", "views.update"]  # the trigger is used first
    earliest = services.today(core) + timedelta(days=30)
    blocks = {b.get("block_id"): b for b in form["blocks"]}
    assert "when" not in blocks  # 30 days' notice: no "now", even for a release manager
    assert blocks["date"]["element"]["initial_date"] == earliest.isoformat()
    assert "30 days' notice" in blocks["date"]["hint"]["text"]
    too_soon = (earliest - timedelta(days=1)).isoformat()
    answer = ask_unpublish(slack, fake_slack, f"unpublish {version}", SELLER_USER, day=too_soon)
    assert "too soon" in answer["errors"]["date"]
    empty = ask_unpublish(slack, fake_slack, f"unpublish {version}", SELLER_USER)
    assert empty["errors"]["date"] == "Pick a date."
    with core.uow() as uow:
        assert uow.requests.pending() == []


def test_french_date_form_fits_slacks_limits(
    slack: SlackClient, fake_slack: FakeSlackAPI, core: Core
) -> None:
    fake_slack.set_user("UFR", locale="fr-FR")
    services.set_product(core, "0001", notice_days=0)
    fake_slack.set_usergroup("SRM", ["UGRP", "UFR"])
    form = open_form(slack, fake_slack, f"unpublish {oldest(core)}", user="UFR")
    assert form["title"]["text"] == "Dépublier"
    assert form["submit"]["text"] == "Demander l'approbation" and len(form["submit"]["text"]) <= 24
    radio = next(b for b in form["blocks"] if b.get("block_id") == "when")
    assert [o["text"]["text"] for o in radio["element"]["options"]] == ["À une date", "Maintenant"]
    assert "jours de préavis" in json.dumps(form["blocks"], ensure_ascii=False)


def test_scheduled_through_approval_then_cancelled_with_the_button(
    slack: SlackClient, fake_slack: FakeSlackAPI, core: Core
) -> None:
    version = oldest(core)
    day = (services.today(core) + timedelta(days=31)).isoformat()
    assert sent(ask_unpublish(slack, fake_slack, f"unpublish {version}", SELLER_USER, day=day))
    request_id, post = posted_request(fake_slack)
    assert f"To be unpublished on *{day}*" in json.dumps(post["blocks"])

    confirm, outcome = approve(slack, fake_slack, request_id, user="URM1")
    assert confirm["submit"]["text"] == "Schedule"
    assert day in json.dumps(confirm["blocks"]) and "reminded 7, 1 day(s)" in json.dumps(
        confirm["blocks"]
    )
    assert f"is scheduled on {day}" in texts(outcome)

    update = fake_slack.wait_for("chat.update")[0].params
    actions = [b for b in update["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions[0]["elements"]] == [managers.CANCEL_SCHEDULE_ACTION]
    assert "Approved by <@URM1>" in json.dumps(update["blocks"])
    dm = [
        c for c in fake_slack.wait_for("chat.postMessage", 2) if c.params["channel"] == SELLER_USER
    ]
    assert f"is scheduled on {day}" in dm[-1].params["text"]

    slack.slash_command("versions 0001", user_id=SELLER_USER)
    (table,) = fake_slack.wait_for("response_url")
    assert f"published · unpublish on {day}" in json.dumps(
        table.params["blocks"], ensure_ascii=False
    )

    schedule = services.find_schedule(core, version_id=version)
    cancel = actions[0]["elements"][0]
    message = {"ts": update["ts"], "blocks": update["blocks"]}
    response = _click_cancel(slack, cancel["value"], "USELLER", message)
    assert response.status_code == 200
    refusals = fake_slack.wait_for("chat.postEphemeral", 2)
    assert "Only the release managers" in refusals[-1].params["text"]
    assert services.get_schedule(core, schedule.id).state is ScheduleState.SCHEDULED

    _click_cancel(slack, cancel["value"], "UGRP", message)
    updates = fake_slack.wait_for("chat.update", 2)
    cancelled = updates[-1].params
    assert "Unpublication cancelled by <@UGRP>" in json.dumps(cancelled["blocks"])
    assert not [b for b in cancelled["blocks"] if b["type"] == "actions"]
    assert services.get_schedule(core, schedule.id).state is ScheduleState.CANCELLED
    with core.uow() as uow:
        told = [i for i in uow.outbox.list(limit=1000) if i.event == "unpublication_cancelled"]
    assert {i.recipient for i in told if i.channel == "slack"} == {"CACME", "CGLOBEX"}


def _click_cancel(slack: SlackClient, value: str, user: str, message: dict[str, Any]) -> Any:
    return slack.block_action(
        managers.CANCEL_SCHEDULE_ACTION,
        value,
        user_id=user,
        channel_id="CREL",
        message=message,
    )


def test_scheduling_the_whole_product_from_slack(
    slack: SlackClient, fake_slack: FakeSlackAPI, core: Core
) -> None:
    day = (services.today(core) + timedelta(days=40)).isoformat()
    answer = ask_unpublish(slack, fake_slack, "unpublish-product 0001", SELLER_USER, day=day)
    assert sent(answer)
    request_id, _ = posted_request(fake_slack)
    decision = services.approve(core, request_id, by=Actor.slack_user("URM2"))
    assert decision.schedule is not None and decision.schedule.whole_product
    form = open_form(slack, fake_slack, "unpublish-product 0001", user=SELLER_USER)
    assert form["callback_id"] == unpublication.UNPUBLISH_CALLBACK
    again = ask_unpublish(slack, fake_slack, "unpublish-product 0001", SELLER_USER, day=day)
    assert "already scheduled" in again["errors"]["date"]


def test_retention_proposes_the_oldest_beyond_keep_published_and_one_click_schedules_it(
    slack: SlackClient, fake_slack: FakeSlackAPI, core: Core, drain: Callable[..., None]
) -> None:
    services.set_product(core, "0001", keep_published=2)
    oldest_id = oldest(core)
    services.publish(core, "0001", VersionForm(omi=OMI_3, release_note="3"), requested_by="o")
    drain()
    with core.uow() as uow:
        (proposal,) = uow.requests.pending(["0001"])
    assert proposal.version_id == oldest_id and proposal.requested_by == RETENTION
    day = (services.today(core) + timedelta(days=30)).isoformat()
    assert proposal.unpublish_on is not None and proposal.unpublish_on.isoformat() == day
    # Published again without a decision: proposed once, not twice.
    with core.uow() as uow:
        product = uow.products.get("0001")
        assert product is not None and retention.propose(uow, product, core.clock()) == []

    assert deliver_slack(core, "w", slack_client(BOT_TOKEN, fake_slack.url), pacer=Pacer()) >= 1
    post = next(c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "CREL")
    assert "keeps 2 published version(s) and now has 3" in post.params["text"]
    assert f"on *{day}*" in post.params["text"]
    buttons = next(b for b in post.params["blocks"] if b["type"] == "actions")["elements"]
    assert [b["action_id"] for b in buttons] == [
        "approve_request",
        "reject_request",
        "preview_request",
    ]

    confirm, _ = approve(slack, fake_slack, int(buttons[0]["value"]), user="URM2")
    assert confirm["submit"]["text"] == "Schedule"
    schedule = services.find_schedule(core, version_id=oldest_id)
    assert schedule.unpublish_on.isoformat() == day and schedule.request_id == proposal.id
    update = fake_slack.wait_for("chat.update")[0].params
    assert update["channel"] == "CREL" and update["ts"] == post.params.get("ts", update["ts"])
    actions = [b for b in update["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions[0]["elements"]] == [managers.CANCEL_SCHEDULE_ACTION]

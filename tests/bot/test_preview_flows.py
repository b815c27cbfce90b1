"""*Preview* on a request message, through the signed Slack endpoint: the modal shows what is
then sent (the mails delivered to the Maildir, the announcements posted to the fake Slack), to
the release managers only, and answers Slack in time."""

from __future__ import annotations

import json
import mailbox
from collections.abc import Callable
from datetime import timedelta
from email.policy import default
from pathlib import Path
from typing import Any

from bot import approvals
from bot import preview as previews
from commands import services
from commands.bootstrap import Core
from commands.config import Settings
from commands.delivery import deliverers
from commands.model import VersionForm
from commands.notifications.slack import Pacer, deliver_slack, slack_client
from commands.preview import COPY_ID_PLACEHOLDER, VERSION_ID_PLACEHOLDER
from commands.worker import Worker
from tests.bot.conftest import BOT_TOKEN
from tests.bot.flows import (
    SELLER_USER,
    approve,
    opened_by_click,
    posted_request,
    request_publication,
)
from tests.conftest import OMI_1, OMI_2, SUB_A
from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import SlackClient

Drain = Callable[..., None]


def first_version(core: Core, drain: Drain) -> None:
    services.publish(
        core, "0001", VersionForm(omi=OMI_1, release_note="v1", software_version="1.24"),
        requested_by="UDEV",
    )  # fmt: skip
    drain()


def unescaped(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def deliver_everything(core: Core, fake: FakeSlackAPI) -> None:
    """The worker with its real deliverers: mail to the Maildir, posts to the fake Slack."""
    client = slack_client(BOT_TOKEN, fake.url)
    pacer = Pacer(timedelta(0))
    worker = Worker(
        core,
        deliverers=[
            *deliverers(core, "preview-flow"),
            lambda: deliver_slack(core, "preview-flow", client, pacer=pacer),
        ],
    )

    def idle() -> bool:
        with core.uow() as uow:
            return uow.jobs.unfinished() == 0 and uow.outbox.unfinished() == 0

    assert worker.run_until(idle, 30)


def held(value: Any, version_id: str, copy_id: str) -> Any:
    """What was sent, with the IDs given at approval back to the placeholders."""
    text = json.dumps(value).replace(version_id, VERSION_ID_PLACEHOLDER)
    return json.loads(text.replace(copy_id, COPY_ID_PLACEHOLDER))


def test_the_preview_is_what_is_then_mailed_and_posted(
    slack: SlackClient,
    fake_slack: FakeSlackAPI,
    core: Core,
    subscribers: list[str],
    drain: Drain,
    settings: Settings,
) -> None:
    first_version(core, drain)
    request_id = request_publication(slack, fake_slack, omi=OMI_2)
    _, post = posted_request(fake_slack)
    buttons = next(b for b in post["blocks"] if b["type"] == "actions")["elements"]
    assert [b["action_id"] for b in buttons][-1] == approvals.PREVIEW_ACTION

    opened = len(fake_slack.calls_to("views.open"))
    view = opened_by_click(slack, fake_slack, approvals.PREVIEW_ACTION, request_id, "URM1")
    # A loading view first, with the trigger, before anything else is read.
    assert "callback_id" not in fake_slack.calls_to("views.open")[opened].params["view"]
    assert view["callback_id"] == previews.PREVIEW_CALLBACK, view
    shown = view["blocks"]
    text = json.dumps(shown)
    assert "*Changes since version" in text and "1.24" in text and "2.0" in text
    assert "2 subscriber account(s) in 1 `UpdateImage` call(s)" in text
    assert "*Acme* (fr): 1 account(s), 2 address(es), 1 channel(s)" in text

    approve(slack, fake_slack, request_id)
    deliver_everything(core, fake_slack)
    version = services.show_version(
        core, str(services.get_request(core, request_id).version_id)
    ).version
    assert version.copy_id

    # The announcements posted are the blocks the preview showed, IDs aside.
    announced = [
        c.params for c in fake_slack.calls_to("chat.postMessage")
        if c.params["channel"] in ("CACME", "CGLOBEX") and version.id in json.dumps(c.params)
    ]  # fmt: skip
    assert len(announced) == 2
    for params in announced:
        sent = held(params["blocks"], version.id, version.copy_id)
        n = len(sent)
        assert any(shown[i : i + n] == sent for i in range(len(shown))), params["channel"]

    # The mails' text parts are the preview's, IDs aside.
    box = mailbox.Maildir(Path(settings.maildir), factory=None, create=False)
    texts = [
        unescaped(b["text"]["text"].strip("`")) for b in shown
        if b["type"] == "section" and b["text"]["text"].startswith("```")
    ]  # fmt: skip
    delivered = 0
    for key in box.keys():
        with box.get_file(key) as raw:
            message = mailbox.email.message_from_binary_file(raw, policy=default)  # type: ignore[attr-defined]
        if str(message["Subject"]).endswith(("1.24 published", "1.24 publiée")):
            continue
        body = message.get_body(preferencelist=("plain",)).get_content()
        assert held(body.rstrip("\n"), version.id, version.copy_id) in texts
        assert json.dumps(held(str(message["Subject"]), version.id, version.copy_id))[1:-1] in text
        delivered += 1
    assert delivered == 4


def test_the_recipients_are_listed_on_demand(
    slack: SlackClient, fake_slack: FakeSlackAPI, core: Core, subscribers: list[str]
) -> None:
    request_id = request_publication(slack, fake_slack)
    view = opened_by_click(slack, fake_slack, approvals.PREVIEW_ACTION, request_id, "URM1")
    assert SUB_A not in json.dumps(view["blocks"])
    pushed = len(fake_slack.calls_to("views.push"))
    before = len(fake_slack.calls_to("views.update"))
    response = slack.block_action(
        previews.RECIPIENTS_ACTION,
        str(request_id),
        block_id="recipients",
        user_id="URM1",
        view={"id": "VPREVIEW", "callback_id": view["callback_id"],
              "private_metadata": view["private_metadata"]},
    )  # fmt: skip
    assert response.status_code == 200 and response.text == ""
    fake_slack.wait_for("views.push", pushed + 1, timeout=15)
    listed = fake_slack.wait_for("views.update", before + 1, timeout=15)[before].params["view"]
    assert listed["callback_id"] == previews.RECIPIENTS_CALLBACK
    text = json.dumps(listed["blocks"])
    assert SUB_A in text and "admin@acme.example, ops@acme.example" in text and "CACME" in text


def test_who_may_not_see_the_request_is_told_so_in_the_modal(
    slack: SlackClient, fake_slack: FakeSlackAPI, core: Core, subscribers: list[str]
) -> None:
    request_id = request_publication(slack, fake_slack)
    for user in (SELLER_USER, "UOTHER"):
        view = opened_by_click(slack, fake_slack, approvals.PREVIEW_ACTION, request_id, user)
        assert view.get("callback_id") != previews.PREVIEW_CALLBACK
        assert "Only the release managers of product 0001 can preview" in json.dumps(view)
    # A member of the release manager group may.
    member = opened_by_click(slack, fake_slack, approvals.PREVIEW_ACTION, request_id, "UGRP")
    assert member["callback_id"] == previews.PREVIEW_CALLBACK
    bad = opened_by_click(slack, fake_slack, approvals.PREVIEW_ACTION, 999, "URM1")
    assert "There is no request 999." in json.dumps(bad)

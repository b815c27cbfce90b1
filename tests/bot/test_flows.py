"""The Slack flows end to end: signed requests to the real HTTP endpoint, the Web API fake
recording every call, the core on a real database and the OUTSCALE sandbox behind it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from bot import approvals, views
from commands import services
from commands.bootstrap import Core
from commands.model import RequestState, Status, VersionForm
from commands.sandbox import SandboxServer
from tests.bot.flows import (
    SELLER_USER,
    approve,
    ask_unpublish,
    ephemeral_to,
    open_form,
    opened_by_click,
    posted_request,
    request_publication,
    sent,
    submit,
    submit_then,
    texts,
)
from tests.conftest import OMI_1, OMI_2, OMI_NO_CODE, OPERATOR
from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import SlackClient

# ---------------------------------------------------------------------- publish


def test_publish_approve_published_with_progress_in_thread(
    slack: SlackClient,
    fake_slack: FakeSlackAPI,
    core: Core,
    subscribers: list[str],
    sandbox: SandboxServer,
    drain: Callable[..., None],
) -> None:
    form = open_form(slack, fake_slack)
    methods = [c.method for c in fake_slack.calls if c.method.startswith("views.")]
    assert methods[:2] == ["views.open", "views.update"]  # the trigger is used before any DB work
    assert "callback_id" not in fake_slack.calls_to("views.open")[0].params["view"]
    assert form["callback_id"] == views.FORM_CALLBACK
    assert json.loads(form["private_metadata"])["product"] == "0001"
    assert "0001" in json.dumps(form["blocks"])  # R1: the product code is shown in the form
    omi_block = next(b for b in form["blocks"] if b.get("block_id") == "omi")
    assert omi_block["element"]["type"] == "external_select"

    loaded = slack.block_suggestion(
        views.OMI_ACTION,
        "5E11",
        block_id="omi",
        view={"callback_id": form["callback_id"], "private_metadata": form["private_metadata"]},
    )
    values = [o["value"] for o in loaded.json()["options"]]
    assert OMI_1 in values and OMI_NO_CODE not in values  # R2
    narrowed = slack.block_suggestion(
        views.OMI_ACTION,
        OMI_2,
        block_id="omi",
        view={"callback_id": form["callback_id"], "private_metadata": form["private_metadata"]},
    )
    assert [o["value"] for o in narrowed.json()["options"]] == [OMI_2]

    request_id = request_publication(slack, fake_slack)
    post = fake_slack.calls_to("chat.postMessage")[-1].params
    text = json.dumps(post["blocks"])
    assert "2 subscriber account(s), 4 mail recipient(s)" in text
    assert "First version of this product." in text
    assert any("sent to the release managers" in t for t in ephemeral_to(fake_slack, SELLER_USER))

    confirm, outcome = approve(slack, fake_slack, request_id)
    assert "is being published" in texts(outcome)
    assert confirm["submit"]["text"] == "Proceed with publication"
    assert "2 subscriber account(s)" in json.dumps(confirm["blocks"])
    assert OMI_1 in json.dumps(confirm["blocks"])

    update = fake_slack.wait_for("chat.update")[0].params
    assert update["channel"] == "CREL" and update["ts"] == post.get("ts", update["ts"])
    assert not [b for b in update["blocks"] if b["type"] == "actions"]
    assert "Approved by <@URM1>" in json.dumps(update["blocks"])
    dm = fake_slack.wait_for("chat.postMessage", 2)[-1].params
    assert dm["channel"] == SELLER_USER and "approved" in dm["text"]

    drain()
    request = services.get_request(core, request_id)
    assert request.state is RequestState.APPROVED
    details = services.show_version(core, str(request.version_id))
    assert details.version.status is Status.PUBLISHED
    with core.uow() as uow:
        items = uow.outbox.list(channel="slack", version_id=details.version.id)
        progress = {i.event: i for i in items if i.event.startswith("progress_")}
    assert set(progress) == {"progress_copied", "progress_sharing", "progress_published"}
    assert {i.recipient for i in progress.values()} == {"CREL"}
    assert {i.payload["thread_ts"] for i in progress.values()} == {request.surface["ts"]}
    assert {i.payload["notify_user"] for i in progress.values()} == {SELLER_USER}


def test_inline_errors_change_nothing(
    slack: SlackClient, fake_slack: FakeSlackAPI, core: Core, drain: Callable[..., None]
) -> None:
    services.publish(core, "0001", VersionForm(omi=OMI_1, release_note="v1"), requested_by="ops")
    drain()
    form = open_form(slack, fake_slack)
    # Refused from the payload and the database, in the answer itself.
    empty = submit(slack, form, omi=OMI_2, release_note="  ")
    assert empty is not None and empty["response_action"] == "errors"
    assert set(empty["errors"]) == {"release_note"}
    used = submit(slack, form, omi=OMI_1, release_note="again")
    assert used is not None and "already the OMI of version" in used["errors"]["omi"]
    # Refused by OUTSCALE's answer (R2), after the answer: the form comes back as typed.
    _, again = submit_then(slack, fake_slack, form, SELLER_USER, omi=OMI_NO_CODE, release_note="x")
    assert again["callback_id"] == views.FORM_CALLBACK
    assert "(R2)" in texts(again)
    omi_block = next(b for b in again["blocks"] if b.get("block_id") == "omi")
    assert omi_block["element"]["initial_option"]["value"] == OMI_NO_CODE
    note = next(b for b in again["blocks"] if b.get("block_id") == "release_note")
    assert note["element"]["initial_value"] == "x"
    with core.uow() as uow:
        assert uow.requests.pending() == []
    assert fake_slack.calls_to("chat.postMessage") == []


def test_form_prefilled_from_last_created_version(
    slack: SlackClient, fake_slack: FakeSlackAPI, core: Core
) -> None:
    services.publish(
        core,
        "0001",
        VersionForm(
            omi=OMI_1,
            software_version="1.0",
            operating_system="Debian 12",
            software_base=("nginx 1.24", "openssl 3"),
            release_note="v1",
        ),
        requested_by="ops",
    )
    form = open_form(slack, fake_slack)
    initial = {
        b["block_id"]: b["element"].get("initial_value")
        for b in form["blocks"]
        if b["type"] == "input" and b["block_id"] != "omi"
    }
    assert initial["software_version"] == "1.0"
    assert initial["software_base"] == "nginx 1.24\nopenssl 3"


def test_reject_with_reason(slack: SlackClient, fake_slack: FakeSlackAPI, core: Core) -> None:
    request_id = request_publication(slack, fake_slack)
    modal = opened_by_click(slack, fake_slack, approvals.REJECT_ACTION, request_id, "URM2")
    assert modal["callback_id"] == approvals.REJECT_CALLBACK
    blank = submit(slack, modal, user="URM2", reason=" ")
    assert blank is not None and "reason" in blank["errors"]
    _, outcome = submit_then(slack, fake_slack, modal, "URM2", reason="Wrong OS")
    assert "is rejected: Wrong OS" in texts(outcome)
    update = fake_slack.wait_for("chat.update")[0].params
    assert "Rejected by <@URM2>: Wrong OS" in json.dumps(update["blocks"])
    assert services.get_request(core, request_id).state is RequestState.REJECTED
    with core.uow() as uow:
        assert uow.versions.count("0001") == 0


def test_self_approval_and_outsider_refused_in_the_modal(
    slack: SlackClient, fake_slack: FakeSlackAPI, core: Core
) -> None:
    request_id = request_publication(slack, fake_slack, user="URM1")
    own = opened_by_click(slack, fake_slack, approvals.APPROVE_ACTION, request_id, "URM1")
    assert "callback_id" not in own and "own request" in texts(own)
    outsider = opened_by_click(slack, fake_slack, approvals.REJECT_ACTION, request_id, "UNOBODY")
    assert "callback_id" not in outsider and "Only the release managers" in texts(outsider)
    assert services.get_request(core, request_id).state is RequestState.PENDING


def test_group_member_approves_checked_by_id(
    slack: SlackClient, fake_slack: FakeSlackAPI, core: Core
) -> None:
    request_id = request_publication(slack, fake_slack)
    _, outcome = approve(slack, fake_slack, request_id, user="UGRP")
    assert "is approved" in texts(outcome)
    assert services.get_request(core, request_id).decided_by == "UGRP"
    assert fake_slack.calls_to("usergroups.users.list")[-1].params["usergroup"] == "SRM"


def test_approve_twice_and_concurrently_publishes_once(
    slack: SlackClient,
    fake_slack: FakeSlackAPI,
    core: Core,
    sandbox: SandboxServer,
    drain: Callable[..., None],
) -> None:
    request_id = request_publication(slack, fake_slack)
    confirm = opened_by_click(slack, fake_slack, approvals.APPROVE_ACTION, request_id, "URM1")
    before = len(fake_slack.calls_to("views.update"))
    answers: list[Any] = []

    def proceed(user: str) -> None:
        answers.append(submit(slack, confirm, user=user))

    threads = [threading.Thread(target=proceed, args=(u,)) for u in ("URM1", "URM2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a["response_action"] for a in answers] == ["update", "update"]
    outcomes = [c.params["view"] for c in fake_slack.wait_for("views.update", before + 2)[before:]]
    refused = [v for v in outcomes if "already approved" in texts(v)]
    assert len(refused) == 1 and len([v for v in outcomes if "is approved" in texts(v)]) == 1
    _, again = submit_then(slack, fake_slack, confirm, "URM2")
    assert "already approved" in texts(again)
    drain()
    with core.uow() as uow:
        assert uow.versions.count("0001") == 1
    copies = sandbox.sandbox.calls_to("CreateImage")
    assert len(copies) == 1


def _published(core: Core, drain: Callable[..., None], *omis: str) -> list[str]:
    ids = [
        services.publish(core, "0001", VersionForm(omi=o, release_note=o), requested_by="ops").id
        for o in omis
    ]
    drain()
    return ids


def test_unpublish_r7_then_through_approval(
    slack: SlackClient, fake_slack: FakeSlackAPI, core: Core, drain: Callable[..., None]
) -> None:
    (only,) = _published(core, drain, OMI_1)
    refused = open_form(slack, fake_slack, f"unpublish {only}")
    assert "only published version" in texts(refused)  # R7, at once
    assert fake_slack.calls_to("chat.postMessage") == []
    (second,) = _published(core, drain, OMI_2)
    # "Now" is for a release manager of a product without notice; others pick a date.
    answer = ask_unpublish(slack, fake_slack, f"unpublish {second}", SELLER_USER, now=True)
    assert "Only a release manager" in answer["errors"]["date"]
    assert sent(ask_unpublish(slack, fake_slack, f"unpublish {second}", "URM2", now=True))
    request_id, _ = posted_request(fake_slack)
    confirm, outcome = approve(slack, fake_slack, request_id)
    assert "running VMs keep running" in json.dumps(confirm["blocks"])
    assert "is being unpublished" in texts(outcome)
    drain()
    assert services.show_version(core, second).version.status is Status.UNPUBLISHED


def test_unpublish_product_through_approval(
    slack: SlackClient, fake_slack: FakeSlackAPI, core: Core, drain: Callable[..., None]
) -> None:
    _published(core, drain, OMI_1, OMI_2)
    assert sent(ask_unpublish(slack, fake_slack, "unpublish-product 0001", "URM1", now=True))
    request_id, _ = posted_request(fake_slack)
    _, outcome = approve(slack, fake_slack, request_id, user="URM2")
    assert "is being unpublished" in texts(outcome)
    drain()
    table = services.versions_table(core, "0001")
    assert {v.status for v in table.rows} == {Status.UNPUBLISHED}


def test_modify_by_a_release_manager_and_r6_refused_at_opening(
    slack: SlackClient, fake_slack: FakeSlackAPI, core: Core, drain: Callable[..., None]
) -> None:
    first, second = _published(core, drain, OMI_1, OMI_2)
    form = open_form(slack, fake_slack, f"modify {first}", user="URM1")
    assert not [b for b in form["blocks"] if b.get("block_id") == "omi"]  # R5: shown, not asked
    assert OMI_1 in json.dumps(form["blocks"])
    _, done = submit_then(
        slack, fake_slack, form, "URM1", software_version="1.1", release_note=OMI_1
    )
    assert "Software version" in texts(done)
    assert any("Software version" in t for t in ephemeral_to(fake_slack, "URM1"))
    assert services.show_version(core, first).version.software_version == "1.1"
    services.unpublish(core, second, by=OPERATOR)
    refused = open_form(slack, fake_slack, f"modify {second}", user="URM1")
    assert "callback_id" not in refused  # R6: no form to fill in
    assert "only a published version can be modified" in texts(refused)
    assert services.show_version(core, second).version.software_version == ""


def test_slash_command_redelivered_is_handled_once(
    slack: SlackClient, fake_slack: FakeSlackAPI
) -> None:
    trigger = slack.new_trigger_id()
    assert slack.slash_command("publish 0001", trigger_id=trigger).status_code == 200
    fake_slack.wait_for("views.update")
    again = slack.slash_command("publish 0001", trigger_id=trigger, retry_num=1)
    assert again.status_code == 200
    assert len(fake_slack.calls_to("views.open")) == 1


def test_help_for_unknown_text_in_french(slack: SlackClient, fake_slack: FakeSlackAPI) -> None:
    fake_slack.set_user("UFR", locale="fr-FR")
    slack.slash_command("frobnicate", user_id="UFR")
    (answer,) = fake_slack.wait_for("response_url")
    assert "gère les versions" in answer.params["text"]

"""Who may do what, through the signed HTTP endpoint: anyone in the workspace asks and reads;
only a release manager of the product (by user ID or group ID) modifies a published version or
decides a request, never their own. Each action is tried by someone who may not."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from bot import approvals, views
from commands import services
from commands.bootstrap import Core
from commands.errors import NotAllowed
from commands.model import Actor, RequestState, VersionForm
from tests.bot.flows import (
    SELLER_USER,
    approve,
    ask_unpublish,
    open_form,
    opened_by_click,
    request_publication,
    sent,
    submit_then,
    texts,
)
from tests.conftest import OMI_1, OMI_2, OMI_3, OPERATOR
from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import SlackClient

OUTSIDER = "UNOBODY"


def published(core: Core, drain: Callable[..., None], *omis: str) -> list[str]:
    ids = [
        services.publish(core, "0001", VersionForm(omi=o, release_note=o), requested_by="ops").id
        for o in omis
    ]
    drain()
    return ids


def modify_form(version_id: str) -> dict[str, object]:
    """The modify form as the bot would have built it, submitted by whoever holds it."""
    meta = {"mode": "modify", "version": version_id, "product": "0001", "lang": "en"}
    return {"callback_id": views.FORM_CALLBACK, "private_metadata": json.dumps(meta)}


def decision_modal(callback_id: str, request_id: int) -> dict[str, object]:
    meta = {"request": request_id, "lang": "en"}
    return {"callback_id": callback_id, "private_metadata": json.dumps(meta)}


def test_anyone_asks_and_reads(
    slack: SlackClient, fake_slack: FakeSlackAPI, core: Core, drain: Callable[..., None]
) -> None:
    published(core, drain, OMI_1, OMI_2)
    request_publication(slack, fake_slack, user=OUTSIDER, omi=OMI_3)
    tomorrow = (services.today(core) + timedelta(days=1)).isoformat()
    assert sent(ask_unpublish(slack, fake_slack, "unpublish-product 0001", OUTSIDER, day=tomorrow))
    for text in ("versions 0001", "products", "help"):
        slack.slash_command(text, user_id=OUTSIDER)
    answers = [c.params["text"] for c in fake_slack.wait_for("response_url", 3)]
    assert any("Versions of Nginx on Debian" in a for a in answers)
    with core.uow() as uow:
        assert {r.requested_by for r in uow.requests.pending()} == {OUTSIDER}
    form = {"callback_id": views.FORM_CALLBACK, "private_metadata": json.dumps({"product": "0001"})}
    options = slack.block_suggestion(views.OMI_ACTION, "", user_id=OUTSIDER, view=form)
    assert OMI_3 in [o["value"] for o in options.json()["options"]]


def test_modify_refused_when_opening_and_when_submitting(
    slack: SlackClient, fake_slack: FakeSlackAPI, core: Core, drain: Callable[..., None]
) -> None:
    (vid,) = published(core, drain, OMI_1)
    refused = open_form(slack, fake_slack, f"modify {vid}", user=SELLER_USER)
    assert "callback_id" not in refused  # no form to fill in
    assert "Only the release managers of product 0001 can modify its versions" in texts(refused)
    # A modify form submitted by someone who may not (a form kept open, a forged payload).
    answer, outcome = submit_then(
        slack, fake_slack, modify_form(vid), OUTSIDER, software_version="6.6", release_note="x"
    )
    assert answer is not None and "Only the release managers" in texts(outcome)
    assert services.show_version(core, vid).version.software_version == ""
    # The group counts, by ID.
    allowed = open_form(slack, fake_slack, f"modify {vid}", user="UGRP")
    assert allowed["callback_id"] == views.FORM_CALLBACK


@pytest.mark.parametrize("action", [approvals.APPROVE_ACTION, approvals.REJECT_ACTION])
def test_decision_buttons_refused_in_the_modal(
    slack: SlackClient, fake_slack: FakeSlackAPI, core: Core, action: str
) -> None:
    request_id = request_publication(slack, fake_slack)
    for user, why in ((OUTSIDER, "Only the release managers"), (SELLER_USER, "own request")):
        modal = opened_by_click(slack, fake_slack, action, request_id, user)
        assert "callback_id" not in modal and why in texts(modal)
    assert services.get_request(core, request_id).state is RequestState.PENDING


@pytest.mark.parametrize(
    ("callback_id", "fields"),
    [(approvals.CONFIRM_CALLBACK, {}), (approvals.REJECT_CALLBACK, {"reason": "no"})],
)
def test_decision_modals_refused_on_submission(
    slack: SlackClient,
    fake_slack: FakeSlackAPI,
    core: Core,
    callback_id: str,
    fields: dict[str, str],
) -> None:
    request_id = request_publication(slack, fake_slack)
    for user, why in ((OUTSIDER, "Only the release managers"), (SELLER_USER, "own request")):
        _, outcome = submit_then(
            slack, fake_slack, decision_modal(callback_id, request_id), user, **fields
        )
        assert why in texts(outcome)
    assert services.get_request(core, request_id).state is RequestState.PENDING
    assert fake_slack.calls_to("chat.update") == []


def test_a_release_manager_still_decides(
    slack: SlackClient, fake_slack: FakeSlackAPI, core: Core
) -> None:
    request_id = request_publication(slack, fake_slack)
    _, outcome = approve(slack, fake_slack, request_id, user="URM2")
    assert "is approved" in texts(outcome)


def test_the_core_checks_the_actor_whoever_calls_it(
    core: Core, product: str, drain: Callable[..., None]
) -> None:
    first, second = published(core, drain, OMI_1, OMI_2)
    outsider = Actor.slack_user(OUTSIDER, ["SOTHER"])
    for attempt in (
        lambda: services.modify(core, first, VersionForm(release_note="x"), by=outsider),
        lambda: services.open_modification(core, first, by=outsider),
        lambda: services.unpublish(core, first, by=outsider),
        lambda: services.unpublish_product(core, "0001", by=outsider),
    ):
        with pytest.raises(NotAllowed, match="release managers of product 0001"):
            attempt()
    # At once is a release manager's: anyone else asks for a date.
    tomorrow = services.today(core) + timedelta(days=1)
    request = services.request_unpublish(core, second, requested_by=OUTSIDER, on=tomorrow)
    with pytest.raises(NotAllowed):
        services.approve(core, request.id, by=outsider)
    with pytest.raises(NotAllowed):
        services.reject(core, request.id, by=outsider, reason="no")
    assert services.awaiting_approval(core, outsider) == []
    assert [r.id for r in services.awaiting_approval(core, Actor.slack_user("UGRP", ["SRM"]))] == [
        request.id
    ]
    # The CLI's operator has the database's rights.
    services.modify(core, first, VersionForm(release_note="ok"), by=OPERATOR)
    assert services.show_version(core, first).version.release_note == "ok"

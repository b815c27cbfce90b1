"""The audit trail through the Slack endpoint: a request and its decision made in Slack are on
record with the users' IDs and names, and `/omi version` shows the version's History."""

from __future__ import annotations

import json
from collections.abc import Callable

from commands import audit, services
from commands.audit import Kind, Source
from commands.bootstrap import Core
from commands.model import VersionForm
from commands.sandbox import SandboxServer
from tests.bot.flows import SELLER_USER, approve, request_publication
from tests.conftest import OMI_1
from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import SlackClient


def test_a_request_and_its_approval_in_slack_are_on_record_and_in_the_history(
    slack: SlackClient,
    fake_slack: FakeSlackAPI,
    core: Core,
    subscribers: list[str],
    sandbox: SandboxServer,
    drain: Callable[..., None],
) -> None:
    request_id = request_publication(slack, fake_slack)
    approve(slack, fake_slack, request_id, "URM1")
    drain()
    vid = str(services.get_request(core, request_id).version_id)
    asked, approved = audit.events(core, product_code="0001")[:2]
    assert (asked.kind, asked.actor_id, asked.actor_name, asked.source) == (
        Kind.REQUESTED,
        SELLER_USER,
        SELLER_USER.lower(),  # the name the payload carries
        Source.SLACK,
    )
    assert asked.detail["software_version"] == "2.0"
    assert (approved.kind, approved.actor_id, approved.actor_name) == (
        Kind.APPROVED,
        "URM1",
        "urm1",
    )
    assert approved.version_id == vid

    before = len(fake_slack.calls_to("response_url"))
    assert slack.slash_command(f"version {vid}", user_id="UANYONE").status_code == 200
    answer = fake_slack.wait_for("response_url", before + 1, timeout=15)[-1].params
    shown = json.dumps(answer["blocks"], ensure_ascii=False)
    assert answer["response_type"] == "ephemeral"
    assert "*History*" in shown
    assert "*Requested* · <@USELLER> (useller)" in shown
    assert "*Approved* · <@URM1> (urm1)" in shown
    assert "*Published* · omi-bot" in shown
    assert "*Notice queued* · omi-bot · 4 recipient(s)" in shown


def test_the_history_in_french_and_an_unknown_version(
    slack: SlackClient, fake_slack: FakeSlackAPI, core: Core, drain: Callable[..., None]
) -> None:
    vid = services.publish(
        core, "0001", VersionForm(omi=OMI_1, release_note="note"), requested_by="cli:ops"
    ).id
    drain()
    fake_slack.set_user("UFR", locale="fr-FR")
    slack.slash_command(f"version {vid}", user_id="UFR")
    slack.slash_command("version ver-0000000000", user_id="UFR")
    answers = [c.params for c in fake_slack.wait_for("response_url", 2, timeout=15)]
    # Both are answered after their acknowledgement, in whichever order they finish.
    (shown,) = [a for a in answers if "blocks" in a]
    (unknown,) = [a for a in answers if "blocks" not in a]
    blocks = json.dumps(shown["blocks"], ensure_ascii=False)
    assert "*Historique*" in blocks
    assert "*Publication lancée* · cli:ops" in blocks and "*Publiée* · omi-bot" in blocks
    assert unknown["text"] == "There is no version 'ver-0000000000'."


def test_an_id_typed_with_a_nul_is_no_such_version_or_product_on_every_database(
    slack: SlackClient, fake_slack: FakeSlackAPI, core: Core
) -> None:
    """PostgreSQL refuses a NUL in a query: such an ID is answered as unknown, not as a
    failure, on both databases."""
    for text in ("version ver-\x00abc", "versions 00\x0001"):
        slack.slash_command(text, user_id="URM1")
    answers = [c.params for c in fake_slack.wait_for("response_url", 2, timeout=15)]
    texts = sorted(str(a.get("text")) for a in answers)
    assert texts[0].startswith("There is no product with product code '00"), texts
    assert texts[1].startswith("There is no version 'ver-"), texts
    slack.slash_command("modify ver-\x00abc", user_id="URM1")
    (update,) = fake_slack.wait_for("views.update", 1, timeout=15)
    assert "There is no version" in json.dumps(update.params["view"]), update.params

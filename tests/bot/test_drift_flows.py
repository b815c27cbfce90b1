"""The drift report in Slack and its *Repair* button: signed requests against the real endpoint,
the Web API fake, the core on a real database and the sandbox behind it."""

from __future__ import annotations

import json
from collections.abc import Callable

from bot.runtime import install
from commands import drift, services
from commands.bootstrap import Core
from commands.model import VersionForm
from commands.notifications import managers
from commands.notifications.slack import Pacer, deliver_slack, slack_client
from commands.sandbox import SandboxServer
from tests.conftest import OMI_1, SUB_C
from tests.slackfake import FakeSlackAPI

from .conftest import BOT_TOKEN, StartBot


def test_a_drift_report_is_posted_once_and_repaired_by_a_release_manager(
    start_bot: StartBot,
    core: Core,
    subscribers: list[str],
    sandbox: SandboxServer,
    fake_slack: FakeSlackAPI,
    drain: Callable[..., None],
) -> None:
    vid = services.publish(
        core, "0001", VersionForm(omi=OMI_1, release_note="1"), requested_by="o"
    ).id
    drain()
    _, slack = start_bot(lambda app: install(app, core), health=core.db.reachable)
    copy = str(services.show_version(core, vid).version.copy_id)
    sandbox.sandbox.edit_image(copy, add_permitted=[SUB_C])
    drift.check(core, "0001")
    drift.check(core, "0001")  # seen again: one report
    client = slack_client(BOT_TOKEN, fake_slack.url)
    while deliver_slack(core, "w", client, pacer=Pacer()):
        pass
    (post,) = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "CREL"]
    assert "the cloud differs from the Versions table" in post.params["text"]
    assert f"1 other account(s) can ({SUB_C})" in post.params["text"]
    (button,) = next(b for b in post.params["blocks"] if b["type"] == "actions")["elements"]
    assert button["action_id"] == managers.REPAIR_ACTION
    message = {"ts": "1700000000.000100", "blocks": post.params["blocks"]}

    slack.block_action(
        button["action_id"], "0001", user_id="USELLER", channel_id="CREL", message=message
    )
    refused = fake_slack.wait_for("chat.postEphemeral")[-1].params
    assert "Only the release managers" in refused["text"]
    assert drift.open_findings(core, "0001")[0].repair_asked_by is None

    slack.block_action(
        button["action_id"], "0001", user_id="URM1", channel_id="CREL", message=message
    )
    update = fake_slack.wait_for("chat.update")[-1].params
    assert "Repair of product 0001 asked by <@URM1>: 1 job(s) queued." in json.dumps(
        update["blocks"]
    )
    assert not [b for b in update["blocks"] if b["type"] == "actions"]
    drain()
    image = sandbox.sandbox.image(copy)
    assert image is not None and SUB_C not in image["PermissionsToLaunch"]["AccountIds"]
    slack.block_action(
        button["action_id"], "0001", user_id="URM2", channel_id="CREL", message=message
    )
    again = fake_slack.wait_for("chat.postEphemeral", 2)[-1].params
    assert "Nothing new to repair on product 0001" in again["text"]
    assert drift.check(core, "0001")[0].findings == []

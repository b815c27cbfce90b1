"""User text in every post, update and view goes through one escaping path
(commands.notifications.slack_text): hostile text never becomes a mention, a link or a control
sequence, and text too long for its place is cut with a visible "…"."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot import approvals, views
from commands import services
from commands.bootstrap import Core
from commands.model import (
    Omi,
)
from commands.notifications.slack_text import ELLIPSIS, clip, mention, mrkdwn, plain
from commands.services import Audience, VersionsTable
from tests.bot.builders import HOSTILE, every_builder, product, requests_of
from tests.bot.flows import (
    SELLER_USER,
    approve,
    open_form,
    opened_by_click,
    request_publication,
    submit_then,
)
from tests.conftest import OMI_1, SELLER
from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import SlackClient

PARSED = re.compile(r"<[!@#]|<https?:|<mailto:")
BARE = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def strings(node: Any, mrkdwn_text: bool = False) -> Iterator[tuple[str, bool]]:
    """Every shown string of a payload, and whether Slack parses it as mrkdwn there."""
    if isinstance(node, dict):
        kind = node.get("type")
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                yield value, kind != "plain_text"
            elif key not in ("private_metadata", "value", "action_id", "block_id", "callback_id"):
                yield from strings(value, mrkdwn_text)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item, mrkdwn_text)
    elif isinstance(node, str) and mrkdwn_text:
        yield node, True


def assert_safe(payload: Any, *, ours: tuple[str, ...] = ()) -> None:
    """No mention, link or control character came from user text; `ours` are the bot's own
    mentions (real user IDs it names on purpose)."""
    for text, parsed in strings(payload):
        assert not CONTROL.search(text), text
        if not parsed:
            continue
        rest = text
        for own in ours:
            rest = rest.replace(own, "")
        assert not PARSED.search(rest), text
        assert not BARE.search(rest), text


def assert_shown(payload: Any) -> None:
    """The hostile text is there for people to read, escaped."""
    assert "&lt;!channel&gt;" in json.dumps(payload, ensure_ascii=False)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_builder_escapes_hostile_text(language: str) -> None:
    for built in every_builder(language):
        assert_safe(built, ours=("<@URM1>", "<@UDEV>"))


@pytest.mark.parametrize("language", ["en", "fr"])
def test_long_text_is_clipped_with_a_visible_ellipsis(language: str) -> None:
    long_named = product()
    long_named.name = "n" * 5000  # a name is 200 characters at most, but no view relies on it
    table = views.versions_table(language, VersionsTable(long_named, [], 0, None))
    shown = table[0]["text"]["text"]
    assert len(shown) == 3000 and shown.endswith(ELLIPSIS)
    request = requests_of(product())[0]
    blocks = approvals.request_blocks(language, request, product(), Audience(1, 1))
    note = next(
        line
        for b in blocks
        for line in b.get("text", {}).get("text", "").splitlines()
        if line.startswith("*Release note*") or line.startswith("*Note de release*")
    )
    assert len(note) < 330 and note.endswith(ELLIPSIS)  # the 2,700-character release note
    option = views.omi_option(Omi(OMI_1, "n" * 500, SELLER, (), "available"))
    assert option["text"]["text"].endswith(f"{ELLIPSIS} ({OMI_1})")


def test_the_one_path() -> None:
    assert mrkdwn("<!channel> & @here") == "&lt;!channel&gt; &amp; @\u2060here"
    assert mrkdwn(mrkdwn("a & b")) == "a &amp; b"  # escaped once, however often it passes
    assert mrkdwn("a&b" * 10, 8) == "a&amp;b" + ELLIPSIS  # never half an entity
    assert plain("tab\tline\nnul\x00bell\x07\u202e") == "tab\tline\nnulbell"
    assert clip("abcdef", 4) == "abc" + ELLIPSIS and clip("abc", 4) == "abc"
    assert mention("URM1") == "<@URM1>" and mention("cli:<!here>") == "cli:&lt;!here&gt;"


# ---------------------------------------------------------------------- through the endpoint


@pytest.fixture
def hostile_product(core: Core, product: str) -> str:
    services.save_product(
        core,
        code="0001",
        name=HOSTILE[:200],
        seller_account_id=SELLER,
        pricing="hourly",
        release_managers=["URM1", "URM2"],
        release_manager_group="SRM",
        approval_channel="CREL",
    )
    return "0001"


def sent(fake: FakeSlackAPI) -> list[Any]:
    """Everything the bot sent that people read."""
    shown = []
    for call in fake.calls:
        if call.method in ("chat.postMessage", "chat.update", "chat.postEphemeral", "response_url"):
            shown.append({"text": call.params.get("text", ""), "blocks": call.params.get("blocks")})
        elif call.method.startswith("views."):
            shown.append(call.params["view"])
    return shown


def test_hostile_text_from_slack_users_reaches_nobody(
    slack: SlackClient,
    fake_slack: FakeSlackAPI,
    core: Core,
    hostile_product: str,
    drain: Callable[..., None],
) -> None:
    form = open_form(slack, fake_slack)
    submit_then(
        slack,
        fake_slack,
        form,
        SELLER_USER,
        omi=OMI_1,
        software_version=HOSTILE[:64],
        operating_system=HOSTILE[:128],
        software_base="\n".join([HOSTILE[:128]] * 3),
        release_note=HOSTILE,
        instructions=HOSTILE,
    )
    first = int(
        next(
            b
            for b in fake_slack.wait_for("chat.postMessage")[0].params["blocks"]
            if b["type"] == "actions"
        )["elements"][0]["value"]
    )
    approve(slack, fake_slack, first)
    drain()
    stored = services.versions_table(core, "0001").rows[0]
    assert "\x00" not in stored.release_note and "<!channel>" in stored.release_note  # as typed
    second = request_publication(slack, fake_slack, omi="ami-5e11e002")
    reason = opened_by_click(slack, fake_slack, approvals.REJECT_ACTION, second, "URM2")
    submit_then(slack, fake_slack, reason, "URM2", reason=HOSTILE)
    fake_slack.wait_for("chat.update", 2, timeout=15)
    for text in ("unpublish <!channel>", "versions 0001", "products", f"modify {HOSTILE[:20]}"):
        slack.slash_command(text, user_id="URM1")
    fake_slack.wait_for("response_url", 3, timeout=15)
    slack.event({"type": "app_home_opened", "user": "URM1", "tab": "home"})
    fake_slack.wait_for("views.publish", timeout=15)
    shown = sent(fake_slack)
    ours = ("<@URM1>", "<@URM2>", f"<@{SELLER_USER}>")
    for payload in shown:
        assert_safe(payload, ours=ours)
    assert_shown([s for s in shown if s.get("blocks")])
    with core.uow() as uow:
        progress = [i.payload for i in uow.outbox.list(channel="slack")]
    assert progress
    for payload in progress:
        assert_safe({"text": payload.get("text", "")}, ours=ours)

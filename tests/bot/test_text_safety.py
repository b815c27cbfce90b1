"""User text in every post, update and view goes through one escaping path
(commands.notifications.slack_text): hostile text never becomes a mention, a link or a control
sequence, and text too long for its place is cut with a visible "…"."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot import home, views
from bot.texts import TEXTS, t
from commands import services
from commands.bootstrap import Core
from commands.model import (
    Omi,
    Pricing,
    Product,
    Request,
    RequestKind,
    Version,
    VersionForm,
)
from commands.notifications.announcements import render_announcement
from commands.notifications.slack_text import ELLIPSIS, clip, mention, mrkdwn, plain
from commands.progress import Stage, progress_text
from commands.services import Audience, ProductLine, VersionsTable
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

HOSTILE = (
    "<!channel> <!here> <!everyone> <@UEVIL> <!subteam^SEVIL|@admins> <#CEVIL> "
    "<https://evil.example|click me> @channel @here @everyone *bold* _it_ ~s~ `code` "
    "```block``` > quote & \x00\x07\x1b[31m\u202egnp.exe\u2066"
)
PARSED = re.compile(r"<[!@#]|<https?:|<mailto:")
BARE = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
AT = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)


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


def product(name: str = HOSTILE) -> Product:
    p = Product(
        code="0001",
        name=name,
        seller_account_id=SELLER,
        pricing=Pricing.HOURLY,
        at=AT,
        release_managers=["URM1"],
        release_manager_group="SRM",
    )
    omi = Omi(OMI_1, HOSTILE, SELLER, ("0001",), "available")
    form = VersionForm(
        omi=OMI_1,
        software_version=HOSTILE[:64],
        operating_system=HOSTILE[:128],
        software_base=(HOSTILE[:128], "x" * 128),
        release_note=HOSTILE + "x" * 2500,
        instructions=HOSTILE,
    )
    version = Version(
        id="ver-0123456789",
        product_code="0001",
        omi=omi,
        form=form,
        requested_by="UDEV",
        approved_by="URM1",
        at=AT,
    )
    version.published(AT)
    version.copy_made("ami-c0c0c0c0")
    p.versions.append(version)
    return p


def requests_of(p: Product) -> list[Request]:
    made = []
    for kind in RequestKind:
        r = Request(
            kind=kind,
            product_code=p.code,
            requested_by="UDEV",
            at=AT,
            version_id=p.versions[0].id if kind is RequestKind.UNPUBLISH else None,
            form=p.versions[0].form() if kind is RequestKind.PUBLISH else None,
        )
        r.id = len(made) + 1
        made.append(r)
    made[0].decide(made[0].state.REJECTED, "URM1", AT, HOSTILE)
    return made


def every_builder(language: str, name: str = HOSTILE) -> Iterator[Any]:
    """Every Block Kit builder of the bot and the worker, fed with `name` and hostile text."""
    p = product(name)
    version = p.versions[0]
    audience = Audience(accounts=2, recipients=3)
    line = ProductLine(p, 1, version)
    meta = {"product": p.code, "lang": language}
    yield views.version_form(language, p, p.new_form(), meta)
    yield views.version_form(language, p, version.form(), meta, version=version)
    yield views.version_form(
        language,
        p,
        version.form(),
        meta,
        errors={"omi": HOSTILE, "release_note": HOSTILE},
        omi={"text": {"type": "plain_text", "text": HOSTILE}, "value": OMI_1},
    )
    yield views.product_picker(language, [line], meta)
    yield views.omi_option(Omi(OMI_1, HOSTILE * 3, SELLER, ("0001",), "available"))
    for request in requests_of(p):
        blocks = views.request_blocks(
            language, request, p, audience, previous=version, version=version
        )
        yield blocks
        outcome = t(language, "rejected_by", user=mention("URM1"), reason=HOSTILE)
        yield views.decided_blocks(blocks, outcome)
        yield views.confirm_approve(language, request, p, audience, meta)
    yield views.request_blocks(language, requests_of(p)[0], p, audience, previous=None)
    yield views.reject_form(language, meta)
    yield views.versions_table(language, VersionsTable(p, p.versions, 30, version))
    yield views.products_list(language, [line])
    yield views.help_blocks(language)
    yield views.loading()
    yield views.working(language, t(language, "checking", omi=HOSTILE))
    yield views.refused(language, HOSTILE)
    modified = t(language, "modified", id="v", fields=HOSTILE)
    yield views.notice(language, t(language, "done_title"), modified)
    yield home.build_home([line], requests_of(p), requests_of(p), language).to_dict()
    for stage in Stage:
        yield {"text": progress_text(language, version, stage, HOSTILE)}
    for event in ("version_published", "version_unpublished", "product_unpublished"):
        rendered = render_announcement(
            {
                "event": event,
                "product_code": "0001",
                "product_name": name,
                "date": AT.isoformat(),
                "versions": [
                    {
                        "id": version.id,
                        "software_version": HOSTILE,
                        "operating_system": HOSTILE,
                        "release_note": HOSTILE * 20,
                        "omi_copy_id": HOSTILE,
                    }
                ]
                * 3,
                "last_available": {"id": version.id, "software_version": HOSTILE},
            },
            language,
        )
        yield {"text": rendered.text, "blocks": rendered.blocks}
    for key, template in TEXTS[language].items():
        if "{" in template:
            names = re.findall(r"{(\w+)}", template)
            yield {"text": t(language, key, **{n: HOSTILE for n in names})}


@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_builder_escapes_hostile_text(language: str) -> None:
    for built in every_builder(language):
        assert_safe(built, ours=("<@URM1>", "<@UDEV>"))


@pytest.mark.parametrize("language", ["en", "fr"])
def test_long_text_is_clipped_with_a_visible_ellipsis(language: str) -> None:
    table = views.versions_table(
        language, VersionsTable(product("n" * 5000), [], 0, None)
    )
    shown = table[0]["text"]["text"]
    assert len(shown) == 3000 and shown.endswith(ELLIPSIS)
    request = requests_of(product())[0]
    blocks = views.request_blocks(language, request, product(), Audience(1, 1))
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
    second = request_publication(slack, fake_slack, omi="ami-5e11e002")
    reason = opened_by_click(slack, fake_slack, views.REJECT_ACTION, second, "URM2")
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

"""Every text field of every view and message the bot builds, in English and French, within
Slack's Block Kit limits; the bot's own labels whole, never clipped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot import approvals, views
from bot.texts import TEXTS, t
from commands.model import Pricing
from commands.notifications.slack_text import ELLIPSIS
from commands.services import Audience
from tests.bot.builders import every_builder, product, requests_of

# Block Kit reference: surfaces, blocks, elements and composition objects.
VIEW = {"title": 24, "submit": 24, "close": 24}
LIMITS = {
    ("button", "text"): 75,
    ("button", "value"): 2000,
    ("option", "text"): 75,
    ("option", "value"): 150,
    ("input", "label"): 2000,
    ("input", "hint"): 2000,
    ("header", "text"): 150,
    ("section", "text"): 3000,
}
PLACEHOLDER, FIELD, ELEMENT_TEXT = 150, 2000, 3000
IDS = ("action_id", "block_id", "callback_id")
LABELS = ("title", "submit", "close", "label", "hint", "placeholder")


def problems(node: Any, where: str = "") -> Iterator[str]:
    """Each text over its limit, and each label of the bot's that was cut short."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from problems(item, f"{where}[{i}]")
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind in ("modal", "home"):
        if len(node.get("blocks") or []) > 100:
            yield f"{where}: more than 100 blocks"
        if len(node.get("private_metadata") or "") > 3000:
            yield f"{where}: private_metadata over 3000"
        for key, limit in VIEW.items():
            if node.get(key) and len(node[key]["text"]) > limit:
                yield f"{where}.{key}: {node[key]['text']!r} over {limit}"
    if "text" in node and "value" in node and kind is None:  # an option object
        kind = "option"
    for (block, key), limit in LIMITS.items():
        value = node.get(key)
        text = value.get("text") if isinstance(value, dict) else value
        if kind == block and isinstance(text, str) and len(text) > limit:
            yield f"{where}.{key}: {len(text)} characters over {limit}"
    if kind == "section" and len(node.get("fields") or []) > 10:
        yield f"{where}: more than 10 fields"
    for field in node.get("fields") or []:
        if len(field["text"]) > FIELD:
            yield f"{where}.fields: over {FIELD}"
    if kind == "context":
        elements = node.get("elements") or []
        if len(elements) > 10 or any(len(e.get("text", "")) > ELEMENT_TEXT for e in elements):
            yield f"{where}: context over its limits"
    placeholder = node.get("placeholder")
    if isinstance(placeholder, dict) and len(placeholder["text"]) > PLACEHOLDER:
        yield f"{where}.placeholder: over {PLACEHOLDER}"
    for key in IDS:
        if isinstance(node.get(key), str) and len(node[key]) > 255:
            yield f"{where}.{key}: over 255"
    for key in LABELS:
        label = node.get(key)
        if isinstance(label, dict) and str(label.get("text", "")).endswith(ELLIPSIS):
            yield f"{where}.{key}: {label['text']!r} was cut short"
    if kind == "button" and node["text"]["text"].endswith(ELLIPSIS):
        yield f"{where}.text: button {node['text']['text']!r} was cut short"
    for key, value in node.items():
        if isinstance(value, dict | list):
            yield from problems(value, f"{where}.{key}")


@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_view_fits_slacks_limits_unclipped(language: str) -> None:
    found = [p for built in every_builder(language) for p in problems(built)]
    assert found == []


@pytest.mark.parametrize("language", ["en", "fr"])
def test_modal_titles_and_buttons_fit_whole_in_both_languages(language: str) -> None:
    """The texts shown as titles and buttons, as written (nothing clipped them on the way)."""
    p = product("Nginx on Debian")
    meta = {"request": 1}
    for request in requests_of(p):
        confirm = approvals.confirm_approve(language, request, p, Audience(1, 1), meta)
        assert confirm["submit"]["text"] in (
            t(language, "proceed_publish"),
            t(language, "proceed_unpublish"),
        )
    form = views.version_form(language, p, p.new_form(), {})
    assert form["submit"]["text"] == t(language, "form_submit_publish")
    assert form["title"]["text"] == t(language, "form_title_publish")
    modify = views.version_form(language, p, p.versions[0].form(), {}, version=p.versions[0])
    assert modify["submit"]["text"] == t(language, "form_submit_modify")
    for key in ("confirm_title", "unpublish_title", "reject_title", "pick_title", "refused_title",
                "done_title", "loading_title", "form_title_publish", "form_title_modify",
                "form_submit_publish", "form_submit_modify", "proceed_publish",
                "proceed_unpublish", "reject_submit", "pick_next", "cancel", "close"):  # fmt: skip
        assert 0 < len(TEXTS[language][key]) <= 24, (key, TEXTS[language][key])


def test_public_copy_wording_fits_too() -> None:
    p = product("Nginx")
    p.pricing = Pricing.FREE
    for language in ("en", "fr"):
        for request in requests_of(p):
            built = approvals.confirm_approve(language, request, p, Audience(0, 0), {})
            assert list(problems(built)) == []

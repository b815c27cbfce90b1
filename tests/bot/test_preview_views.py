"""The Preview modal within Slack's limits: 100 blocks, 3000 characters a section, what is
left out said with a visible "…"."""

from __future__ import annotations

import pytest

from bot import preview as previews
from bot.texts import t
from commands.notifications.slack_text import ELLIPSIS
from tests.bot.builders import HOSTILE, preview_of, product, requests_of


@pytest.mark.parametrize("language", ["en", "fr"])
def test_many_organizations_are_cut_at_100_blocks_saying_how_many_are_left(
    language: str,
) -> None:
    p = product("Nginx")
    found = preview_of(p, requests_of(p)[2], organizations=150)
    listed = previews.recipients_view(language, found)["blocks"]
    assert len(listed) == 100
    # The reach line, 98 organizations, then what is left out: 52 of them.
    assert listed[-1]["elements"][0]["text"] == t(language, "preview_more", n=52)
    shown = previews.preview_view(language, found)["blocks"]
    reach = next(b for b in shown if "4500" in b.get("text", {}).get("text", "")
                 and b["type"] == "section")  # fmt: skip
    assert len(reach["text"]["text"]) <= 3000 and reach["text"]["text"].endswith(ELLIPSIS)


def test_a_long_mail_is_shown_in_pieces_the_last_cut_with_an_ellipsis() -> None:
    text = ("x" * 100 + "\n") * 40 + "& " * 2000  # 4040 characters, then 4000 that escape long
    shown = previews.pieces(text)
    assert len(shown) == previews.MAIL_SECTIONS
    assert all(len(piece) <= 3000 - 6 for piece in shown)
    assert shown[0] == "\n".join(["x" * 100] * 29)  # cut at the end of a line
    assert shown[-1].endswith(ELLIPSIS) and "&am" + ELLIPSIS not in shown[-1]
    assert previews.pieces("short <b>") == ["short &lt;b&gt;"]


def test_the_publication_preview_names_the_placeholders() -> None:
    p = product(HOSTILE)
    found = preview_of(p, requests_of(p)[0])
    text = str(previews.preview_view("en", found)["blocks"])
    assert "ver-??????????" in text and "ami-????????" in text
    # 30 accounts in each organization, 7 a call (the settings of preview_of).
    assert "30 subscriber account(s) in 5 `UpdateImage` call(s), up to 7" in text

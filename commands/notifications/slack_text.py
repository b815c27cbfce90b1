"""What people typed, made safe to show in Slack: the one path every piece of user text takes
on its way into a message, an update or a view, from the bot and from the worker alike.

Slack parses `<…>` in mrkdwn as mentions (`<!channel>`, `<@U…>`, `<!subteam^…>`) and links
(`<https://…|text>`), so `&`, `<` and `>` are escaped as Slack documents. A bare `@channel`,
`@here` or `@everyone` gets an invisible word joiner after the `@` so no setting of a message can
turn it into a mention. Control characters (and the bidirectional overrides that can make text
read backwards) are dropped; line breaks and tabs stay. Text longer than its place allows is cut
with a visible "…". Emphasis characters (`*`, `_`, `~`, backquotes) are left as typed: they can
only style the user's own text.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["ELLIPSIS", "Escaped", "clip", "clip_mrkdwn", "mention", "mrkdwn", "plain"]

ELLIPSIS = "…"
_WORD_JOINER = "\u2060"
_BARE_MENTION = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


class Escaped(str):
    """Text already made safe for mrkdwn: escaping it again would show "&amp;amp;"."""


def _clean(text: object) -> str:
    raw = str(text).replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        c
        for c in raw
        if c in "\n\t" or (unicodedata.category(c) != "Cc" and c not in _BIDI)
    )


def clip(text: str, limit: int | None) -> str:
    """`text`, or its first `limit - 1` characters and "…"."""
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS


def plain(text: object, limit: int | None = None) -> str:
    """For `plain_text` objects (titles, labels, options): Slack parses nothing there, so only
    control characters go and the length is kept."""
    return clip(_clean(text), limit)


def mrkdwn(text: object, limit: int | None = None) -> Escaped:
    """For `mrkdwn` texts and message fallbacks: nothing typed becomes a mention or a link.
    Text that went through here already is only clipped."""
    if isinstance(text, Escaped):
        escaped = str(text)
    else:
        escaped = _clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        escaped = _BARE_MENTION.sub(lambda m: "@" + _WORD_JOINER + m.group(1), escaped)
    if limit is None or len(escaped) <= limit:
        return Escaped(escaped)
    # Never leave half an entity ("&am…") at the cut.
    return Escaped(_PARTIAL_ENTITY.sub("", escaped[: limit - 1]) + ELLIPSIS)


def clip_mrkdwn(text: str, limit: int) -> Escaped:
    """Mrkdwn made of escaped user text and the bot's own markup, cut to fit its place."""
    return mrkdwn(Escaped(text), limit)


def mention(user_id: str) -> Escaped:
    """Someone the bot names: a Slack user ID becomes a mention; anyone else (a CLI operator,
    "cli:alice") is shown by name, escaped."""
    return Escaped(f"<@{user_id}>") if _USER_ID.match(user_id) else mrkdwn(user_id)

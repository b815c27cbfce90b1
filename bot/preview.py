"""Block Kit of a request's Preview (commands.preview): the modal the *Preview* button opens,
and the recipients' list pushed over it on demand.

Nothing is rendered here: the mails and announcements come as the core rendered them, and the
announcement's blocks are shown as they will be posted. User text goes through slack_text and
is cut to its place with a visible "…"; a modal holds 100 blocks at most, so what does not fit
says how much is left out."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    DividerBlock,
)

from bot.approvals import changes_block
from bot.texts import field_label, t
from bot.views import BUTTON, TEXT, _context, _label, _md, modal
from commands.model import RequestKind
from commands.notifications.mail import LANGUAGES
from commands.notifications.slack_text import Escaped, clip_mrkdwn, mrkdwn
from commands.preview import COPY_ID_PLACEHOLDER, VERSION_ID_PLACEHOLDER, CloudWork, Preview

PREVIEW_CALLBACK = "request_preview"
RECIPIENTS_CALLBACK = "request_recipients"
RECIPIENTS_ACTION = "preview_recipients"
MAX_BLOCKS = 100
# A mail's text is shown in pieces of a section each, this many at most per language.
MAIL_SECTIONS = 3
FENCE = "```"


def preview_view(language: str, preview: Preview) -> dict[str, Any]:
    request, product = preview.request, preview.product
    blocks: list[Block] = [
        _md(t(language, "preview_lead", id=request.id, name=product.name, code=product.code))
    ]
    blocks += _form(language, preview)
    blocks.append(_md("\n".join([t(language, "preview_cloud"), *cloud_lines(language, preview)])))
    blocks += _reach(language, preview)
    for lang in LANGUAGES:
        notice = preview.notices[lang]
        blocks.append(DividerBlock())
        blocks.append(
            _md(
                t(
                    language,
                    "preview_mail",
                    lang=lang.upper(),
                    n=notice.recipients,
                    subject=notice.mail.subject,
                )
            )
        )
        blocks += [_md(f"{FENCE}{piece}{FENCE}") for piece in pieces(notice.mail.text)]
        blocks.append(
            _md(t(language, "preview_announcement", lang=lang.upper(), n=notice.channels))
        )
        # As they will be posted: the core built them within Slack's limits.
        blocks += [Block.parse(b) for b in notice.announcement.blocks]  # type: ignore[misc]
    if request.kind is RequestKind.PUBLISH:
        blocks.append(
            _context(
                t(language, "preview_ids", version=VERSION_ID_PLACEHOLDER, copy=COPY_ID_PLACEHOLDER)
            )
        )
    return modal(
        t(language, "preview_title"),
        fitted(language, blocks),
        callback_id=PREVIEW_CALLBACK,
        close=t(language, "close"),
        metadata={"request": request.id, "lang": language},
    )


def recipients_view(language: str, preview: Preview) -> dict[str, Any]:
    """Every organization's accounts, addresses and channels."""
    blocks: list[Block] = [_md(_reach_line(language, preview))]
    for org in preview.organizations:
        blocks.append(
            _md(
                t(
                    language,
                    "recipients_org",
                    name=org.name,
                    lang=org.language,
                    accounts=", ".join(org.accounts) or "-",
                    addresses=", ".join(org.addresses) or "-",
                    channels=", ".join(org.channels) or "-",
                )
            )
        )
    if not preview.organizations:
        blocks.append(_md(t(language, "preview_nobody")))
    return modal(
        t(language, "recipients_title"),
        fitted(language, blocks),
        callback_id=RECIPIENTS_CALLBACK,
        close=t(language, "close"),
        metadata={"request": preview.request.id, "lang": language},
    )


def fitted(language: str, blocks: list[Block]) -> list[Block]:
    """At most MAX_BLOCKS, the last one saying how many were left out."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    kept = blocks[: MAX_BLOCKS - 1]
    return [*kept, _context(t(language, "preview_more", n=len(blocks) - len(kept)))]


def pieces(text: str) -> list[Escaped]:
    """The mail's text, escaped, in preformatted sections: cut at line ends where it can be,
    at most MAIL_SECTIONS of them, the last one cut with "…" when the text goes on."""
    room = TEXT - 2 * len(FENCE)
    rest = str(mrkdwn(text.rstrip("\n")))
    found: list[Escaped] = []
    while rest and len(found) < MAIL_SECTIONS - 1 and len(rest) > room:
        cut = rest.rfind("\n", 0, room)
        if cut <= 0:
            cut = room
            # Never half an entity ("&am") at the cut.
            amp = rest.rfind("&", max(0, cut - 5), cut)
            if amp != -1 and ";" not in rest[amp:cut]:
                cut = amp
        found.append(Escaped(rest[:cut]))
        rest = rest[cut:].lstrip("\n")
    if rest:
        found.append(clip_mrkdwn(rest, room))
    return found or [Escaped("-")]


def _form(language: str, preview: Preview) -> list[Block]:
    if preview.form is None:
        lines = [t(language, "preview_versions")] + [
            t(
                language,
                "preview_version_line",
                id=v.id,
                software=v.software_version or "-",
                status=v.status.value,
                copy=v.copy_id or "-",
            )
            for v in preview.versions
        ]
        found: list[Block] = [_md("\n".join(lines))]
        if preview.unpublish_on is not None:
            found.append(_md(t(language, "preview_when", date=preview.unpublish_on.isoformat())))
        return found
    values = preview.form.as_dict()
    lines = [t(language, "preview_form")]
    for name in ("omi", "software_version", "operating_system", "software_base",
                 "release_note", "instructions"):  # fmt: skip
        value = values[name]
        shown = ", ".join(value) if isinstance(value, list) else str(value)
        lines.append(f"*{field_label(language, name)}*: {mrkdwn(shown or '-', 600)}")
    found = [_md("\n".join(lines))]
    found.append(changes_block(language, preview.previous, preview.changes, 600))
    return found


def cloud_lines(language: str, preview: Preview) -> list[str]:
    cloud: CloudWork = preview.cloud
    dist = cloud.distribution_account or t(language, "cloud_dist")
    if cloud.source_omi is not None:
        lines = []
        if cloud.grant_source:
            lines.append(
                t(language, "cloud_grant", seller=cloud.seller_account, dist=dist,
                  omi=cloud.source_omi)
            )  # fmt: skip
        name = f" ({mrkdwn(cloud.source_name, 200)})" if cloud.source_name else ""
        lines.append(
            t(language, "cloud_copy", omi=cloud.source_omi, name=Escaped(name),
              seller=cloud.seller_account, dist=dist)
        )  # fmt: skip
        if cloud.public:
            lines.append(t(language, "cloud_public"))
        elif cloud.accounts:
            lines.append(
                t(language, "cloud_share", accounts=cloud.accounts, calls=cloud.share_calls,
                  batch=cloud.batch_size)
            )  # fmt: skip
        else:
            lines.append(t(language, "cloud_share_none"))
        return lines
    when = (
        t(language, "cloud_on", date=cloud.on.isoformat()) if cloud.on else t(language, "cloud_now")
    )
    if not cloud.deletions:
        return [t(language, "cloud_delete_none")]
    return [
        t(language, "cloud_delete", copy=copy_id, id=version_id, when=when)
        for version_id, copy_id in cloud.deletions
    ]


def _reach_line(language: str, preview: Preview) -> str:
    return t(
        language,
        "preview_reach",
        accounts=preview.accounts,
        recipients=len(preview.recipients),
        channels=len(preview.channels),
    )


def _reach(language: str, preview: Preview) -> list[Block]:
    lines = [
        t(
            language,
            "preview_org",
            name=org.name,
            lang=org.language,
            accounts=len(org.accounts),
            addresses=len(org.addresses),
            channels=len(org.channels),
        )
        for org in preview.organizations
    ] or [t(language, "preview_nobody")]
    found: list[Block] = [_md("\n".join([_reach_line(language, preview), *lines]))]
    if preview.organizations:
        found.append(
            ActionsBlock(
                block_id="recipients",
                elements=[
                    ButtonElement(
                        action_id=RECIPIENTS_ACTION,
                        text=_label(t(language, "preview_recipients"), BUTTON),
                        value=str(preview.request.id),
                    )
                ],
            )
        )
    return found

"""Block Kit of an approval: the request as release managers see it (with what changes from the
previous version), the confirmation of an Approve, the reason of a Reject, and the message once
decided."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    InputBlock,
    PlainTextInputElement,
)

from bot.texts import field_label, t
from bot.views import BUTTON, VALUE, _context, _label, _md, modal
from commands.model import Product, Request, RequestKind, Version
from commands.notifications import managers
from commands.notifications.slack_text import mention, mrkdwn
from commands.preview import form_changes
from commands.services import Audience

CONFIRM_CALLBACK = "confirm_approve"
REJECT_CALLBACK = "reject_reason"
APPROVE_ACTION = managers.APPROVE_ACTION
REJECT_ACTION = managers.REJECT_ACTION
PREVIEW_ACTION = managers.PREVIEW_ACTION


def request_blocks(
    language: str,
    request: Request,
    product: Product,
    audience: Audience,
    *,
    previous: Version | None = None,
    version: Version | None = None,
) -> list[dict[str, Any]]:
    who = mention(request.requested_by)
    blocks: list[Block] = []
    if request.kind is RequestKind.PUBLISH:
        form = request.version_form()
        blocks.append(
            _md(
                t(
                    language,
                    "request_publish",
                    user=who,
                    name=product.name,
                    code=product.code,
                    id=request.id,
                )
            )
        )
        fields = [
            ("omi", form.omi),
            ("software_version", form.software_version),
            ("operating_system", form.operating_system),
            ("software_base", ", ".join(form.software_base)),
            ("release_note", form.release_note),
            ("instructions", form.instructions),
        ]
        blocks.append(
            _md(
                "\n".join(
                    f"*{field_label(language, n)}*: {mrkdwn(v or '-', 300)}" for n, v in fields
                )
            )
        )
        blocks.append(changes_block(language, previous, form_changes(previous, form), 200))
    elif request.kind is RequestKind.UNPUBLISH:
        blocks.append(
            _md(
                t(
                    language,
                    "request_unpublish",
                    user=who,
                    name=product.name,
                    code=product.code,
                    id=request.id,
                    version=request.version_id,
                    software=(version.software_version if version else "") or "-",
                )
            )
        )
    else:
        blocks.append(
            _md(
                t(
                    language,
                    "request_unpublish_product",
                    user=who,
                    name=product.name,
                    code=product.code,
                    id=request.id,
                )
            )
        )
    if request.unpublish_on is not None:
        blocks.append(_md(t(language, "request_on", date=request.unpublish_on.isoformat())))
    blocks.append(
        _md(t(language, "impact", accounts=audience.accounts, recipients=audience.recipients))
    )
    blocks.append(
        ActionsBlock(
            block_id="decision",
            elements=[
                ButtonElement(
                    action_id=APPROVE_ACTION,
                    text=_label(t(language, "approve"), BUTTON),
                    value=str(request.id),
                    style="primary",
                ),
                ButtonElement(
                    action_id=REJECT_ACTION,
                    text=_label(t(language, "reject"), BUTTON),
                    value=str(request.id),
                    style="danger",
                ),
                ButtonElement(
                    action_id=PREVIEW_ACTION,
                    text=_label(t(language, "preview"), BUTTON),
                    value=str(request.id),
                ),
            ],
        )
    )
    return [b.to_dict() for b in blocks]


def decided_blocks(blocks: list[dict[str, Any]], outcome: str) -> list[dict[str, Any]]:
    """The request message once decided: the buttons give way to who decided what."""
    kept = [b for b in blocks if b.get("type") != "actions"]
    return [*kept, _context(outcome).to_dict()]


def confirm_approve(
    language: str,
    request: Request,
    product: Product,
    audience: Audience,
    meta: dict[str, Any],
) -> dict[str, Any]:
    """The seed's "OMI copy" dialog, or the explicit confirmation of an unpublication."""
    if request.kind is not RequestKind.PUBLISH and request.unpublish_on is not None:
        what = (
            t(language, "what_version", id=request.version_id)
            if request.kind is RequestKind.UNPUBLISH
            else t(language, "what_product", code=product.code)
        )
        text = t(
            language,
            "confirm_schedule",
            what=what,
            date=request.unpublish_on.isoformat(),
            reminders=", ".join(str(d) for d in product.reminder_days) or "-",
        )
        title, submit = t(language, "unpublish_title"), t(language, "proceed_schedule")
    elif request.kind is RequestKind.PUBLISH:
        who = (
            t(language, "who_everyone")
            if product.pricing.public_copy
            else t(language, "who_accounts", n=audience.accounts)
        )
        text = t(
            language, "confirm_publish", omi=request.version_form().omi, code=product.code, who=who
        )
        title, submit = t(language, "confirm_title"), t(language, "proceed_publish")
    elif request.kind is RequestKind.UNPUBLISH:
        version = product.version(str(request.version_id))
        text = t(language, "confirm_unpublish", copy=version.copy_id or "-", version=version.id)
        title, submit = t(language, "unpublish_title"), t(language, "proceed_unpublish")
    else:
        published = product.published_versions()
        copies = ", ".join(v.copy_id or "-" for v in published) or "-"
        text = t(
            language,
            "confirm_unpublish_product",
            n=len(published),
            code=product.code,
            copies=copies,
        )
        title, submit = t(language, "unpublish_title"), t(language, "proceed_unpublish")
    return modal(
        title,
        [_md(text)],
        callback_id=CONFIRM_CALLBACK,
        submit=submit,
        close=t(language, "cancel"),
        metadata=meta,
    )


def reject_form(language: str, meta: dict[str, Any]) -> dict[str, Any]:
    block = InputBlock(
        block_id="reason",
        label=_label(t(language, "reject_reason")),
        element=PlainTextInputElement(action_id=VALUE, multiline=True, max_length=2000),
    )
    return modal(
        t(language, "reject_title"),
        [block],
        callback_id=REJECT_CALLBACK,
        submit=t(language, "reject_submit"),
        close=t(language, "cancel"),
        metadata=meta,
    )


def changes_block(
    language: str,
    previous: Version | None,
    changes: Sequence[tuple[str, str, str]],
    width: int,
) -> Block:
    """What a publication changes from the previous version, each value clipped to `width`:
    on the request message and in its preview alike."""
    if previous is None:
        return _context(t(language, "changes_first"))
    if not changes:
        return _context(t(language, "changes_none", id=previous.id))
    lines = [t(language, "changes_title", id=previous.id)] + [
        t(
            language,
            "change_line",
            field=field_label(language, n),
            old=mrkdwn(o or "-", width),
            new=mrkdwn(v or "-", width),
        )
        for n, o, v in changes
    ]
    return _md("\n".join(lines))

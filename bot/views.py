"""Block Kit builders. Views go through slack_sdk's models so Slack's limits (lengths, block
counts) fail here, in the bot, rather than as an opaque error from views.open."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    ExternalDataSelectElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.texts import field_label, t
from commands.model import LIMITS, Omi, Product, Request, RequestKind, Version, VersionForm
from commands.services import Audience, ProductLine, VersionsTable

FORM_CALLBACK = "version_form"
PICK_CALLBACK = "pick_product"
CONFIRM_CALLBACK = "confirm_approve"
REJECT_CALLBACK = "reject_reason"
OMI_ACTION = "omi_select"
PICK_ACTION = "product_select"
APPROVE_ACTION = "approve_request"
REJECT_ACTION = "reject_request"
VALUE = "value"
# Field names of the core's FormErrors are the block ids of the form, so errors map 1:1.
TEXT_FIELDS = (
    "software_version",
    "operating_system",
    "software_base",
    "release_note",
    "instructions",
)
MAX_OPTIONS = 100
MAX_TABLE_ROWS = 20


def _plain(text: str, limit: int = 3000) -> PlainTextObject:
    return PlainTextObject(text=text[:limit], emoji=True)


def _md(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text[:3000]))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text[:3000])])


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def modal(
    title: str,
    blocks: Sequence[Block],
    *,
    callback_id: str = "",
    submit: str | None = None,
    close: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    view = View(
        type="modal",
        callback_id=callback_id or None,
        title=_plain(title, 24),
        submit=_plain(submit, 24) if submit else None,
        close=_plain(close, 24) if close else None,
        blocks=list(blocks),
        private_metadata=json.dumps(metadata or {}),
    )
    return view.to_dict()


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def loading(language: str) -> dict[str, Any]:
    return modal(t(language, "loading_title"), [_md(t(language, "loading"))])


def notice(language: str, title: str, text: str) -> dict[str, Any]:
    return modal(title, [_md(text)], close=t(language, "close"))


def omi_option(omi: Omi) -> dict[str, Any]:
    label = f"{omi.name} ({omi.image_id})" if omi.name else omi.image_id
    if len(label) > 75:  # Slack's cap on an option's text; the ID must stay visible
        label = f"{omi.name[: 75 - len(omi.image_id) - 4]}… ({omi.image_id})"
    return Option(text=_plain(label, 75), value=omi.image_id).to_dict()


def product_picker(
    language: str, products: Sequence[ProductLine], meta: dict[str, Any]
) -> dict[str, Any]:
    options = [
        Option(text=_plain(f"{p.product.name} ({p.product.code})", 75), value=p.product.code)
        for p in products[:MAX_OPTIONS]
    ]
    block = InputBlock(
        block_id="product",
        label=_plain(t(language, "pick_product")),
        element=StaticSelectElement(action_id=PICK_ACTION, options=options),
        dispatch_action=True,
    )
    return modal(
        t(language, "pick_title"),
        [block],
        callback_id=PICK_CALLBACK,
        submit=t(language, "pick_next"),
        close=t(language, "cancel"),
        metadata=meta,
    )


def _text_input(
    language: str, field: str, value: str, *, multiline: bool, optional: bool = True
) -> InputBlock:
    limit = 3000 if field == "software_base" else LIMITS[field]
    hint = t(language, "field_software_base_hint") if field == "software_base" else None
    return InputBlock(
        block_id=field,
        label=_plain(field_label(language, field)),
        element=PlainTextInputElement(
            action_id=VALUE,
            initial_value=value[:limit] or None,
            multiline=multiline,
            max_length=limit,
        ),
        hint=_plain(hint) if hint else None,
        optional=optional,
    )


def version_form(
    language: str,
    product: Product,
    form: VersionForm,
    meta: dict[str, Any],
    version: Version | None = None,
) -> dict[str, Any]:
    """R3: the Version form; for a published version (modify) the OMI is shown, not asked (R5)."""
    blocks: list[Block] = []
    if version is None:
        blocks.append(_context(t(language, "form_product", name=product.name, code=product.code)))
        blocks.append(
            InputBlock(
                block_id="omi",
                label=_plain(field_label(language, "omi")),
                element=ExternalDataSelectElement(action_id=OMI_ACTION, min_query_length=0),
                hint=_plain(t(language, "field_omi_hint", code=product.code)),
            )
        )
    else:
        blocks.append(_context(t(language, "form_version", id=version.id, code=product.code)))
        blocks.append(
            _md(
                t(
                    language,
                    "field_omi_readonly",
                    name=version.omi_name or "-",
                    id=version.omi_id,
                    copy=version.copy_id or "-",
                )
            )
        )
    blocks += [
        _text_input(language, "software_version", form.software_version, multiline=False),
        _text_input(language, "operating_system", form.operating_system, multiline=False),
        _text_input(language, "software_base", "\n".join(form.software_base), multiline=True),
        _text_input(language, "release_note", form.release_note, multiline=True, optional=False),
        _text_input(language, "instructions", form.instructions, multiline=True),
    ]
    mode = "modify" if version else "publish"
    return modal(
        t(language, f"form_title_{mode}"),
        blocks,
        callback_id=FORM_CALLBACK,
        submit=t(language, f"form_submit_{mode}"),
        close=t(language, "cancel"),
        metadata=meta,
    )


def read_form(view: dict[str, Any]) -> VersionForm:
    values: dict[str, Any] = view.get("state", {}).get("values", {})

    def text(field: str) -> str:
        return str((values.get(field, {}).get(VALUE) or {}).get("value") or "")

    selected = (values.get("omi", {}).get(OMI_ACTION) or {}).get("selected_option") or {}
    return VersionForm(
        omi=str(selected.get("value") or ""),
        software_version=text("software_version"),
        operating_system=text("operating_system"),
        software_base=tuple(line for line in text("software_base").splitlines() if line.strip()),
        release_note=text("release_note"),
        instructions=text("instructions"),
    )


# -- approvals ---------------------------------------------------------------------------------


def changes(previous: Version | None, form: VersionForm) -> list[tuple[str, str, str]]:
    if previous is None:
        return []
    pairs = [
        ("software_version", previous.software_version, form.software_version),
        ("operating_system", previous.operating_system, form.operating_system),
        ("software_base", ", ".join(previous.software_base), ", ".join(form.software_base)),
        ("instructions", previous.instructions, form.instructions),
    ]
    return [(name, old, new) for name, old, new in pairs if old != new]


def _short(value: str, limit: int = 300) -> str:
    value = value or "-"
    return value if len(value) <= limit else value[: limit - 1] + "…"


def request_blocks(
    language: str,
    request: Request,
    product: Product,
    audience: Audience,
    *,
    previous: Version | None = None,
    version: Version | None = None,
) -> list[dict[str, Any]]:
    who = f"<@{request.requested_by}>"
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
            _md("\n".join(f"*{field_label(language, n)}*: {_short(v)}" for n, v in fields))
        )
        diff = changes(previous, form)
        if previous is None:
            blocks.append(_context(t(language, "changes_first")))
        elif not diff:
            blocks.append(_context(t(language, "changes_none", id=previous.id)))
        else:
            lines = [t(language, "changes_title", id=previous.id)] + [
                t(
                    language,
                    "change_line",
                    field=field_label(language, n),
                    old=_short(o, 200),
                    new=_short(v, 200),
                )
                for n, o, v in diff
            ]
            blocks.append(_md("\n".join(lines)))
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
    blocks.append(
        _md(t(language, "impact", accounts=audience.accounts, recipients=audience.recipients))
    )
    blocks.append(
        ActionsBlock(
            block_id="decision",
            elements=[
                ButtonElement(
                    action_id=APPROVE_ACTION,
                    text=_plain(t(language, "approve")),
                    value=str(request.id),
                    style="primary",
                ),
                ButtonElement(
                    action_id=REJECT_ACTION,
                    text=_plain(t(language, "reject")),
                    value=str(request.id),
                    style="danger",
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
    if request.kind is RequestKind.PUBLISH:
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
        label=_plain(t(language, "reject_reason")),
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


# -- tables ------------------------------------------------------------------------------------


def versions_table(language: str, table: VersionsTable) -> list[dict[str, Any]]:
    """R1: the Versions table, product code shown, newest first."""
    product = table.product
    blocks: list[Block] = [_md(t(language, "versions_title", name=product.name, code=product.code))]
    if not table.rows:
        blocks.append(_context(t(language, "versions_empty")))
    else:
        lines = [t(language, "versions_header")] + [
            t(
                language,
                "version_line",
                id=v.id,
                software=v.software_version or "-",
                date=_date(v.modified_at),
                status=t(language, f"status_{v.status.value}"),
                copy=v.copy_id or "-",
            )
            for v in table.rows
        ]
        blocks.append(_md("\n".join(lines)))
        if table.total > len(table.rows):
            blocks.append(_context(t(language, "versions_more", n=table.total - len(table.rows))))
    return [b.to_dict() for b in blocks]


def products_list(language: str, lines: Sequence[ProductLine]) -> list[dict[str, Any]]:
    if not lines:
        return [_md(t(language, "no_products")).to_dict()]
    rows = [
        t(
            language,
            "product_line",
            name=line.product.name,
            code=line.product.code,
            last=(line.last_available.software_version or line.last_available.id)
            if line.last_available
            else t(language, "none"),
            date=_date(line.product.modified_at),
        )
        for line in lines[:40]
    ]
    blocks: list[Block] = [_md(t(language, "products_title"))]
    blocks += [_md(row) for row in rows]
    return [b.to_dict() for b in blocks]


def help_blocks(language: str) -> list[dict[str, Any]]:
    return [_md(t(language, "help")).to_dict(), DividerBlock().to_dict()]

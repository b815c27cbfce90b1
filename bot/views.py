"""Block Kit builders. Views go through slack_sdk's models so Slack's limits (lengths, block
counts) fail here, in the bot, rather than as an opaque error from views.open.

User text reaches a view only through commands.notifications.slack_text (escaped for mrkdwn,
clipped with a visible "…"); the bot's own labels are never clipped: each must fit its place."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    Block,
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
from commands.model import (
    LIMITS,
    Omi,
    Product,
    ScheduleState,
    Version,
    VersionForm,
)
from commands.notifications.slack_text import clip_mrkdwn, mrkdwn, plain
from commands.services import ProductLine, VersionsTable

FORM_CALLBACK = "version_form"
PICK_CALLBACK = "pick_product"

OMI_ACTION = "omi_select"
PICK_ACTION = "product_select"
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

# Slack's limits on the texts the views use (Block Kit reference).
TITLE, BUTTON, OPTION, LABEL, PLACEHOLDER, TEXT = 24, 75, 75, 2000, 150, 3000


def _label(text: str, limit: int = LABEL) -> PlainTextObject:
    """A label the bot wrote. It must fit as it is, in every language: a label cut short reads
    as a bug, so a text too long fails here (and in the label tests) instead."""
    if not text or len(text) > limit:
        raise ValueError(f"label {text!r} does not fit Slack's {limit} characters")
    return PlainTextObject(text=text, emoji=True)


def _typed(text: str, limit: int) -> PlainTextObject:
    """Plain text that comes from people or the cloud (names, OMI names): clipped with "…"."""
    return PlainTextObject(text=plain(text, limit) or "-", emoji=False)


def _md(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip_mrkdwn(text, TEXT)))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip_mrkdwn(text, TEXT))])


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
        title=_label(title, TITLE),
        submit=_label(submit, TITLE) if submit else None,
        close=_label(close, TITLE) if close else None,
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


def loading() -> dict[str, Any]:
    """What a trigger opens at once, before the user's language is known."""
    return modal(t("en", "loading_title"), [_md(t("en", "loading"))])


def working(language: str, text: str) -> dict[str, Any]:
    """A modal's answer while the slow part (the cloud, Slack's Web API) runs after it."""
    return modal(t(language, "loading_title"), [_md(text)])


def notice(language: str, title: str, text: str) -> dict[str, Any]:
    """`text` is mrkdwn the bot made (a t() text, or a message through slack_text)."""
    return modal(title, [_md(text)], close=t(language, "close"))


def refused(language: str, message: str) -> dict[str, Any]:
    """A refusal from the core, whose messages may quote what the user typed."""
    return notice(language, t(language, "refused_title"), mrkdwn(message))


def omi_option(omi: Omi) -> dict[str, Any]:
    name = plain(omi.name)
    label = f"{name} ({omi.image_id})" if name else omi.image_id
    if len(label) > OPTION:  # the ID must stay visible
        label = f"{name[: OPTION - len(omi.image_id) - 4]}… ({omi.image_id})"
    return Option(text=_typed(label, OPTION), value=omi.image_id).to_dict()


def product_picker(
    language: str, products: Sequence[ProductLine], meta: dict[str, Any]
) -> dict[str, Any]:
    options = [
        Option(text=_typed(f"{p.product.name} ({p.product.code})", OPTION), value=p.product.code)
        for p in products[:MAX_OPTIONS]
    ]
    block = InputBlock(
        block_id="product",
        label=_label(t(language, "pick_product")),
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
        label=_label(field_label(language, field)),
        element=PlainTextInputElement(
            action_id=VALUE,
            # What the user typed, given back as it is: an input shows no markup.
            initial_value=value[:limit] or None,
            multiline=multiline,
            max_length=limit,
        ),
        hint=_label(hint) if hint else None,
        optional=optional,
    )


def version_form(
    language: str,
    product: Product,
    form: VersionForm,
    meta: dict[str, Any],
    version: Version | None = None,
    *,
    errors: dict[str, str] | None = None,
    omi: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """R3: the Version form; for a published version (modify) the OMI is shown, not asked (R5).
    Shown again after a check that ran once the modal had its answer, `errors` (field name to
    message) sit under their fields and `omi` is the option picked before."""
    errors = errors or {}
    blocks: list[Block] = []
    if version is None:
        blocks.append(_context(t(language, "form_product", name=product.name, code=product.code)))
        blocks.append(
            InputBlock(
                block_id="omi",
                label=_label(field_label(language, "omi")),
                element=ExternalDataSelectElement(
                    action_id=OMI_ACTION,
                    min_query_length=0,
                    initial_option=Option(
                        text=_typed(str((omi.get("text") or {}).get("text") or ""), OPTION),
                        value=str(omi["value"]),
                    )
                    if omi
                    else None,
                ),
                hint=_label(t(language, "field_omi_hint", code=product.code)),
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

    def error_under(field: str) -> None:
        if field in errors:
            blocks.append(_context(t(language, "form_error", message=errors[field])))

    error_under("omi")
    for field, multiline, optional in (
        ("software_version", False, True),
        ("operating_system", False, True),
        ("software_base", True, True),
        ("release_note", True, False),
        ("instructions", True, True),
    ):
        value = "\n".join(form.software_base) if field == "software_base" else getattr(form, field)
        blocks.append(
            _text_input(language, field, value, multiline=multiline, optional=optional)
        )
        error_under(field)
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

    selected = picked_omi(view) or {}
    return VersionForm(
        omi=str(selected.get("value") or ""),
        software_version=text("software_version"),
        operating_system=text("operating_system"),
        software_base=tuple(line for line in text("software_base").splitlines() if line.strip()),
        release_note=text("release_note"),
        instructions=text("instructions"),
    )


def picked_omi(view: dict[str, Any]) -> dict[str, Any] | None:
    """The OMI option picked in a submitted Version form, as Slack sent it back."""
    values: dict[str, Any] = view.get("state", {}).get("values", {})
    selected = (values.get("omi", {}).get(OMI_ACTION) or {}).get("selected_option")
    return selected if isinstance(selected, dict) and selected.get("value") else None


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
                status=_status(language, v, table),
                copy=v.copy_id or "-",
            )
            for v in table.rows
        ]
        blocks.append(_md("\n".join(lines)))
        if table.total > len(table.rows):
            blocks.append(_context(t(language, "versions_more", n=table.total - len(table.rows))))
    return [b.to_dict() for b in blocks]


def _status(language: str, version: Version, table: VersionsTable) -> str:
    """`published`, or `published · unpublish on 2026-12-01` / `· blocked by R7`."""
    status = t(language, f"status_{version.status.value}")
    schedule = table.schedule_of(version)
    if schedule is None:
        return status
    if schedule.state is ScheduleState.BLOCKED:
        return f"{status} · {t(language, 'schedule_blocked')}"
    return f"{status} · {t(language, 'schedule_on', date=schedule.unpublish_on.isoformat())}"


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

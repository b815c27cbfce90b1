"""Block Kit of an unpublication's date: the form that asks when (a date at least the
product's notice period away, or "now"), and how it is read back."""

from __future__ import annotations

from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    DatePickerElement,
    InputBlock,
    Option,
    RadioButtonsElement,
)

from bot.texts import t
from bot.views import LABEL, OPTION, _label, _md, modal
from commands.model import Product, Version

UNPUBLISH_CALLBACK = "unpublish_when"
WHEN_ACTION = "when"
DATE_ACTION = "date"


def unpublish_form(
    language: str,
    product: Product,
    version: Version | None,
    today: date,
    *,
    allow_now: bool,
    meta: dict[str, Any],
) -> dict[str, Any]:
    """When to unpublish: a date at least the notice period away, or "now" where the product
    has no notice period and the user is one of its release managers."""
    earliest = product.earliest_unpublish_date(today)
    if version is None:
        what = t(language, "unpublish_what_product", name=product.name, code=product.code)
    else:
        what = t(
            language,
            "unpublish_what_version",
            id=version.id,
            software=version.software_version or "-",
            name=product.name,
            code=product.code,
        )
    blocks: list[Block] = [_md(what)]
    if allow_now:
        now_option = Option(text=_label(t(language, "when_now"), OPTION), value="now")
        blocks.append(
            InputBlock(
                block_id="when",
                label=_label(t(language, "when_label")),
                element=RadioButtonsElement(
                    action_id=WHEN_ACTION,
                    options=[
                        Option(text=_label(t(language, "when_date"), OPTION), value="date"),
                        now_option,
                    ],
                    initial_option=now_option if product.notice_days == 0 else None,
                ),
            )
        )
    reminders = ", ".join(str(d) for d in product.reminder_days) or "-"
    blocks.append(
        InputBlock(
            block_id="date",
            label=_label(t(language, "date_label")),
            element=DatePickerElement(action_id=DATE_ACTION, initial_date=earliest.isoformat()),
            hint=_label(
                t(
                    language,
                    "date_hint",
                    n=product.notice_days,
                    date=earliest.isoformat(),
                    reminders=reminders,
                ),
                LABEL,
            ),
            optional=allow_now,
        )
    )
    return modal(
        t(language, "unpublish_title"),
        blocks,
        callback_id=UNPUBLISH_CALLBACK,
        submit=t(language, "unpublish_submit"),
        close=t(language, "cancel"),
        metadata=meta,
    )


def read_when(view: dict[str, Any]) -> tuple[bool, str]:
    """(now, the picked date as typed, possibly empty) of the unpublish form."""
    values: dict[str, Any] = view.get("state", {}).get("values", {})
    picked = (values.get("when", {}).get(WHEN_ACTION) or {}).get("selected_option") or {}
    day = (values.get("date", {}).get(DATE_ACTION) or {}).get("selected_date") or ""
    return picked.get("value") == "now", str(day)

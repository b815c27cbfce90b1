"""Drift between the Versions table and the cloud, told to the release managers with
*Repair*; and a version found broken, whose copy and source OMI are both gone, so that only a
new version can replace it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
)

from commands.model import Product
from commands.notifications.managers.messages import Message, compose, label, section, text
from commands.notifications.managers.posting import post
from commands.notifications.slack_text import mrkdwn
from storage.uow import UnitOfWork

REPAIR_ACTION = "repair_drift"


def drift_message(language: str, product: Product, lines: Sequence[str]) -> Message:
    """New findings of one drift check, with *Repair*."""
    head = text(language, "drift", name=mrkdwn(product.name), code=mrkdwn(product.code))
    shown = [f"• {mrkdwn(line)}" for line in lines[:20]]
    if len(lines) > 20:
        shown.append(text(language, "drift_more", n=len(lines) - 20))
    said = "\n".join([head, *shown])
    repair = ButtonElement(
        action_id=REPAIR_ACTION,
        text=label(text(language, "repair")),
        value=product.code,
        style="primary",
    )
    return compose(
        said,
        section(said),
        ContextBlock(elements=[MarkdownTextObject(text=text(language, "drift_hint"))]),
        ActionsBlock(block_id=f"drift-{product.code}", elements=[repair]),
    )


def broken_message(language: str, product: Product, version_id: str, omi_id: str) -> Message:
    said = text(
        language,
        "broken",
        version=mrkdwn(version_id),
        name=mrkdwn(product.name),
        code=mrkdwn(product.code),
        omi=mrkdwn(omi_id),
    )
    return compose(said, section(said))


def drift_found(
    uow: UnitOfWork,
    product: Product,
    check_key: str,
    lines: Sequence[str],
    at: datetime,
    language: str = "en",
) -> None:
    message = drift_message(language, product, lines)
    post(uow, product, message, event="drift", key=check_key, at=at, language=language)


def version_broken(
    uow: UnitOfWork, product: Product, version_id: str, omi_id: str, at: datetime
) -> None:
    message = broken_message("en", product, version_id, omi_id)
    post(uow, product, message, event="broken", key=version_id, at=at, version_id=version_id)


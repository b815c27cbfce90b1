"""A scheduled unpublication, as the release managers see it: the date and *Cancel* under the
approved request, and the worker's word when the day came but R7 held the version back, or when
it ran late because no worker was running."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
)

from commands.model import Product
from commands.notifications.managers.messages import (
    Message,
    compose,
    label,
    section,
    text,
    what,
)
from commands.notifications.managers.posting import post
from commands.notifications.slack_text import mrkdwn
from storage.uow import UnitOfWork

CANCEL_SCHEDULE_ACTION = "cancel_schedule"


def cancel_button(language: str, schedule_id: int) -> ActionsBlock:
    """A release manager's *Cancel* of a scheduled or blocked unpublication."""
    return ActionsBlock(
        block_id=f"schedule-{schedule_id}",
        elements=[
            ButtonElement(
                action_id=CANCEL_SCHEDULE_ACTION,
                text=label(text(language, "cancel")),
                value=str(schedule_id),
                style="danger",
                confirm=ConfirmObject(
                    title=text(language, "cancel_title"),
                    text=text(language, "cancel_text"),
                    confirm=text(language, "cancel_yes"),
                    deny=text(language, "cancel_no"),
                ),
            )
        ],
    )


def scheduled_blocks(language: str, schedule_id: int, day: str) -> list[dict[str, Any]]:
    """What an approved scheduled request shows under it: the date and *Cancel*."""
    blocks: list[Block] = [
        ContextBlock(elements=[MarkdownTextObject(text=text(language, "scheduled", date=day))]),
        cancel_button(language, schedule_id),
    ]
    return [b.to_dict() for b in blocks]


def blocked_message(
    language: str, product: Product, schedule_id: int, version_id: str | None, day: str
) -> Message:
    said = text(
        language,
        "blocked",
        what=what(language, version_id),
        name=mrkdwn(product.name),
        code=mrkdwn(product.code),
        date=day,
    )
    return compose(said, section(said), cancel_button(language, schedule_id))


def late_message(
    language: str, product: Product, version_id: str | None, day: str, late: str
) -> Message:
    said = text(
        language,
        "late",
        what=what(language, version_id, lead=False),
        name=mrkdwn(product.name),
        code=mrkdwn(product.code),
        date=day,
        late=late,
    )
    return compose(said, section(said))


def blocked_by_r7(
    uow: UnitOfWork,
    product: Product,
    schedule_id: int,
    version_id: str | None,
    day: str,
    at: datetime,
    language: str = "en",
) -> None:
    message = blocked_message(language, product, schedule_id, version_id, day)
    post(
        uow,
        product,
        message,
        event="blocked",
        key=str(schedule_id),
        at=at,
        language=language,
        version_id=version_id,
    )


def ran_late(
    uow: UnitOfWork,
    product: Product,
    schedule_id: int,
    version_id: str | None,
    day: str,
    late: str,
    at: datetime,
    language: str = "en",
) -> None:
    message = late_message(language, product, version_id, day, late)
    post(
        uow,
        product,
        message,
        event="late",
        key=str(schedule_id),
        at=at,
        language=language,
        version_id=version_id,
    )


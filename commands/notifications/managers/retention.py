"""A retention proposal: a product has more published versions than it keeps, and the worker
asks the release managers to unpublish the oldest, with the message and buttons of any
unpublication request, since approving the proposal is approving a request."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import ActionsBlock, ButtonElement

from commands.model import Product, Version
from commands.notifications.managers.messages import Message, compose, label, section, text
from commands.notifications.managers.posting import post
from commands.notifications.slack_text import mrkdwn
from storage.uow import UnitOfWork

# The request message's buttons (bot/approvals.py uses the same): a retention proposal posted by
# the worker is approved or rejected as any request is.
APPROVE_ACTION = "approve_request"
REJECT_ACTION = "reject_request"
# What an approval would send and do, opened from the same message (bot/preview.py).
PREVIEW_ACTION = "preview_request"


def retention_message(
    language: str, product: Product, request_id: int, version: Version, day: str
) -> Message:
    """A retention proposal: the request message, pre-filled, with *Approve* and *Reject*."""
    said = text(
        language,
        "retention",
        name=mrkdwn(product.name),
        code=mrkdwn(product.code),
        keep=product.keep_published,
        count=len(product.published_versions()),
        version=mrkdwn(version.id),
        software=mrkdwn(version.software_version or "-"),
        date=day,
        id=request_id,
    )
    decision = ActionsBlock(
        block_id="decision",
        elements=[
            ButtonElement(
                action_id=APPROVE_ACTION,
                text=label(text(language, "approve")),
                value=str(request_id),
                style="primary",
            ),
            ButtonElement(
                action_id=REJECT_ACTION,
                text=label(text(language, "reject")),
                value=str(request_id),
                style="danger",
            ),
            ButtonElement(
                action_id=PREVIEW_ACTION,
                text=label(text(language, "preview")),
                value=str(request_id),
            ),
        ],
    )
    return compose(said, section(said), decision)


def retention_request(
    uow: UnitOfWork,
    product: Product,
    request_id: int,
    version: Version,
    day: str,
    at: datetime,
) -> None:
    message = retention_message("en", product, request_id, version, day)
    post(
        uow,
        product,
        message,
        event="request",
        key=str(request_id),
        at=at,
        version_id=version.id,
        request_id=request_id,
    )

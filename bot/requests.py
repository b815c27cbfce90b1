"""The request message release managers decide from, the same wherever the request was asked:
posted by the bot for a request made in Slack, queued to the outbox for one made from the CLI."""

from __future__ import annotations

from typing import Any

from bot import approvals
from bot.texts import t
from commands import services
from commands.bootstrap import Core
from commands.model import Product, Request, RequestKind


def request_message(
    core: Core,
    request: Request,
    lang: str,
    context: tuple[Product, services.Audience] | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """The fallback text and the blocks (with *Approve* and *Reject*) of a request's message;
    `context`: its product and audience, when the caller has read them
    (services.request_context)."""
    product, audience = context or services.request_context(core, request)
    previous = product.last_created_version() if request.kind is RequestKind.PUBLISH else None
    version = (
        product.version(request.version_id)
        if request.kind is RequestKind.UNPUBLISH and request.version_id
        else None
    )
    blocks = approvals.request_blocks(
        lang, request, product, audience, previous=previous, version=version
    )
    return t(lang, "sent_for_approval", id=request.id, code=product.code), blocks

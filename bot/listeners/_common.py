"""What the listeners share: the core and the user's language from the Bolt context, who
belongs to a product's release manager group, and the request message in the approval place."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import views
from bot.locale import Locales
from bot.texts import t
from commands import services
from commands.bootstrap import Core
from commands.model import Product, Request, RequestKind

logger = logging.getLogger("bot.listeners")


def core_of(context: BoltContext) -> Core:
    return context["core"]  # type: ignore[no-any-return]


def language(context: BoltContext, client: WebClient, user_id: str) -> str:
    locales: Locales = context["locales"]
    return locales.language(client, user_id)


def groups_of(client: WebClient, product: Product, user_id: str) -> list[str]:
    """The product's release manager group, if the user is in it now (by ID, at click time)."""
    group = product.release_manager_group
    if not group:
        return []
    try:
        members = client.usergroups_users_list(usergroup=group)["users"] or []
    except SlackApiError as exc:
        logger.warning("usergroups.users.list failed: %s", exc.response.get("error"))
        return []
    return [group] if user_id in members else []


def tell(client: WebClient, user_id: str, text: str, channel: str | None = None) -> None:
    """An answer only this user sees: ephemeral where they are, else a direct message."""
    try:
        if channel:
            client.chat_postEphemeral(channel=channel, user=user_id, text=text)
        else:
            client.chat_postMessage(channel=user_id, text=text)
    except SlackApiError as exc:
        if not channel:
            logger.warning("could not tell a user: %s", exc.response.get("error"))
            return
        # Ephemeral messages fail where the bot is not a member (a DM with someone else).
        tell(client, user_id, text)


def post_request(
    client: WebClient, core: Core, request: Request, lang: str, origin: str | None
) -> None:
    """Shows the request where the product's release managers are and remembers where."""
    product, _ = services.new_form(core, request.product_code)
    audience = services.audience(core, product.code)
    previous = product.last_created_version() if request.kind is RequestKind.PUBLISH else None
    version = (
        product.version(request.version_id)
        if request.kind is RequestKind.UNPUBLISH and request.version_id
        else None
    )
    blocks = views.request_blocks(
        lang, request, product, audience, previous=previous, version=version
    )
    text = t(lang, "sent_for_approval", id=request.id, code=product.code)
    places = [product.approval_channel] if product.approval_channel else []
    if not places:
        for manager in product.release_managers:
            try:
                places.append(client.conversations_open(users=manager)["channel"]["id"])
            except SlackApiError as exc:
                logger.warning("conversations.open failed: %s", exc.response.get("error"))
    messages: list[list[str]] = []
    for place in places:
        try:
            posted = client.chat_postMessage(channel=place, text=text, blocks=blocks)
            messages.append([str(posted["channel"]), str(posted["ts"])])
        except SlackApiError as exc:
            logger.warning("request could not be posted: %s", exc.response.get("error"))
    surface: dict[str, Any] = {"lang": lang, "messages": messages, "blocks": blocks}
    if origin:
        surface["origin"] = origin
    if messages:
        surface["channel"], surface["ts"] = messages[0]
    services.record_surface(core, request.id, surface)


def settle(client: WebClient, request: Request, outcome: str) -> None:
    """The request message, updated in place: its buttons become the outcome."""
    surface = request.surface or {}
    blocks = views.decided_blocks(list(surface.get("blocks") or []), outcome)  # type: ignore[arg-type]
    for channel, ts in surface.get("messages") or []:  # type: ignore[union-attr]
        try:
            client.chat_update(channel=channel, ts=ts, text=outcome, blocks=blocks)
        except SlackApiError as exc:
            logger.warning("chat.update failed: %s", exc.response.get("error"))


def request_language(request: Request) -> str:
    return str((request.surface or {}).get("lang") or "en")

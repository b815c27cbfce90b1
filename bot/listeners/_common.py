"""What the listeners share: the core and the caches from the Bolt context, who is acting (a
Slack user and the release manager groups they are in), the work that follows an
acknowledgement, and the request message in the approval place.

A listener answers Slack (ack) from the payload and the database only; whatever may wait on
OUTSCALE or on Slack's Web API (users.info, usergroups.users.list, posts) runs `later`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import approvals, views
from bot.groups import Groups
from bot.locale import Locales
from bot.omis import OmiMenus
from bot.requests import request_message
from bot.texts import t
from commands import services
from commands.bootstrap import Core
from commands.errors import OmiError, database_unavailable
from commands.model import Actor, Request, slack_user_id
from commands.notifications.slack_text import Escaped, mrkdwn

logger = logging.getLogger("bot.listeners")


def core_of(context: BoltContext) -> Core:
    return context["core"]  # type: ignore[no-any-return]


def omis_of(context: BoltContext) -> OmiMenus:
    return context["omis"]  # type: ignore[no-any-return]


def later(context: BoltContext, fn: Callable[[], None]) -> None:
    """Run `fn` once the request has its answer, off Bolt's acknowledging threads."""
    context["later"](fn)


def claimed(context: BoltContext) -> bool:
    """For a listener about to write before its answer: takes the request's delivery now.
    False for a copy of one already taken (answer it with an empty acknowledgement);
    DatabaseUnavailable when the database cannot say."""
    return bool(context["claim"]())


def language(context: BoltContext, client: WebClient, user_id: str) -> str:
    """Asks Slack (cached): call it after the acknowledgement only."""
    locales: Locales = context["locales"]
    return locales.language(client, user_id)


def actor(context: BoltContext, client: WebClient, user_id: str, name: str = "") -> Actor:
    """The Slack user with the release manager groups they are in now. Asks Slack (cached):
    call it after the acknowledgement only. `name` (from the payload) is for the audit trail."""
    groups: Groups = context["groups"]
    core = core_of(context)
    wanted = groups.wanted(lambda: services.release_manager_groups(core))
    return Actor.slack_user(user_id, groups.member_of(client, user_id, wanted), name=name)


def user_name(body: dict[str, Any]) -> str:
    """The user's name as the payload gives it (the audit trail shows it beside the ID); it
    never decides anything."""
    user = body.get("user")
    if isinstance(user, dict):
        return str(user.get("username") or user.get("name") or "")[:200]
    return str(body.get("user_name") or "")[:200]


def failure(lang: str, error: Exception, what: str) -> str:
    """What to tell a person whose request failed for no fault of theirs. The database out of
    reach, or a statement cut off at its time limit (a lock held elsewhere), is no bug:
    nothing was done, they are told to try again, and one line is logged. Anything else is
    logged with its traceback. Call it from the `except` block."""
    unavailable = database_unavailable(error)
    if unavailable is not None:
        logger.warning(
            "%s: the database is unavailable (%s); told to try again", what, unavailable.reason
        )
        return t(lang, "database_down")
    logger.exception(what)
    return t(lang, "failed")


def refusal(error: OmiError) -> Escaped:
    """A core error's message for mrkdwn: it may quote what the user typed."""
    return mrkdwn(str(error))


def open_loading(client: WebClient, trigger_id: str) -> tuple[str, str]:
    """The trigger expires 3 seconds after the click: a modal opens first, in no language yet,
    and is filled once the language and the database have answered."""
    opened = client.views_open(trigger_id=trigger_id, view=views.loading())
    return str(opened["view"]["id"]), str(opened["view"]["hash"])


def tell(client: WebClient, user_id: str, text: str, channel: str | None = None) -> None:
    """An answer only this user sees: ephemeral where they are, else a direct message. A
    requester who asked from the CLI has no Slack user to message."""
    if not channel and slack_user_id(user_id) is None:
        return
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
    context = services.request_context(core, request)
    product = context[0]
    text, blocks = request_message(core, request, lang, context)
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


def settle(
    client: WebClient,
    request: Request,
    outcome: str,
    extra: list[dict[str, Any]] | None = None,
) -> None:
    """The request message, updated in place: its buttons become the outcome (and `extra`,
    such as a scheduled unpublication's *Cancel*)."""
    surface = request.surface or {}
    blocks = approvals.decided_blocks(list(surface.get("blocks") or []), outcome)  # type: ignore[arg-type]
    blocks += extra or []
    for channel, ts in surface.get("messages") or []:  # type: ignore[union-attr]
        try:
            client.chat_update(channel=channel, ts=ts, text=outcome, blocks=blocks)
        except SlackApiError as exc:
            logger.warning("chat.update failed: %s", exc.response.get("error"))


def request_language(request: Request) -> str:
    return str((request.surface or {}).get("lang") or "en")

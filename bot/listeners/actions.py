"""Buttons and selects: Approve and Reject on a request message, the product picker, Cancel on
a scheduled unpublication, Repair on a drift report."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot import approvals, views
from bot.listeners._common import (
    actor,
    core_of,
    failure,
    language,
    later,
    logger,
    omis_of,
    open_loading,
    refusal,
    tell,
    user_name,
)
from bot.texts import t
from commands import drift, services
from commands.errors import UserError
from commands.notifications import managers
from commands.notifications.slack_text import mention


def register(app: App) -> None:
    app.action(approvals.APPROVE_ACTION)(on_decision)
    app.action(approvals.REJECT_ACTION)(on_decision)
    app.action(views.PICK_ACTION)(on_pick)
    app.action(managers.CANCEL_SCHEDULE_ACTION)(on_cancel_schedule)
    app.action(managers.REPAIR_ACTION)(on_repair)


def on_decision(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    ack()
    later(context, lambda: decide(body, action, client, context))


def decide(
    body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Only a release manager of the product, never the requester, and only while the request
    waits: refused in the modal the click opens, before the confirmation or the reason form."""
    user = body["user"]["id"]
    view_id, view_hash = open_loading(client, body["trigger_id"])
    lang = language(context, client, user)
    core = core_of(context)
    try:
        request, product, audience = services.check_decision(
            core, int(action.get("value") or 0), by=actor(context, client, user, user_name(body))
        )
        meta = {"request": request.id, "lang": lang}
        if action["action_id"] == approvals.APPROVE_ACTION:
            view = approvals.confirm_approve(lang, request, product, audience, meta)
        else:
            view = approvals.reject_form(lang, meta)
    except UserError as refused:
        view = views.refused(lang, str(refused))
    except Exception as error:
        view = views.refused(lang, failure(lang, error, "decision button failed"))
    client.views_update(view_id=view_id, hash=view_hash, view=view)


def on_pick(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    ack()
    later(context, lambda: picked(body, action, client, context))


def picked(
    body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    view = body.get("view") or {}
    meta = views.metadata(view)
    lang = str(meta.get("lang") or "en")
    code = str((action.get("selected_option") or {}).get("value") or "")
    core = core_of(context)
    try:
        product, form = services.new_form(core, code)
        omis_of(context).prefetch(core, product.code)
        new_view = views.version_form(lang, product, form, {**meta, "product": product.code})
    except UserError as refused:
        new_view = views.refused(lang, str(refused))
    except Exception as error:
        new_view = views.refused(lang, failure(lang, error, "product pick failed"))
    client.views_update(view_id=view.get("id"), hash=view.get("hash"), view=new_view)


def on_cancel_schedule(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    ack()
    later(context, lambda: cancel_schedule(body, action, client, context))


def cancel_schedule(
    body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """A release manager cancels a scheduled (or R7-blocked) unpublication; the message the
    button was on loses it and says who cancelled."""
    user = body["user"]["id"]
    channel = (body.get("channel") or {}).get("id")
    lang = language(context, client, user)
    try:
        services.cancel_unpublication(
            core_of(context),
            int(action.get("value") or 0),
            by=actor(context, client, user, user_name(body)),
        )
    except UserError as refused:
        tell(client, user, refusal(refused), channel)
        return
    except Exception as error:
        tell(client, user, failure(lang, error, "cancel button failed"), channel)
        return
    _settle_message(client, body, t(lang, "cancelled_by", user=mention(user)))


def on_repair(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    ack()
    later(context, lambda: repair(body, action, client, context))


def repair(
    body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """A release manager asks to repair a product's drift: the jobs are queued and the report
    says who asked; a second click queues nothing more."""
    user = body["user"]["id"]
    channel = (body.get("channel") or {}).get("id")
    lang = language(context, client, user)
    code = str(action.get("value") or "")
    try:
        jobs = drift.repair(
            core_of(context), code, by=actor(context, client, user, user_name(body))
        )
    except UserError as refused:
        tell(client, user, refusal(refused), channel)
        return
    except Exception as error:
        tell(client, user, failure(lang, error, "repair button failed"), channel)
        return
    if not jobs:
        tell(client, user, t(lang, "repair_nothing", code=code), channel)
        return
    outcome = t(lang, "repair_queued", code=code, user=mention(user), n=len(jobs))
    _settle_message(client, body, outcome)


def _settle_message(client: WebClient, body: dict[str, Any], outcome: str) -> None:
    """The message whose button was clicked loses its buttons and says what came of it."""
    channel = (body.get("channel") or {}).get("id")
    message = body.get("message") or {}
    if not channel or not message.get("ts"):
        return
    blocks = approvals.decided_blocks(list(message.get("blocks") or []), outcome)
    try:
        client.chat_update(channel=channel, ts=message["ts"], text=outcome, blocks=blocks)
    except Exception:
        logger.exception("chat.update of a clicked message failed")

"""Buttons and selects: Approve and Reject on a request message, the product picker."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot import views
from bot.listeners._common import (
    actor,
    core_of,
    language,
    later,
    logger,
    omis_of,
    open_loading,
)
from bot.texts import t
from commands import services
from commands.errors import UserError


def register(app: App) -> None:
    app.action(views.APPROVE_ACTION)(on_decision)
    app.action(views.REJECT_ACTION)(on_decision)
    app.action(views.PICK_ACTION)(on_pick)


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
        request, product = services.check_decision(
            core, int(action.get("value") or 0), by=actor(context, client, user)
        )
        meta = {"request": request.id, "lang": lang}
        if action["action_id"] == views.APPROVE_ACTION:
            audience = services.audience(core, product.code)
            view = views.confirm_approve(lang, request, product, audience, meta)
        else:
            view = views.reject_form(lang, meta)
    except UserError as refused:
        view = views.refused(lang, str(refused))
    except Exception:
        logger.exception("decision button failed")
        view = views.refused(lang, t(lang, "failed"))
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
    except Exception:
        logger.exception("product pick failed")
        new_view = views.refused(lang, t(lang, "failed"))
    client.views_update(view_id=view.get("id"), hash=view.get("hash"), view=new_view)

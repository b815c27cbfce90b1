"""Buttons and selects: Approve and Reject on a request message, the product picker."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot import views
from bot.listeners._common import core_of, groups_of, language, logger, tell
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
    user = body["user"]["id"]
    channel = (body.get("channel") or {}).get("id")
    lang = language(context, client, user)
    core = core_of(context)
    try:
        request = services.get_request(core, int(action.get("value") or 0))
        product, _ = services.new_form(core, request.product_code)
        # Refused before any modal opens (not a release manager, own request, decided): the
        # core says why and is asked again on submission, where it decides for good.
        request.check_decidable(product, user, groups_of(client, product, user))
        meta = {"request": request.id}
        if action["action_id"] == views.APPROVE_ACTION:
            audience = services.audience(core, product.code)
            view = views.confirm_approve(lang, request, product, audience, meta)
        else:
            view = views.reject_form(lang, meta)
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except UserError as refused:
        tell(client, user, str(refused), channel)
    except Exception:
        logger.exception("decision button failed")
        tell(client, user, t(lang, "failed"), channel)


def on_pick(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    ack()
    view = body.get("view") or {}
    meta = views.metadata(view)
    lang = str(meta.get("lang") or "en")
    code = str((action.get("selected_option") or {}).get("value") or "")
    try:
        product, form = services.new_form(core_of(context), code)
        new_view = views.version_form(lang, product, form, {**meta, "product": product.code})
    except UserError as refused:
        new_view = views.notice(lang, t(lang, "refused_title"), str(refused))
    except Exception:
        logger.exception("product pick failed")
        new_view = views.notice(lang, t(lang, "refused_title"), t(lang, "failed"))
    client.views_update(view_id=view.get("id"), hash=view.get("hash"), view=new_view)

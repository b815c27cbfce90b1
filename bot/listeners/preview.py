"""*Preview* on a request message: the modal of what an approval would send and do, and the
recipients' list pushed over it. A loading view opens at once (the trigger expires 3 seconds
after the click); the preview is built and shown after the acknowledgement."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot import preview as previews
from bot import views
from bot.listeners._common import actor, core_of, failure, language, later, open_loading
from commands.errors import UserError
from commands.notifications import managers
from commands.preview import Preview, preview_request


def register(app: App) -> None:
    app.action(managers.PREVIEW_ACTION)(on_preview)
    app.action(previews.RECIPIENTS_ACTION)(on_recipients)


def on_preview(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    ack()
    later(context, lambda: show(body, action, client, context, previews.preview_view, push=False))


def on_recipients(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    ack()
    later(context, lambda: show(body, action, client, context, previews.recipients_view, push=True))


def show(
    body: dict[str, Any],
    action: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    build: Callable[[str, Preview], dict[str, Any]],
    *,
    push: bool,
) -> None:
    """Those who may see the request (its product's release managers) see its preview; anyone
    else is told so in the modal the click opened."""
    user = body["user"]["id"]
    if push:
        opened = client.views_push(trigger_id=body["trigger_id"], view=views.loading())
        view_id, view_hash = str(opened["view"]["id"]), str(opened["view"]["hash"])
    else:
        view_id, view_hash = open_loading(client, body["trigger_id"])
    lang = language(context, client, user)
    try:
        value = str(action.get("value") or "")
        if not value.isdigit():
            raise UserError(f"{value!r} is not a request number.")
        found = preview_request(core_of(context), int(value), by=actor(context, client, user))
        view = build(lang, found)
    except UserError as refused:
        view = views.refused(lang, str(refused))
    except Exception as error:
        view = views.refused(lang, failure(lang, error, "preview failed"))
    client.views_update(view_id=view_id, hash=view_hash, view=view)

"""Events API listeners: App Home."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.home import publish_home
from bot.listeners._common import actor, core_of, language, later
from commands.errors import database_unavailable

__all__ = ["register"]

log = logging.getLogger("bot.listeners.events")


def app_home_opened(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    # The same event fires for the Messages tab; only the Home tab shows a view.
    if event.get("tab", "home") != "home":
        return
    user_id = str(event.get("user") or "")
    if user_id:
        later(context, lambda: show_home(client, context, user_id))


def show_home(client: WebClient, context: BoltContext, user_id: str) -> None:
    try:
        publish_home(
            client,
            core_of(context),
            actor(context, client, user_id),
            language(context, client, user_id),
        )
    except Exception as error:
        # Events get no reply to show an error in; the tab keeps its previous view. A database
        # out of reach (or a statement cut off at its limit) is no bug: one line, no traceback.
        unavailable = database_unavailable(error)
        if unavailable is None:
            log.exception("the Home tab could not be published")
        else:
            log.warning(
                "the Home tab could not be published: the database is unavailable (%s)",
                unavailable.reason,
            )


def register(app: App) -> None:
    app.event("app_home_opened")(app_home_opened)

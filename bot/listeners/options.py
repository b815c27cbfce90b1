"""Options of the Version form's OMI select (R2), answered from the OMIs held in memory
(bot.omis): an options load must be answered within Slack's 3 seconds, whatever OUTSCALE does."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot import views
from bot.listeners._common import core_of, omis_of


def register(app: App) -> None:
    app.options(views.OMI_ACTION)(on_omi_options)


def on_omi_options(
    ack: Ack, payload: dict[str, Any], body: dict[str, Any], context: BoltContext
) -> None:
    code = str(views.metadata(body.get("view") or {}).get("product") or "")
    typed = str(payload.get("value") or "")
    # An empty list tells the seller nothing matched; the submission explains why.
    ack(options=omis_of(context).matching(core_of(context), code, typed, views.MAX_OPTIONS))

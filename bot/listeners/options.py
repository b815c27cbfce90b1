"""Options of the Version form's OMI select, loaded as the seller types (R2)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot import views
from bot.listeners._common import core_of, logger
from commands import services


def register(app: App) -> None:
    app.options(views.OMI_ACTION)(on_omi_options)


def on_omi_options(
    ack: Ack, payload: dict[str, Any], body: dict[str, Any], context: BoltContext
) -> None:
    code = str(views.metadata(body.get("view") or {}).get("product") or "")
    typed = str(payload.get("value") or "").strip().lower()
    try:
        omis = services.selectable_omis(core_of(context), code)
    except Exception:
        # An empty list tells the seller nothing matched; the submission explains why.
        logger.exception("OMI options could not be loaded")
        ack(options=[])
        return
    matching = [o for o in omis if typed in o.image_id.lower() or typed in o.name.lower()]
    ack(options=[views.omi_option(o) for o in matching[: views.MAX_OPTIONS]])

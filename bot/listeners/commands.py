"""`/omi …`: acknowledged at once, the work follows after the acknowledgement."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot import views
from bot.listeners._common import core_of, language, logger, post_request
from bot.texts import t
from commands import services
from commands.errors import UserError


def register(app: App) -> None:
    app.command("/omi")(on_omi)


def on_omi(
    ack: Ack, command: dict[str, Any], client: WebClient, context: BoltContext, respond: Respond
) -> None:
    ack()
    user = command["user_id"]
    lang = language(context, client, user)
    words = str(command.get("text") or "").split()
    verb, args = (words[0].lower(), words[1:]) if words else ("help", [])
    try:
        if verb == "publish" and len(args) <= 1:
            open_publish(client, context, command, lang, args[0] if args else None)
        elif verb == "modify" and len(args) == 1:
            open_modify(client, context, command, lang, args[0])
        elif verb in ("unpublish", "unpublish-product") and len(args) == 1:
            ask_unpublish(client, context, command, respond, lang, verb, args[0])
        elif verb == "versions" and len(args) == 1:
            table = services.versions_table(core_of(context), args[0], limit=views.MAX_TABLE_ROWS)
            respond(
                text=t(lang, "versions_title", name=table.product.name, code=table.product.code),
                blocks=views.versions_table(lang, table),
                response_type="ephemeral",
            )
        elif verb == "products" and not args:
            lines = services.list_products(core_of(context))
            respond(
                text=t(lang, "products_title"),
                blocks=views.products_list(lang, lines),
                response_type="ephemeral",
            )
        else:
            respond(text=t(lang, "help"), blocks=views.help_blocks(lang), response_type="ephemeral")
    except UserError as refused:
        respond(text=str(refused), response_type="ephemeral")
    except Exception:
        logger.exception("/omi %s failed", verb)
        respond(text=t(lang, "failed"), response_type="ephemeral")


def _open_loading(client: WebClient, command: dict[str, Any], lang: str) -> tuple[str, str]:
    # The trigger expires 3 seconds after the click: open first, then read the database.
    opened = client.views_open(trigger_id=command["trigger_id"], view=views.loading(lang))
    return str(opened["view"]["id"]), str(opened["view"]["hash"])


def open_publish(
    client: WebClient,
    context: BoltContext,
    command: dict[str, Any],
    lang: str,
    code: str | None,
) -> None:
    view_id, view_hash = _open_loading(client, command, lang)
    core = core_of(context)
    meta: dict[str, Any] = {"mode": "publish", "channel": command.get("channel_id"), "lang": lang}
    try:
        if code is None:
            lines = services.list_products(core)
            if not lines:
                raise UserError(t(lang, "no_products"))
            if len(lines) > 1:
                view = views.product_picker(lang, lines, meta)
                client.views_update(view_id=view_id, hash=view_hash, view=view)
                return
            code = lines[0].product.code
        product, form = services.new_form(core, code)
        view = views.version_form(lang, product, form, {**meta, "product": product.code})
    except UserError as refused:
        view = views.notice(lang, t(lang, "refused_title"), str(refused))
    client.views_update(view_id=view_id, hash=view_hash, view=view)


def open_modify(
    client: WebClient, context: BoltContext, command: dict[str, Any], lang: str, version_id: str
) -> None:
    view_id, view_hash = _open_loading(client, command, lang)
    try:
        details = services.show_version(core_of(context), version_id)
        version, product = details.version, details.product
        meta = {
            "mode": "modify",
            "version": version.id,
            "product": product.code,
            "channel": command.get("channel_id"),
            "lang": lang,
        }
        view = views.version_form(lang, product, version.form(), meta, version=version)
    except UserError as refused:
        view = views.notice(lang, t(lang, "refused_title"), str(refused))
    client.views_update(view_id=view_id, hash=view_hash, view=view)


def ask_unpublish(
    client: WebClient,
    context: BoltContext,
    command: dict[str, Any],
    respond: Respond,
    lang: str,
    verb: str,
    ref: str,
) -> None:
    core = core_of(context)
    user = command["user_id"]
    if verb == "unpublish":
        request = services.request_unpublish(core, ref, requested_by=user)
    else:
        request = services.request_unpublish_product(core, ref, requested_by=user)
    post_request(client, core, request, lang, command.get("channel_id"))
    respond(
        text=t(lang, "sent_for_approval", id=request.id, code=request.product_code),
        response_type="ephemeral",
    )

"""`/omi …`: acknowledged at once; the rest runs after the acknowledgement, and a trigger is
used (views.open) before anything else there."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot import history, unpublication, views
from bot.groups import sealed
from bot.listeners._common import (
    actor,
    core_of,
    failure,
    language,
    later,
    omis_of,
    open_loading,
    refusal,
)
from bot.texts import t
from commands import services
from commands.errors import UserError, clipped


def register(app: App) -> None:
    app.command("/omi")(on_omi)


def on_omi(
    ack: Ack, command: dict[str, Any], client: WebClient, context: BoltContext, respond: Respond
) -> None:
    ack()
    words = str(command.get("text") or "").split()
    verb, args = (words[0].lower(), words[1:]) if words else ("help", [])
    later(context, lambda: answer(client, context, command, respond, verb, args))


def answer(
    client: WebClient,
    context: BoltContext,
    command: dict[str, Any],
    respond: Respond,
    verb: str,
    args: list[str],
) -> None:
    form = (verb == "publish" and len(args) <= 1) or (
        verb in ("modify", "unpublish", "unpublish-product") and len(args) == 1
    )
    opened: tuple[str, str] | None = None
    lang = "en"
    try:
        if form:
            opened = open_loading(client, command["trigger_id"])
        lang = language(context, client, command["user_id"])
        if opened is not None and verb == "publish":
            open_publish(client, context, command, lang, opened, args[0] if args else None)
        elif opened is not None and verb == "modify":
            open_modify(client, context, command, lang, opened, args[0])
        elif opened is not None:
            open_unpublish(client, context, command, lang, opened, verb, args[0])
        elif verb == "versions" and len(args) == 1:
            table = services.versions_table(core_of(context), args[0], limit=views.MAX_TABLE_ROWS)
            respond(
                text=t(lang, "versions_title", name=table.product.name, code=table.product.code),
                blocks=views.versions_table(lang, table),
                response_type="ephemeral",
            )
        elif verb == "version" and len(args) == 1:
            details = services.show_version(core_of(context), args[0], history_limit=history.SHOWN)
            respond(
                text=t(lang, "version_text", id=details.version.id),
                blocks=history.version_blocks(lang, details),
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
        respond(text=refusal(refused), response_type="ephemeral")
    except Exception as error:
        text = failure(lang, error, f"/omi {clipped(verb, 20)} failed")
        if opened is not None:
            client.views_update(view_id=opened[0], view=views.refused(lang, text))
        else:
            respond(text=text, response_type="ephemeral")


def open_publish(
    client: WebClient,
    context: BoltContext,
    command: dict[str, Any],
    lang: str,
    opened: tuple[str, str],
    code: str | None,
) -> None:
    """Anyone may ask for a publication: the Version form, or the product picker first."""
    core = core_of(context)
    meta: dict[str, Any] = {"mode": "publish", "channel": command.get("channel_id"), "lang": lang}
    try:
        if code is None:
            lines = services.list_products(core)
            if not lines:
                raise UserError(t(lang, "no_products"))
            if len(lines) > 1:
                view = views.product_picker(lang, lines, meta)
                client.views_update(view_id=opened[0], hash=opened[1], view=view)
                return
            code = lines[0].product.code
        product, form = services.new_form(core, code)
        omis_of(context).prefetch(core, product.code)
        view = views.version_form(lang, product, form, {**meta, "product": product.code})
    except UserError as refused:
        view = views.refused(lang, str(refused))
    client.views_update(view_id=opened[0], hash=opened[1], view=view)


def open_modify(
    client: WebClient,
    context: BoltContext,
    command: dict[str, Any],
    lang: str,
    opened: tuple[str, str],
    version_id: str,
) -> None:
    """Only a release manager of the product opens the form, and only for a published version
    (R6): refused here, before anything is typed."""
    user = command["user_id"]
    try:
        product, version = services.open_modification(
            core_of(context), version_id, by=actor(context, client, user)
        )
        meta = {
            "mode": "modify",
            "version": version.id,
            "product": product.code,
            "channel": command.get("channel_id"),
            "lang": lang,
        }
        view = views.version_form(lang, product, version.form(), meta, version=version)
    except UserError as refused:
        view = views.refused(lang, str(refused))
    client.views_update(view_id=opened[0], hash=opened[1], view=view)


def open_unpublish(
    client: WebClient,
    context: BoltContext,
    command: dict[str, Any],
    lang: str,
    opened: tuple[str, str],
    verb: str,
    ref: str,
) -> None:
    """Anyone may ask; a release manager decides. The form asks when: a date at least the
    notice period away, or "now" for a release manager of a product without notice. Who the
    user is (their release manager groups) is looked up here, after the modal is open, and
    carried to the submission so that nothing slow stands before its answer."""
    core = core_of(context)
    try:
        version = None
        if verb == "unpublish":
            product, version = services.open_unpublication(core, ref)
        else:
            product = services.open_product_unpublication(core, ref)
        who = actor(context, client, command["user_id"])
        meta = {
            "mode": verb,
            "product": product.code,
            "version": version.id if version else None,
            **sealed(client.token or "", command["user_id"], who.groups),
            "channel": command.get("channel_id"),
            "lang": lang,
        }
        view = unpublication.unpublish_form(
            lang,
            product,
            version,
            services.today(core),
            allow_now=product.notice_days == 0 and product.is_release_manager(who),
            meta=meta,
        )
    except UserError as refused:
        view = views.refused(lang, str(refused))
    client.views_update(view_id=opened[0], hash=opened[1], view=view)

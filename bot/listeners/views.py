"""Modal submissions: the Version form, the product picker, the approval confirmation and the
rejection reason. Work that decides what the modal shows runs before `ack`; the rest after."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot import views
from bot.listeners._common import (
    core_of,
    groups_of,
    language,
    logger,
    post_request,
    request_language,
    settle,
    tell,
)
from bot.texts import field_label, t
from commands import services
from commands.errors import CloudError, FormErrors, UserError
from commands.model import RequestKind, RequestState

FORM_BLOCKS = ("omi", *views.TEXT_FIELDS)


def register(app: App) -> None:
    app.view(views.FORM_CALLBACK)(on_version_form)
    app.view(views.PICK_CALLBACK)(on_pick_product)
    app.view(views.CONFIRM_CALLBACK)(on_confirm)
    app.view(views.REJECT_CALLBACK)(on_reject)


def _errors(fields: dict[str, str], blocks: tuple[str, ...], fallback: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, message in fields.items():
        block = name if name in blocks else fallback
        errors[block] = f"{errors[block]} {message}" if block in errors else message
    return errors


def on_version_form(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    meta = views.metadata(view)
    lang = str(meta.get("lang") or "en")
    user = body["user"]["id"]
    core = core_of(context)
    form = views.read_form(view)
    modifying = meta.get("mode") == "modify"
    # A modified version has no OMI input (R5): its refusals go on the first field.
    blocks = views.TEXT_FIELDS if modifying else FORM_BLOCKS
    fallback = "software_version" if modifying else "omi"
    try:
        if modifying:
            version, changed = services.modify(core, str(meta.get("version")), form, by=user)
        else:
            request = services.request_publication(
                core, str(meta.get("product")), form, requested_by=user
            )
    except FormErrors as bad:
        ack(response_action="errors", errors=_errors(bad.fields, blocks, fallback))
        return
    except UserError as refused:
        ack(response_action="errors", errors={fallback: str(refused)})
        return
    except CloudError as cloud:
        ack(response_action="errors", errors={fallback: t(lang, "cloud_error", message=cloud)})
        return
    except Exception:
        logger.exception("version form submission failed")
        ack(response_action="errors", errors={fallback: t(lang, "failed")})
        return
    ack()
    channel = meta.get("channel")
    try:
        if modifying:
            fields = ", ".join(field_label(lang, name) for name in changed)
            text = (
                t(lang, "modified", id=version.id, fields=fields)
                if changed
                else t(lang, "modified_nothing", id=version.id)
            )
            tell(client, user, text, channel)
        else:
            post_request(client, core, request, lang, channel)
            tell(
                client,
                user,
                t(lang, "sent_for_approval", id=request.id, code=request.product_code),
                channel,
            )
    except Exception:
        logger.exception("after the version form")
        tell(client, user, t(lang, "failed"), channel)


def on_pick_product(
    ack: Ack, view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    meta = views.metadata(view)
    lang = str(meta.get("lang") or "en")
    values = view.get("state", {}).get("values", {})
    picked = (values.get("product", {}).get(views.PICK_ACTION) or {}).get("selected_option") or {}
    try:
        product, form = services.new_form(core_of(context), str(picked.get("value") or ""))
    except UserError as refused:
        ack(response_action="errors", errors={"product": str(refused)})
        return
    ack(
        response_action="update",
        view=views.version_form(lang, product, form, {**meta, "product": product.code}),
    )


def on_confirm(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    meta = views.metadata(view)
    user = body["user"]["id"]
    lang = language(context, client, user)
    core = core_of(context)
    request_id = int(meta.get("request") or 0)
    try:
        request = services.get_request(core, request_id)
        product, _ = services.new_form(core, request.product_code)
        decision = services.approve(
            core, request_id, by=user, groups=groups_of(client, product, user)
        )
    except UserError as refused:
        ack(
            response_action="update",
            view=views.notice(lang, t(lang, "refused_title"), str(refused)),
        )
        _settle_failed(client, core, request_id)
        return
    except Exception:
        logger.exception("approval failed")
        ack(
            response_action="update",
            view=views.notice(lang, t(lang, "refused_title"), t(lang, "failed")),
        )
        return
    ack()
    request = decision.request
    rlang = request_language(request)
    settle(client, request, t(rlang, "approved_by", user=user))
    if request.kind is RequestKind.PUBLISH:
        told = t(
            rlang,
            "told_approved_publish",
            id=request.id,
            user=user,
            version=decision.versions[0].id,
            code=request.product_code,
        )
    else:
        told = t(
            rlang, "told_approved_unpublish", id=request.id, user=user, code=request.product_code
        )
    tell(client, request.requested_by, told)


def _settle_failed(client: WebClient, core: Any, request_id: int) -> None:
    """An approval the rules refused at the last moment marks the request failed: say so on
    its message so nobody clicks again."""
    try:
        request = services.get_request(core, request_id)
    except UserError:
        return
    if request.state is RequestState.FAILED and request.decided_by:
        rlang = request_language(request)
        settle(
            client,
            request,
            t(rlang, "failed_by", user=request.decided_by, reason=request.reason or "-"),
        )


def on_reject(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    meta = views.metadata(view)
    user = body["user"]["id"]
    lang = language(context, client, user)
    core = core_of(context)
    request_id = int(meta.get("request") or 0)
    values = view.get("state", {}).get("values", {})
    reason = str((values.get("reason", {}).get(views.VALUE) or {}).get("value") or "")
    try:
        request = services.get_request(core, request_id)
        product, _ = services.new_form(core, request.product_code)
        request = services.reject(
            core, request_id, by=user, reason=reason, groups=groups_of(client, product, user)
        )
    except UserError as refused:
        ack(response_action="errors", errors={"reason": str(refused)})
        return
    except Exception:
        logger.exception("rejection failed")
        ack(response_action="errors", errors={"reason": t(lang, "failed")})
        return
    ack()
    rlang = request_language(request)
    settle(client, request, t(rlang, "rejected_by", user=user, reason=request.reason or "-"))
    tell(
        client,
        request.requested_by,
        t(
            rlang,
            "told_rejected",
            id=request.id,
            code=request.product_code,
            user=user,
            reason=request.reason or "-",
        ),
    )

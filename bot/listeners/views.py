"""Modal submissions: the Version form, the product picker, the date of an unpublication, the
approval confirmation and the rejection reason.

Each is answered from the payload and the database: inline errors for what they can refuse,
else a "working" view. What may wait on OUTSCALE (the OMI check, R2) or on Slack's Web API
(group membership, posts) runs after that answer and updates the modal with the outcome."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot import approvals, unpublication, views
from bot.groups import unsealed
from bot.listeners._common import (
    actor,
    claimed,
    core_of,
    failure,
    later,
    logger,
    omis_of,
    post_request,
    request_language,
    settle,
    tell,
    user_name,
)
from bot.texts import field_label, t
from commands import services
from commands.errors import CloudError, FormErrors, UserError
from commands.model import Request, RequestKind, RequestState, Unpublication, VersionForm
from commands.notifications import managers
from commands.notifications.slack_text import mention

FORM_BLOCKS = ("omi", *views.TEXT_FIELDS)


def register(app: App) -> None:
    app.view(views.FORM_CALLBACK)(on_version_form)
    app.view(views.PICK_CALLBACK)(on_pick_product)
    app.view(approvals.CONFIRM_CALLBACK)(on_confirm)
    app.view(approvals.REJECT_CALLBACK)(on_reject)
    app.view(unpublication.UNPUBLISH_CALLBACK)(on_unpublish_when)


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
    core = core_of(context)
    form = views.read_form(view)
    modifying = meta.get("mode") == "modify"
    # A modified version has no OMI input (R5): its refusals go on the first field.
    blocks = views.TEXT_FIELDS if modifying else FORM_BLOCKS
    fallback = "software_version" if modifying else "omi"
    try:
        if modifying:
            form = form.cleaned()
        else:
            services.check_request(core, str(meta.get("product")), form)
    except FormErrors as bad:
        ack(response_action="errors", errors=_errors(bad.fields, blocks, fallback))
        return
    except UserError as refused:
        ack(response_action="errors", errors={fallback: str(refused)})
        return
    except Exception as error:
        text = failure(lang, error, "version form submission failed")
        ack(response_action="errors", errors={fallback: text})
        return
    user = body["user"]["id"]
    view_id = str(view.get("id"))
    if modifying:
        version_id = str(meta.get("version"))
        ack(response_action="update", view=views.working(lang, t(lang, "saving", id=version_id)))
        username = user_name(body)
        later(context, lambda: save(client, context, view_id, meta, form, user, username))
    else:
        omi = form.omi
        ack(response_action="update", view=views.working(lang, t(lang, "checking", omi=omi)))
        picked = views.picked_omi(view)
        username = user_name(body)
        later(context, lambda: ask(client, context, view_id, meta, form, picked, user, username))


def ask(
    client: WebClient,
    context: BoltContext,
    view_id: str,
    meta: dict[str, Any],
    form: VersionForm,
    picked: dict[str, Any] | None,
    user: str,
    username: str = "",
) -> None:
    """The publication request, once OUTSCALE says the OMI may be published (R2). Refused: the
    form comes back as it was typed, the reasons under their fields."""
    core = core_of(context)
    lang = str(meta.get("lang") or "en")
    code = str(meta.get("product"))
    errors: dict[str, str] = {}
    try:
        request = services.request_publication(core, code, form, requested_by=user, name=username)
    except FormErrors as bad:
        errors = _errors(bad.fields, FORM_BLOCKS, "omi")
    except CloudError as cloud:
        errors = {"omi": t(lang, "cloud_error", message=cloud)}
    except UserError as refused:
        errors = {"omi": str(refused)}
    except Exception as error:
        text = failure(lang, error, "publication request failed")
        client.views_update(view_id=view_id, view=views.refused(lang, text))
        return
    if errors:
        try:
            product, _ = services.new_form(core, code)
        except Exception as error:  # the product read again to show the form: it may fail too
            text = failure(lang, error, "the refused form could not be shown again")
            client.views_update(view_id=view_id, view=views.refused(lang, text))
            return
        omis_of(context).prefetch(core, code)
        again = views.version_form(lang, product, form, meta, errors=errors, omi=picked)
        client.views_update(view_id=view_id, view=again)
        return
    sent = t(lang, "sent_for_approval", id=request.id, code=request.product_code)
    client.views_update(view_id=view_id, view=views.notice(lang, t(lang, "done_title"), sent))
    channel = meta.get("channel")
    try:
        post_request(client, core, request, lang, channel)
    except Exception:
        logger.exception("the request could not be shown to the release managers")
        tell(client, user, t(lang, "failed"), channel)
        return
    tell(client, user, sent, channel)


def save(
    client: WebClient,
    context: BoltContext,
    view_id: str,
    meta: dict[str, Any],
    form: VersionForm,
    user: str,
    username: str = "",
) -> None:
    """A release manager's modification (R5, R6), applied at once; the modal says the outcome."""
    lang = str(meta.get("lang") or "en")
    try:
        version, changed = services.modify(
            core_of(context),
            str(meta.get("version")),
            form,
            by=actor(context, client, user, username),
        )
    except UserError as refused:
        client.views_update(view_id=view_id, view=views.refused(lang, str(refused)))
        return
    except Exception as error:
        text = failure(lang, error, "modification failed")
        client.views_update(view_id=view_id, view=views.refused(lang, text))
        return
    fields = ", ".join(field_label(lang, name) for name in changed)
    text = (
        t(lang, "modified", id=version.id, fields=fields)
        if changed
        else t(lang, "modified_nothing", id=version.id)
    )
    client.views_update(view_id=view_id, view=views.notice(lang, t(lang, "done_title"), text))
    tell(client, user, text, meta.get("channel"))


def on_unpublish_when(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """The date (or "now") is checked and the request written before the answer, from the
    database and the groups the form carries (the delivery claimed first); the request
    message is posted after."""
    meta = views.metadata(view)
    lang = str(meta.get("lang") or "en")
    user = body["user"]["id"]
    core = core_of(context)
    now, picked = unpublication.read_when(view)
    groups = unsealed(client.token or "", user, meta)
    try:
        if not now and not picked:
            raise FormErrors({"date": t(lang, "date_needed")})
        on = None if now else services.parse_date(picked)
        if not claimed(context):
            ack()  # a copy of a submission already taken
            return
        if meta.get("mode") == "unpublish-product":
            request = services.request_unpublish_product(
                core,
                str(meta.get("product")),
                requested_by=user,
                on=on,
                groups=groups,
                name=user_name(body),
            )
        else:
            request = services.request_unpublish(
                core,
                str(meta.get("version")),
                requested_by=user,
                on=on,
                groups=groups,
                name=user_name(body),
            )
    except FormErrors as bad:
        ack(response_action="errors", errors=_errors(bad.fields, ("date",), "date"))
        return
    except UserError as refused:
        ack(response_action="errors", errors={"date": str(refused)})
        return
    except Exception as error:
        text = failure(lang, error, "unpublish form submission failed")
        ack(response_action="errors", errors={"date": text})
        return
    sent = t(lang, "sent_for_approval", id=request.id, code=request.product_code)
    ack(response_action="update", view=views.notice(lang, t(lang, "done_title"), sent))
    channel = meta.get("channel")

    def show() -> None:
        try:
            post_request(client, core, request, lang, channel)
        except Exception:
            logger.exception("the request could not be shown to the release managers")
            tell(client, user, t(lang, "failed"), channel)
            return
        tell(client, user, sent, channel)

    later(context, show)


def on_pick_product(
    ack: Ack, view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    meta = views.metadata(view)
    lang = str(meta.get("lang") or "en")
    values = view.get("state", {}).get("values", {})
    picked = (values.get("product", {}).get(views.PICK_ACTION) or {}).get("selected_option") or {}
    core = core_of(context)
    try:
        product, form = services.new_form(core, str(picked.get("value") or ""))
    except UserError as refused:
        ack(response_action="errors", errors={"product": str(refused)})
        return
    except Exception as error:
        ack(
            response_action="errors",
            errors={"product": failure(lang, error, "product pick failed")},
        )
        return
    omis_of(context).prefetch(core, product.code)
    ack(
        response_action="update",
        view=views.version_form(lang, product, form, {**meta, "product": product.code}),
    )


def on_confirm(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    meta = views.metadata(view)
    lang = str(meta.get("lang") or "en")
    request_id = int(meta.get("request") or 0)
    ack(response_action="update", view=views.working(lang, t(lang, "approving", id=request_id)))
    user, username = body["user"]["id"], user_name(body)
    view_id = str(view.get("id"))
    later(context, lambda: proceed(client, context, view_id, lang, request_id, user, username))


def proceed(
    client: WebClient,
    context: BoltContext,
    view_id: str,
    lang: str,
    request_id: int,
    user: str,
    username: str = "",
) -> None:
    """A release manager proceeds: checked again under the lock, then the cloud work is queued."""
    core = core_of(context)
    try:
        decision = services.approve(core, request_id, by=actor(context, client, user, username))
    except UserError as refused:
        client.views_update(view_id=view_id, view=views.refused(lang, str(refused)))
        _settle_failed(client, core, request_id)
        return
    except Exception as error:
        text = failure(lang, error, "approval failed")
        client.views_update(view_id=view_id, view=views.refused(lang, text))
        return
    request = decision.request
    if decision.schedule is not None:
        scheduled(client, view_id, lang, decision.schedule, request, user)
        return
    if request.kind is RequestKind.PUBLISH:
        done = t(
            lang,
            "approved_publish",
            id=request.id,
            version=decision.versions[0].id,
            code=request.product_code,
        )
    else:
        done = t(lang, "approved_unpublish", id=request.id, code=request.product_code)
    client.views_update(view_id=view_id, view=views.notice(lang, t(lang, "done_title"), done))
    rlang = request_language(request)
    settle(client, request, t(rlang, "approved_by", user=mention(user)))
    if request.kind is RequestKind.PUBLISH:
        told = t(
            rlang,
            "told_approved_publish",
            id=request.id,
            user=mention(user),
            version=decision.versions[0].id,
            code=request.product_code,
        )
    else:
        told = t(
            rlang,
            "told_approved_unpublish",
            id=request.id,
            user=mention(user),
            code=request.product_code,
        )
    tell(client, request.requested_by, told)


def scheduled(
    client: WebClient,
    view_id: str,
    lang: str,
    schedule: Unpublication,
    request: Request,
    user: str,
) -> None:
    """An approved unpublication on a date: the request message keeps a *Cancel* button."""
    day = schedule.unpublish_on.isoformat()
    what = (
        t(lang, "what_product", code=request.product_code)
        if schedule.whole_product
        else t(lang, "what_version", id=schedule.version_id)
    )
    done = t(lang, "approved_schedule", id=request.id, what=what, date=day)
    client.views_update(view_id=view_id, view=views.notice(lang, t(lang, "done_title"), done))
    rlang = request_language(request)
    settle(
        client,
        request,
        t(rlang, "approved_by", user=mention(user)),
        extra=managers.scheduled_blocks(rlang, schedule.id, day),
    )
    what = (
        t(rlang, "what_product", code=request.product_code)
        if schedule.whole_product
        else t(rlang, "what_version", id=schedule.version_id)
    )
    told = t(
        rlang, "told_approved_schedule", id=request.id, user=mention(user), what=what, date=day
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
            t(
                rlang,
                "failed_by",
                user=mention(request.decided_by),
                reason=request.reason or "-",
            ),
        )


def on_reject(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    meta = views.metadata(view)
    lang = str(meta.get("lang") or "en")
    request_id = int(meta.get("request") or 0)
    values = view.get("state", {}).get("values", {})
    typed = str((values.get("reason", {}).get(views.VALUE) or {}).get("value") or "")
    try:
        reason = services.check_reason(typed)
    except FormErrors as bad:
        ack(response_action="errors", errors=bad.fields)
        return
    ack(response_action="update", view=views.working(lang, t(lang, "rejecting", id=request_id)))
    user, username = body["user"]["id"], user_name(body)
    view_id = str(view.get("id"))
    later(
        context, lambda: refuse(client, context, view_id, lang, request_id, user, reason, username)
    )


def refuse(
    client: WebClient,
    context: BoltContext,
    view_id: str,
    lang: str,
    request_id: int,
    user: str,
    reason: str,
    username: str = "",
) -> None:
    core = core_of(context)
    try:
        request = services.reject(
            core, request_id, by=actor(context, client, user, username), reason=reason
        )
    except UserError as refused:
        client.views_update(view_id=view_id, view=views.refused(lang, str(refused)))
        return
    except Exception as error:
        text = failure(lang, error, "rejection failed")
        client.views_update(view_id=view_id, view=views.refused(lang, text))
        return
    done = t(lang, "rejected", id=request.id, code=request.product_code, reason=request.reason)
    client.views_update(view_id=view_id, view=views.notice(lang, t(lang, "done_title"), done))
    rlang = request_language(request)
    settle(
        client, request, t(rlang, "rejected_by", user=mention(user), reason=request.reason or "-")
    )
    tell(
        client,
        request.requested_by,
        t(
            rlang,
            "told_rejected",
            id=request.id,
            code=request.product_code,
            user=mention(user),
            reason=request.reason or "-",
        ),
    )

"""The App Home tab: the products, the requests waiting for my approval, my recent requests.

Built from `commands.services` only; English or French from the user's Slack locale."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from slack_sdk import WebClient
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from commands import services
from commands.bootstrap import Core
from commands.model import Actor, Request, RequestKind, ScheduleState, Unpublication
from commands.notifications.slack_text import clip_mrkdwn, mention, mrkdwn

__all__ = ["TEXTS", "build_home", "publish_home"]

# A Home view holds 100 blocks at most; these caps keep the three sections inside it.
MAX_PRODUCTS = 40
MAX_AWAITING = 20
MAX_MINE = 10

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "omi-bot",
        "intro": "Publish, modify and unpublish the versions of your OMI products with `/omi`. "
        "`/omi help` lists the commands.",
        "products": "Products",
        "no_products": "There is no product yet.",
        "product": "*{name}* · product code `{code}`\nLast available version: {last} · "
        "modified {date}",
        "none": "none",
        "more_products": "… and {n} more: `/omi products` lists them all.",
        "awaiting": "Waiting for my approval",
        "no_awaiting": "No request is waiting for your approval.",
        "mine": "My recent requests",
        "no_mine": "You have not asked for anything yet.",
        "more": "… and {n} more.",
        "kind_publish": "Publish a new version of *{name}* (`{code}`){software}",
        "kind_unpublish": "Unpublish version `{version}` of *{name}* (`{code}`)",
        "kind_unpublish_product": "Unpublish the whole product *{name}* (`{code}`)",
        "request": "#{id} · {what}\n{state} · asked by {user} on {date}",
        "state_pending": "waiting for approval",
        "state_approved": "approved by {by}",
        "state_rejected": "rejected by {by}: {reason}",
        "state_failed": "could not be carried out: {reason}",
        "schedule_version": "version `{id}`",
        "schedule_product": "every version",
        "schedule_on": ":calendar: {what}: unpublish on {date}",
        "schedule_blocked": ":warning: {what}: blocked by R7",
    },
    "fr": {
        "title": "omi-bot",
        "intro": "Publiez, modifiez et dépubliez les versions de vos produits OMI avec `/omi`. "
        "`/omi help` liste les commandes.",
        "products": "Produits",
        "no_products": "Il n'y a encore aucun produit.",
        "product": "*{name}* · code produit `{code}`\nDernière version disponible : {last} · "
        "modifié le {date}",
        "none": "aucune",
        "more_products": "… et {n} de plus : `/omi products` les liste tous.",
        "awaiting": "En attente de mon approbation",
        "no_awaiting": "Aucune demande n'attend votre approbation.",
        "mine": "Mes demandes récentes",
        "no_mine": "Vous n'avez encore rien demandé.",
        "more": "… et {n} de plus.",
        "kind_publish": "Publier une nouvelle version de *{name}* (`{code}`){software}",
        "kind_unpublish": "Dépublier la version `{version}` de *{name}* (`{code}`)",
        "kind_unpublish_product": "Dépublier tout le produit *{name}* (`{code}`)",
        "request": "n°{id} · {what}\n{state} · demandée par {user} le {date}",
        "state_pending": "en attente d'approbation",
        "state_approved": "approuvée par {by}",
        "state_rejected": "refusée par {by} : {reason}",
        "state_failed": "n'a pas pu être réalisée : {reason}",
        "schedule_version": "version `{id}`",
        "schedule_product": "toutes les versions",
        "schedule_on": ":calendar: {what} : dépublication le {date}",
        "schedule_blocked": ":warning: {what} : bloquée par R7",
    },
}

_MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "fr": (
        "janv.", "févr.", "mars", "avr.", "mai", "juin",
        "juil.", "août", "sept.", "oct.", "nov.", "déc.",
    ),
}  # fmt: skip


def _date(value: datetime | None, language: str) -> str:
    if value is None:
        return "-"
    at = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    return f"{at.day} {_MONTHS[language][at.month - 1]} {at.year}"


def _request_line(request: Request, names: dict[str, str], t: dict[str, str], lang: str) -> str:
    name = mrkdwn(names.get(request.product_code, request.product_code))
    code = mrkdwn(request.product_code)
    if request.kind is RequestKind.PUBLISH:
        software = str(request.form.get("software_version") or "")
        what = t["kind_publish"].format(
            name=name, code=code, software=f" · {mrkdwn(software)}" if software else ""
        )
    elif request.kind is RequestKind.UNPUBLISH:
        what = t["kind_unpublish"].format(
            version=mrkdwn(request.version_id or ""), name=name, code=code
        )
    else:
        what = t["kind_unpublish_product"].format(name=name, code=code)
    state = t[f"state_{request.state.value}"].format(
        by=mention(request.decided_by or ""), reason=mrkdwn(request.reason or "-", 300)
    )
    line = t["request"].format(
        id=request.id,
        what=what,
        state=state,
        user=mention(request.requested_by),
        date=_date(request.created_at, lang),
    )
    return clip_mrkdwn(line, 3000)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip_mrkdwn(text, 3000)))


def _schedule_line(schedule: Unpublication, t: dict[str, str]) -> str:
    what = (
        t["schedule_product"]
        if schedule.whole_product
        else t["schedule_version"].format(id=mrkdwn(schedule.version_id or ""))
    )
    key = "schedule_blocked" if schedule.state is ScheduleState.BLOCKED else "schedule_on"
    return t[key].format(what=what, date=schedule.unpublish_on.isoformat())


def build_home(
    lines: Sequence[services.ProductLine],
    awaiting: Sequence[Request],
    mine: Sequence[Request],
    language: str,
    schedules: Sequence[Unpublication] = (),
) -> View:
    lang = language if language in TEXTS else "en"
    t = TEXTS[lang]
    names = {line.product.code: line.product.name for line in lines}
    blocks: list[Block] = [
        _section(t["intro"]),
        HeaderBlock(text=t["products"], block_id="products"),
    ]
    if not lines:
        blocks.append(_section(t["no_products"]))
    for line in lines[:MAX_PRODUCTS]:
        last = line.last_available
        shown = f"{mrkdwn(last.software_version or last.id)} (`{last.id}`)" if last else t["none"]
        text = t["product"].format(
            name=mrkdwn(line.product.name),
            code=mrkdwn(line.product.code),
            last=shown,
            date=_date(line.product.modified_at, lang),
        )
        planned = [_schedule_line(s, t) for s in schedules if s.product_code == line.product.code]
        blocks.append(_section("\n".join([text, *planned[:5]])))
    if len(lines) > MAX_PRODUCTS:
        more = t["more_products"].format(n=len(lines) - MAX_PRODUCTS)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=more)]))

    for block_id, title, empty, requests, cap in (
        ("awaiting", t["awaiting"], t["no_awaiting"], awaiting, MAX_AWAITING),
        ("mine", t["mine"], t["no_mine"], mine, MAX_MINE),
    ):
        blocks.append(DividerBlock())
        blocks.append(HeaderBlock(text=title, block_id=block_id))
        if not requests:
            blocks.append(_section(empty))
        for request in requests[:cap]:
            blocks.append(_section(_request_line(request, names, t, lang)))
        if len(requests) > cap:
            more = t["more"].format(n=len(requests) - cap)
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=more)]))
    return View(type="home", blocks=blocks, callback_id="omi_home")


def publish_home(client: WebClient, core: Core, actor: Actor, language: str) -> None:
    """Reads what the user may see and publishes it to their Home tab."""
    lines = services.list_products(core)
    awaiting = services.awaiting_approval(core, actor)
    mine = services.requests_of(core, actor.id, limit=MAX_MINE + 1)
    view = build_home(lines, awaiting, mine, language, services.active_schedules(core))
    client.views_publish(user_id=actor.id, view=view.to_dict())

"""The App Home tab: the products, the requests waiting for my approval, my recent requests.

Built from `commands.services` only; English or French from the user's Slack locale."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
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
from commands.model import Request, RequestKind

__all__ = ["TEXTS", "build_home", "publish_home", "user_language"]

log = logging.getLogger(__name__)

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
        "request": "#{id} · {what}\n{state} · asked by <@{user}> on {date}",
        "state_pending": "waiting for approval",
        "state_approved": "approved by <@{by}>",
        "state_rejected": "rejected by <@{by}>: {reason}",
        "state_failed": "could not be carried out: {reason}",
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
        "request": "n°{id} · {what}\n{state} · demandée par <@{user}> le {date}",
        "state_pending": "en attente d'approbation",
        "state_approved": "approuvée par <@{by}>",
        "state_rejected": "refusée par <@{by}> : {reason}",
        "state_failed": "n'a pas pu être réalisée : {reason}",
    },
}

_MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "fr": (
        "janv.", "févr.", "mars", "avr.", "mai", "juin",
        "juil.", "août", "sept.", "oct.", "nov.", "déc.",
    ),
}  # fmt: skip


def _escape(text: object) -> str:
    # Names and reasons are typed by people; they must not turn into mentions or links.
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _date(value: datetime | None, language: str) -> str:
    if value is None:
        return "-"
    at = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    return f"{at.day} {_MONTHS[language][at.month - 1]} {at.year}"


class _Languages(Protocol):
    def language(self, client: WebClient, user_id: str) -> str: ...


def user_language(client: WebClient, user_id: str, locales: _Languages | None = None) -> str:
    """ "fr" for a French Slack locale, else "en"; a failed lookup falls back to English."""
    if locales is not None:
        language = locales.language(client, user_id)
        return language if language in TEXTS else "en"
    try:
        user = client.users_info(user=user_id, include_locale=True)["user"]
        locale = str(user.get("locale") or "")
    except (SlackApiError, KeyError, TypeError, OSError) as error:
        log.warning("users.info failed: %s", type(error).__name__)
        return "en"
    return "fr" if locale.lower().startswith("fr") else "en"


def member_groups(client: WebClient, user_id: str, groups: Iterable[str]) -> list[str]:
    """The release manager groups the user is in now, asked by ID."""
    found = []
    for group in sorted(set(groups)):
        try:
            members = client.usergroups_users_list(usergroup=group)["users"] or []
        except (SlackApiError, KeyError, TypeError, OSError) as error:
            # Without the group the user still sees what they approve by user ID.
            log.warning("usergroups.users.list failed: %s", type(error).__name__)
            continue
        if user_id in members:
            found.append(group)
    return found


def _request_line(request: Request, names: dict[str, str], t: dict[str, str], lang: str) -> str:
    name = _escape(names.get(request.product_code, request.product_code))
    code = _escape(request.product_code)
    if request.kind is RequestKind.PUBLISH:
        software = str(request.form.get("software_version") or "")
        what = t["kind_publish"].format(
            name=name, code=code, software=f" · {_escape(software)}" if software else ""
        )
    elif request.kind is RequestKind.UNPUBLISH:
        what = t["kind_unpublish"].format(
            version=_escape(request.version_id or ""), name=name, code=code
        )
    else:
        what = t["kind_unpublish_product"].format(name=name, code=code)
    state = t[f"state_{request.state.value}"].format(
        by=request.decided_by or "", reason=_escape(_clip(request.reason or "-", 300))
    )
    line = t["request"].format(
        id=request.id,
        what=what,
        state=state,
        user=request.requested_by,
        date=_date(request.created_at, lang),
    )
    return _clip(line, 3000)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text))


def build_home(
    lines: Sequence[services.ProductLine],
    awaiting: Sequence[Request],
    mine: Sequence[Request],
    language: str,
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
        shown = f"{_escape(last.software_version or last.id)} (`{last.id}`)" if last else t["none"]
        blocks.append(
            _section(
                t["product"].format(
                    name=_escape(line.product.name),
                    code=_escape(line.product.code),
                    last=shown,
                    date=_date(line.product.modified_at, lang),
                )
            )
        )
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


def publish_home(
    client: WebClient, core: Core, user_id: str, locales: _Languages | None = None
) -> None:
    """Reads what the user may see and publishes it to their Home tab."""
    language = user_language(client, user_id, locales)
    lines = services.list_products(core)
    groups = member_groups(
        client,
        user_id,
        (
            line.product.release_manager_group
            for line in lines
            if line.product.release_manager_group
        ),
    )
    awaiting = services.awaiting_approval(core, user_id, groups)
    mine = services.requests_of(core, user_id, limit=MAX_MINE + 1)
    view = build_home(lines, awaiting, mine, language)
    client.views_publish(user_id=user_id, view=view.to_dict())

"""Slack announcements to subscriber channels (R4, R8, R9, R10), written in the subscriber's
language from the facts the outbox holds: a new version to upgrade to, a version or a whole
product unpublished."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from commands.notifications.slack_text import clip_mrkdwn, mrkdwn, plain

__all__ = ["Rendered", "render_announcement"]


_MONTHS = {
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
    "fr": (
        "janvier", "février", "mars", "avril", "mai", "juin",
        "juillet", "août", "septembre", "octobre", "novembre", "décembre",
    ),
}  # fmt: skip


def _date(value: object, language: str) -> str:
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return ""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    at = at.astimezone(UTC)
    day = "1er" if language == "fr" and at.day == 1 else str(at.day)
    return f"{day} {_MONTHS[language][at.month - 1]} {at.year}"


TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "published_header": "New version of {name}",
        "published": "Version *{sv}* of *{name}* (product code `{code}`) is published.",
        "published_fallback": "Version {sv} of {name} (product code {code}) is published.",
        "upgrade": (
            "We advise you to upgrade: launch your new virtual machines from the OMI copy "
            "`{copy}`, available to your account now. VMs launched from earlier versions are "
            "not affected."
        ),
        "upgrade_no_copy": (
            "We advise you to upgrade to this version. VMs launched from earlier versions are "
            "not affected."
        ),
        "release_note": "*Release note*",
        "version_id": "*Version ID*",
        "software_version": "*Software version*",
        "operating_system": "*Operating system*",
        "copy_id": "*OMI copy ID*",
        "unpublished_header": "Version of {name} unpublished",
        "unpublished": "Version *{sv}* of *{name}* (product code `{code}`) is unpublished.",
        "unpublished_fallback": "Version {sv} of {name} (product code {code}) is unpublished.",
        "product_header": "{name} unpublished",
        "product": (
            "*{name}* (product code `{code}`) is unpublished: all its versions are withdrawn."
        ),
        "product_fallback": "{name} (product code {code}) is unpublished.",
        "withdrawn": "*Withdrawn versions*",
        "deleted": (
            "The OMI copy of {what} is deleted from the OUTSCALE Cloud: no new VM can be launched "
            "from it. VMs already running keep running."
        ),
        "this_version": "this version",
        "these_versions": "these versions",
        "last_available": "The last available version is now *{sv}* (`{id}`).",
        "none_left": "No version of {name} is available any more.",
        "date": "OUTSCALE Marketplace · {date}",
        "scheduled_header": "{name}: unpublication on {date}",
        "reminder_header": "Reminder: {name} unpublication on {date}",
        "cancelled_header": "{name}: unpublication cancelled",
        "will_version": "Version *{sv}* of *{name}* (product code `{code}`) will be unpublished "
        "on *{date}*.",
        "will_product": "*{name}* (product code `{code}`) will be unpublished on *{date}*, with "
        "all its versions.",
        "will_fallback": "{name} (product code {code}): unpublication on {date}.",
        "days_left": "Reminder, {days} day(s) left.",
        "will_delete": "On that date the OMI copy will be deleted from the OUTSCALE Cloud: no new "
        "VM can be launched from it. VMs already running keep running.",
        "replaced_by": "It is replaced by the last available version, *{sv}* (`{id}`).",
        "none_after": "No other version of {name} will remain available.",
        "cancelled_version": "The unpublication of version *{sv}* of *{name}* (product code "
        "`{code}`) announced for {date} is cancelled: the version stays published.",
        "cancelled_product": "The unpublication of *{name}* (product code `{code}`) announced "
        "for {date} is cancelled: its versions stay published.",
        "cancelled_fallback": "{name} (product code {code}): the unpublication of {date} is "
        "cancelled.",
    },
    "fr": {
        "published_header": "Nouvelle version de {name}",
        "published": "La version *{sv}* de *{name}* (code produit `{code}`) est publiée.",
        "published_fallback": "La version {sv} de {name} (code produit {code}) est publiée.",
        "upgrade": (
            "Nous vous recommandons de mettre à niveau : lancez vos nouvelles machines "
            "virtuelles à partir de la copie de l'OMI `{copy}`, dès à présent disponible pour "
            "votre compte. Les VM lancées depuis des versions précédentes ne sont pas affectées."
        ),
        "upgrade_no_copy": (
            "Nous vous recommandons de mettre à niveau vers cette version. Les VM lancées depuis "
            "des versions précédentes ne sont pas affectées."
        ),
        "release_note": "*Note de release*",
        "version_id": "*ID de la version*",
        "software_version": "*Version du logiciel*",
        "operating_system": "*Système d'exploitation*",
        "copy_id": "*ID de la copie de l'OMI*",
        "unpublished_header": "Version de {name} dépubliée",
        "unpublished": "La version *{sv}* de *{name}* (code produit `{code}`) est dépubliée.",
        "unpublished_fallback": "La version {sv} de {name} (code produit {code}) est dépubliée.",
        "product_header": "{name} dépublié",
        "product": (
            "*{name}* (code produit `{code}`) est dépublié : toutes ses versions sont retirées."
        ),
        "product_fallback": "{name} (code produit {code}) est dépublié.",
        "withdrawn": "*Versions retirées*",
        "deleted": (
            "La copie de l'OMI de {what} est supprimée du Cloud OUTSCALE : aucune nouvelle VM ne "
            "peut en être lancée. Les VM déjà lancées continuent de fonctionner."
        ),
        "this_version": "cette version",
        "these_versions": "ces versions",
        "last_available": "La dernière version disponible est désormais *{sv}* (`{id}`).",
        "none_left": "Plus aucune version de {name} n'est disponible.",
        "date": "OUTSCALE Marketplace · {date}",
        "scheduled_header": "{name} : dépublication le {date}",
        "reminder_header": "Rappel : dépublication de {name} le {date}",
        "cancelled_header": "{name} : dépublication annulée",
        "will_version": "La version *{sv}* de *{name}* (code produit `{code}`) sera dépubliée "
        "le *{date}*.",
        "will_product": "*{name}* (code produit `{code}`) sera dépublié le *{date}*, avec toutes "
        "ses versions.",
        "will_fallback": "{name} (code produit {code}) : dépublication le {date}.",
        "days_left": "Rappel : plus que {days} jour(s).",
        "will_delete": "À cette date, la copie de l'OMI sera supprimée du Cloud OUTSCALE : "
        "aucune nouvelle VM ne pourra en être lancée. Les VM déjà lancées continuent de "
        "fonctionner.",
        "replaced_by": "Elle est remplacée par la dernière version disponible, *{sv}* (`{id}`).",
        "none_after": "Plus aucune autre version de {name} ne restera disponible.",
        "cancelled_version": "La dépublication de la version *{sv}* de *{name}* (code produit "
        "`{code}`) annoncée pour le {date} est annulée : la version reste publiée.",
        "cancelled_product": "La dépublication de *{name}* (code produit `{code}`) annoncée pour "
        "le {date} est annulée : ses versions restent publiées.",
        "cancelled_fallback": "{name} (code produit {code}) : la dépublication du {date} est "
        "annulée.",
    },
}


SCHEDULE_EVENTS = ("unpublication_scheduled", "unpublication_reminder", "unpublication_cancelled")


@dataclass(frozen=True)
class Rendered:
    text: str  # the notification and screen-reader fallback
    blocks: list[dict[str, Any]]


def _language(value: str | None) -> str:
    primary = (value or "").strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in TEXTS else "en"


def render_announcement(payload: Mapping[str, Any], language: str | None) -> Rendered:
    """An announcement's Block Kit message in the subscriber's language."""
    lang = _language(language)
    t = TEXTS[lang]
    event = str(payload.get("event") or "")
    code = mrkdwn(payload.get("product_code") or "")
    raw_name = str(payload.get("product_name") or payload.get("product_code") or "")
    name = mrkdwn(raw_name)
    versions = [v for v in payload.get("versions") or [] if isinstance(v, Mapping)]
    first: Mapping[str, Any] = versions[0] if versions else {}
    sv = mrkdwn(first.get("software_version") or first.get("id") or "")
    blocks: list[Block] = []

    def header(template: str) -> None:
        blocks.append(HeaderBlock(text=plain(template.format(name=raw_name), 150)))

    def fields(version: Mapping[str, Any]) -> list[MarkdownTextObject]:
        found = [
            (t["version_id"], f"`{mrkdwn(version.get('id') or '')}`"),
            (t["software_version"], mrkdwn(version.get("software_version") or "")),
            (t["operating_system"], mrkdwn(version.get("operating_system") or "")),
            (t["copy_id"], f"`{mrkdwn(version['omi_copy_id'])}`")
            if version.get("omi_copy_id")
            else ("", ""),
        ]
        return [
            MarkdownTextObject(text=clip_mrkdwn(f"{label}\n{value}", 2000))
            for label, value in found
            if label and value and value != "``"
        ]

    if event == "version_published":
        header(t["published_header"])
        text = t["published_fallback"].format(sv=sv, name=name, code=code)
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=clip_mrkdwn(t["published"].format(sv=sv, name=name, code=code), 3000)
                ),
                fields=fields(first) or None,
            )
        )
        note = str(first.get("release_note") or "").strip()
        if note:
            blocks.append(
                SectionBlock(
                    text=MarkdownTextObject(
                        text=clip_mrkdwn(f"{t['release_note']}\n{mrkdwn(note)}", 3000)
                    )
                )
            )
        copy = first.get("omi_copy_id")
        upgrade = t["upgrade"].format(copy=mrkdwn(copy)) if copy else t["upgrade_no_copy"]
        blocks.append(SectionBlock(text=MarkdownTextObject(text=upgrade)))
    elif event in ("version_unpublished", "product_unpublished"):
        if event == "version_unpublished":
            header(t["unpublished_header"])
            text = t["unpublished_fallback"].format(sv=sv, name=name, code=code)
            lead = clip_mrkdwn(t["unpublished"].format(sv=sv, name=name, code=code), 3000)
            blocks.append(
                SectionBlock(text=MarkdownTextObject(text=lead), fields=fields(first) or None)
            )
            what = t["this_version"]
        else:
            header(t["product_header"])
            text = t["product_fallback"].format(name=name, code=code)
            blocks.append(
                SectionBlock(
                    text=MarkdownTextObject(
                        text=clip_mrkdwn(t["product"].format(name=name, code=code), 3000)
                    )
                )
            )
            lines = [
                f"• {mrkdwn(v.get('software_version') or '')} (`{mrkdwn(v.get('id') or '')}`)"
                + (f" · `{mrkdwn(v['omi_copy_id'])}`" if v.get("omi_copy_id") else "")
                for v in versions
            ]
            if lines:
                listing = clip_mrkdwn(t["withdrawn"] + "\n" + "\n".join(lines), 3000)
                blocks.append(SectionBlock(text=MarkdownTextObject(text=listing)))
            what = t["this_version"] if len(versions) == 1 else t["these_versions"]
        blocks.append(SectionBlock(text=MarkdownTextObject(text=t["deleted"].format(what=what))))
        last = payload.get("last_available")
        if isinstance(last, Mapping) and last.get("id"):
            remaining = t["last_available"].format(
                sv=mrkdwn(last.get("software_version") or last["id"]), id=mrkdwn(last["id"])
            )
        else:
            remaining = t["none_left"].format(name=name)
        remaining = clip_mrkdwn(remaining, 3000)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=remaining)))
    elif event in SCHEDULE_EVENTS:
        day = _date(payload.get("unpublish_on"), lang)
        whole = bool(payload.get("whole_product"))
        facts = {"sv": sv, "name": name, "code": code, "date": day}
        if event == "unpublication_cancelled":
            header(t["cancelled_header"].replace("{date}", day))
            text = t["cancelled_fallback"].format(**facts)
            lead = t["cancelled_product" if whole else "cancelled_version"].format(**facts)
            blocks.append(SectionBlock(text=MarkdownTextObject(text=clip_mrkdwn(lead, 3000))))
        else:
            key = "reminder_header" if event == "unpublication_reminder" else "scheduled_header"
            header(t[key].replace("{date}", day))
            text = t["will_fallback"].format(**facts)
            lead = t["will_product" if whole else "will_version"].format(**facts)
            if event == "unpublication_reminder" and payload.get("days_left") is not None:
                lead = t["days_left"].format(days=payload["days_left"]) + " " + lead
            blocks.append(
                SectionBlock(
                    text=MarkdownTextObject(text=clip_mrkdwn(lead, 3000)),
                    fields=None if whole else fields(first) or None,
                )
            )
            blocks.append(SectionBlock(text=MarkdownTextObject(text=t["will_delete"])))
            last = payload.get("last_available")
            if isinstance(last, Mapping) and last.get("id"):
                after = t["replaced_by"].format(
                    sv=mrkdwn(last.get("software_version") or last["id"]), id=mrkdwn(last["id"])
                )
            else:
                after = t["none_after"].format(name=name)
            blocks.append(SectionBlock(text=MarkdownTextObject(text=clip_mrkdwn(after, 3000))))
    else:
        raise ValueError(f"unknown announcement {event!r}")
    when = _date(payload.get("date"), lang)
    if when:
        blocks.append(DividerBlock())
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=t["date"].format(date=when))]))
    return Rendered(text=text, blocks=[b.to_dict() for b in blocks])

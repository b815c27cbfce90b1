"""How a message to the release managers is worded and shaped: every sentence in English and
French, user text escaped once on its way in, and the Block Kit pieces the events share (a
section, a button label, the version or product a sentence is about).

Each event module words its own message from these; posting.py decides where it goes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import Block, MarkdownTextObject, PlainTextObject, SectionBlock

from commands.notifications.slack_text import Escaped, clip_mrkdwn, mrkdwn, plain

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "scheduled": ":calendar: Unpublication scheduled on *{date}* (UTC); subscribers and "
        "organization administrators are told now and reminded before it.",
        "blocked": ":warning: {what} of *{name}* (`{code}`) was to be unpublished on {date}, but "
        "it is the only published version left (R7): it stays published. Cancel this schedule; "
        "to unpublish it, publish another version first, then ask again.",
        "late": ":hourglass: The unpublication of {what} of *{name}* (`{code}`) due on {date} ran "
        "{late} late: no worker was running at the time.",
        "drift": ":mag: *{name}* (`{code}`): the cloud differs from the Versions table.",
        "drift_more": "… and {n} more.",
        "drift_hint": "*Repair* restores what the Versions table says; images omi-bot did not "
        "create are never deleted.",
        "broken": ":x: Version `{version}` of *{name}* (`{code}`) is broken: its OMI copy is "
        "gone and its source OMI {omi} no longer exists, so it cannot be copied again. "
        "Publish a new version, then unpublish this one.",
        "version": "Version `{id}`",
        "product": "The whole product",
        "of_version": "version `{id}`",
        "of_product": "the whole product",
        "cancel": "Cancel unpublication",
        "cancel_title": "Cancel it?",
        "cancel_text": "Subscribers who were told get a notice that it is no longer scheduled.",
        "cancel_yes": "Cancel it",
        "cancel_no": "Keep it",
        "repair": "Repair",
        "retention": ":package: *{name}* (`{code}`) keeps {keep} published version(s) and now "
        "has {count}: version `{version}` ({software}) is the oldest beyond that. Approve to "
        "unpublish it on *{date}* (UTC), its notice period from the approval; subscribers are "
        "told then. · request #{id}",
        "approve": "Approve",
        "reject": "Reject",
        "preview": "Preview",
        "mail_failed": ":envelope: The notice about {what} of *{name}* (`{code}`) could not be "
        "mailed to {recipient} ({reason}). `omi-bot mail list --failed` lists every mail that "
        "failed, `omi-bot mail retry ID` sends one again.",
        "delete_stuck": ":warning: The OMI copy of {what} of *{name}* (`{code}`) could not be "
        "deleted yet ({reason}). omi-bot keeps trying; subscribers are told of the "
        "unpublication once the copy is gone.",
        "copy_gone": ":warning: {what} of *{name}* (`{code}`): {reason}",
    },
    "fr": {
        "scheduled": ":calendar: Dépublication prévue le *{date}* (UTC) ; les souscripteurs et "
        "administrateurs de l'organisation sont avertis maintenant, puis avant la date.",
        "blocked": ":warning: {what} de *{name}* (`{code}`) devait être dépubliée le {date}, "
        "mais c'est la seule version publiée restante (R7) : elle reste publiée. Annulez cette "
        "dépublication prévue ; pour la dépublier, publiez d'abord une autre version, puis "
        "redemandez.",
        "late": ":hourglass: La dépublication de {what} de *{name}* (`{code}`) prévue le {date} "
        "a eu lieu avec {late} de retard : aucun worker ne tournait alors.",
        "drift": ":mag: *{name}* (`{code}`) : le cloud diffère du tableau des versions.",
        "drift_more": "… et {n} de plus.",
        "drift_hint": "*Réparer* rétablit ce que dit le tableau des versions ; les images "
        "qu'omi-bot n'a pas créées ne sont jamais supprimées.",
        "broken": ":x: La version `{version}` de *{name}* (`{code}`) est cassée : sa copie "
        "d'OMI a disparu et son OMI source {omi} n'existe plus, elle ne peut donc pas être "
        "recopiée. Publiez une nouvelle version, puis dépubliez celle-ci.",
        "version": "La version `{id}`",
        "product": "Le produit entier",
        "of_version": "la version `{id}`",
        "of_product": "tout le produit",
        "cancel": "Annuler",
        "cancel_title": "L'annuler ?",
        "cancel_text": "Les souscripteurs avertis reçoivent un avis indiquant qu'elle n'est "
        "plus prévue.",
        "cancel_yes": "L'annuler",
        "cancel_no": "La garder",
        "repair": "Réparer",
        "retention": ":package: *{name}* (`{code}`) garde {keep} version(s) publiée(s) et en "
        "compte maintenant {count} : la version `{version}` ({software}) est la plus ancienne "
        "au-delà. Approuvez pour la dépublier le *{date}* (UTC), son préavis compté depuis "
        "l'approbation ; les souscripteurs sont alors avertis. · demande n°{id}",
        "approve": "Approuver",
        "reject": "Refuser",
        "preview": "Aperçu",
        "mail_failed": ":envelope: L'avis concernant {what} de *{name}* (`{code}`) n'a pas pu "
        "être envoyé par e-mail à {recipient} ({reason}). `omi-bot mail list --failed` liste "
        "les e-mails en échec, `omi-bot mail retry ID` en renvoie un.",
        "delete_stuck": ":warning: La copie de l'OMI de {what} de *{name}* (`{code}`) n'a pas "
        "encore pu être supprimée ({reason}). omi-bot réessaie ; les souscripteurs seront "
        "avertis de la dépublication une fois la copie supprimée.",
        "copy_gone": ":warning: {what} de *{name}* (`{code}`) : {reason}",
    },
}


def text(language: str, key: str, **values: object) -> str:
    """A text in the language, every value escaped for mrkdwn (once: escaped text stays)."""
    safe = {k: v if isinstance(v, int) else mrkdwn(v) for k, v in values.items()}
    return Escaped(TEXTS.get(language, TEXTS["en"])[key].format(**safe))


def section(markdown: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip_mrkdwn(markdown, 3000)))


def label(value: str) -> PlainTextObject:
    return PlainTextObject(text=plain(value, 75), emoji=True)


def what(language: str, version_id: str | None, *, lead: bool = True) -> str:
    """The subject of a sentence ("Version `ver-…`"), or its object ("version `ver-…`")."""
    if version_id is None:
        return text(language, "product" if lead else "of_product")
    return text(language, "version" if lead else "of_version", id=mrkdwn(version_id))


@dataclass(frozen=True)
class Message:
    """A message to the release managers: its fallback text and its blocks."""

    text: str
    blocks: list[dict[str, Any]]


def compose(text_: str, *blocks: Block) -> Message:
    return Message(clip_mrkdwn(text_, 3000), [b.to_dict() for b in blocks])


"""What the worker tells a product's release managers in Slack, in their approval channel (or
by direct message when the product has none): a scheduled unpublication that R7 held back or
that ran late, drift between the Versions table and the cloud, a version found broken; and, in
the thread of the request when the version came through Slack, a mail that failed for good, a
copy that cannot be deleted yet, a copy the cloud lost.

The messages are written when the event happens, in the transaction that records it, and
posted from the outbox as they are. Their buttons name actions the bot listens to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from commands.model import OutboxItem, Product, Version, slack_user_id
from commands.notifications.slack_text import Escaped, clip_mrkdwn, mrkdwn, plain
from storage.uow import UnitOfWork

PREFIX = "managers_"
# The request message's buttons (bot/approvals.py uses the same): a retention proposal posted by
# the worker is approved or rejected as any request is.
APPROVE_ACTION = "approve_request"
REJECT_ACTION = "reject_request"
# What an approval would send and do, opened from the same message (bot/preview.py).
PREVIEW_ACTION = "preview_request"
CANCEL_SCHEDULE_ACTION = "cancel_schedule"
REPAIR_ACTION = "repair_drift"

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


def _section(markdown: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip_mrkdwn(markdown, 3000)))


def _plain(value: str) -> PlainTextObject:
    return PlainTextObject(text=plain(value, 75), emoji=True)


def cancel_button(language: str, schedule_id: int) -> ActionsBlock:
    """A release manager's *Cancel* of a scheduled or blocked unpublication."""
    return ActionsBlock(
        block_id=f"schedule-{schedule_id}",
        elements=[
            ButtonElement(
                action_id=CANCEL_SCHEDULE_ACTION,
                text=_plain(text(language, "cancel")),
                value=str(schedule_id),
                style="danger",
                confirm=ConfirmObject(
                    title=text(language, "cancel_title"),
                    text=text(language, "cancel_text"),
                    confirm=text(language, "cancel_yes"),
                    deny=text(language, "cancel_no"),
                ),
            )
        ],
    )


def scheduled_blocks(language: str, schedule_id: int, day: str) -> list[dict[str, Any]]:
    """What an approved scheduled request shows under it: the date and *Cancel*."""
    blocks: list[Block] = [
        ContextBlock(elements=[MarkdownTextObject(text=text(language, "scheduled", date=day))]),
        cancel_button(language, schedule_id),
    ]
    return [b.to_dict() for b in blocks]


def _what(language: str, version_id: str | None, *, lead: bool = True) -> str:
    """The subject of a sentence ("Version `ver-…`"), or its object ("version `ver-…`")."""
    if version_id is None:
        return text(language, "product" if lead else "of_product")
    return text(language, "version" if lead else "of_version", id=mrkdwn(version_id))


@dataclass(frozen=True)
class Message:
    """A message to the release managers: its fallback text and its blocks."""

    text: str
    blocks: list[dict[str, Any]]


def _message(text_: str, *blocks: Block) -> Message:
    return Message(clip_mrkdwn(text_, 3000), [b.to_dict() for b in blocks])


@dataclass(frozen=True)
class Thread:
    """The Slack thread of the request a version came through, and who asked."""

    channel: str
    ts: str
    language: str
    requester: str


def request_thread(uow: UnitOfWork, product_code: str, version_id: str | None) -> Thread | None:
    request = (
        uow.requests.about_version(version_id, product_code) if version_id is not None else None
    )
    surface = (request.surface or {}) if request is not None else {}
    channel, ts = surface.get("channel"), surface.get("ts")
    if request is None or not channel or not ts:
        return None
    return Thread(str(channel), str(ts), str(surface.get("lang") or "en"), request.requested_by)


def post(
    uow: UnitOfWork,
    product: Product,
    message: Message,
    *,
    event: str,
    key: str,
    at: datetime,
    language: str = "en",
    version_id: str | None = None,
    request_id: int | None = None,
    thread: Thread | None = None,
    notify_requester: bool = False,
) -> None:
    """Queues one message to the product's approval channel, or to each release manager; with
    `thread`, to the request's thread instead (and to its requester with `notify_requester`).
    With `request_id`, the posts become the request's messages, updated once it is decided."""
    places = [product.approval_channel] if product.approval_channel else product.release_managers
    extra: dict[str, object] = {}
    if request_id is not None:
        extra["request_id"] = request_id
    if thread is not None:
        places = [thread.channel]
        extra["thread_ts"] = thread.ts
        if notify_requester and slack_user_id(thread.requester):
            extra["notify_user"] = thread.requester
    uow.outbox.add_all(
        [
            OutboxItem(
                channel="slack",
                key=f"{PREFIX}{event}:{key}:{place}"[:255],
                event=f"{PREFIX}{event}",
                product_code=product.code,
                version_id=version_id,
                recipient=place,
                language=language,
                payload={"text": message.text, "blocks": message.blocks, **extra},
                at=at,
            )
            for place in places
        ]
    )


# -- the messages ---------------------------------------------------------------------------


def blocked_message(
    language: str, product: Product, schedule_id: int, version_id: str | None, day: str
) -> Message:
    said = text(
        language,
        "blocked",
        what=_what(language, version_id),
        name=mrkdwn(product.name),
        code=mrkdwn(product.code),
        date=day,
    )
    return _message(said, _section(said), cancel_button(language, schedule_id))


def late_message(
    language: str, product: Product, version_id: str | None, day: str, late: str
) -> Message:
    said = text(
        language,
        "late",
        what=_what(language, version_id, lead=False),
        name=mrkdwn(product.name),
        code=mrkdwn(product.code),
        date=day,
        late=late,
    )
    return _message(said, _section(said))


def drift_message(language: str, product: Product, lines: Sequence[str]) -> Message:
    """New findings of one drift check, with *Repair*."""
    head = text(language, "drift", name=mrkdwn(product.name), code=mrkdwn(product.code))
    shown = [f"• {mrkdwn(line)}" for line in lines[:20]]
    if len(lines) > 20:
        shown.append(text(language, "drift_more", n=len(lines) - 20))
    said = "\n".join([head, *shown])
    repair = ButtonElement(
        action_id=REPAIR_ACTION,
        text=_plain(text(language, "repair")),
        value=product.code,
        style="primary",
    )
    return _message(
        said,
        _section(said),
        ContextBlock(elements=[MarkdownTextObject(text=text(language, "drift_hint"))]),
        ActionsBlock(block_id=f"drift-{product.code}", elements=[repair]),
    )


def broken_message(language: str, product: Product, version_id: str, omi_id: str) -> Message:
    said = text(
        language,
        "broken",
        version=mrkdwn(version_id),
        name=mrkdwn(product.name),
        code=mrkdwn(product.code),
        omi=mrkdwn(omi_id),
    )
    return _message(said, _section(said))


def retention_message(
    language: str, product: Product, request_id: int, version: Version, day: str
) -> Message:
    """A retention proposal: the request message, pre-filled, with *Approve* and *Reject*."""
    said = text(
        language,
        "retention",
        name=mrkdwn(product.name),
        code=mrkdwn(product.code),
        keep=product.keep_published,
        count=len(product.published_versions()),
        version=mrkdwn(version.id),
        software=mrkdwn(version.software_version or "-"),
        date=day,
        id=request_id,
    )
    decision = ActionsBlock(
        block_id="decision",
        elements=[
            ButtonElement(
                action_id=APPROVE_ACTION,
                text=_plain(text(language, "approve")),
                value=str(request_id),
                style="primary",
            ),
            ButtonElement(
                action_id=REJECT_ACTION,
                text=_plain(text(language, "reject")),
                value=str(request_id),
                style="danger",
            ),
            ButtonElement(
                action_id=PREVIEW_ACTION,
                text=_plain(text(language, "preview")),
                value=str(request_id),
            ),
        ],
    )
    return _message(said, _section(said), decision)


def trouble_message(
    language: str, product: Product, event: str, version_id: str | None, **values: str
) -> Message:
    """A failed mail (`mail_failed`), a copy not deleted yet (`delete_stuck`), a copy the
    cloud lost (`copy_gone`): what is known of it, every value escaped."""
    said = text(
        language,
        event,
        what=_what(language, version_id, lead=event == "copy_gone"),
        name=mrkdwn(product.name),
        code=mrkdwn(product.code),
        **{name: mrkdwn(value, 1000) for name, value in values.items()},
    )
    return _message(said, _section(said))


# -- queued when it happens ------------------------------------------------------------------


def _trouble(
    uow: UnitOfWork,
    product: Product,
    event: str,
    key: str,
    at: datetime,
    version_id: str | None,
    *,
    notify_requester: bool,
    **values: str,
) -> None:
    """In the request's thread when there is one, else to the approval channel."""
    thread = request_thread(uow, product.code, version_id)
    language = thread.language if thread is not None else "en"
    message = trouble_message(language, product, event, version_id, **values)
    post(
        uow,
        product,
        message,
        event=event,
        key=key,
        at=at,
        language=language,
        version_id=version_id,
        thread=thread,
        notify_requester=notify_requester,
    )


def mail_failed(
    uow: UnitOfWork,
    product: Product,
    notice_key: str,
    version_id: str | None,
    recipient: str,
    reason: str,
    at: datetime,
) -> None:
    """A mail failed for good: told once per notice (every recipient of one event)."""
    _trouble(
        uow,
        product,
        "mail_failed",
        notice_key,
        at,
        version_id,
        notify_requester=False,
        recipient=recipient,
        reason=reason,
    )


def deletion_stuck(
    uow: UnitOfWork, product: Product, version_id: str, reason: str, at: datetime
) -> None:
    """A copy could not be deleted after every attempt a job has; the notice waits for it."""
    key = version_id
    _trouble(
        uow, product, "delete_stuck", key, at, version_id, notify_requester=True, reason=reason
    )


def copy_gone(
    uow: UnitOfWork, product: Product, version: Version, reason: str, at: datetime
) -> None:
    """The cloud no longer has the copy of a published version."""
    key = f"{version.id}:{version.copy_id}"
    _trouble(uow, product, "copy_gone", key, at, version.id, notify_requester=True, reason=reason)


def blocked_by_r7(
    uow: UnitOfWork,
    product: Product,
    schedule_id: int,
    version_id: str | None,
    day: str,
    at: datetime,
    language: str = "en",
) -> None:
    message = blocked_message(language, product, schedule_id, version_id, day)
    post(
        uow,
        product,
        message,
        event="blocked",
        key=str(schedule_id),
        at=at,
        language=language,
        version_id=version_id,
    )


def ran_late(
    uow: UnitOfWork,
    product: Product,
    schedule_id: int,
    version_id: str | None,
    day: str,
    late: str,
    at: datetime,
    language: str = "en",
) -> None:
    message = late_message(language, product, version_id, day, late)
    post(
        uow,
        product,
        message,
        event="late",
        key=str(schedule_id),
        at=at,
        language=language,
        version_id=version_id,
    )


def drift_found(
    uow: UnitOfWork,
    product: Product,
    check_key: str,
    lines: Sequence[str],
    at: datetime,
    language: str = "en",
) -> None:
    message = drift_message(language, product, lines)
    post(uow, product, message, event="drift", key=check_key, at=at, language=language)


def version_broken(
    uow: UnitOfWork, product: Product, version_id: str, omi_id: str, at: datetime
) -> None:
    message = broken_message("en", product, version_id, omi_id)
    post(uow, product, message, event="broken", key=version_id, at=at, version_id=version_id)


def retention_request(
    uow: UnitOfWork,
    product: Product,
    request_id: int,
    version: Version,
    day: str,
    at: datetime,
) -> None:
    message = retention_message("en", product, request_id, version, day)
    post(
        uow,
        product,
        message,
        event="request",
        key=str(request_id),
        at=at,
        version_id=version.id,
        request_id=request_id,
    )

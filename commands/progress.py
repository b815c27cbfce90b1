"""Where a publication or an unpublication stands, told to the people who asked (the request's
Slack thread and its requester), and what went wrong that the release managers must know (a
mail that failed for good, a copy that cannot be deleted, a copy the cloud lost), written to the
outbox in the step's own transaction."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from commands.model import OutboxItem, Version
from commands.notifications.slack_text import mrkdwn
from storage.uow import UnitOfWork


class Stage(StrEnum):
    COPIED = "copied"  # the OMI copy exists, waiting until it is available
    SHARING = "sharing"  # available, being shared with the subscribers
    PUBLISHED = "published"
    FAILED = "failed"
    DELETED = "deleted"  # an unpublished version's copy is gone from the cloud


class Alert(StrEnum):
    """What the release managers must hear of, beside the stages."""

    MAIL_FAILED = "mail_failed"  # a notice's mail failed for good
    DELETE_STUCK = "delete_stuck"  # a copy cannot be deleted yet: the unpublish notice waits
    COPY_GONE = "copy_gone"  # the cloud no longer has a copy the Versions table knows


def stage(
    uow: UnitOfWork, version: Version, reached: Stage, at: datetime, detail: str = ""
) -> None:
    """Called by the pipeline each time a version reaches a stage. Only requests made from
    Slack have a thread to report to; a version published from the CLI is left alone."""
    request = uow.requests.about_version(version.id, version.product_code)
    if request is None:
        return
    surface = request.surface or {}
    channel, ts = surface.get("channel"), surface.get("ts")
    if not channel or not ts:
        return
    language = str(surface.get("lang") or "en")
    uow.outbox.add(
        OutboxItem(
            channel="slack",
            key=f"progress:{version.id}:{reached.value}",
            event=f"progress_{reached.value}",
            product_code=version.product_code,
            version_id=version.id,
            recipient=str(channel),
            language=language,
            payload={
                "text": progress_text(language, version, reached, detail),
                "thread_ts": str(ts),
                "notify_user": request.requested_by,
            },
            at=at,
        )
    )


_TEXTS: dict[str, dict[Stage, str]] = {
    "en": {
        Stage.COPIED: ":hourglass_flowing_sand: Version {id}: OMI copy {detail} created, "
        "waiting until it is available.",
        Stage.SHARING: ":arrows_counterclockwise: Version {id}: the OMI copy is available and "
        "is being shared with the subscribers.",
        Stage.PUBLISHED: ":white_check_mark: Version {id} ({software}) of product {code} is "
        "published; subscribers and organization administrators are told by email.",
        Stage.FAILED: ":x: Version {id} of product {code} could not be published: {detail}",
        Stage.DELETED: ":wastebasket: Version {id}: OMI copy {detail} was deleted from the "
        "OUTSCALE Cloud; VMs already launched from it keep running.",
    },
    "fr": {
        Stage.COPIED: ":hourglass_flowing_sand: Version {id} : copie de l'OMI {detail} créée, "
        "en attente de disponibilité.",
        Stage.SHARING: ":arrows_counterclockwise: Version {id} : la copie de l'OMI est "
        "disponible et en cours de partage avec les souscripteurs.",
        Stage.PUBLISHED: ":white_check_mark: La version {id} ({software}) du produit {code} est "
        "publiée ; les souscripteurs et administrateurs de l'organisation sont avertis par "
        "e-mail.",
        Stage.FAILED: ":x: La version {id} du produit {code} n'a pas pu être publiée : {detail}",
        Stage.DELETED: ":wastebasket: Version {id} : la copie de l'OMI {detail} a été supprimée "
        "du Cloud OUTSCALE ; les VM déjà lancées continuent de fonctionner.",
    },
}


def progress_text(language: str, version: Version, reached: Stage, detail: str = "") -> str:
    texts = _TEXTS.get(language, _TEXTS["en"])
    # Slack reads the text as mrkdwn: a software version or a cloud's answer must not become a
    # mention or a link.
    return texts[reached].format(
        id=mrkdwn(version.id),
        code=mrkdwn(version.product_code),
        software=mrkdwn(version.software_version or "-", 200),
        detail=mrkdwn(detail or "-", 1000),
    )


def alert(
    uow: UnitOfWork,
    product_code: str,
    version_id: str | None,
    kind: Alert,
    at: datetime,
    *,
    key: str,
    detail: str,
) -> bool:
    """Tells the release managers: in the request's thread (and its requester, but for a mail)
    when the version came through Slack, else at the top of the product's approval channel.
    `key` names the occurrence, so it is told once. Returns whether anyone could be told; a
    product without Slack leaves it to the job or the mail's record (`versions show`, `mail
    list --failed`)."""
    request = (
        uow.requests.about_version(version_id, product_code) if version_id is not None else None
    )
    surface = (request.surface or {}) if request is not None else {}
    channel, ts = surface.get("channel"), surface.get("ts")
    payload: dict[str, object] = {}
    if channel and ts and request is not None:
        payload["thread_ts"] = str(ts)
        if kind is not Alert.MAIL_FAILED:
            payload["notify_user"] = request.requested_by
        language = str(surface.get("lang") or "en")
    else:
        product = uow.products.get(product_code, versions=False)
        channel = product.approval_channel if product is not None else None
        language = "en"
    if not channel:
        return False
    texts = _ALERTS.get(language, _ALERTS["en"])
    payload["text"] = texts[kind].format(
        id=mrkdwn(version_id or "-"), code=mrkdwn(product_code), detail=mrkdwn(detail or "-", 1000)
    )
    uow.outbox.add(
        OutboxItem(
            channel="slack",
            key=f"alert:{kind.value}:{key}"[:255],
            event=f"progress_{kind.value}",
            product_code=product_code,
            version_id=version_id,
            recipient=str(channel),
            language=language,
            payload=payload,
            at=at,
        )
    )
    return True


_ALERTS: dict[str, dict[Alert, str]] = {
    "en": {
        Alert.MAIL_FAILED: ":envelope: A notice of product {code} (version {id}) could not be "
        "mailed: {detail} `omi-bot mail list --failed` lists every mail that failed, "
        "`omi-bot mail retry ID` sends one again.",
        Alert.DELETE_STUCK: ":warning: Version {id} of product {code}: its OMI copy could not be "
        "deleted yet ({detail}). omi-bot keeps trying; subscribers are told of the "
        "unpublication once the copy is gone.",
        Alert.COPY_GONE: ":warning: Version {id} of product {code}: {detail}",
    },
    "fr": {
        Alert.MAIL_FAILED: ":envelope: Un avis du produit {code} (version {id}) n'a pas pu être "
        "envoyé par e-mail : {detail} `omi-bot mail list --failed` liste les e-mails en échec, "
        "`omi-bot mail retry ID` en renvoie un.",
        Alert.DELETE_STUCK: ":warning: Version {id} du produit {code} : la copie de l'OMI n'a "
        "pas encore pu être supprimée ({detail}). omi-bot réessaie ; les souscripteurs seront "
        "avertis de la dépublication une fois la copie supprimée.",
        Alert.COPY_GONE: ":warning: Version {id} du produit {code} : {detail}",
    },
}

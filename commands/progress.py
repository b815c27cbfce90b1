"""Where a publication or an unpublication stands, told to the people who asked (the request's
Slack thread and its requester), written to the outbox in the step's own transaction."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from commands.model import OutboxItem, Version, slack_user_id
from commands.notifications.slack_text import mrkdwn
from storage.uow import UnitOfWork


class Stage(StrEnum):
    COPIED = "copied"  # the OMI copy exists, waiting until it is available
    SHARING = "sharing"  # available, being shared with the subscribers
    PUBLISHED = "published"
    FAILED = "failed"
    DELETED = "deleted"  # an unpublished version's copy is gone from the cloud


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
                # A request from the CLI has its thread but nobody in Slack to tell directly.
                "notify_user": slack_user_id(request.requested_by) or "",
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

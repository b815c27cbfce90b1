"""Where a message to the release managers goes: their approval channel, or each of them by
direct message when the product has none, or the thread of the request a version came through.

Nothing is sent here: the message becomes outbox items, in the transaction that records the
event, keyed so that telling the same event twice queues nothing new."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from commands.model import OutboxItem, Product, slack_user_id
from commands.notifications.managers.messages import Message
from storage.uow import UnitOfWork

PREFIX = "managers_"


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

"""What went wrong with a version once the worker took over, told where its requester will see
it: in the thread of the request when the version came through Slack, else to the approval
channel. A mail that failed for good, an OMI copy that cannot be deleted yet, a copy the cloud
lost."""

from __future__ import annotations

from datetime import datetime

from commands.model import Product, Version
from commands.notifications.managers.messages import Message, compose, section, text, what
from commands.notifications.managers.posting import post, request_thread
from commands.notifications.slack_text import mrkdwn
from storage.uow import UnitOfWork


def trouble_message(
    language: str, product: Product, event: str, version_id: str | None, **values: str
) -> Message:
    """A failed mail (`mail_failed`), a copy not deleted yet (`delete_stuck`), a copy the
    cloud lost (`copy_gone`): what is known of it, every value escaped."""
    said = text(
        language,
        event,
        what=what(language, version_id, lead=event == "copy_gone"),
        name=mrkdwn(product.name),
        code=mrkdwn(product.code),
        **{name: mrkdwn(value, 1000) for name, value in values.items()},
    )
    return compose(said, section(said))


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


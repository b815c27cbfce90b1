"""Delivery of the outbox's mails: claim the due ones in batches, send them over one
connection, record their outcomes a group at a time.

How far "exactly once" goes. A mail is claimed with a lease (state sending, lease_until) in its
own committed transaction; a worker that dies leaves its mails to be claimed again once the
lease runs out, so nothing queued is lost. Outcomes are committed together, RECORD_EVERY
mails or RECORD_SECONDS after the first of them at the most: a commit per mail costs more
than sending the mail does. A crash therefore resends at most the mails of the group whose
answers were received but not yet recorded. SMTP offers nothing better than "at most one":
no protocol lets a client learn whether a message it sent before dying was queued. A resent
mail keeps its Message-ID, so mail clients and most servers recognise the duplicate. The
Maildir transport stores by Message-ID and never keeps two copies.

A mail is retried with backoff while the server says "later" (4xx, connection trouble): the
delay doubles up to an hour, and the retries go on for OMI_MAIL_RETRY_SECONDS (a day) after the
event, so a relay down overnight still delivers. It is marked failed with the server's answer
when it says "never" (5xx) or when that time is up, and the failure is told in the request's
Slack thread (or the product's approval channel). Nothing here raises for SMTP or network
trouble: it is recorded on the mail."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from commands import audit, metrics
from commands.bootstrap import Core
from commands.config import Settings
from commands.errors import NotFound, UserError
from commands.model import OutboxItem, OutboxState
from commands.notifications import managers
from commands.notifications.mail import (
    PreparedMail,
    RenderedMail,
    make_message_id,
    message_id_domain,
)
from commands.notifications.transport import (
    Delivery,
    DeliveryStatus,
    Envelope,
    Transport,
    backoff,
    transport_from_url,
)
from storage.uow import UnitOfWork

log = logging.getLogger("omi_bot.mail")

CHANNEL = "email"
# The longest wait between two tries of one mail.
RETRY_CAP_SECONDS = 3600.0
BATCH = 200
# Outcomes committed together: a crash resends at most these, never more than a second's worth.
RECORD_EVERY = 100
RECORD_SECONDS = 1.0
# How long one call may keep sending before it lets the worker run its jobs again.
BUDGET_SECONDS = 10.0

AfterEach = Callable[[OutboxItem, OutboxState | None], None]


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    retry: int = 0  # back to pending, due again after a backoff
    failed: int = 0
    released: int = 0  # not tried (the server could not be reached): not counted as an attempt
    lost: int = 0  # taken over by another worker after this one's lease ran out

    def add(self, other: DeliveryReport) -> None:
        for name in ("claimed", "sent", "retry", "failed", "released", "lost"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def open_transport(settings: Settings) -> Transport:
    """The transport OMI_SMTP_URL asks for, or the Maildir. A malformed URL is the operator's
    to fix: a UserError whose message never repeats the URL (it may hold a password)."""
    try:
        return transport_from_url(settings.smtp_url, settings.maildir)
    except ValueError as bad:
        raise UserError(f"OMI_SMTP_URL cannot be used: {bad}.") from None


def deliver_mail(
    core: Core,
    worker_name: str,
    batch: int = BATCH,
    stopping: Callable[[], bool] | None = None,
    transport: Transport | None = None,
) -> int:
    """Sends the mails that are due, in batches of `batch` over one connection (`transport`,
    else one of its own), for up to BUDGET_SECONDS. Returns how many mails were handled (sent,
    retried later or failed)."""
    report = send_due_mail(core, worker_name, batch=batch, stopping=stopping, transport=transport)
    return report.claimed


def send_due_mail(
    core: Core,
    worker_name: str,
    *,
    batch: int = BATCH,
    budget_seconds: float = BUDGET_SECONDS,
    max_attempts: int | None = None,
    record_every: int = RECORD_EVERY,
    after_each: AfterEach | None = None,
    stopping: Callable[[], bool] | None = None,
    transport: Transport | None = None,
) -> DeliveryReport:
    """deliver_mail with the details. Outcomes are committed `record_every` at a time (and at
    least every RECORD_SECONDS); `after_each` is called for each once it is committed: a hook
    for progress reports, and where tests stop a worker dead to play a crash.
    `stopping()` turning true (a worker shutting down) gives back the mails not yet tried.
    A `transport` given is used and left open (a worker keeps its connection from one call to
    the next); otherwise one is opened from the settings and closed at the end."""
    stopping = stopping or (lambda: False)
    lease = timedelta(seconds=core.settings.job_lease_seconds)
    report = DeliveryReport()
    deadline = time.monotonic() + budget_seconds
    opened = nullcontext(transport) if transport is not None else open_transport(core.settings)
    with opened as transport:
        while True:
            with core.uow() as uow:
                claimed = uow.outbox.claim(CHANNEL, worker_name, core.clock(), lease, batch)
                uow.commit()
            if not claimed:
                break
            taken_over = sum(item.taken_over for item in claimed)
            if taken_over:
                metrics.leases_taken_over.labels(CHANNEL).inc(taken_over)
            sender = _Sender(core, transport, lease, max_attempts, record_every, after_each)
            done = sender.send(claimed, stopping)
            report.add(done)
            log.info(
                "mail via %r: %d sent, %d to retry, %d failed, %d not tried",
                transport,
                done.sent,
                done.retry,
                done.failed,
                done.released,
            )
            if len(claimed) < batch or done.released or stopping() or time.monotonic() >= deadline:
                break
    return report


class _Sender:
    """Sends one claimed batch, keeping the outcomes not yet committed."""

    def __init__(
        self,
        core: Core,
        transport: Transport,
        lease: timedelta,
        max_attempts: int | None,
        record_every: int,
        after_each: AfterEach | None,
    ) -> None:
        self.core = core
        self.transport = transport
        self.lease = lease
        self.max_attempts = max_attempts
        self.record_every = max(record_every, 1)
        self.after_each = after_each
        self.report = DeliveryReport()
        self.unrecorded: list[tuple[OutboxItem, dict[str, object]]] = []
        self.oldest = 0.0  # time.monotonic() of the oldest unrecorded outcome

    def send(self, claimed: Sequence[OutboxItem], stopping: Callable[[], bool]) -> DeliveryReport:
        core = self.core
        self.report.claimed = len(claimed)
        held = {item.id for item in claimed}
        lease_until = min(item.lease_until or core.clock() for item in claimed)
        for index, item in enumerate(claimed):
            message = _build(item, core.settings.mail_from)
            # Checked right before the send, after everything slow: a slow server must not let
            # the lease run out under a batch still being sent, and a worker that stalled past
            # its lease must not send what another one took over since.
            if core.clock() >= lease_until - self.lease / 2:
                self.record()
                held = _renew(core, claimed[index:], self.lease)
                lease_until = core.clock() + self.lease
            if item.id not in held:
                self.report.lost += 1
                continue
            delivery = _send(self.transport, item, message)
            if not self.unrecorded:
                self.oldest = time.monotonic()
            self.unrecorded.append((item, _outcome(core, item, delivery, self.max_attempts)))
            if (
                len(self.unrecorded) >= self.record_every
                or time.monotonic() - self.oldest >= RECORD_SECONDS
            ):
                self.record()
            reason = unavailable(self.transport) or (
                "the worker is stopping" if stopping() else None
            )
            if reason is not None and index + 1 < len(claimed):
                # The server cannot be reached: trying the rest now would only burn their
                # attempts.
                self.record()
                self.report.released = _release(core, claimed[index + 1 :], reason)
                break
        self.record()
        return self.report

    def record(self) -> None:
        """Commits the outcomes not yet committed, in one transaction, each fenced on its
        claim: the outcome of a mail another worker took over (its lease ran out) is not
        written, that worker's is the one kept."""
        if not self.unrecorded:
            return
        outcomes, self.unrecorded = self.unrecorded, []
        at = self.core.clock()
        with self.core.uow() as uow:
            kept = uow.outbox.settle_sent(
                [(i, v["sent_at"]) for i, v in outcomes if v["state"] is OutboxState.SENT]
            )
            audit.notices_sent(uow, [i for i, _ in outcomes if i.id in kept], at)
            for item, values in outcomes:
                if values["state"] is OutboxState.SENT:
                    continue
                # Retries and failures are few: one fenced UPDATE each.
                if uow.outbox.settle(item, **values):
                    kept.add(item.id)
                    if values["state"] is OutboxState.FAILED:
                        report_failure(uow, item, str(values["last_error"]), at)
            uow.commit()
        for item, values in outcomes:
            state = values["state"] if item.id in kept else None
            assert state is None or isinstance(state, OutboxState)
            if state is None:
                log.warning("mail %s was taken over by another worker", item.id)
            _count(self.report, state)
            if self.after_each is not None:
                self.after_each(item, state)


def unavailable(transport: Transport) -> str | None:
    """Why the transport cannot send for the rest of this session, if it cannot."""
    return getattr(transport, "unavailable", None)


def _count(report: DeliveryReport, state: OutboxState | None) -> None:
    if state is OutboxState.SENT:
        report.sent += 1
        metrics.mails.labels("sent").inc()
    elif state is OutboxState.PENDING:
        report.retry += 1
        metrics.mails.labels("retry").inc()
    elif state is OutboxState.FAILED:
        report.failed += 1
        metrics.mails.labels("failed").inc()
    else:
        report.lost += 1
        metrics.mails.labels("lost").inc()


def envelope_for(item: OutboxItem, mail_from: str) -> Envelope:
    """The mail as rendered when the event happened, ready to send. Its Date is that moment:
    the mail was complete then, and a resent copy says the same. Its Message-ID is derived
    from the outbox key and the sender's domain, so a resent copy keeps it too."""
    payload = item.payload
    prepared = _prepared(
        str(payload["subject"]),
        str(payload["text"]),
        str(payload["html"]),
        item.language,
        mail_from,
    )
    return prepared.envelope(
        to=item.recipient, message_id=message_id(item, mail_from), date=item.created_at
    )


def message_id(item: OutboxItem, mail_from: str) -> str:
    return make_message_id(item.key, _domain(mail_from))


@lru_cache(maxsize=8)
def _domain(mail_from: str) -> str:
    # Parsing the sender's address costs more than the rest of a mail's headers.
    return message_id_domain(mail_from)


@lru_cache(maxsize=32)
def _prepared(subject: str, text: str, html: str, language: str, mail_from: str) -> PreparedMail:
    # Every recipient of an event in one language gets the same bodies: they are encoded and
    # serialized once here, and only the addressing headers are written per mail.
    return PreparedMail(RenderedMail(subject, text, html, language), mail_from)


def _build(item: OutboxItem, mail_from: str) -> Envelope | Delivery:
    try:
        return envelope_for(item, mail_from)
    except (KeyError, ValueError) as bad:
        # A stored mail that cannot be built never will be: fail it, keep going with the rest.
        return Delivery(DeliveryStatus.FAILED, f"invalid message: {bad}")


def _send(transport: Transport, item: OutboxItem, message: Envelope | Delivery) -> Delivery:
    if isinstance(message, Delivery):
        return message
    try:
        return transport.send(message)
    except Exception as error:  # transports answer; this is a bug, and the mail is kept
        log.exception("mail %s: the transport raised", item.id)
        return Delivery(DeliveryStatus.RETRY, f"internal error ({type(error).__name__})")


def _outcome(
    core: Core, mine: OutboxItem, delivery: Delivery, max_attempts: int | None
) -> dict[str, object]:
    """The columns a delivery's outcome writes, the moment it is known."""
    at = core.clock()
    values: dict[str, object] = {"lease_until": None}
    if delivery.status is DeliveryStatus.SENT:
        values.update(state=OutboxState.SENT, sent_at=at, last_error=None)
    elif delivery.status is DeliveryStatus.FAILED:
        values.update(state=OutboxState.FAILED, last_error=delivery.detail)
    else:
        deadline = mine.created_at + timedelta(seconds=core.settings.mail_retry_seconds)
        if at >= deadline or (max_attempts is not None and mine.attempts >= max_attempts):
            detail = f"gave up after {mine.attempts} attempts: {delivery.detail}"
            values.update(state=OutboxState.FAILED, last_error=detail)
        else:
            # The last try is at the deadline itself, however long the backoff has grown.
            due = min(at + timedelta(seconds=retry_delay(core, mine.attempts)), deadline)
            values.update(
                state=OutboxState.PENDING, last_error=delivery.detail, next_attempt_at=due
            )
    return values


def report_failure(uow: UnitOfWork, item: OutboxItem, reason: str, at: datetime) -> None:
    """A mail failed for good: the release managers hear of it once per notice (every
    recipient of one event), where the request was decided; `mail list --failed` has them all."""
    audit.notice_failed(uow, item, reason, at)
    product = uow.products.get(item.product_code, versions=False)
    if product is None:
        return
    event, subject = item.key.split(":", 2)[:2]
    version_ids = [str(v) for v in item.payload.get("version_ids") or []]  # type: ignore[attr-defined]
    version_id = item.version_id or (version_ids[0] if version_ids else None)
    managers.mail_failed(uow, product, f"{event}:{subject}", version_id, item.recipient, reason, at)


def retry_delay(core: Core, attempts: int) -> float:
    # The jobs' base delay, so one setting (OMI_RETRY_BASE_SECONDS) paces every retry.
    return backoff(
        attempts, base=max(core.settings.retry_base_seconds, 0.01), cap=RETRY_CAP_SECONDS
    )


def _release(core: Core, items: Sequence[OutboxItem], reason: str) -> int:
    """Gives back mails that were claimed but not tried, without spending an attempt."""
    released = 0
    with core.uow() as uow:
        at = core.clock()
        due = at + timedelta(seconds=retry_delay(core, 1))
        for mine in items:
            released += uow.outbox.settle(
                mine,
                state=OutboxState.PENDING,
                attempts=mine.attempts - 1,
                lease_until=None,
                next_attempt_at=due,
                last_error=f"not tried: {reason}",
            )
        uow.commit()
    return released


def _renew(core: Core, items: Sequence[OutboxItem], lease: timedelta) -> set[int]:
    """Extends the lease of the mails this worker still holds; returns their IDs."""
    with core.uow() as uow:
        held = uow.outbox.renew(items, core.clock() + lease)
        uow.commit()
    return held


# -- the operators' view --------------------------------------------------------------------


def list_mail(core: Core, *, failed: bool = False, limit: int = 200) -> list[OutboxItem]:
    """The newest mails first."""
    with core.reading() as uow:
        return uow.outbox.list(
            channel=CHANNEL, state=OutboxState.FAILED if failed else None, limit=limit
        )


def retry_mail(core: Core, item_id: int, at: datetime | None = None) -> OutboxItem:
    """A failed mail goes back to the queue, due now, with a fresh set of attempts."""
    with core.uow() as uow:
        item = uow.outbox.get(item_id)
        if item is None or item.channel != CHANNEL:
            raise NotFound(f"There is no mail {item_id}.")
        if item.state is not OutboxState.FAILED:
            raise UserError(
                f"Mail {item_id} is {item.state.value}: only a failed mail can be retried."
            )
        item.state = OutboxState.PENDING
        item.attempts = 0
        item.next_attempt_at = at or core.clock()
        item.lease_until = None
        uow.commit()
        return item

"""What subscribers, organization administrators and Slack channels are told, written to the
outbox in the transaction of the event itself (R4, R8, R9, R10).

Nothing is sent here: each notice becomes an outbox row committed (or rolled back) with the
state change that caused it, so a notice is never sent for a change that did not happen, nor
lost for one that did. Mails are rendered now, in the recipient's language, so that delivery
is only sending and a retry days later sends the very same mail."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from commands import audit
from commands.audit import Kind
from commands.model import Organization, OutboxItem, Product, Subscriber, Unpublication, Version
from commands.notifications.mail import (
    Event,
    MailFacts,
    RenderedMail,
    VersionFacts,
    normalize_language,
    render,
)
from storage.uow import UnitOfWork

SCHEDULE_EVENTS = (
    Event.UNPUBLICATION_SCHEDULED,
    Event.UNPUBLICATION_REMINDER,
    Event.UNPUBLICATION_CANCELLED,
)

# outbox.key is VARCHAR(255); PostgreSQL refuses longer values.
_KEY_MAX = 255


@dataclass(frozen=True)
class Recipient:
    address: str  # as first written; the key and the de-duplication use its lower case
    language: str


def version_published(uow: UnitOfWork, product: Product, version: Version, at: datetime) -> None:
    """R4: subscribers and organization administrators are advised to upgrade."""
    facts = published_facts(product, version, product.last_available_version(), at)
    _enqueue(uow, product, facts, [version], subject=version.id, version_id=version.id, at=at)


def published_facts(
    product: Product, version: Version, last: Version | None, at: datetime
) -> MailFacts:
    """What the publication notice says; `last` is the last available version after it."""
    return MailFacts(
        event=Event.VERSION_PUBLISHED,
        product_code=product.code,
        product_name=product.name,
        versions=(_facts(version, version.published_at or at),),
        last_available=_facts(last, last.published_at or at) if last else None,
        instructions=version.instructions,
    )


def versions_unpublished(
    uow: UnitOfWork,
    product: Product,
    versions: Sequence[Version],
    at: datetime,
    *,
    whole_product: bool,
) -> None:
    """R8, R9: the OMI copies are gone, running VMs keep running. A whole product is one
    notice listing every version (R9), not one per version."""
    if not versions:
        return
    last = product.last_available_version()
    if whole_product:
        ordered = unpublished_order(versions)
        facts = unpublished_facts(product, versions, last, at, whole_product=True)[0]
        # The event has no version of its own: the product and the moment name it. A product
        # is unpublished once per publication life, so that moment does not come back.
        stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        _enqueue(uow, product, facts, ordered, subject=f"{product.code}@{stamp}", at=at)
        return
    for version, facts in zip(
        versions, unpublished_facts(product, versions, last, at, whole_product=False), strict=True
    ):
        _enqueue(uow, product, facts, [version], subject=version.id, version_id=version.id, at=at)


def unpublished_order(versions: Sequence[Version]) -> list[Version]:
    """A whole product's notice lists its versions newest first."""
    return sorted(versions, key=lambda v: (v.published_at or v.created_at, v.id), reverse=True)


def unpublished_facts(
    product: Product,
    versions: Sequence[Version],
    last: Version | None,
    at: datetime,
    *,
    whole_product: bool,
) -> list[MailFacts]:
    """What the unpublication notices say: one for a whole product, else one per version;
    `last` is the last available version once they are gone."""
    last_facts = _facts(last, last.published_at or at) if last else None
    if whole_product:
        return [
            MailFacts(
                event=Event.PRODUCT_UNPUBLISHED,
                product_code=product.code,
                product_name=product.name,
                versions=tuple(_facts(v, at) for v in unpublished_order(versions)),
                last_available=last_facts,
            )
        ]
    return [
        MailFacts(
            event=Event.VERSION_UNPUBLISHED,
            product_code=product.code,
            product_name=product.name,
            versions=(_facts(version, at),),
            last_available=last_facts,
        )
        for version in versions
    ]


# -- scheduled unpublications ------------------------------------------------------------------


def unpublication_scheduled(
    uow: UnitOfWork,
    product: Product,
    schedule: Unpublication,
    versions: Sequence[Version],
    at: datetime,
    *,
    days_left: int | None = None,
) -> None:
    """At approval: the date, the version that replaces it, running VMs keep running. With
    `days_left`, the reminder of it that many days before, to whoever subscribes then."""
    event = Event.UNPUBLICATION_SCHEDULED if days_left is None else Event.UNPUBLICATION_REMINDER
    subject = f"schedule-{schedule.id}" + ("" if days_left is None else f"-d{days_left}")
    facts = schedule_facts(
        event,
        product,
        versions,
        due_at=schedule.due_at,
        whole_product=schedule.whole_product,
        days_left=days_left,
    )
    _enqueue(uow, product, facts, versions, subject=subject, at=at, version_id=schedule.version_id)


def unpublication_cancelled(
    uow: UnitOfWork,
    product: Product,
    schedule: Unpublication,
    versions: Sequence[Version],
    at: datetime,
) -> None:
    """ "No longer scheduled", to exactly those who were told it was (by mail or channel)."""
    told = uow.outbox.recipients(
        [
            f"{Event.UNPUBLICATION_SCHEDULED.value}:schedule-{schedule.id}:",
            f"{Event.UNPUBLICATION_REMINDER.value}:schedule-{schedule.id}-d",
        ]
    )
    if not told:
        return
    facts = schedule_facts(
        Event.UNPUBLICATION_CANCELLED,
        product,
        versions,
        due_at=schedule.due_at,
        whole_product=schedule.whole_product,
    )
    _enqueue(
        uow,
        product,
        facts,
        versions,
        subject=f"schedule-{schedule.id}",
        at=at,
        version_id=schedule.version_id,
        told=[(channel, address, normalize_language(lang)) for channel, address, lang in told],
    )


def schedule_facts(
    event: Event,
    product: Product,
    versions: Sequence[Version],
    *,
    due_at: datetime,
    whole_product: bool,
    days_left: int | None = None,
) -> MailFacts:
    """What the notices of a scheduled unpublication say, due at `due_at`."""
    ordered = unpublished_order(versions)
    leaving = {v.id for v in versions}
    remaining = [v for v in product.published_versions() if v.id not in leaving]
    replacement = max(remaining, key=lambda v: (v.published_at or v.created_at, v.id), default=None)
    return MailFacts(
        event=event,
        product_code=product.code,
        product_name=product.name,
        # The versions' date is the scheduled date: it is what the notices are about.
        versions=tuple(_facts(v, due_at) for v in ordered),
        last_available=(
            _facts(replacement, replacement.published_at or replacement.created_at)
            if replacement and not whole_product
            else None
        ),
        whole_product=whole_product,
        days_left=days_left,
    )


# -- internals --------------------------------------------------------------------------------


def _facts(version: Version, date: datetime) -> VersionFacts:
    return VersionFacts(
        version_id=version.id,
        software_version=version.software_version,
        # The unpublish mails name the copy that is being deleted; the version keeps its ID.
        omi_copy_id=version.copy_id,
        release_note=version.release_note,
        operating_system=version.operating_system,
        date=date,
    )


def outbox_key(event: str, subject: str, recipient: str) -> str:
    """`event:version-or-product@time:recipient`, unique per recipient per event."""
    key = f"{event}:{subject}:{recipient.lower()}"
    if len(key) > _KEY_MAX:
        # Only a very long address gets here; its hash keeps the key unique and short.
        digest = hashlib.sha256(recipient.lower().encode("utf-8")).hexdigest()
        key = f"{event}:{subject}:#{digest}"
    return key


def _enqueue(
    uow: UnitOfWork,
    product: Product,
    facts: MailFacts,
    versions: Sequence[Version],
    *,
    subject: str,
    at: datetime,
    version_id: str | None = None,
    told: Sequence[tuple[str, str, str]] | None = None,
) -> None:
    """Queues the event's mails and channel posts: to the product's subscribers and their
    organizations' administrators, or to `told` ((channel, recipient, language), those told
    of an earlier event) when given."""
    if told is None:
        found = reach(uow, product.code)
        recipients, channels = found.recipients, found.channels
    else:
        recipients = [Recipient(r, lang) for channel, r, lang in told if channel == "email"]
        channels = [(r, lang) for channel, r, lang in told if channel == "slack"]
    event = facts.event.value
    version_ids = [v.id for v in versions]
    rendered: dict[str, RenderedMail] = {}

    def items() -> Iterator[OutboxItem]:
        # Made one at a time as the outbox takes them: ten thousand mails are queued in a few
        # statements per few hundred, inside the transaction that holds the product's lock,
        # without all of them in memory at once.
        for recipient in recipients:
            mail = rendered.get(recipient.language)
            if mail is None:
                mail = rendered[recipient.language] = render(facts, recipient.language)
            yield OutboxItem(
                channel="email",
                key=outbox_key(event, subject, recipient.address),
                event=event,
                product_code=product.code,
                version_id=version_id,
                recipient=recipient.address,
                language=mail.language,
                payload={
                    "subject": mail.subject,
                    "text": mail.text,
                    "html": mail.html,
                    "version_ids": version_ids,
                },
                at=at,
            )
        announcement = announcement_facts(facts, at)
        for channel, language in channels:
            yield OutboxItem(
                channel="slack",
                # Channel IDs are upper case and compared as they are; no address to fold.
                key=f"{event}:{subject}:slack:{channel}",
                event=event,
                product_code=product.code,
                version_id=version_id,
                recipient=channel,
                language=language,
                payload=announcement,
                at=at,
            )

    if uow.outbox.add_all(items()):
        audit.record(
            uow,
            Kind.NOTICE_QUEUED,
            at=at,
            product_code=product.code,
            version_id=version_id,
            notice=f"{event}:{subject}",
            recipients=len(recipients),
            channels=len(channels),
        )


def is_notice(event: str) -> bool:
    """Whether an outbox row is a notice to subscribers (not a message to release managers
    nor a progress report)."""
    return event in _NOTICE_EVENTS


_NOTICE_EVENTS = frozenset(e.value for e in Event)


@dataclass(frozen=True)
class Reach:
    """Who a product's notices go to now: its subscribers, their organizations, the mail
    recipients (each once, in their language) and the Slack channels."""

    subscribers: list[Subscriber]
    organizations: dict[int, Organization]
    recipients: list[Recipient]
    channels: list[tuple[str, str]]


def reach(uow: UnitOfWork, product_code: str) -> Reach:
    subscribers = uow.subscribers.list(product_code)
    organizations = _organizations(uow, subscribers)
    return Reach(
        subscribers=list(subscribers),
        organizations=organizations,
        recipients=mail_recipients(subscribers, organizations),
        channels=slack_channels(subscribers, organizations),
    )


def _organizations(uow: UnitOfWork, subscribers: Iterable[Subscriber]) -> dict[int, Organization]:
    return uow.subscribers.organizations_by_id(s.organization_id for s in subscribers)


def mail_recipients(
    subscribers: Iterable[Subscriber], organizations: dict[int, Organization]
) -> list[Recipient]:
    """Each subscriber's contact and each administrator of their organization, once per
    address whatever its case.

    An address can be reached through two organizations of different languages (a contractor
    who is the contact of two customers, say). It then gets the language of the organization
    where it is a subscriber's contact rather than a mere administrator, and between equals the
    organization whose name sorts first: a stable choice, the same on every run and worker."""
    best: dict[str, tuple[tuple[int, str, int], str, str]] = {}

    def offer(address: str, role: int, org: Organization) -> None:
        address = address.strip()
        if not address:
            return
        rank = (role, org.name.lower(), org.id or 0)
        current = best.get(address.lower())
        if current is None or rank < current[0]:
            kept = current[1] if current else address
            best[address.lower()] = (rank, kept, normalize_language(org.language))

    for sub in subscribers:
        org = organizations.get(sub.organization_id)
        if org is None:
            continue
        offer(sub.email, 0, org)
        for admin in org.admin_emails:
            offer(admin, 1, org)
    return [Recipient(address, language) for _, address, language in best.values()]


def slack_channels(
    subscribers: Iterable[Subscriber], organizations: dict[int, Organization]
) -> list[tuple[str, str]]:
    """(channel ID, language) for each distinct subscriber channel; a channel shared by two
    organizations gets the language of the one whose name sorts first."""
    best: dict[str, tuple[tuple[str, int], str]] = {}
    for sub in subscribers:
        org = organizations.get(sub.organization_id)
        if not sub.slack_channel or org is None:
            continue
        rank = (org.name.lower(), org.id or 0)
        current = best.get(sub.slack_channel)
        if current is None or rank < current[0]:
            best[sub.slack_channel] = (rank, normalize_language(org.language))
    return [(channel, language) for channel, (_, language) in sorted(best.items())]


def announcement_facts(facts: MailFacts, at: datetime) -> dict[str, object]:
    """The facts a Slack announcement is written from, as JSON."""
    last = facts.last_available
    scheduled = (
        {
            "whole_product": facts.whole_product,
            "days_left": facts.days_left,
            # The date it is scheduled for: the versions' date in these notices.
            "unpublish_on": facts.versions[0].date.astimezone(UTC).isoformat(),
        }
        if facts.event in SCHEDULE_EVENTS and facts.versions
        else {}
    )
    return {
        **scheduled,
        "event": facts.event.value,
        "product_code": facts.product_code,
        "product_name": facts.product_name,
        "versions": [
            {
                "id": v.version_id,
                "software_version": v.software_version,
                "release_note": v.release_note,
                "omi_copy_id": v.omi_copy_id,
                "operating_system": v.operating_system,
            }
            for v in facts.versions
        ],
        "last_available": (
            {"id": last.version_id, "software_version": last.software_version} if last else None
        ),
        "date": at.astimezone(UTC).isoformat(),
    }

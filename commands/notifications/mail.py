"""Email notices sent to subscribers and organization administrators (rules R4, R8, R9, R10).

Rendering is pure: facts in, subject/text/HTML out, in the organization's language.
`build_message` turns a rendered mail into a MIME message that cannot carry injected headers,
whatever the seller typed in a product name or a release note.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.errors import NonASCIILocalPartDefect
from email.headerregistry import Address, AddressHeader
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from enum import StrEnum
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from commands.notifications.transport import Envelope, envelope_of

__all__ = [
    "LANGUAGES",
    "Event",
    "MailFacts",
    "PreparedMail",
    "RenderedMail",
    "VersionFacts",
    "build_message",
    "clean_subject",
    "format_date",
    "make_message_id",
    "message_id_domain",
    "normalize_language",
    "readdress",
    "render",
]

LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"
SUBJECT_MAX_LENGTH = 150
TEMPLATES_DIR = Path(__file__).parent / "templates"


class Event(StrEnum):
    VERSION_PUBLISHED = "version_published"
    VERSION_UNPUBLISHED = "version_unpublished"
    PRODUCT_UNPUBLISHED = "product_unpublished"
    # A scheduled unpublication: announced at approval, reminded before the date, cancelled.
    UNPUBLICATION_SCHEDULED = "unpublication_scheduled"
    UNPUBLICATION_REMINDER = "unpublication_reminder"
    UNPUBLICATION_CANCELLED = "unpublication_cancelled"


@dataclass(frozen=True)
class VersionFacts:
    version_id: str
    software_version: str
    omi_copy_id: str | None
    release_note: str
    operating_system: str
    date: datetime  # aware UTC; naive values are read as UTC


@dataclass(frozen=True)
class MailFacts:
    event: Event
    product_code: str
    product_name: str
    versions: tuple[VersionFacts, ...]  # one for version events, all for product_unpublished
    last_available: VersionFacts | None  # after the event (None when nothing is left)
    instructions: str = ""  # instructions for use, for the publish mail
    # Scheduled unpublications: the whole product or one version, and for a reminder the days
    # left before the date (the versions' date is the scheduled date).
    whole_product: bool = False
    days_left: int | None = None


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str
    # Carried along so build_message can set Content-Language without being told twice.
    language: str = DEFAULT_LANGUAGE


_MONTHS: dict[str, tuple[str, ...]] = {
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
    "fr": (
        "janvier", "février", "mars", "avril", "mai", "juin",
        "juillet", "août", "septembre", "octobre", "novembre", "décembre",
    ),
}  # fmt: skip


def normalize_language(language: str | None) -> str:
    """Map an organization language ("fr", "FR", "fr-FR", "fr_CA"…) to a supported one."""
    primary = (language or "").strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else DEFAULT_LANGUAGE


def _as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything in the project is stored in UTC.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_date(value: datetime, language: str) -> str:
    """`22 November 2026` / `22 novembre 2026` (and `1er novembre 2026`, as French writes it)."""
    lang = normalize_language(language)
    day_value = _as_utc(value)
    day = str(day_value.day)
    if lang == "fr" and day_value.day == 1:
        day = "1er"
    return f"{day} {_MONTHS[lang][day_value.month - 1]} {day_value.year}"


def _nl2br(value: object) -> Markup:
    # Escape first, then add markup: the release note is seller input and must stay inert.
    lines = str(value).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return Markup("<br>\n").join(escape(line) for line in lines)


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        # Only the HTML part is markup; escaping the text part would show "&lt;" to readers.
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["nl2br"] = _nl2br
    return env


# Line breaks of every kind (including U+2028/U+2029/U+0085) and other control characters.
_SUBJECT_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _one_line(text: str) -> str:
    return " ".join(_SUBJECT_UNSAFE.sub(" ", text).split())


def clean_subject(subject: str, max_length: int = SUBJECT_MAX_LENGTH) -> str:
    """One line, no control characters, bounded length."""
    one_line = _one_line(subject)
    if len(one_line) > max_length:
        one_line = one_line[: max_length - 1].rstrip() + "…"
    return one_line


def _one_line_version(version: VersionFacts) -> VersionFacts:
    # Names and IDs are shown inline; a stray line break from the form must not reshape the mail.
    return replace(
        version,
        version_id=_one_line(version.version_id),
        software_version=_one_line(version.software_version),
        omi_copy_id=_one_line(version.omi_copy_id) if version.omi_copy_id else None,
        operating_system=_one_line(version.operating_system),
    )


def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def render(facts: MailFacts, language: str) -> RenderedMail:
    """Render the notice for `facts` in `language` ("en" or "fr"; anything else gives "en")."""
    if not facts.versions:
        raise ValueError(f"{facts.event}: at least one version is required")
    lang = normalize_language(language)
    event = Event(facts.event)

    def fmt_date(value: datetime) -> str:
        return format_date(value, lang)

    versions = tuple(_one_line_version(v) for v in facts.versions)
    last = _one_line_version(facts.last_available) if facts.last_available else None
    # A product is unpublished at the moment its last version goes: the latest date is the
    # event's date.
    event_date = max(_as_utc(v.date) for v in versions)
    context: dict[str, object] = {
        "product_name": _one_line(facts.product_name),
        "product_code": _one_line(facts.product_code),
        "versions": versions,
        "version": versions[0],
        "last_available": last,
        "instructions": facts.instructions.strip(),
        "whole_product": facts.whole_product,
        "days_left": facts.days_left,
        "event_date": fmt_date(event_date),
        "fmt_date": fmt_date,
    }
    env = _environment()

    def part(name: str, extra: dict[str, object] | None = None) -> str:
        template = env.get_template(f"{lang}/{event.value}.{name}.j2")
        return template.render({**context, **(extra or {})})

    subject = clean_subject(part("subject"))
    text = _normalize_newlines(part("txt"))
    html = _normalize_newlines(part("html", {"subject": subject}))
    return RenderedMail(subject=subject, text=text, html=html, language=lang)


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")


def _single_address(value: str, field: str) -> str:
    """Return `value` if it is exactly one mailbox; refuse anything that could add headers."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field}: an email address is required")
    if _CONTROL.search(value):
        raise ValueError(f"{field}: control characters (CR/LF…) are not allowed in an address")
    try:
        header = SMTP.header_factory(field, value)
    except (IndexError, TypeError, ValueError):
        # The stdlib's parser trips over some malformed addresses ("x@") instead of noting a
        # defect.
        raise ValueError(f"{field}: {value!r} is not a valid email address") from None
    if not isinstance(header, AddressHeader):  # pragma: no cover - both fields are address fields
        raise ValueError(f"{field}: not an address field")
    addresses: tuple[Address, ...] = header.addresses
    if any(isinstance(d, NonASCIILocalPartDefect) for d in header.defects):
        raise ValueError(f"{field}: non-ASCII characters before the @ are not supported")
    if header.defects or len(header.addresses) != 1 or len(header.groups) != 1:
        raise ValueError(f"{field}: expected a single email address, got {value!r}")
    address = addresses[0]
    if header.groups[0].display_name is not None:
        raise ValueError(f"{field}: address groups are not allowed")
    if not address.username or not address.domain:
        raise ValueError(f"{field}: {value!r} is not a valid email address")
    return value.strip()


_MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def make_message_id(key: str, domain: str) -> str:
    """`<hash@domain>`, the same for the same key, so a re-sent mail keeps its ID.

    The key is hashed so that whatever it contains (recipient address, IDs) is neither
    disclosed nor able to break the header. 128 bits keep the header on one line for domains
    up to 31 characters: some parsers keep the leading space of a folded Message-ID.
    """
    if not _DOMAIN.fullmatch(domain or ""):
        raise ValueError(f"invalid Message-ID domain: {domain!r}")
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain.lower()}>"


def message_id_domain(mail_from: str) -> str:
    """The domain of the sender's address, for the right-hand part of every Message-ID: the
    IDs then belong to a domain the operator controls, as RFC 5322 asks. Raises ValueError when
    the sender is not one address with a usable domain."""
    _single_address(mail_from, "From")
    domain = SMTP.header_factory("From", mail_from).addresses[0].domain  # type: ignore[attr-defined]
    if not _DOMAIN.fullmatch(domain or ""):
        raise ValueError(f"From: {mail_from!r} has no domain a Message-ID can use")
    return str(domain).lower()


def build_message(
    mail: RenderedMail, *, to: str, mail_from: str, message_id: str, date: datetime
) -> EmailMessage:
    """A multipart/alternative (text + HTML) message, ready for a `Transport`."""
    to = _single_address(to, "To")
    mail_from = _single_address(mail_from, "From")
    if not _MESSAGE_ID.fullmatch(message_id or ""):
        raise ValueError(f"invalid Message-ID: {message_id!r}")

    message = EmailMessage(policy=SMTP)
    message["From"] = mail_from
    message["To"] = to
    # Cleaned again here: a RenderedMail may have been built by hand, not by render().
    message["Subject"] = clean_subject(mail.subject)
    message["Date"] = format_datetime(_as_utc(date))
    message["Message-ID"] = message_id
    # RFC 3834: stops vacation responders and loops; the second one is Exchange's dialect.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    # Quoted-printable keeps the bodies 7-bit, so no relay needs 8BITMIME for French accents.
    message.set_content(_normalize_newlines(mail.text), cte="quoted-printable")
    message.add_alternative(_normalize_newlines(mail.html), subtype="html", cte="quoted-printable")
    # Set last: set_content() and add_alternative() move or drop the Content-* headers.
    message["Content-Language"] = normalize_language(mail.language)
    return message


_PER_RECIPIENT = {"to": "To", "message-id": "Message-ID", "date": "Date"}


def readdress(message: EmailMessage, *, to: str, message_id: str, date: datetime) -> EmailMessage:
    """The same mail for another recipient: a new message with its own To, Message-ID and Date
    (checked as `build_message` checks them) that shares `message`'s encoded bodies.

    Building and encoding the bodies once per event and language instead of once per recipient
    is most of the cost of mailing thousands of subscribers. Neither message may be changed in
    place afterwards; serializing them (which may set a boundary) does not touch the other.
    """
    to = _single_address(to, "To")
    if not _MESSAGE_ID.fullmatch(message_id or ""):
        raise ValueError(f"invalid Message-ID: {message_id!r}")
    values = {"to": to, "message-id": message_id, "date": format_datetime(_as_utc(date))}
    copy = EmailMessage(policy=message.policy)
    copy.__dict__.update(message.__dict__)
    # A fresh header list: the parsed headers are immutable and shared, the three that name
    # this recipient are made anew in their place.
    copy._headers = [  # type: ignore[attr-defined]
        message.policy.header_store_parse(_PER_RECIPIENT[name.lower()], values[name.lower()])
        if name.lower() in values
        else (name, value)
        for name, value in message._headers  # type: ignore[attr-defined]
    ]
    if isinstance(message._payload, list):  # type: ignore[attr-defined]
        copy._payload = list(message._payload)  # type: ignore[attr-defined]
    return copy


# An address written as it is, which the header parser gives back unchanged: ASCII dot-atoms
# on both sides of the @, no display name.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
_WIRE = SMTP.clone(linesep="\r\n")


class PreparedMail:
    """One event's mail in one language, serialized once; `envelope` puts the three headers
    that name a recipient (To, Message-ID, Date) in front of the shared bytes.

    Serializing a MIME message with the email package costs about as much as sending it to a
    server on the same host, so it is done once per event and language, not per recipient.
    The bytes are the ones `readdress` then `envelope_of` give (a test holds them to it), and
    an address the quick way does not cover (a display name, non-ASCII, a long one) goes that
    way instead."""

    def __init__(self, mail: RenderedMail, mail_from: str) -> None:
        self.template = build_message(
            mail,
            to="recipient@omi-bot.invalid",
            mail_from=mail_from,
            message_id=make_message_id("template", "omi-bot.invalid"),
            date=datetime(2000, 1, 1, tzinfo=UTC),
        )
        # Serializing sets the multipart boundary on the template itself: every recipient's
        # copy then has the same one, whichever way it is made.
        self.template.as_bytes(policy=_WIRE)
        first = envelope_of(self.template)
        self._lines = [
            (name.lower(), _WIRE.fold_binary(name, value))
            for name, value in self.template.raw_items()
        ]
        head = b"".join(line for _, line in self._lines)
        # Ends with the blank line after the headers.
        self._body = first.data[len(head) :]
        self._sender = first.sender
        self._quick = not first.mail_options and first.data.startswith(head + b"\r\n")

    def envelope(self, *, to: str, message_id: str, date: datetime) -> Envelope:
        """The mail for one recipient, checked as `readdress` checks it."""
        written = {
            "to": _header_line("To", to) if _PLAIN_ADDRESS.fullmatch(to) else None,
            "message-id": (
                _header_line("Message-ID", message_id)
                if _MESSAGE_ID.fullmatch(message_id or "")
                else None
            ),
            "date": _header_line("Date", format_datetime(_as_utc(date))),
        }
        if not self._quick or None in written.values():
            return envelope_of(readdress(self.template, to=to, message_id=message_id, date=date))
        head = b"".join(written.get(name, line) or line for name, line in self._lines)
        return Envelope(
            sender=self._sender,
            recipients=(to,),
            data=head + self._body,
            mail_options=(),
            message_id=message_id,
        )


def _header_line(name: str, value: str) -> bytes | None:
    """`Name: value` and CRLF when it needs no folding nor encoding, else None."""
    line = f"{name}: {value}"
    if len(line) > _WIRE.max_line_length or not line.isascii():
        return None
    return line.encode("ascii") + b"\r\n"

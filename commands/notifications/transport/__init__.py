"""Delivery of built messages to an SMTP server, or to a Maildir folder when none is configured.

`send` never raises for SMTP-level or network trouble: it returns a `Delivery` the outbox can
record, with the server's own answer as detail. RETRY means "nothing permanent happened, try
again later" (4xx answers, network trouble, and configuration problems an operator can fix:
refused login, missing STARTTLS, refused sender); FAILED means the server refused this mail
for good (5xx for every recipient, or 5xx after DATA).

The package's modules: delivery.py (what a transport answers), envelope.py (a mail as it goes
on the wire), maildir.py, smtp_url.py (`OMI_SMTP_URL`) and smtp.py; this module chooses between
Maildir and SMTP and is their one public face.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from commands.notifications.transport.delivery import Delivery, DeliveryStatus, Transport, backoff
from commands.notifications.transport.envelope import Envelope, envelope_of
from commands.notifications.transport.maildir import MaildirTransport
from commands.notifications.transport.smtp import SmtpTransport
from commands.notifications.transport.smtp_url import SmtpSettings, parse_smtp_url

__all__ = [
    "Delivery",
    "DeliveryStatus",
    "Envelope",
    "MaildirTransport",
    "SmtpSettings",
    "SmtpTransport",
    "Transport",
    "backoff",
    "envelope_of",
    "parse_smtp_url",
    "transport_from_url",
]


def transport_from_url(
    url: str | None,
    maildir: str | Path = "mail",
    timeout: float = 30.0,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> Transport:
    """`OMI_SMTP_URL` to a transport: unset or empty stores mail in `maildir`, so none is lost.

    Raises ValueError for a malformed URL (the message never contains the password).
    """
    if url is None or not url.strip():
        return MaildirTransport(maildir)
    return SmtpTransport(parse_smtp_url(url, timeout), ssl_context=ssl_context)

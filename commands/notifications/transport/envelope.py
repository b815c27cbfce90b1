"""A mail as both transports take it, made once from the built message: SMTP needs the
addresses apart from the content and the bytes without Bcc, Maildir stores the same bytes, and
one event's mail, serialized once, is then readdressed to each recipient (mail.py) instead of
being built again."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from email.message import Message
from email.policy import EmailPolicy
from email.utils import getaddresses


@dataclass(frozen=True)
class Envelope:
    """A message as it goes on the wire: who it is from and to, and its bytes (CRLF line
    endings, Bcc left out), made once so sending is only sending."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes
    mail_options: tuple[str, ...]
    message_id: str


def envelope_of(message: Message) -> Envelope:
    senders = [addr for _, addr in getaddresses(message.get_all("From", [])) if addr]
    if len(senders) != 1:
        raise ValueError("the message needs exactly one From address")
    fields = [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])]
    recipients = tuple(dict.fromkeys(addr for _, addr in getaddresses(fields) if addr))
    if not recipients:
        raise ValueError("the message has no recipient")
    international = any(not addr.isascii() for addr in (senders[0], *recipients))
    stripped = copy.copy(message)  # Bcc goes in the envelope, never in the transmitted headers
    del stripped["Bcc"]
    policy = message.policy.clone(linesep="\r\n")
    options: tuple[str, ...] = ()
    if international:
        if isinstance(policy, EmailPolicy):
            policy = policy.clone(utf8=True)
        options = ("SMTPUTF8", "BODY=8BITMIME")
    return Envelope(
        sender=senders[0],
        recipients=recipients,
        data=stripped.as_bytes(policy=policy),
        mail_options=options,
        message_id=str(message.get("Message-ID", "")),
    )

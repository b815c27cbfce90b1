"""Delivery of built messages to an SMTP server, or to a Maildir folder when none is configured.

`send` never raises for SMTP-level or network trouble: it returns a `Delivery` the outbox can
record, with the server's own answer as detail. RETRY means "nothing permanent happened, try
again later" (4xx answers, network trouble, and configuration problems an operator can fix:
refused login, missing STARTTLS, refused sender); FAILED means the server refused this mail
for good (5xx for every recipient, or 5xx after DATA).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import logging
import mailbox
import os
import random
import smtplib
import ssl
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.policy import EmailPolicy
from email.utils import getaddresses
from enum import StrEnum
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

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

log = logging.getLogger(__name__)


class DeliveryStatus(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class Delivery:
    status: DeliveryStatus
    detail: str  # the server's answer, e.g. "550 5.1.1 no such user"; never credentials


class Transport(Protocol):
    def __enter__(self) -> Transport: ...

    def __exit__(self, *exc: object) -> None: ...

    def send(self, message: EmailMessage | Envelope) -> Delivery: ...


def backoff(attempt: int, base: float = 30.0, cap: float = 3600.0) -> float:
    """Seconds to wait before retry number `attempt` (1 for the first retry).

    The ceiling doubles per attempt up to `cap`; half of it is fixed and half random, so the
    mails of a batch that failed together spread out, yet none comes back almost at once.
    """
    if base <= 0 or cap <= 0:
        raise ValueError("base and cap must be positive")
    exponent = min(max(attempt, 1) - 1, 62)  # beyond that the cap wins anyway
    ceiling = min(cap, base * 2.0**exponent)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


# --------------------------------------------------------------------------------------------
# Maildir


class MaildirTransport:
    """Stores each mail in a Maildir folder (`new/`), where any mail client can read it.

    A mail with a Message-ID is stored under a name derived from it, so sending the same mail
    again (a retry after a crash) does not create a second copy.
    """

    def __init__(self, path: str | Path = "mail") -> None:
        self.path = Path(path)
        self._box: mailbox.Maildir | None = None
        self._read: set[str] | None = None

    def __repr__(self) -> str:
        return f"MaildirTransport({str(self.path)!r})"

    def __enter__(self) -> MaildirTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self._box = None
        self._read = None

    def _mailbox(self) -> mailbox.Maildir:
        if self._box is None:
            self._box = mailbox.Maildir(self.path, factory=None, create=True)
        return self._box

    def send(self, message: EmailMessage | Envelope) -> Delivery:
        try:
            box = self._mailbox()
            if isinstance(message, Envelope):
                data = message.data.replace(b"\r\n", b"\n")
                message_id = message.message_id.strip()
            else:
                data = _maildir_bytes(message)
                message_id = str(message.get("Message-ID", "")).strip()
            if not message_id:
                key = box.add(data)
                return Delivery(DeliveryStatus.SENT, f"stored in {self.path} as {key}")
            key = "omi-bot." + hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:40]
            if self._stored(key):
                return Delivery(
                    DeliveryStatus.SENT, f"already stored in {self.path} as {key} (same Message-ID)"
                )
            self._deliver(key, data)
            return Delivery(DeliveryStatus.SENT, f"stored in {self.path} as {key}")
        except OSError as exc:
            # A full disk or a permission problem may be fixed by an operator: keep the mail.
            log.warning("cannot store mail in %s: %s", self.path, exc)
            return Delivery(DeliveryStatus.RETRY, f"cannot store mail in {self.path}: {exc}")

    def _stored(self, key: str) -> bool:
        # Not `key in mailbox.Maildir`: for a key it does not know, that lists new/ and cur/
        # again, so storing n mails read the folder n times. A mail stored by us is in new/
        # until a mail client reads it and moves it to cur/ as KEY:2,FLAGS; cur/ is listed
        # once per sending session, which is enough: a mail is sent again only by a later
        # session (a retry after a crash), never twice in one.
        if (self.path / "new" / key).exists():
            return True
        if self._read is None:
            self._read = {name.split(":", 1)[0] for name in os.listdir(self.path / "cur")}
        return key in self._read

    def _deliver(self, key: str, data: bytes) -> None:
        # The Maildir protocol: write under tmp/, then link into new/ so readers never see a
        # partial file. A link that already exists means another worker delivered it first.
        tmp = self.path / "tmp" / f"{key}.{os.getpid()}.{uuid.uuid4().hex}"
        target = self.path / "new" / key
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, target)
            except FileExistsError:
                pass
            except (AttributeError, PermissionError, NotImplementedError):
                # Some file systems have no hard links; same fallback as mailbox.Maildir.add.
                if not target.exists():
                    os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)


def _maildir_bytes(message: Message) -> bytes:
    # Maildir files use the local line ending, not the SMTP CRLF.
    return message.as_bytes(policy=message.policy.clone(linesep="\n"))


# --------------------------------------------------------------------------------------------
# SMTP

_SCHEMES: dict[str, tuple[str, int]] = {
    "smtp": ("plain", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_QUERY_KEYS = {"starttls", "cafile"}


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # "plain", "starttls" or "tls" (implicit TLS)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None
    timeout: float = 30.0

    def display_url(self) -> str:
        """The URL without the password, for logs and messages."""
        scheme = {"plain": "smtp", "starttls": "smtp+starttls", "tls": "smtps"}[self.security]
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}{host}:{self.port}"


def parse_smtp_url(url: str, timeout: float = 30.0) -> SmtpSettings:
    """Parse `smtp://`, `smtp+starttls://`, `smtps://` URLs (`?starttls=1`, `?cafile=PATH`).

    Error messages never repeat the URL: it may hold a password.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(
            f"unsupported SMTP URL scheme {scheme!r}: expected smtp, smtp+starttls or smtps"
        )
    security, default_port = _SCHEMES[scheme]
    try:
        port = parts.port or default_port
    except ValueError:
        raise ValueError("invalid port in the SMTP URL") from None
    host = parts.hostname
    if not host:
        raise ValueError("the SMTP URL has no host")
    if parts.path not in ("", "/"):
        raise ValueError("the SMTP URL must not have a path")

    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - _QUERY_KEYS
    if unknown:
        raise ValueError(f"unknown SMTP URL parameter(s): {', '.join(sorted(unknown))}")
    starttls = query.get("starttls", [""])[-1].lower()
    if starttls not in _TRUE | _FALSE:
        raise ValueError("starttls must be 1 or 0 in the SMTP URL")
    if starttls in _TRUE:
        if security == "tls":
            raise ValueError("smtps:// is already encrypted: starttls does not apply")
        security = "starttls"
    cafile = query.get("cafile", [None])[-1] or None

    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    if password and not username:
        raise ValueError("the SMTP URL has a password but no user")
    return SmtpSettings(
        host=host,
        port=port,
        security=security,
        username=username,
        password=password,
        cafile=cafile,
        timeout=timeout,
    )


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


def _answer(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(f"{code} {text}".split())


def _status_for(code: int) -> DeliveryStatus:
    # 5xx is the server's final word on this mail; anything else may work later.
    return DeliveryStatus.FAILED if code >= 500 else DeliveryStatus.RETRY


class _DroppedBeforeData(Exception):
    """The connection went away (or the server announced it with 421) before the message
    content was sent: a retry cannot duplicate the mail."""


class SmtpTransport:
    """One SMTP connection, opened on the first `send` and reused until `close`/`__exit__`.

    When the connection cannot be opened (server down, TLS or login refused), the following
    sends of the same session return RETRY at once instead of waiting for the same timeout
    again for every mail; `close()` ends the session.
    """

    def __init__(
        self, settings: SmtpSettings, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.settings = settings
        self._ssl_context = ssl_context
        if settings.security != "plain" and ssl_context is None:
            try:
                self._ssl_context = ssl.create_default_context(cafile=settings.cafile)
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"cannot load the CA file {settings.cafile!r}: {exc}") from None
        self._smtp: smtplib.SMTP | None = None
        self._unavailable: str | None = None
        self.connections_opened = 0

    def __repr__(self) -> str:
        return f"SmtpTransport({self.settings.display_url()})"

    @property
    def unavailable(self) -> str | None:
        """Why the server could not be reached in this session (None while it can be): the
        outbox then leaves the rest of a batch for later instead of spending their attempts."""
        return self._unavailable

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Say QUIT and forget the connection; a later `send` opens a new one."""
        smtp, self._smtp = self._smtp, None
        self._unavailable = None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                smtp.close()

    def send(self, message: EmailMessage | Envelope) -> Delivery:
        try:
            envelope = message if isinstance(message, Envelope) else envelope_of(message)
        except ValueError as exc:
            return self._log(Delivery(DeliveryStatus.FAILED, f"invalid message: {exc}"), None)
        if self._unavailable is not None:
            return self._log(
                Delivery(DeliveryStatus.RETRY, f"not attempted: {self._unavailable}"), envelope
            )
        reused = self._smtp is not None
        for attempt in (1, 2):
            smtp = self._smtp or self._connect()
            if isinstance(smtp, Delivery):
                return self._log(smtp, envelope)
            try:
                return self._log(self._transaction(smtp, envelope), envelope)
            except _DroppedBeforeData as exc:
                self._drop()
                # A reused connection may have been closed by the server while idle: open a
                # fresh one once. A fresh connection that drops is a real problem: retry later.
                if not reused or attempt == 2:
                    return self._log(
                        Delivery(DeliveryStatus.RETRY, f"connection lost: {exc}"), envelope
                    )
                log.info("SMTP connection to %s was closed; reconnecting", self)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- internals ---------------------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP | Delivery:
        settings = self.settings
        where = f"{settings.host}:{settings.port}"
        smtp: smtplib.SMTP | None = None
        try:
            if settings.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    settings.host,
                    settings.port,
                    timeout=settings.timeout,
                    context=self._ssl_context,
                )
            else:
                smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
            smtp.ehlo_or_helo_if_needed()
            if settings.security == "starttls":
                if not smtp.has_extn("starttls"):
                    # Never fall back to plain text: the login and the mails would travel clear.
                    raise smtplib.SMTPNotSupportedError(
                        f"{where} does not offer STARTTLS; refusing to send unencrypted"
                    )
                smtp.starttls(context=self._ssl_context)
                smtp.ehlo()
            if settings.username:
                smtp.login(settings.username, settings.password or "")
        except smtplib.SMTPResponseException as exc:
            detail = f"{where}: {_answer(exc.smtp_code, exc.smtp_error)}"
        except (smtplib.SMTPException, OSError) as exc:
            detail = f"cannot connect to {where}: {exc.__class__.__name__}: {exc}"
        else:
            self._smtp = smtp
            self.connections_opened += 1
            return smtp
        if smtp is not None:
            smtp.close()
        self._unavailable = self._redact(detail)
        return Delivery(DeliveryStatus.RETRY, self._unavailable)

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def _reset(self, smtp: smtplib.SMTP) -> None:
        # Clear the refused transaction so the next mail starts clean on this connection.
        try:
            smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _transaction(self, smtp: smtplib.SMTP, env: Envelope) -> Delivery:
        try:
            code, text = smtp.mail(env.sender, list(env.mail_options))
        except smtplib.SMTPNotSupportedError as exc:
            return Delivery(DeliveryStatus.FAILED, str(exc))
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _DroppedBeforeData(str(exc) or exc.__class__.__name__) from exc
        except UnicodeEncodeError:
            return Delivery(DeliveryStatus.FAILED, "non-ASCII address needs SMTPUTF8 support")
        if code == 421:
            # Typically the server timed out the idle connection and said so before closing.
            raise _DroppedBeforeData(_answer(code, text))
        if code != 250:
            # A refused sender (no login, From not allowed…) is a configuration problem that
            # an operator can fix; the mail itself is fine, so keep it for later.
            delivery = self._refused(smtp, code, f"sender refused: {_answer(code, text)}")
            return Delivery(DeliveryStatus.RETRY, delivery.detail)

        accepted: list[str] = []
        refused: dict[str, tuple[int, str]] = {}
        for recipient in env.recipients:
            try:
                code, text = smtp.rcpt(recipient)
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                raise _DroppedBeforeData(str(exc) or exc.__class__.__name__) from exc
            except UnicodeEncodeError:
                refused[recipient] = (553, "non-ASCII address needs SMTPUTF8 support")
                continue
            if code == 421:
                raise _DroppedBeforeData(_answer(code, text))
            if 200 <= code < 300:
                accepted.append(recipient)
            else:
                refused[recipient] = (code, _answer(code, text))

        if not accepted:
            self._reset(smtp)
            codes = [code for code, _ in refused.values()]
            # Retry if any recipient may still succeed; fail only when all are final.
            status = DeliveryStatus.FAILED if all(c >= 500 for c in codes) else DeliveryStatus.RETRY
            return Delivery(status, self._redact(_refusals(refused)))

        try:
            code, text = smtp.data(env.data)
        except smtplib.SMTPDataError as exc:  # DATA itself was refused, nothing was sent
            return self._refused(smtp, exc.smtp_code, _answer(exc.smtp_code, exc.smtp_error))
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            # The server may or may not have queued it: only a later retry (same Message-ID)
            # is safe to schedule, not an immediate resend.
            self._drop()
            return Delivery(
                DeliveryStatus.RETRY,
                f"connection lost during DATA, delivery unknown: {str(exc) or type(exc).__name__}",
            )
        if code != 250:
            return self._refused(smtp, code, _answer(code, text))
        detail = _answer(code, text)
        if refused:
            detail += f"; refused: {_refusals(refused)}"
        return Delivery(DeliveryStatus.SENT, self._redact(detail))

    def _refused(self, smtp: smtplib.SMTP, code: int, detail: str) -> Delivery:
        if code == 421:  # the server is closing this connection
            self._drop()
        else:
            self._reset(smtp)
        return Delivery(_status_for(code), self._redact(detail))

    def _redact(self, text: str) -> str:
        # Servers rarely echo credentials, but a detail ends up in the database and in logs.
        password = self.settings.password
        if password:
            for secret in (password, base64.b64encode(password.encode()).decode()):
                text = text.replace(secret, "***")
        return text

    def _log(self, delivery: Delivery, env: Envelope | None) -> Delivery:
        level = logging.INFO if delivery.status is DeliveryStatus.SENT else logging.WARNING
        recipients = ", ".join(env.recipients) if env else "?"
        message_id = env.message_id if env else "?"
        log.log(
            level,
            "mail %s to %s: %s (%s)",
            message_id,
            recipients,
            delivery.status,
            delivery.detail,
        )
        return delivery


def _refusals(refused: dict[str, tuple[int, str]]) -> str:
    if len(refused) == 1:
        return next(iter(refused.values()))[1]
    return "; ".join(f"<{addr}> {answer}" for addr, (_, answer) in refused.items())


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

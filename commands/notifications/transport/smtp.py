"""Mail sent to an SMTP server, one connection per sending session, with the server's own
answer kept as the detail of each delivery. What a retry could duplicate decides the status: a
connection lost before DATA is tried again at once, one lost during DATA only later (same
Message-ID), and a 5xx is the server's final word."""

from __future__ import annotations

import base64
import logging
import smtplib
import ssl
from email.message import EmailMessage

from commands.notifications.transport.delivery import Delivery, DeliveryStatus
from commands.notifications.transport.envelope import Envelope, envelope_of
from commands.notifications.transport.smtp_url import SmtpSettings

# Every transport logs under the package's name, so one logger setting covers mail delivery
# whichever way it goes.
log = logging.getLogger(__package__)


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

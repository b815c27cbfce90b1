"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests, with knobs to make it misbehave.

    with SmtpTestServer() as server:
        server.refuse_recipient("nobody@example.com")
        ...send to server.url...
        assert server.messages[0].message["Subject"] == "..."

STARTTLS and implicit TLS need a certificate: `make_self_signed_cert(tmp_path)` makes one with
the `openssl` command (the `cryptography` package is not a dependency of the project) and
returns None when that command is missing, so TLS tests can skip.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = ["ReceivedMail", "SmtpTestServer", "make_self_signed_cert", "server_tls_context"]


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage  # parsed with email.policy.default
    raw: bytes  # exactly as received after the DATA command
    authenticated_as: str | None
    tls: bool  # received over STARTTLS or implicit TLS


def free_port(host: str = "127.0.0.1") -> int:
    # Controller checks readiness by connecting to its port, so it cannot be given port 0.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def make_self_signed_cert(directory: Path) -> tuple[Path, Path] | None:
    """(cert.pem, key.pem) for CN=localhost and IP 127.0.0.1, or None without `openssl`."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return cert, key


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


class _CountingSMTP(SMTP):
    def __init__(self, owner: SmtpTestServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owner = owner

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Called again after STARTTLS on the same connection; count only the first call.
        if self.transport is None:
            with self._owner._lock:
                self._owner._connections += 1
        super().connection_made(transport)


class _Controller(Controller):
    def __init__(self, owner: SmtpTestServer, **kwargs: Any) -> None:
        super().__init__(owner._handler, **kwargs)
        self._owner = owner

    def factory(self) -> SMTP:
        return _CountingSMTP(self._owner, self.handler, **self.SMTP_kwargs)


class _Handler:
    def __init__(self, owner: SmtpTestServer) -> None:
        self.owner = owner

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.owner._credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self.owner._lock:
            code = self.owner._refused.get(address.lower())
        if code is not None:
            enhanced = "5.1.1" if code >= 500 else "4.2.1"
            return f"{code} {enhanced} <{address}>: no such user"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        owner = self.owner
        with owner._lock:
            hold = owner._hold_after is not None and len(owner._messages) >= owner._hold_after
        if hold:
            owner._holding.set()
            # Off the event loop: other connections keep being served meanwhile.
            await asyncio.get_running_loop().run_in_executor(None, owner._released.wait, 60)
        drop_now = drop_after = False
        callback: Callable[[int], None] | None = None
        accepted = 0
        with owner._lock:
            if owner._drop_during_data > 0:
                owner._drop_during_data -= 1
                drop_now = True
            elif owner._temporary_failures > 0:
                owner._temporary_failures -= 1
                owner._rejected += 1
                return f"{owner._temporary_code} 4.3.0 Temporary failure, try again later"
            elif owner._permanent_failures > 0:
                owner._permanent_failures -= 1
                owner._rejected += 1
                return f"{owner._permanent_code} 5.6.0 Message rejected"
            else:
                raw = bytes(envelope.original_content or b"")
                owner._messages.append(
                    ReceivedMail(
                        mail_from=str(envelope.mail_from),
                        rcpt_tos=tuple(envelope.rcpt_tos),
                        message=message_from_bytes(raw, policy=default_policy),  # type: ignore[arg-type]
                        raw=raw,
                        authenticated_as=session.auth_data if session.authenticated else None,
                        # session.ssl is only set by STARTTLS, not for implicit TLS.
                        tls=server.transport is not None
                        and server.transport.get_extra_info("ssl_object") is not None,
                    )
                )
                if owner._drop_after is not None:
                    owner._drop_after -= 1
                    if owner._drop_after <= 0:
                        owner._drop_after = None
                        drop_after = True
                accepted = len(owner._messages)
                callback = owner._when_accepted
        if callback is not None and not drop_now:
            callback(accepted)
        queued = f"250 2.0.0 OK queued as {len(owner._messages)}"
        if drop_now or drop_after:
            if drop_after:
                await server.push(queued)
                if owner._announce_drop:
                    await server.push("421 4.4.2 Idle timeout, closing connection")
            assert server.transport is not None
            server.transport.close()
            # connection_lost() cancels this task; no reply must follow the close.
            await asyncio.sleep(3600)
        return queued


class SmtpTestServer:
    """aiosmtpd on 127.0.0.1, recording every accepted message.

    `tls_context` (server side) enables STARTTLS; with `implicit_tls=True` the same context
    wraps the whole connection instead (smtps://).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
    ) -> None:
        if implicit_tls and tls_context is None:
            raise ValueError("implicit_tls needs a tls_context")
        self.host = host
        self.port = 0
        self.implicit_tls = implicit_tls
        self._tls_context = tls_context
        self._lock = threading.Lock()
        self._handler = _Handler(self)
        self._controller: _Controller | None = None
        self._messages: list[ReceivedMail] = []
        self._connections = 0
        self._rejected = 0
        self._refused: dict[str, int] = {}
        self._temporary_failures = 0
        self._temporary_code = 451
        self._permanent_failures = 0
        self._permanent_code = 554
        self._drop_after: int | None = None
        self._announce_drop = False
        self._drop_during_data = 0
        self._credentials: tuple[str, str] | None = None
        self._auth_attempts: list[str] = []
        self._hold_after: int | None = None
        self._holding = threading.Event()
        self._released = threading.Event()
        self._when_accepted: Callable[[int], None] | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> SmtpTestServer:
        self.port = free_port(self.host)
        smtp_kwargs: dict[str, Any] = {
            "authenticator": self._authenticate,
            # Tests log in over plain connections too; the client decides when to encrypt.
            "auth_require_tls": False,
        }
        if self._tls_context is not None and not self.implicit_tls:
            smtp_kwargs["tls_context"] = self._tls_context
        self._controller = _Controller(
            self,
            hostname=self.host,
            port=self.port,
            ssl_context=self._tls_context if self.implicit_tls else None,
            ready_timeout=5.0,
            **smtp_kwargs,
        )
        self._controller.start()
        with self._lock:
            self._connections = 0  # Controller.start() opens one itself to check readiness
        return self

    def stop(self) -> None:
        self._released.set()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """A URL for transport_from_url (no credentials, no TLS options)."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        return f"{scheme}://{self.host}:{self.port}"

    # -- what happened -------------------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._messages)

    @property
    def connections(self) -> int:
        """Connections opened by clients since start()."""
        with self._lock:
            return self._connections

    @property
    def rejected(self) -> int:
        """Messages refused after DATA (fail_temporarily / fail_permanently)."""
        with self._lock:
            return self._rejected

    @property
    def auth_attempts(self) -> list[str]:
        """User names that tried to log in, successful or not."""
        with self._lock:
            return list(self._auth_attempts)

    # -- knobs ---------------------------------------------------------------------------------

    def refuse_recipient(self, address: str, code: int = 550) -> None:
        """RCPT TO this address gets `code` (5xx: permanent, 4xx: temporary)."""
        with self._lock:
            self._refused[address.lower()] = code

    def fail_temporarily(self, n: int, code: int = 451) -> None:
        """The next `n` messages get `code` after DATA instead of being accepted."""
        with self._lock:
            self._temporary_failures = n
            self._temporary_code = code

    def fail_permanently(self, n: int, code: int = 554) -> None:
        """The next `n` messages get `code` (5xx) after DATA instead of being accepted."""
        with self._lock:
            self._permanent_failures = n
            self._permanent_code = code

    def drop_connection_after(self, n: int, *, announce: bool = False) -> None:
        """After accepting `n` more messages, close that connection (after the 250 reply).

        With `announce`, say "421 4.4.2 … closing connection" first, as servers do when an
        idle connection times out.
        """
        with self._lock:
            self._drop_after = n
            self._announce_drop = announce

    def hold_after(self, n: int) -> None:
        """Once `n` messages are accepted, the next DATA waits for `release()` before its
        reply: a sender is caught in the middle of a batch."""
        with self._lock:
            self._hold_after = n
            self._holding.clear()
            self._released.clear()

    def wait_holding(self, timeout: float = 30.0) -> bool:
        return self._holding.wait(timeout)

    def release(self) -> None:
        with self._lock:
            self._hold_after = None
        self._released.set()

    def drop_during_data(self, n: int = 1) -> None:
        """The next `n` messages: close the connection after DATA, without any reply."""
        with self._lock:
            self._drop_during_data = n

    def when_accepted(self, callback: Callable[[int], None] | None) -> None:
        """Calls `callback(n)` once the n-th message is accepted, before the client hears so
        (in the server's thread): where a test stages what happens while a mail is in flight."""
        with self._lock:
            self._when_accepted = callback

    def require_auth(self, user: str, password: str) -> None:
        """Refuse MAIL FROM until the client logs in with these credentials."""
        with self._lock:
            self._credentials = (user, password)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        with self._lock:
            self._auth_attempts.append(user)
            expected = self._credentials
        if expected is None or (user, password) != expected:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=user)

"""Slack's side of Socket Mode, on loopback: a WebSocket server (the ``websockets`` library)
that the fake Web API's ``apps.connections.open`` points the bot at.

It behaves as Slack documents (https://api.slack.com/apis/socket-mode): every new connection is
greeted with ``hello``; requests arrive as envelopes ``{"envelope_id", "type", "payload",
"accepts_response_payload", "retry_attempt", "retry_reason"}`` of type ``slash_commands``,
``interactive`` or ``events_api``; the app acknowledges each with ``{"envelope_id", "payload"?}``
on any of its connections; ``disconnect`` (reason ``refresh_requested``) asks the app to open a
new connection before the old one goes away.

:class:`SocketModeSlack` plays the same requests as :class:`~tests.slackfake.signing.SlackClient`
(it reuses its payload builders) but delivers them as envelopes and answers with the ack, so the
flow helpers written for HTTP run unchanged over Socket Mode.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import FORM, JSON, SlackClient

__all__ = ["Ack", "AckTimeout", "Acked", "FakeSocketMode", "SocketModeSlack"]


class AckTimeout(AssertionError):
    """The app did not acknowledge an envelope in time (Slack would show the user an error)."""


@dataclass(frozen=True)
class Ack:
    envelope_id: str
    payload: dict[str, Any] | None
    connection: int
    at: float


@dataclass
class _Link:
    number: int
    ws: ServerConnection
    hello_sent: threading.Event = field(default_factory=threading.Event)
    closed: threading.Event = field(default_factory=threading.Event)


class FakeSocketMode:
    """The WebSocket end of Socket Mode. Attach it to a :class:`FakeSlackAPI`; each
    ``apps.connections.open`` hands out a fresh ``ws://127.0.0.1:PORT/link/?ticket=…`` URL."""

    def __init__(self, api: FakeSlackAPI, *, app_id: str = "A1") -> None:
        self.api = api
        self.app_id = app_id
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._links: list[_Link] = []
        self._acks: list[Ack] = []
        self._sent: dict[str, dict[str, Any]] = {}
        self._lose: set[str] = set()
        self._tickets = itertools.count(1)
        self._issued: list[str] = []
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSocketMode:
        # compression=None: Slack's builtin client never negotiates permessage-deflate.
        self._server = serve(self._handle, "127.0.0.1", 0, compression=None, ping_interval=None)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-socket-mode", daemon=True
        )
        self._thread.start()
        self.api.socket_urls = self._new_url
        return self

    def stop(self) -> None:
        self.api.socket_urls = None
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(5)
        self._server = self._thread = None

    def __enter__(self) -> FakeSocketMode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "FakeSocketMode is not started"
        return int(self._server.socket.getsockname()[1])

    def _new_url(self) -> str:
        ticket = f"{next(self._tickets)}-{uuid.uuid4().hex[:8]}"
        with self._lock:
            self._issued.append(ticket)
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    @property
    def urls_issued(self) -> int:
        with self._lock:
            return len(self._issued)

    # ------------------------------------------------------------------ connections

    def _handle(self, ws: ServerConnection) -> None:
        ticket = dict(parse_qsl((ws.request.path if ws.request else "").partition("?")[2]))
        with self._changed:
            if ticket.get("ticket") not in self._issued:
                ws.close(4001, "invalid ticket")  # Slack refuses URLs it did not hand out
                return
            link = _Link(number=len(self._links) + 1, ws=ws)
            self._links.append(link)
        ws.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {
                        "host": f"applink-{link.number}",
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": self.app_id},
                }
            )
        )
        link.hello_sent.set()
        with self._changed:
            self._changed.notify_all()
        try:
            for raw in ws:
                self._received(link, raw)
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                link.closed.set()
                self._changed.notify_all()

    def _received(self, link: _Link, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        if not envelope_id:
            return
        with self._changed:
            lost = envelope_id if envelope_id in self._lose else "*" if "*" in self._lose else None
            if lost is not None:
                self._lose.discard(lost)  # lost on the way: Slack never saw it
                return
            payload = message.get("payload")
            self._acks.append(Ack(str(envelope_id), payload, link.number, time.time()))
            self._changed.notify_all()

    def _live(self, number: int | None = None) -> _Link:
        """The newest open connection, or connection `number` (of several apps connected)."""
        with self._lock:
            live = [
                lk
                for lk in self._links
                if not lk.closed.is_set() and (number is None or lk.number == number)
            ]
        if not live:
            raise AssertionError(f"no open Socket Mode connection {number or ''}".strip())
        return live[-1]

    @property
    def connections(self) -> int:
        """Connections the app ever opened."""
        with self._lock:
            return len(self._links)

    @property
    def open_connections(self) -> int:
        with self._lock:
            return sum(not lk.closed.is_set() for lk in self._links)

    def wait_connected(self, count: int = 1, timeout: float = 10.0) -> None:
        """Until the app has opened ``count`` connections in all, the last one greeted."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if len(self._links) >= count and self._links[count - 1].hello_sent.is_set():
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} Socket Mode connection(s), got {len(self._links)}"
                    )
                self._changed.wait(left)

    def wait_closed(self, number: int, timeout: float = 15.0) -> None:
        with self._lock:
            link = self._links[number - 1]
        if not link.closed.wait(timeout):
            raise AssertionError(f"connection {number} is still open")

    def request_refresh(self) -> int:
        """Slack's ``disconnect`` warning with reason ``refresh_requested`` on the live
        connection. Returns that connection's number; the app is expected to open another."""
        link = self._live()
        link.ws.send(
            json.dumps(
                {
                    "type": "disconnect",
                    "reason": "refresh_requested",
                    "debug_info": {"host": f"applink-{link.number}"},
                }
            )
        )
        return link.number

    def drop(self, number: int | None = None) -> None:
        """Close a connection from Slack's side without warning (a network cut, a deploy)."""
        with self._lock:
            links = [lk for lk in self._links if number is None or lk.number == number]
        for link in links:
            if not link.closed.is_set():
                link.ws.close(1001, "going away")

    # ------------------------------------------------------------------ envelopes

    def send(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        connection: int | None = None,
    ) -> str:
        """Deliver one envelope on the newest open connection (or on connection number
        ``connection``); returns its envelope_id.

        Reuse ``envelope_id`` with ``retry_attempt`` to redeliver as Slack does after a
        missing acknowledgement."""
        envelope_id = envelope_id or str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
        }
        if kind == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason
        elif retry_attempt:
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason or "timeout"
        with self._lock:
            self._sent[envelope_id] = envelope
        self._live(connection).ws.send(json.dumps(envelope))
        return envelope_id

    def lose_next_ack(self, envelope_id: str = "*") -> None:
        """The app's next ack of ``envelope_id`` (``*``: of any envelope) is lost before it
        reaches Slack, as when a connection dies under it."""
        with self._lock:
            self._lose.add(envelope_id)

    def envelope(self, envelope_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._sent[envelope_id])

    def acks(self, envelope_id: str | None = None) -> list[Ack]:
        with self._lock:
            return [a for a in self._acks if envelope_id is None or a.envelope_id == envelope_id]

    def wait_ack(self, envelope_id: str, count: int = 1, timeout: float = 5.0) -> Ack:
        """The ``count``-th ack of ``envelope_id``; Slack gives an app 3 seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [a for a in self._acks if a.envelope_id == envelope_id]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    kind = self._sent.get(envelope_id, {}).get("type")
                    raise AckTimeout(f"{kind} envelope {envelope_id} was not acknowledged")
                self._changed.wait(left)

    @property
    def sent(self) -> list[str]:
        with self._lock:
            return list(self._sent)


@dataclass(frozen=True)
class Acked:
    """What :class:`SocketModeSlack` returns: the ack, shaped like the HTTP response the flow
    helpers read (status 200 once acknowledged; the ack payload as the JSON body)."""

    envelope_id: str
    payload: dict[str, Any] | None
    status_code: int = 200

    @property
    def text(self) -> str:
        return json.dumps(self.payload) if self.payload else ""

    def json(self) -> Any:
        return self.payload


class SocketModeSlack(SlackClient):
    """:class:`SlackClient`'s requests, delivered over Socket Mode instead of signed HTTP."""

    def __init__(
        self, socket: FakeSocketMode, connection: int | None = None, **kwargs: Any
    ) -> None:
        """`connection`: deliver on that connection (one replica's of several), else on the
        newest open one."""
        super().__init__("http://socket-mode.invalid", "unused", **kwargs)
        self.socket = socket
        self.connection = connection
        self.ack_timeout = 5.0
        self.last_envelope_id: str | None = None

    def post(  # type: ignore[override]
        self,
        body: str,
        content_type: str,
        *,
        retry_num: int | None = None,
        retry_reason: str = "timeout",
        **_http_only: Any,
    ) -> Acked:
        if content_type == FORM:
            fields = dict(parse_qsl(body, keep_blank_values=True))
            if set(fields) == {"payload"}:
                kind, payload = "interactive", json.loads(fields["payload"])
            else:
                kind, payload = "slash_commands", fields
        elif content_type == JSON:
            kind, payload = "events_api", json.loads(body)
        else:
            raise ValueError(f"Socket Mode carries no {content_type} body")
        return self.deliver(
            kind,
            payload,
            retry_attempt=retry_num or 0,
            retry_reason=retry_reason,
            connection=self.connection,
        )

    def deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        connection: int | None = None,
    ) -> Acked:
        before = len(self.socket.acks(envelope_id)) if envelope_id else 0
        envelope_id = self.socket.send(
            kind,
            payload,
            envelope_id=envelope_id,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason if retry_attempt else "",
            connection=connection,
        )
        self.last_envelope_id = envelope_id
        ack = self.socket.wait_ack(envelope_id, before + 1, timeout=self.ack_timeout)
        return Acked(envelope_id, ack.payload)

    def redeliver(
        self, envelope_id: str, retry_attempt: int = 1, connection: int | None = None
    ) -> Acked:
        """The same envelope again, as Slack sends it when it got no ack in time (on
        connection number ``connection``: another replica's)."""
        sent = self.socket.envelope(envelope_id)
        return self.deliver(
            sent["type"],
            sent["payload"],
            envelope_id=envelope_id,
            retry_attempt=retry_attempt,
            retry_reason="timeout",
            connection=connection,
        )

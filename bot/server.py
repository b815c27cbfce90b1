"""HTTP shell around the Bolt app: one Slack endpoint, a health check, served by waitress.

Slack sends events, slash commands, interactivity and options loads to the same Request URL,
so everything Slack posts goes to ``POST /slack/events``.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from slack_bolt import App, BoltRequest
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.request.payload_utils import (
    to_action,
    to_command,
    to_event,
    to_message,
    to_options,
    to_shortcut,
    to_step,
    to_view,
)
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server

from bot import shapes
from commands import probes

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from slack_bolt.adapter.socket_mode import SocketModeHandler

__all__ = [
    "EVENTS_PATH",
    "HEALTH_PATH",
    "RunningServer",
    "start_in_thread",
    "start_socket_mode",
    "wsgi_app",
]

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
_JSON_HEADERS = [("Content-Type", "application/json")]


def _json(start_response: StartResponse, status: str, body: dict[str, object]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [*_JSON_HEADERS, ("Content-Length", str(len(data)))])
    return [data]


def _body(environ: WSGIEnvironment) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return environ["wsgi.input"].read(length) if length > 0 else b""


def _malformed(body: bytes, content_type: str) -> str | None:
    """Why a signed body is not one Slack sends, or None. Bolt would raise on it while
    building the request, before any listener, and answer 500 with a traceback."""
    try:
        text = body.decode("utf-8")
        if content_type.startswith("application/json"):
            if not isinstance(json.loads(text), dict):
                return "a JSON body that is not an object"
        else:
            form = parse_qs(text, keep_blank_values=True)
            if "payload" in form and not isinstance(json.loads(form["payload"][0]), dict):
                return "a payload that is not a JSON object"
    except UnicodeDecodeError:
        return "a body that is not UTF-8"
    except ValueError as exc:
        return f"broken JSON ({type(exc).__name__})"
    try:
        # What Bolt reads of every request before any listener (its context, the parts a
        # listener may ask for) and what the listeners read: a shape either would trip over
        # ("actions": [], a user that is not an object...) is not one Slack sends.
        request = BoltRequest(body=text, headers={"content-type": [content_type]})
        for part in _PARTS:
            part(request.body)
    except (LookupError, TypeError, AttributeError, ValueError) as exc:
        return f"a payload of a shape Slack does not send ({type(exc).__name__})"
    found = shapes.problem(request.body)
    return None if found is None else f"a payload of a shape Slack does not send ({found})"


_PARTS = (to_action, to_command, to_event, to_message, to_options, to_shortcut, to_step, to_view)


def _signed(secret: bytes, body: bytes, timestamp: str, signature: str) -> bool:
    """Slack's v0 signature over the raw bytes, at most five minutes old (as Bolt checks it;
    slack_sdk's verifier decodes the body first and raises on bytes that are not UTF-8)."""
    try:
        if abs(time.time() - int(timestamp)) > 300:
            return False
    except ValueError:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def wsgi_app(
    app: App,
    health: Callable[[], bool],
    ready: probes.Ready | None = None,
    metrics: probes.Metrics | None = None,
) -> WSGIApplication:
    """Route ``POST /slack/events`` to Bolt, ``GET /healthz`` to ``health()``, ``GET /readyz``
    and ``GET /metrics`` to commands/probes.py (when given), else 404.

    A Slack request is screened first: unsigned or wrongly signed, 401; signed but not a body
    Slack sends (broken JSON...), 400. Either is logged as one line, with no traceback."""
    slack = SlackRequestHandler(app, path=EVENTS_PATH)
    # Bolt keeps the secret it verifies requests with; the screen checks the same one.
    secret = app._signing_secret.encode()

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == EVENTS_PATH and method == "POST":
            body = _body(environ)
            timestamp = str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or "")
            signature = str(environ.get("HTTP_X_SLACK_SIGNATURE") or "")
            if not _signed(secret, body, timestamp, signature):
                logger.warning("Slack request refused: missing or wrong signature")
                return _json(start_response, "401 Unauthorized", {"ok": False})
            problem = _malformed(body, str(environ.get("CONTENT_TYPE") or ""))
            if problem is not None:
                logger.warning("Slack request refused: %s", problem)
                return _json(start_response, "400 Bad Request", {"ok": False})
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            try:
                return slack(environ, start_response)
            except Exception:
                # Bolt answers listener errors itself; reaching here is a bug in the shell, and
                # Slack must still get a plain 500 (it retries) rather than a stack trace.
                logger.exception("Slack request could not be dispatched")
                return _json(start_response, "500 Internal Server Error", {"ok": False})
        if path == HEALTH_PATH and method in {"GET", "HEAD"}:
            try:
                healthy = bool(health())
            except Exception as exc:
                # Only the type: messages of storage errors may embed connection URLs.
                logger.warning("health check raised %s", type(exc).__name__)
                healthy = False
            if healthy:
                return _json(start_response, "200 OK", {"ok": True})
            return _json(start_response, "503 Service Unavailable", {"ok": False})
        if path in (probes.READY_PATH, probes.METRICS_PATH) and method in {"GET", "HEAD"}:
            return probes.answer(path, start_response, ready=ready, metrics=metrics)
        return _json(start_response, "404 Not Found", {"ok": False, "error": "not_found"})

    return application


@dataclass
class RunningServer:
    """A waitress server whose loop runs in a thread of its own.

    ``close()`` stops taking connections and lets the requests under way answer; ``stop()``
    then tears everything down from the loop's thread (waitress's loop has no thread-safe
    stop, so the loop checks flags between short poll slices)."""

    server: BaseWSGIServer
    host: str
    port: int
    _thread: threading.Thread = field(repr=False)
    _stopping: threading.Event = field(repr=False)
    _closing: threading.Event = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def events_url(self) -> str:
        return self.url + EVENTS_PATH

    def close(self) -> None:
        """No new connection from now on (the port is released)."""
        self._closing.set()

    def busy(self) -> bool:
        """A request is being handled, waits for a thread, or its answer is not sent yet."""
        tasks = self.server.task_dispatcher
        if tasks.active_count or tasks.queue:
            return True
        return any(
            isinstance(channel, HTTPChannel) and (channel.requests or channel.total_outbufs_len)
            for channel in list(self.server._map.values())
        )

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.busy():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._thread.join(timeout)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(
    app: App,
    health: Callable[[], bool],
    host: str = "127.0.0.1",
    port: int = 0,
    threads: int = 4,
    *,
    ready: probes.Ready | None = None,
    metrics: probes.Metrics | None = None,
) -> RunningServer:
    """Serve the shell on ``host:port`` (0: a free port) from a daemon thread; `omi-bot
    serve` and the tests both start it this way."""
    server = create_server(
        wsgi_app(app, health, ready, metrics),
        host=host,
        port=port,
        threads=threads,
        ident="omi-bot",
    )
    if not isinstance(server, BaseWSGIServer):  # several listen sockets: not supported
        server.close()
        raise ValueError("start_in_thread serves exactly one address")
    stopping = threading.Event()
    closing = threading.Event()

    def run() -> None:
        try:
            while not stopping.is_set():
                if closing.is_set() and server.accepting:
                    server.accepting = False
                    server.close()  # the listening socket only; open channels go on
                if server._map:
                    wasyncore.loop(timeout=0.05, map=server._map, count=1)
                else:
                    time.sleep(0.05)
        finally:
            server.task_dispatcher.shutdown()
            wasyncore.close_all(server._map)

    thread = threading.Thread(target=run, name=f"omi-bot-http-{server.effective_port}", daemon=True)
    thread.start()
    logger.info("serving Slack on http://%s:%s%s", host, server.effective_port, EVENTS_PATH)
    return RunningServer(
        server=server,
        host=str(server.effective_host),
        port=int(server.effective_port),
        _thread=thread,
        _stopping=stopping,
        _closing=closing,
    )


def start_socket_mode(app: App, app_token: str, ping_interval: float = 10) -> SocketModeHandler:
    """Connect to Slack over Socket Mode (no public URL needed) and return; the handler's own
    threads receive the envelopes and acknowledge each one.

    This is Bolt's builtin client (slack_sdk.socket_mode.builtin). It asks for its WebSocket
    URL with apps.connections.open on the app's Web API client, so SLACK_API_URL applies to it
    as to every other call, and it opens a new connection by itself on a ``disconnect`` or a
    dropped socket (noticed within ``ping_interval`` seconds)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(app, app_token, ping_interval=ping_interval)
    handler.connect()
    return handler

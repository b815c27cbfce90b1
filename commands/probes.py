"""The operator's HTTP endpoints: ``GET /healthz`` (the process answers), ``GET /readyz``
(ready to take work) and ``GET /metrics`` (Prometheus text format).

`omi-bot serve` answers them on its Slack port (bot/server.py routes them here); `omi-bot
worker --metrics-port` (and `serve --metrics-port` over Socket Mode, which has no HTTP port of
its own) serves them alone from a small threaded server in the process."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from commands.health import Readiness

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("omi_bot.probes")

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
PATHS = (HEALTH_PATH, READY_PATH, METRICS_PATH)

Ready = Callable[[], Readiness]
Metrics = Callable[[], tuple[bytes, str]]  # (body, content type)


def _json(start_response: StartResponse, status: str, body: dict[str, object]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def answer(
    path: str,
    start_response: StartResponse,
    *,
    ready: Ready | None,
    metrics: Metrics | None,
    health: Callable[[], bool] = lambda: True,
) -> list[bytes]:
    """The answer to a GET of one of PATHS (404 for an endpoint this process has not)."""
    if path == HEALTH_PATH:
        try:
            healthy = bool(health())
        except Exception as exc:
            # Only the type: messages of storage errors may embed connection URLs.
            log.warning("health check raised %s", type(exc).__name__)
            healthy = False
        status = "200 OK" if healthy else "503 Service Unavailable"
        return _json(start_response, status, {"ok": healthy})
    if path == READY_PATH and ready is not None:
        try:
            state = ready()
        except Exception as exc:
            log.warning("readiness check raised %s", type(exc).__name__)
            state = Readiness({"checks": False})
        status = "200 OK" if state.ready else "503 Service Unavailable"
        return _json(start_response, status, state.as_json())
    if path == METRICS_PATH and metrics is not None:
        try:
            body, content_type = metrics()
        except Exception:
            log.exception("metrics could not be collected")
            return _json(start_response, "500 Internal Server Error", {"ok": False})
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        start_response("200 OK", headers)
        return [body]
    return _json(start_response, "404 Not Found", {"ok": False, "error": "not_found"})


def probes_app(
    ready: Ready | None, metrics: Metrics | None, health: Callable[[], bool] = lambda: True
) -> WSGIApplication:
    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD", "GET") not in {"GET", "HEAD"}:
            return _json(start_response, "405 Method Not Allowed", {"ok": False})
        path = str(environ.get("PATH_INFO", ""))
        return answer(path, start_response, ready=ready, metrics=metrics, health=health)

    return application


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Quiet(WSGIRequestHandler):
    # A scrape every few seconds must not write a line each to the log.
    def log_message(self, format: str, *args: object) -> None:
        pass


class ProbeServer:
    """The endpoints served from a daemon thread on `host:port` (0: a free port)."""

    def __init__(self, application: WSGIApplication, host: str, port: int) -> None:
        self._server = make_server(
            host, port, application, server_class=_Server, handler_class=_Quiet
        )
        self.host = host
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"omi-bot-probes-{self.port}",
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ProbeServer:
        self._thread.start()
        log.info("serving %s on %s", ", ".join(PATHS), self.url)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

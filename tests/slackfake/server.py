"""The fake's HTTP side: a threaded server on loopback that decodes each request as Slack
would (form or JSON body, token in the header or the body, JSON fields inside forms) and hands
it to the fake's answers; Web API methods under `/api/`, `response_url` posts under
`/response/`."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from tests.slackfake.answers import SlackResult, not_ok

# Slack sends these as JSON strings inside form bodies; decoding them lets tests assert on
# structure whatever encoding the client chose.
_JSON_FIELDS = frozenset({"blocks", "attachments", "view", "metadata", "options", "option_groups"})


class WebAPI(Protocol):
    """What the server needs of :class:`~tests.slackfake.FakeSlackAPI`: its answers."""

    def handle_api(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> SlackResult: ...

    def handle_response_url(self, name: str, params: dict[str, Any]) -> tuple[int, str]: ...


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # Slack takes bursts of calls; the default backlog of 5 resets connections past it.
    request_queue_size = 256


def _parse_params(content_type: str, raw: bytes, query: str) -> dict[str, Any]:
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    if raw:
        if "application/json" in content_type:
            body = json.loads(raw.decode("utf-8"))
            if isinstance(body, dict):
                params.update(body)
        elif "multipart/form-data" not in content_type:
            params.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    for key in _JSON_FIELDS & params.keys():
        value = params[key]
        if isinstance(value, str) and value[:1] in {"[", "{"}:
            try:
                params[key] = json.loads(value)
            except ValueError:
                pass  # keep it raw; the method answer decides whether that is an error
    return params


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def make_handler(fake: WebAPI) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        server_version = "FakeSlack/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            # Request lines can carry tokens in query strings; keep test output clean of them.
            return

        def _read_body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, status: int, body: bytes, content_type: str,
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            try:
                params = _parse_params(
                    self.headers.get("Content-Type", ""), self._read_body(), parts.query
                )
            except (ValueError, UnicodeDecodeError):
                self._send(200, json.dumps(not_ok("invalid_json")).encode(), "application/json")
                return
            if parts.path.startswith("/api/"):
                method = parts.path[len("/api/"):]
                token = _bearer(self.headers.get("Authorization"))
                if token is None and isinstance(params.get("token"), str):
                    token = params.pop("token")
                params.pop("token", None)
                status, body, headers = fake.handle_api(method, params, token)
                self._send(
                    status, json.dumps(body).encode(), "application/json; charset=utf-8", headers
                )
            elif parts.path.startswith("/response/") and self.command == "POST":
                status, text = fake.handle_response_url(parts.path[len("/response/"):], params)
                self._send(status, text.encode(), "text/html")
            else:
                self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            self._dispatch()

        def do_GET(self) -> None:
            self._dispatch()

    return _Handler


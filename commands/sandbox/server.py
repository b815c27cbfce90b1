"""HTTP transport of the OUTSCALE sandbox (stdlib ``ThreadingHTTPServer``).

Routes:

- ``POST /api/v1/<Action>`` (and ``/api/latest/<Action>``): the API, see ``Sandbox.handle``;
- ``GET /_sandbox/state``: OMIs (owner views), call counts per action, knobs;
- ``POST /_sandbox/knobs``: set knobs from another process, JSON object with any of
  ``latency`` (s), ``copy_delay`` (s), ``fail_next`` (``n`` or ``{"n", "status"}``),
  ``fail_copies`` (bool), ``hold`` (action, list of actions, or ``{"action", "stage"}``),
  ``release`` (action, list, or ``true`` for all), ``finish_copies`` (true), ``reset``
  (true); answers the knobs now in force.

The ``/_sandbox/`` routes are unauthenticated, so they answer only clients connecting from a
loopback address.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from commands.sandbox import spec
from commands.sandbox.state import Sandbox, SandboxConfigError


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    sandbox: Sandbox
    verbose: bool = False


class _IPv6HTTPServer(_HTTPServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive, as the SDK's requests.Session reuses connections.
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; with Nagle's algorithm and delayed ACKs each
        # keep-alive request would then stall about 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        route = self.path.split("?", 1)[0]
        if route == "/_sandbox/knobs":
            self._knobs()
        elif route == "/_sandbox/images":
            self._edit_image()
        else:
            self._api()

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/_sandbox/state":
            if self._loopback_only():
                self._send(200, self.server.sandbox.state())
        else:
            self._api()

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _api(self) -> None:
        body = self._body()
        status, answer = self.server.sandbox.handle(
            self.command, self.path, dict(self.headers.items()), body
        )
        self._send(status, answer)

    def _loopback_only(self) -> bool:
        if ipaddress.ip_address(self.client_address[0].split("%", 1)[0]).is_loopback:
            return True
        self._send(403, {"error": "the /_sandbox/ routes answer loopback clients only"})
        return False

    def _knobs(self) -> None:
        body = self._body()
        if not self._loopback_only():
            return
        try:
            settings = json.loads(body or b"{}")
            if not isinstance(settings, dict):
                raise ValueError("the body must be a JSON object")
            apply_knobs(self.server.sandbox, settings)
        except (ValueError, TypeError, KeyError) as exc:
            self._send(400, {"error": str(exc)})
            return
        self._send(200, self.server.sandbox.knobs())

    def _edit_image(self) -> None:
        body = self._body()
        if not self._loopback_only():
            return
        try:
            changes = json.loads(body or b"{}")
            if isinstance(changes, dict) and isinstance(changes.get("add"), dict):
                image: dict[str, Any] | None = self.server.sandbox.add_image(changes["add"])
            elif isinstance(changes, dict) and isinstance(changes.get("image_id"), str):
                image = self.server.sandbox.edit_image(changes.pop("image_id"), **changes)
            else:
                raise ValueError('the body must be a JSON object with an "image_id", or "add"')
        except (ValueError, TypeError) as exc:
            self._send(400, {"error": str(exc)})
            return
        self._send(200, image if image is not None else {"deleted": True})

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")


def apply_knobs(sandbox: Sandbox, settings: dict[str, Any]) -> None:
    """Apply a ``POST /_sandbox/knobs`` body; raise ``ValueError`` on anything unknown."""
    known = {
        "latency",
        "copy_delay",
        "fail_next",
        "fail_copies",
        "hold",
        "release",
        "finish_copies",
        "reset",
    }
    unknown = set(settings) - known
    if unknown:
        raise ValueError(f"unknown knobs: {', '.join(sorted(unknown))}")
    if settings.get("reset"):
        sandbox.reset()
    if "latency" in settings:
        sandbox.latency = _seconds(settings["latency"], "latency")
    if "copy_delay" in settings:
        sandbox.copy_delay = _seconds(settings["copy_delay"], "copy_delay")
    if "fail_next" in settings:
        value = settings["fail_next"]
        if isinstance(value, dict):
            sandbox.fail_next(int(value["n"]), int(value.get("status", 503)))
        else:
            sandbox.fail_next(int(value))
    if "fail_copies" in settings:
        sandbox.fail_copies(bool(settings["fail_copies"]))
    if "release" in settings:
        value = settings["release"]
        if value is True:
            sandbox.release()
        else:
            for action in [value] if isinstance(value, str) else value:
                sandbox.release(str(action))
    if "hold" in settings:
        value = settings["hold"]
        if isinstance(value, dict):
            sandbox.hold(str(value["action"]), value.get("stage", "before"))
        else:
            for action in [value] if isinstance(value, str) else value:
                sandbox.hold(str(action))
    if settings.get("finish_copies"):
        sandbox.finish_copies()


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0")
    return float(value)


class SandboxServer:
    """Serve a ``Sandbox`` over HTTP; bound at construction, so ``port`` is known at once."""

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        server_class = _IPv6HTTPServer if ":" in host else _HTTPServer
        self._httpd = server_class((host, port), _Handler)
        self._httpd.sandbox = sandbox
        self._thread: threading.Thread | None = None
        # Parse the spec now rather than inside the first request.
        spec.load_spec()

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The API endpoint, e.g. ``http://127.0.0.1:8787/api/v1`` (``OSC_ENDPOINT_API``)."""
        return f"{self.base_url}/api/v1"

    @property
    def verbose(self) -> bool:
        return self._httpd.verbose

    @verbose.setter
    def verbose(self, value: bool) -> None:
        self._httpd.verbose = value

    def start(self) -> Self:
        """Serve in a background daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                # A short poll interval keeps stop() quick.
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"osc-sandbox-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (Ctrl-C raises KeyboardInterrupt)."""
        try:
            self._httpd.serve_forever()
        finally:
            self.sandbox.release()
            self._httpd.server_close()

    def stop(self) -> None:
        # Held requests would keep their connections open: let them finish first.
        self.sandbox.release()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(host: str, port: int, accounts_file: str | None, copy_delay: float) -> None:
    """Run the sandbox in the foreground for ``omi-bot sandbox`` until Ctrl-C.

    A bad accounts file or an unusable address prints one line on stderr and exits with
    status 2.
    """
    try:
        if accounts_file:
            sandbox = Sandbox.from_file(accounts_file, copy_delay=copy_delay)
        else:
            sandbox = Sandbox.demo(copy_delay=copy_delay)
        server = SandboxServer(sandbox, host=host, port=port)
    except SandboxConfigError as exc:
        print(f"omi-bot sandbox: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as exc:
        print(f"omi-bot sandbox: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        raise SystemExit(2) from None
    server.verbose = True
    try:
        print(_banner(server, demo=accounts_file is None), flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nomi-bot sandbox: stopped", flush=True)


def _banner(server: SandboxServer, *, demo: bool) -> str:
    sandbox = server.sandbox
    accounts = sandbox.accounts
    lines = [
        f"OUTSCALE sandbox listening on {server.url} (Region {sandbox.region}, "
        f"copy delay {sandbox.copy_delay:g}s)",
        "",
        "Accounts:",
    ]
    for account in accounts:
        # Only the documented demo secrets are ever printed.
        secret = account["secret_key"] if demo else "<secret from the accounts file>"
        lines.append(
            f"  {account.get('role', ''):<13} {account['account_id']}  "
            f"{account['access_key']:<22} {secret:<30} {account['email']}"
        )
    if accounts:
        first = accounts[0]
        secret = first["secret_key"] if demo else "<secret key>"
        lines += [
            "",
            "Point osc-sdk-python (or oapi-cli) at it with environment variables:",
            f"  export OSC_ENDPOINT_API={server.url}",
            f"  export OSC_REGION={sandbox.region}",
            f"  export OSC_ACCESS_KEY={first['access_key']}",
            f"  export OSC_SECRET_KEY={secret}",
            "or with a profile in ~/.osc/config.json (one per identity, e.g. seller and "
            "distribution):",
            f'  {{"seller": {{"access_key": "{first["access_key"]}", "secret_key": "{secret}", '
            f'"region": "{sandbox.region}", "endpoints": {{"api": "{server.url}"}}}}}}',
            "",
            f"State: GET {server.base_url}/_sandbox/state   "
            f"Knobs: POST {server.base_url}/_sandbox/knobs",
            "Ctrl-C to stop.",
        ]
    return "\n".join(lines)

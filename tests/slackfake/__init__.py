"""A local stand-in for the Slack Web API, served over real HTTP on loopback.

Unmodified ``slack_sdk.WebClient(token=..., base_url=fake.url)`` talks to it, so the bot's
listeners are exercised through the same client code they use in production. Every call is
recorded; answers follow Slack's documented response shapes; failures, rate limits and delays
can be programmed per method.

The fake's modules follow Slack's surfaces: chat.py, views.py and workspace.py (users, user
groups, conversations) answer the methods, programmed.py the failures a test asks for,
server.py the HTTP side; this module is the fake itself and the package's public face.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any

from tests.slackfake.answers import Handler, SlackResult, not_ok
from tests.slackfake.calls import Call, iter_blocks
from tests.slackfake.chat import ChatMethods
from tests.slackfake.programmed import Failure, ProgrammedAnswers
from tests.slackfake.server import Server, make_handler
from tests.slackfake.views import ViewsMethods
from tests.slackfake.workspace import User, WorkspaceMethods

__all__ = ["Call", "FakeSlackAPI", "SlackResult", "iter_blocks"]


class FakeSlackAPI(ProgrammedAnswers, ChatMethods, ViewsMethods, WorkspaceMethods):
    """Threaded HTTP fake of ``https://slack.com/api/`` plus ``response_url`` endpoints.

    Use as a context manager or call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        *,
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        team_id: str = "T1",
        team_name: str = "Team One",
        app_id: str = "A1",
        token: str | None = None,
        app_token: str | None = None,
    ) -> None:
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.team_name = team_name
        self.app_id = app_id
        # When set, calls with another token are refused like Slack does (invalid_auth).
        self.expected_token = token
        # apps.connections.open takes the app-level token (xapp-), never the bot token.
        self.expected_app_token = app_token
        # Set by FakeSocketMode: where apps.connections.open sends the bot.
        self.socket_urls: Callable[[], str] | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._handlers: dict[str, Callable[[dict[str, Any]], SlackResult]] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
        }
        self._init_state()

    def _init_state(self) -> None:
        self._calls: list[Call] = []
        self._failures: dict[str, deque[Failure]] = {}
        self._delays: dict[str, float] = {}
        self._overrides: dict[str, dict[str, Any] | Handler] = {}
        self._users: dict[str, User] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._external_ids: dict[str, str] = {}
        self._last_ts_us = 0
        self._view_seq = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlackAPI:
        if self._server is not None:
            return self
        server = Server(("127.0.0.1", 0), make_handler(self))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name="fake-slack-api",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeSlackAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSlackAPI is not started")
        return int(self._server.server_address[1])

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """Base URL for ``WebClient(base_url=...)``; the trailing slash matters (urljoin)."""
        return f"{self.root}/api/"

    def response_url(self, name: str) -> str:
        return f"{self.root}/response/{name}"

    # ------------------------------------------------------------------ recorded calls

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until ``count`` calls to ``method`` arrived.

        The bot makes its API calls after answering (bot.runtime.Later), so they land shortly
        after the HTTP response; tests wait here instead of sleeping.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [c for c in self._calls if c.method == method]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} call(s) to {method}, got {len(found)} within "
                        f"{timeout}s; methods seen: {[c.method for c in self._calls]}"
                    )
                self._changed.wait(left)

    def reset(self) -> None:
        """Forget calls, programmed failures, delays, overrides and configured data."""
        with self._lock:
            self._init_state()

    # ------------------------------------------------------------------ dispatch

    def _record(self, call: Call) -> None:
        with self._changed:
            self._calls.append(call)
            self._changed.notify_all()

    def handle_api(self, method: str, params: dict[str, Any], token: str | None) -> SlackResult:
        self._record(Call(method, copy.deepcopy(params), token, time.time()))
        failure = self._before_answer(method)
        if failure is not None:
            return failure.status, dict(failure.body), dict(failure.headers)
        if method == "apps.connections.open":
            return self._apps_connections_open(token)
        if method not in {"api.test"}:
            if not token:
                return 200, not_ok("not_authed"), {}
            if self.expected_token is not None and token != self.expected_token:
                return 200, not_ok("invalid_auth"), {}
        with self._lock:
            override = self._overrides.get(method)
        if override is not None:
            body = override(params) if callable(override) else copy.deepcopy(override)
            return 200, body, {}
        handler = self._handlers.get(method)
        if handler is None:
            return 200, not_ok("unknown_method"), {}
        return handler(params)

    def handle_response_url(self, name: str, params: dict[str, Any]) -> tuple[int, str]:
        self._record(Call("response_url", copy.deepcopy(params), None, time.time(), name))
        failure = self._before_answer("response_url")
        if failure is not None:
            # response_url answers are plain text, not JSON, on real Slack too.
            return (failure.status if failure.status != 200 else 404), failure.body["error"]
        if not any(k in params for k in ("text", "blocks", "attachments", "delete_original")):
            return 400, "no_text"
        return 200, "ok"

    # ------------------------------------------------------------------ method answers

    def _api_test(self, params: dict[str, Any]) -> SlackResult:
        return 200, {"ok": True, "args": params}, {}

    def _apps_connections_open(self, token: str | None) -> SlackResult:
        if not token:
            return 200, not_ok("not_authed"), {}
        if not token.startswith("xapp-"):
            return 200, not_ok("not_allowed_token_type"), {}
        if self.expected_app_token is not None and token != self.expected_app_token:
            return 200, not_ok("invalid_auth"), {}
        if self.socket_urls is None:
            return 200, not_ok("not_allowed"), {}
        return 200, {"ok": True, "url": self.socket_urls()}, {}

    def _auth_test(self, params: dict[str, Any]) -> SlackResult:
        return 200, {
            "ok": True,
            "url": "https://team-one.slack.com/",
            "team": self.team_name,
            "user": "omi-bot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }, {}


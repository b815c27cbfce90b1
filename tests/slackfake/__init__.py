"""A local stand-in for the Slack Web API, served over real HTTP on loopback.

Unmodified ``slack_sdk.WebClient(token=..., base_url=fake.url)`` talks to it, so the bot's
listeners are exercised through the same client code they use in production. Every call is
recorded; answers follow Slack's documented response shapes; failures, rate limits and delays
can be programmed per method.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["Call", "FakeSlackAPI", "SlackResult", "iter_blocks"]

# What a method handler returns: (HTTP status, JSON body, extra headers).
SlackResult = tuple[int, dict[str, Any], dict[str, str]]
Handler = Callable[[dict[str, Any]], dict[str, Any]]

# Slack sends these as JSON strings inside form bodies; decoding them lets tests assert on
# structure whatever encoding the client chose.
_JSON_FIELDS = frozenset({"blocks", "attachments", "view", "metadata", "options", "option_groups"})

MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_BLOCKS = 50
MAX_MODAL_TITLE = 24


@dataclass(frozen=True)
class Call:
    """One request the fake received."""

    method: str
    params: dict[str, Any]
    token: str | None
    at: float
    # For ``response_url`` posts: the NAME part of ``/response/NAME``.
    name: str | None = None


@dataclass
class _Failure:
    remaining: int | None  # None: until reset()
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _User:
    id: str
    name: str
    locale: str = "en-US"
    email: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in {"1", "true", "yes"}
    return bool(value)


def _error(error: str, *messages: str) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error": error}
    if messages:
        body["response_metadata"] = {"messages": list(messages)}
    return body


class FakeSlackAPI:
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
        self._failures: dict[str, deque[_Failure]] = {}
        self._delays: dict[str, float] = {}
        self._overrides: dict[str, dict[str, Any] | Handler] = {}
        self._users: dict[str, _User] = {}
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
        server = _Server(("127.0.0.1", 0), _make_handler(self))
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

        Bolt runs listeners after acknowledging (process_before_response=False), so API calls
        made by a listener land shortly after the HTTP response; tests wait here instead of
        sleeping.
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

    # ------------------------------------------------------------------ programming

    def fail(self, method: str, error: str = "channel_not_found", times: int | None = 1) -> None:
        """Answer the next ``times`` calls to ``method`` with HTTP 200 ``ok: false``.

        ``times=None`` keeps failing until :meth:`reset`.
        """
        self._push_failure(method, _Failure(times, 200, _error(error)))

    def rate_limit(self, method: str, times: int | None = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls with HTTP 429 and ``Retry-After`` as Slack does."""
        failure = _Failure(
            times, 429, _error("ratelimited"), {"Retry-After": str(int(retry_after))}
        )
        self._push_failure(method, failure)

    def delay(self, method: str, seconds: float) -> None:
        """Hold every answer to ``method`` for ``seconds`` (0 removes the delay)."""
        with self._lock:
            if seconds > 0:
                self._delays[method] = seconds
            else:
                self._delays.pop(method, None)

    def set_response(self, method: str, response: dict[str, Any] | Handler) -> None:
        """Replace the default answer of ``method`` by a fixed body or ``f(params) -> body``."""
        with self._lock:
            self._overrides[method] = response

    def set_user(
        self,
        user_id: str,
        *,
        locale: str = "en-US",
        name: str | None = None,
        email: str | None = None,
        **fields: Any,
    ) -> None:
        """Configure what ``users.info`` says about ``user_id`` (extra fields merge in)."""
        with self._lock:
            self._users[user_id] = _User(
                id=user_id, name=name or user_id.lower(), locale=locale, email=email, extra=fields
            )

    def set_usergroup(self, group_id: str, user_ids: list[str]) -> None:
        with self._lock:
            self._usergroups[group_id] = list(user_ids)

    def set_channel(self, channel_id: str, **fields: Any) -> None:
        """Configure what ``conversations.info`` says about ``channel_id``."""
        with self._lock:
            self._channels[channel_id] = dict(fields)

    def _push_failure(self, method: str, failure: _Failure) -> None:
        if failure.remaining is not None and failure.remaining <= 0:
            return
        with self._lock:
            self._failures.setdefault(method, deque()).append(failure)

    # ------------------------------------------------------------------ dispatch

    def _record(self, call: Call) -> None:
        with self._changed:
            self._calls.append(call)
            self._changed.notify_all()

    def _take_failure(self, method: str) -> _Failure | None:
        with self._lock:
            queue = self._failures.get(method)
            if not queue:
                return None
            failure = queue[0]
            if failure.remaining is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    queue.popleft()
            return failure

    def _before_answer(self, method: str) -> _Failure | None:
        with self._lock:
            pause = self._delays.get(method, 0.0)
        if pause:
            time.sleep(pause)
        return self._take_failure(method)

    def handle_api(self, method: str, params: dict[str, Any], token: str | None) -> SlackResult:
        self._record(Call(method, copy.deepcopy(params), token, time.time()))
        failure = self._before_answer(method)
        if failure is not None:
            return failure.status, dict(failure.body), dict(failure.headers)
        if method == "apps.connections.open":
            return self._apps_connections_open(token)
        if method not in {"api.test"}:
            if not token:
                return 200, _error("not_authed"), {}
            if self.expected_token is not None and token != self.expected_token:
                return 200, _error("invalid_auth"), {}
        with self._lock:
            override = self._overrides.get(method)
        if override is not None:
            body = override(params) if callable(override) else copy.deepcopy(override)
            return 200, body, {}
        handler = self._handlers.get(method)
        if handler is None:
            return 200, _error("unknown_method"), {}
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

    # ------------------------------------------------------------------ helpers for answers

    def _next_ts(self) -> str:
        with self._lock:
            now_us = int(time.time() * 1_000_000)
            self._last_ts_us = max(now_us, self._last_ts_us + 1)
            us = self._last_ts_us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    @staticmethod
    def _dm_channel(user_id: str) -> str:
        return f"D{user_id}"

    def _resolve_channel(self, channel: str) -> str:
        # Posting to a user id lands in the DM with that user, as on real Slack.
        return self._dm_channel(channel) if channel.startswith(("U", "W")) else channel

    def _message(self, params: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": params.get("text", ""),
            "ts": ts,
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if key in params:
                message[key] = params[key]
        return message

    def _check_message_content(self, params: dict[str, Any]) -> dict[str, Any] | None:
        if not any(params.get(k) for k in ("text", "blocks", "attachments")):
            return _error("no_text")
        blocks = params.get("blocks")
        too_many = isinstance(blocks, list) and len(blocks) > MAX_MESSAGE_BLOCKS
        if blocks is not None and (too_many or not isinstance(blocks, list)):
            return _error(
                "invalid_blocks",
                f"[ERROR] must provide no more than {MAX_MESSAGE_BLOCKS} items "
                "[json-pointer:/blocks]",
            )
        return None

    def _check_view(self, view: Any) -> dict[str, Any] | None:
        if not isinstance(view, dict):
            return _error("invalid_arguments", "[ERROR] missing required field: view")
        if view.get("type") not in {"modal", "home"}:
            return _error(
                "invalid_arguments",
                "[ERROR] must be one of [modal, home, workflow_step] [json-pointer:/view/type]",
            )
        blocks = view.get("blocks")
        if not isinstance(blocks, list):
            return _error("invalid_arguments", "[ERROR] missing required field: blocks")
        if len(blocks) > MAX_VIEW_BLOCKS:
            return _error(
                "invalid_arguments",
                f"[ERROR] must provide no more than {MAX_VIEW_BLOCKS} items "
                "[json-pointer:/view/blocks]",
            )
        if view["type"] == "modal":
            title = view.get("title")
            if not isinstance(title, dict) or "text" not in title:
                return _error("invalid_arguments", "[ERROR] missing required field: title")
            if len(str(title["text"])) > MAX_MODAL_TITLE:
                return _error(
                    "invalid_arguments",
                    f"[ERROR] must be less than {MAX_MODAL_TITLE + 1} characters "
                    "[json-pointer:/view/title/text]",
                )
        return None

    def _store_view(
        self, view: dict[str, Any], view_id: str | None = None, root_id: str | None = None,
        previous_id: str | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            self._view_seq += 1
            if view_id is None:
                view_id = f"V{self._view_seq:08X}"
            # A new hash on every store, so a stale hash in views.update is detectable.
            view_hash = f"{int(time.time())}.{self._view_seq:08x}"
            stored = {
                "id": view_id,
                "team_id": self.team_id,
                "type": view["type"],
                "blocks": view["blocks"],
                "private_metadata": view.get("private_metadata", ""),
                "callback_id": view.get("callback_id", ""),
                "state": {"values": {}},
                "hash": view_hash,
                "title": view.get("title"),
                "clear_on_close": bool(view.get("clear_on_close", False)),
                "notify_on_close": bool(view.get("notify_on_close", False)),
                "close": view.get("close"),
                "submit": view.get("submit"),
                "previous_view_id": previous_id,
                "root_view_id": root_id or view_id,
                "app_id": self.app_id,
                "external_id": view.get("external_id", ""),
                "app_installed_team_id": self.team_id,
                "bot_id": self.bot_id,
            }
            self._views[view_id] = stored
            if stored["external_id"]:
                self._external_ids[stored["external_id"]] = view_id
            return copy.deepcopy(stored)

    # ------------------------------------------------------------------ method answers

    def _api_test(self, params: dict[str, Any]) -> SlackResult:
        return 200, {"ok": True, "args": params}, {}

    def _apps_connections_open(self, token: str | None) -> SlackResult:
        if not token:
            return 200, _error("not_authed"), {}
        if not token.startswith("xapp-"):
            return 200, _error("not_allowed_token_type"), {}
        if self.expected_app_token is not None and token != self.expected_app_token:
            return 200, _error("invalid_auth"), {}
        if self.socket_urls is None:
            return 200, _error("not_allowed"), {}
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

    def _chat_post_message(self, params: dict[str, Any]) -> SlackResult:
        channel = params.get("channel")
        if not channel:
            return 200, _error("channel_not_found"), {}
        problem = self._check_message_content(params)
        if problem is not None:
            return 200, problem, {}
        ts = self._next_ts()
        return 200, {
            "ok": True,
            "channel": self._resolve_channel(str(channel)),
            "ts": ts,
            "message": self._message(params, ts),
        }, {}

    def _chat_update(self, params: dict[str, Any]) -> SlackResult:
        channel, ts = params.get("channel"), params.get("ts")
        if not channel:
            return 200, _error("channel_not_found"), {}
        if not ts:
            return 200, _error("message_not_found"), {}
        problem = self._check_message_content(params)
        if problem is not None:
            return 200, problem, {}
        return 200, {
            "ok": True,
            "channel": str(channel),
            "ts": str(ts),
            "text": params.get("text", ""),
            "message": self._message(params, str(ts)),
        }, {}

    def _chat_delete(self, params: dict[str, Any]) -> SlackResult:
        channel, ts = params.get("channel"), params.get("ts")
        if not channel:
            return 200, _error("channel_not_found"), {}
        if not ts:
            return 200, _error("message_not_found"), {}
        return 200, {"ok": True, "channel": str(channel), "ts": str(ts)}, {}

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> SlackResult:
        if not params.get("channel"):
            return 200, _error("channel_not_found"), {}
        if not params.get("user"):
            return 200, _error("user_not_in_channel"), {}
        problem = self._check_message_content(params)
        if problem is not None:
            return 200, problem, {}
        return 200, {"ok": True, "message_ts": self._next_ts()}, {}

    def _chat_get_permalink(self, params: dict[str, Any]) -> SlackResult:
        channel, ts = params.get("channel"), params.get("message_ts")
        if not channel:
            return 200, _error("channel_not_found"), {}
        if not ts:
            return 200, _error("message_not_found"), {}
        link = f"https://team-one.slack.com/archives/{channel}/p{str(ts).replace('.', '')}"
        return 200, {"ok": True, "channel": str(channel), "permalink": link}, {}

    def _views_open(self, params: dict[str, Any]) -> SlackResult:
        if not params.get("trigger_id") and not params.get("interactivity_pointer"):
            return 200, _error(
                "invalid_arguments", "[ERROR] missing required field: trigger_id"
            ), {}
        view = params.get("view")
        problem = self._check_view(view)
        if problem is not None:
            return 200, problem, {}
        return 200, {"ok": True, "view": self._store_view(view)}, {}

    def _views_push(self, params: dict[str, Any]) -> SlackResult:
        if not params.get("trigger_id") and not params.get("interactivity_pointer"):
            return 200, _error(
                "invalid_arguments", "[ERROR] missing required field: trigger_id"
            ), {}
        view = params.get("view")
        problem = self._check_view(view)
        if problem is not None:
            return 200, problem, {}
        return 200, {"ok": True, "view": self._store_view(view)}, {}

    def _views_update(self, params: dict[str, Any]) -> SlackResult:
        view_id, external_id = params.get("view_id"), params.get("external_id")
        if not view_id and not external_id:
            return 200, _error(
                "invalid_arguments", "[ERROR] missing required field: view_id or external_id"
            ), {}
        view = params.get("view")
        problem = self._check_view(view)
        if problem is not None:
            return 200, problem, {}
        with self._lock:
            if not view_id:
                view_id = self._external_ids.get(str(external_id))
                if view_id is None:
                    return 200, _error("not_found"), {}
            known = copy.deepcopy(self._views.get(str(view_id)))
        # Views the fake never opened (ids made up by a signed test payload) are accepted:
        # the fake cannot know every view Slack would hold.
        wanted_hash = params.get("hash")
        if known is not None and wanted_hash and wanted_hash != known["hash"]:
            return 200, _error("hash_conflict"), {}
        if external_id and "external_id" not in view:
            view = {**view, "external_id": external_id}
        root = known["root_view_id"] if known else None
        previous = known["previous_view_id"] if known else None
        stored = self._store_view(view, view_id=str(view_id), root_id=root, previous_id=previous)
        return 200, {"ok": True, "view": stored}, {}

    def _views_publish(self, params: dict[str, Any]) -> SlackResult:
        if not params.get("user_id"):
            return 200, _error("invalid_arguments", "[ERROR] missing required field: user_id"), {}
        view = params.get("view")
        problem = self._check_view(view)
        if problem is not None:
            return 200, problem, {}
        return 200, {"ok": True, "view": self._store_view(view)}, {}

    def _users_info(self, params: dict[str, Any]) -> SlackResult:
        user_id = params.get("user")
        if not user_id:
            return 200, _error("user_not_found"), {}
        with self._lock:
            configured = self._users.get(str(user_id))
        user = configured or _User(id=str(user_id), name=str(user_id).lower())
        body: dict[str, Any] = {
            "id": user.id,
            "team_id": self.team_id,
            "name": user.name,
            "deleted": False,
            "real_name": user.name,
            "tz": "Europe/Paris",
            "is_bot": False,
            "is_admin": False,
            "profile": {
                "real_name": user.name,
                "display_name": user.name,
                "email": user.email or f"{user.name}@example.com",
                "team": self.team_id,
            },
        }
        if _truthy(params.get("include_locale", False)):
            body["locale"] = user.locale
        body.update(copy.deepcopy(user.extra))
        return 200, {"ok": True, "user": body}, {}

    def _usergroups_users_list(self, params: dict[str, Any]) -> SlackResult:
        group = params.get("usergroup")
        with self._lock:
            users = self._usergroups.get(str(group)) if group else None
        if users is None:
            return 200, _error("no_such_subteam"), {}
        return 200, {"ok": True, "users": list(users)}, {}

    def _conversations_open(self, params: dict[str, Any]) -> SlackResult:
        if params.get("channel"):
            return 200, {"ok": True, "channel": {"id": str(params["channel"])}}, {}
        raw = params.get("users")
        users = raw if isinstance(raw, list) else [u for u in str(raw or "").split(",") if u]
        if not users:
            return 200, _error("users_list_not_supplied"), {}
        if len(users) == 1:
            channel_id = self._dm_channel(users[0])
        else:
            channel_id = "G" + "".join(sorted(u.lstrip("UW") for u in users))
        channel: dict[str, Any] = {"id": channel_id}
        if _truthy(params.get("return_im", False)):
            channel.update({"created": int(time.time()), "is_im": len(users) == 1})
            if len(users) == 1:
                channel["user"] = users[0]
        return 200, {"ok": True, "channel": channel}, {}

    def _conversations_info(self, params: dict[str, Any]) -> SlackResult:
        channel_id = params.get("channel")
        if not channel_id:
            return 200, _error("channel_not_found"), {}
        channel_id = str(channel_id)
        is_im = channel_id.startswith("D")
        channel: dict[str, Any] = {
            "id": channel_id,
            "name": channel_id.lower(),
            "is_channel": channel_id.startswith("C"),
            "is_group": channel_id.startswith("G"),
            "is_im": is_im,
            "is_private": not channel_id.startswith("C"),
            "is_archived": False,
            "is_member": True,
            "created": 1_700_000_000,
            "context_team_id": self.team_id,
        }
        if is_im:
            channel["user"] = channel_id[1:]
        with self._lock:
            channel.update(copy.deepcopy(self._channels.get(channel_id, {})))
        return 200, {"ok": True, "channel": channel}, {}


# ---------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
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


def _make_handler(fake: FakeSlackAPI) -> type[BaseHTTPRequestHandler]:
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
                self._send(200, json.dumps(_error("invalid_json")).encode(), "application/json")
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


def iter_blocks(call: Call) -> Iterator[dict[str, Any]]:
    """The blocks of a recorded message or view call, whichever shape it carried."""
    view = call.params.get("view")
    blocks = view.get("blocks", []) if isinstance(view, dict) else call.params.get("blocks", [])
    yield from blocks if isinstance(blocks, list) else []

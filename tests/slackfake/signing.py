"""Requests signed the way Slack signs them, sent to the bot's real HTTP endpoint.

Signature (https://api.slack.com/authentication/verifying-requests-from-slack):
``X-Slack-Signature = "v0=" + hex(HMAC-SHA256(signing_secret, f"v0:{timestamp}:{raw_body}"))``
with ``X-Slack-Request-Timestamp`` the Unix time in seconds. Bolt refuses timestamps more than
five minutes away from its clock.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import requests

__all__ = ["EVENTS_PATH", "SlackClient", "sign"]

EVENTS_PATH = "/slack/events"
# The deprecated verification token still travels in every payload; Bolt ignores it.
VERIFICATION_TOKEN = "legacy-verification-token"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def sign(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack would attach to ``body`` (exact bytes sent) for ``secret``."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    base = f"v0:{ts}:{body}".encode()
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


class SlackClient:
    """Plays Slack's side of the Events API, slash commands and interactivity.

    ``base_url`` is the bot's root (``http://127.0.0.1:PORT``) or its full events URL.
    ``response_urls`` makes the ``response_url`` of each payload, e.g. ``fake.response_url``
    so that ``respond()`` lands in the :class:`~tests.slackfake.FakeSlackAPI`; without it a
    hooks.slack.com-looking URL is used (never reachable offline).
    """

    def __init__(
        self,
        base_url: str,
        secret: str,
        *,
        response_urls: Callable[[str], str] | None = None,
        team_id: str = "T1",
        team_domain: str = "team-one",
        api_app_id: str = "A1",
        timeout: float = 10.0,
    ) -> None:
        base = base_url.rstrip("/")
        self.events_url = base if base.endswith(EVENTS_PATH) else base + EVENTS_PATH
        self.secret = secret
        self.response_urls = response_urls
        self.team_id = team_id
        self.team_domain = team_domain
        self.api_app_id = api_app_id
        self.timeout = timeout
        self._seq = itertools.count(1)
        self.last_trigger_id: str | None = None
        self.last_response_url: str | None = None

    # ------------------------------------------------------------------ transport

    def post(
        self,
        body: str,
        content_type: str,
        *,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        headers: Mapping[str, str] | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> requests.Response:
        """POST ``body`` exactly as given, signed (``secret`` overrides, for forgeries)."""
        sent = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
        sent.update(sign(body, self.secret if secret is None else secret, timestamp))
        if retry_num is not None:
            sent["X-Slack-Retry-Num"] = str(retry_num)
            sent["X-Slack-Retry-Reason"] = retry_reason
        if headers:
            sent.update(headers)
        return requests.post(
            self.events_url, data=body.encode("utf-8"), headers=sent, timeout=self.timeout
        )

    def _interactive(self, payload: dict[str, Any], **kw: Any) -> requests.Response:
        # Interactivity bodies are a form with a single JSON-encoded `payload` field.
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
        return self.post(body, FORM, **kw)

    # ------------------------------------------------------------------ ids

    def new_trigger_id(self) -> str:
        n = next(self._seq)
        trigger = f"{int(time.time() * 1000)}.{1000000 + n}.{secrets.token_hex(16)}"
        self.last_trigger_id = trigger
        return trigger

    def new_response_url(self, kind: str) -> str:
        n = next(self._seq)
        if self.response_urls is not None:
            url = self.response_urls(f"{kind}-{n}")
        else:
            url = f"https://hooks.slack.com/{kind}/{self.team_id}/{n}/{secrets.token_hex(12)}"
        self.last_response_url = url
        return url

    def _user(self, user_id: str) -> dict[str, Any]:
        name = user_id.lower()
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _team(self) -> dict[str, Any]:
        return {"id": self.team_id, "domain": self.team_domain}

    # ------------------------------------------------------------------ slash commands

    def slash_command(
        self,
        text: str,
        user_id: str = "U1",
        command: str = "/omi",
        channel_id: str = "C1",
        team_id: str = "T1",
        trigger_id: str | None = None,
        response_url: str | None = None,
        retry_num: int | None = None,
        headers: Mapping[str, str] | None = None,
        timestamp: int | None = None,
        *,
        channel_name: str = "general",
        user_name: str | None = None,
        secret: str | None = None,
    ) -> requests.Response:
        """A slash command: form-encoded fields in the order Slack sends them."""
        fields = {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name or user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url or self.new_response_url("commands"),
            "trigger_id": trigger_id or self.new_trigger_id(),
        }
        return self.post(
            urlencode(fields), FORM, retry_num=retry_num, headers=headers,
            timestamp=timestamp, secret=secret,
        )

    # ------------------------------------------------------------------ interactivity

    def block_action(
        self,
        action_id: str,
        value: str | None = None,
        *,
        block_id: str = "actions",
        action_type: str = "button",
        selected_option: dict[str, Any] | None = None,
        action: Mapping[str, Any] | None = None,
        user_id: str = "U1",
        channel_id: str = "C1",
        message: dict[str, Any] | None = None,
        view: dict[str, Any] | None = None,
        state_values: dict[str, Any] | None = None,
        trigger_id: str | None = None,
        response_url: str | None = None,
        retry_num: int | None = None,
        headers: Mapping[str, str] | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> requests.Response:
        """A ``block_actions`` payload: from a message, or from a modal when ``view`` is given.

        ``action`` merges extra keys into the action (e.g. ``selected_options``).
        """
        action_ts = f"{time.time():.6f}"
        act: dict[str, Any] = {
            "type": action_type,
            "action_id": action_id,
            "block_id": block_id,
            "action_ts": action_ts,
        }
        if value is not None:
            act["value"] = value
        if selected_option is not None:
            act["selected_option"] = selected_option
        if action:
            act.update(action)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": VERIFICATION_TOKEN,
            "trigger_id": trigger_id or self.new_trigger_id(),
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "actions": [act],
        }
        if view is not None:
            full_view = self._full_view(view, state_values)
            payload["container"] = {"type": "view", "view_id": full_view["id"]}
            payload["view"] = full_view
            payload["state"] = full_view["state"]
        else:
            msg = message or {
                "type": "message",
                "user": "UBOT",
                "bot_id": "BBOT",
                "text": "",
                "ts": action_ts,
                "blocks": [],
            }
            payload["container"] = {
                "type": "message",
                "message_ts": msg.get("ts", action_ts),
                "channel_id": channel_id,
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": channel_id, "name": "general"}
            payload["message"] = msg
            payload["state"] = {"values": state_values or {}}
            payload["response_url"] = response_url or self.new_response_url("actions")
        return self._interactive(
            payload, retry_num=retry_num, headers=headers, timestamp=timestamp, secret=secret
        )

    def _full_view(
        self, view: dict[str, Any], state_values: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Complete a view as the bot built it into the view object Slack sends back."""
        full = dict(view)
        full.setdefault("id", f"V{next(self._seq):08X}")
        full.setdefault("team_id", self.team_id)
        full.setdefault("type", "modal")
        full.setdefault("blocks", [])
        full.setdefault("private_metadata", "")
        full.setdefault("callback_id", "")
        full.setdefault("hash", f"{int(time.time())}.{secrets.token_hex(4)}")
        full.setdefault("clear_on_close", False)
        full.setdefault("notify_on_close", False)
        full.setdefault("close", None)
        full.setdefault("submit", None)
        full.setdefault("previous_view_id", None)
        full.setdefault("root_view_id", full["id"])
        full.setdefault("app_id", self.api_app_id)
        full.setdefault("external_id", "")
        full.setdefault("app_installed_team_id", self.team_id)
        full.setdefault("bot_id", "BBOT")
        if state_values is not None:
            full["state"] = {"values": state_values}
        else:
            full.setdefault("state", {"values": {}})
        return full

    def view_submission(
        self,
        view: dict[str, Any],
        user_id: str = "U1",
        *,
        state_values: dict[str, Any] | None = None,
        response_urls: list[dict[str, Any]] | None = None,
        trigger_id: str | None = None,
        retry_num: int | None = None,
        headers: Mapping[str, str] | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> requests.Response:
        """A ``view_submission``; ``state_values`` is ``view.state.values`` as Slack fills it:
        ``{block_id: {action_id: {"type": "plain_text_input", "value": "..."}}}``.
        """
        payload = {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": VERIFICATION_TOKEN,
            "trigger_id": trigger_id or self.new_trigger_id(),
            "view": self._full_view(view, state_values),
            "response_urls": response_urls or [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self._interactive(
            payload, retry_num=retry_num, headers=headers, timestamp=timestamp, secret=secret
        )

    def view_closed(
        self,
        view: dict[str, Any],
        user_id: str = "U1",
        *,
        is_cleared: bool = False,
        timestamp: int | None = None,
    ) -> requests.Response:
        payload = {
            "type": "view_closed",
            "team": self._team(),
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": VERIFICATION_TOKEN,
            "view": self._full_view(view, None),
            "is_cleared": is_cleared,
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self._interactive(payload, timestamp=timestamp)

    def block_suggestion(
        self,
        action_id: str,
        value: str,
        *,
        block_id: str = "input",
        user_id: str = "U1",
        view: dict[str, Any] | None = None,
        channel_id: str = "C1",
        headers: Mapping[str, str] | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> requests.Response:
        """An options load for an ``external_select`` (the typed text is ``value``).

        From a modal when ``view`` is given (the usual case), else from a message.
        """
        payload: dict[str, Any] = {
            "type": "block_suggestion",
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": VERIFICATION_TOKEN,
            "action_id": action_id,
            "block_id": block_id,
            "value": value,
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if view is not None:
            full_view = self._full_view(view, None)
            payload["container"] = {"type": "view", "view_id": full_view["id"]}
            payload["view"] = full_view
        else:
            ts = f"{time.time():.6f}"
            payload["container"] = {
                "type": "message", "message_ts": ts, "channel_id": channel_id,
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": channel_id, "name": "general"}
        return self._interactive(payload, headers=headers, timestamp=timestamp, secret=secret)

    # ------------------------------------------------------------------ Events API

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        authorized_user_id: str = "UBOT",
        retry_num: int | None = None,
        headers: Mapping[str, str] | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> requests.Response:
        """An ``event_callback`` envelope around ``event`` (JSON body).

        Reuse ``event_id`` with ``retry_num`` to replay a delivery as Slack's retries do.
        """
        now = int(time.time())
        envelope = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "context_enterprise_id": None,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._seq):08X}",
            "event_time": now,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": authorized_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": secrets.token_hex(16),
        }
        return self.post(
            json.dumps(envelope), JSON, retry_num=retry_num, headers=headers,
            timestamp=timestamp, secret=secret,
        )

    def url_verification(
        self, challenge: str, *, timestamp: int | None = None, secret: str | None = None
    ) -> requests.Response:
        body = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
        return self.post(json.dumps(body), JSON, timestamp=timestamp, secret=secret)

"""The fake's chat.* methods: messages posted, updated, deleted, posted to one user, linked.
Their content is checked as Slack checks it (some text, at most 50 blocks), so a message the
bot builds too large fails here as it would in a workspace."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from tests.slackfake.answers import SlackResult, not_ok

MAX_MESSAGE_BLOCKS = 50


class ChatMethods:
    """chat.* of :class:`~tests.slackfake.FakeSlackAPI`, which holds their state."""

    # The fake's state these methods use; FakeSlackAPI sets it up.
    bot_user_id: str
    bot_id: str
    team_id: str
    app_id: str
    _lock: threading.Lock
    _last_ts_us: int
    _resolve_channel: Callable[[str], str]

    def _next_ts(self) -> str:
        with self._lock:
            now_us = int(time.time() * 1_000_000)
            self._last_ts_us = max(now_us, self._last_ts_us + 1)
            us = self._last_ts_us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

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
            return not_ok("no_text")
        blocks = params.get("blocks")
        too_many = isinstance(blocks, list) and len(blocks) > MAX_MESSAGE_BLOCKS
        if blocks is not None and (too_many or not isinstance(blocks, list)):
            return not_ok(
                "invalid_blocks",
                f"[ERROR] must provide no more than {MAX_MESSAGE_BLOCKS} items "
                "[json-pointer:/blocks]",
            )
        return None

    def _chat_post_message(self, params: dict[str, Any]) -> SlackResult:
        channel = params.get("channel")
        if not channel:
            return 200, not_ok("channel_not_found"), {}
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
            return 200, not_ok("channel_not_found"), {}
        if not ts:
            return 200, not_ok("message_not_found"), {}
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
            return 200, not_ok("channel_not_found"), {}
        if not ts:
            return 200, not_ok("message_not_found"), {}
        return 200, {"ok": True, "channel": str(channel), "ts": str(ts)}, {}

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> SlackResult:
        if not params.get("channel"):
            return 200, not_ok("channel_not_found"), {}
        if not params.get("user"):
            return 200, not_ok("user_not_in_channel"), {}
        problem = self._check_message_content(params)
        if problem is not None:
            return 200, problem, {}
        return 200, {"ok": True, "message_ts": self._next_ts()}, {}

    def _chat_get_permalink(self, params: dict[str, Any]) -> SlackResult:
        channel, ts = params.get("channel"), params.get("message_ts")
        if not channel:
            return 200, not_ok("channel_not_found"), {}
        if not ts:
            return 200, not_ok("message_not_found"), {}
        link = f"https://team-one.slack.com/archives/{channel}/p{str(ts).replace('.', '')}"
        return 200, {"ok": True, "channel": str(channel), "permalink": link}, {}


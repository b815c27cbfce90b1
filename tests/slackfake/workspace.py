"""Who and where, in the fake's workspace: what users.info says of a user (locale, email),
the members of a user group, what conversations.info says of a channel, and the direct messages
conversations.open opens. A test configures them; unknown users and channels get plausible
defaults, as a real workspace would have them."""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.slackfake.answers import SlackResult, not_ok


@dataclass
class User:
    id: str
    name: str
    locale: str = "en-US"
    email: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in {"1", "true", "yes"}
    return bool(value)


class WorkspaceMethods:
    """users.*, usergroups.* and conversations.* of :class:`~tests.slackfake.FakeSlackAPI`,
    which holds their state."""

    # The fake's state these methods use; FakeSlackAPI sets it up.
    team_id: str
    _lock: threading.Lock
    _users: dict[str, User]
    _usergroups: dict[str, list[str]]
    _channels: dict[str, dict[str, Any]]

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
            self._users[user_id] = User(
                id=user_id, name=name or user_id.lower(), locale=locale, email=email, extra=fields
            )

    def set_usergroup(self, group_id: str, user_ids: list[str]) -> None:
        with self._lock:
            self._usergroups[group_id] = list(user_ids)

    def set_channel(self, channel_id: str, **fields: Any) -> None:
        """Configure what ``conversations.info`` says about ``channel_id``."""
        with self._lock:
            self._channels[channel_id] = dict(fields)

    @staticmethod
    def _dm_channel(user_id: str) -> str:
        return f"D{user_id}"

    def _resolve_channel(self, channel: str) -> str:
        # Posting to a user id lands in the DM with that user, as on real Slack.
        return self._dm_channel(channel) if channel.startswith(("U", "W")) else channel

    def _users_info(self, params: dict[str, Any]) -> SlackResult:
        user_id = params.get("user")
        if not user_id:
            return 200, not_ok("user_not_found"), {}
        with self._lock:
            configured = self._users.get(str(user_id))
        user = configured or User(id=str(user_id), name=str(user_id).lower())
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
            return 200, not_ok("no_such_subteam"), {}
        return 200, {"ok": True, "users": list(users)}, {}

    def _conversations_open(self, params: dict[str, Any]) -> SlackResult:
        if params.get("channel"):
            return 200, {"ok": True, "channel": {"id": str(params["channel"])}}, {}
        raw = params.get("users")
        users = raw if isinstance(raw, list) else [u for u in str(raw or "").split(",") if u]
        if not users:
            return 200, not_ok("users_list_not_supplied"), {}
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
            return 200, not_ok("channel_not_found"), {}
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


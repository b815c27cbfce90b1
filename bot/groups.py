"""Who is in each release manager user group, as Slack says (``usergroups.users.list``), and
how a form carries that to its submission without being believed blindly."""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

logger = logging.getLogger(__name__)


class Groups:
    """Members of each user group, kept `ttl` seconds: a click, its modal's submission and the
    Home tab right after would otherwise ask Slack three times. Only asked once a request has
    its answer, since a rate-limited call may wait seconds."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._wanted: tuple[float, tuple[str, ...]] | None = None
        self._lock = threading.Lock()

    def wanted(self, read: Callable[[], list[str]]) -> tuple[str, ...]:
        """The groups that make release managers (`read()` asks the database), kept as long as
        their members: a group set on a product counts within `ttl`."""
        now = time.monotonic()
        with self._lock:
            hit = self._wanted
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        groups = tuple(read())
        with self._lock:
            self._wanted = (now, groups)
        return groups

    def member_of(self, client: WebClient, user_id: str, groups: Iterable[str]) -> list[str]:
        """The groups among `groups` that `user_id` is in now (by ID)."""
        return [g for g in sorted(set(groups)) if user_id in self._of(client, g)]

    def _of(self, client: WebClient, group: str) -> frozenset[str]:
        now = time.monotonic()
        with self._lock:
            hit = self._members.get(group)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        try:
            members = frozenset(client.usergroups_users_list(usergroup=group)["users"] or [])
        except (SlackApiError, KeyError, TypeError, OSError) as exc:
            # Not a member until Slack says otherwise; nothing is kept, the next click asks again.
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else None
            logger.warning("usergroups.users.list failed: %s", error or type(exc).__name__)
            return frozenset()
        with self._lock:
            self._members[group] = (now, members)
        return members


def sealed(token: str, user_id: str, groups: Iterable[str]) -> dict[str, Any]:
    """The user's groups for a form's private_metadata, with a MAC made with the bot's token.
    The metadata comes back from the client with the submission: the groups it names are the
    bot's word only if the MAC says so, for this user."""
    names = sorted(set(groups))
    return {"groups": names, "groups_mac": _mac(token, user_id, names)}


def unsealed(token: str, user_id: str, meta: Mapping[str, Any]) -> list[str]:
    """The groups a submitted form carries, if the bot sealed them for this user; else none."""
    names, mac = meta.get("groups"), meta.get("groups_mac")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return []
    if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(token, user_id, names)):
        return []
    return names


def _mac(token: str, user_id: str, groups: list[str]) -> str:
    message = "\n".join([user_id, *groups]).encode()
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()

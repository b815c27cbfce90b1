"""Who is in each release manager user group, as Slack says (``usergroups.users.list``)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

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

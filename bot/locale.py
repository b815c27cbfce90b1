"""The language of a Slack user, from their locale (``users.info`` with ``include_locale``)."""

from __future__ import annotations

import logging
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

logger = logging.getLogger(__name__)

DEFAULT = "en"


class Locales:
    """Caches each user's language for ``ttl`` seconds: every click would otherwise cost a
    Web API call, and a user's locale changes rarely."""

    def __init__(self, ttl: float = 300.0) -> None:
        self.ttl = ttl
        self._cache: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def language(self, client: WebClient, user_id: str) -> str:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(user_id)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        try:
            user = client.users_info(user=user_id, include_locale=True)["user"]
            locale = str(user.get("locale") or "")
        except (SlackApiError, KeyError, TypeError, OSError) as exc:
            # Not worth failing a command for: English is the documented default, and the
            # next request asks again rather than keeping a guess.
            logger.warning("users.info failed: %s", type(exc).__name__)
            return DEFAULT
        language = "fr" if locale.lower().startswith("fr") else DEFAULT
        with self._lock:
            self._cache[user_id] = (now, language)
        return language

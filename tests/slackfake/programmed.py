"""Answers a test programs per method: failures, rate limits, delays and replaced bodies, so
the bot's handling of Slack's trouble is exercised through the real client."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tests.slackfake.answers import Handler, not_ok


@dataclass
class Failure:
    remaining: int | None  # None: until reset()
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class ProgrammedAnswers:
    """What a test programs on :class:`~tests.slackfake.FakeSlackAPI`, consulted before each
    answer."""

    # The fake's state these methods use; FakeSlackAPI sets it up.
    _lock: threading.Lock
    _failures: dict[str, deque[Failure]]
    _delays: dict[str, float]
    _overrides: dict[str, dict[str, Any] | Handler]

    def fail(self, method: str, error: str = "channel_not_found", times: int | None = 1) -> None:
        """Answer the next ``times`` calls to ``method`` with HTTP 200 ``ok: false``.

        ``times=None`` keeps failing until :meth:`reset`.
        """
        self._push_failure(method, Failure(times, 200, not_ok(error)))

    def rate_limit(self, method: str, times: int | None = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls with HTTP 429 and ``Retry-After`` as Slack does."""
        failure = Failure(
            times, 429, not_ok("ratelimited"), {"Retry-After": str(int(retry_after))}
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

    def _push_failure(self, method: str, failure: Failure) -> None:
        if failure.remaining is not None and failure.remaining <= 0:
            return
        with self._lock:
            self._failures.setdefault(method, deque()).append(failure)

    def _take_failure(self, method: str) -> Failure | None:
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

    def _before_answer(self, method: str) -> Failure | None:
        with self._lock:
            pause = self._delays.get(method, 0.0)
        if pause:
            time.sleep(pause)
        return self._take_failure(method)

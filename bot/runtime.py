"""Wires the Slack app to the core: the Bolt app with every listener, the worker beside it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot import listeners, views
from bot.app import BotSettings, create_app
from bot.groups import Groups
from bot.locale import Locales
from bot.omis import OmiMenus
from commands.bootstrap import Core

logger = logging.getLogger(__name__)


class SeenTriggers:
    """Trigger IDs (and event IDs) already handled. Slack sends the same trigger_id or
    event_id again when it retries a delivery (X-Slack-Retry-Num over HTTP, retry_attempt over
    Socket Mode); handling it twice would open two modals or post twice."""

    def __init__(self, ttl: float = 600.0) -> None:
        self.ttl = ttl
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_time(self, trigger_id: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {k: v for k, v in self._seen.items() if now - v < self.ttl}
            if trigger_id in self._seen:
                return False
            self._seen[trigger_id] = now
            return True


class Later:
    """Runs what follows an acknowledgement on threads of its own, once the requests being
    answered have their answers.

    Bolt answers from a small pool of threads and everything shares one interpreter: work that
    waits on OUTSCALE or on Slack's Web API must not sit in Bolt's pool, and work that computes
    (database, views, Web API calls) must not compete with answers still due. A task waits
    until no request is being answered, `yield_for` seconds at most, so a steady stream of
    requests never starves it (a trigger's views.open is still due within 3 seconds). Requests
    queued in the HTTP server are not seen yet, so a burst counts as over only once no request
    has started for `quiet` seconds."""

    def __init__(self, threads: int = 16, yield_for: float = 0.5, quiet: float = 0.02) -> None:
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="omi-bot-after-ack")
        self.yield_for = yield_for
        self.quiet = quiet
        self._answering = 0
        self._last_start = 0.0
        self._answered = threading.Condition()

    @contextmanager
    def answering(self) -> Iterator[None]:
        """Around a request until its answer is ready."""
        with self._answered:
            self._answering += 1
            self._last_start = time.monotonic()
        try:
            yield
        finally:
            with self._answered:
                self._answering -= 1
                if self._answering == 0:
                    self._answered.notify_all()

    def __call__(self, fn: Callable[[], None], *, before_answers: bool = False) -> Future[None]:
        """Run `fn` on the pool; `before_answers`: at once, for work an answer waits on (the
        OMI list an options load needs)."""

        def guarded() -> None:
            if not before_answers:
                self._wait_for_answers()
            try:
                fn()
            except Exception:
                # Listeners answer people themselves; reaching here is a bug, logged once.
                logger.exception("work after an acknowledgement failed")

        return self._pool.submit(guarded)

    def _wait_for_answers(self) -> None:
        deadline = time.monotonic() + self.yield_for
        with self._answered:
            while True:
                now = time.monotonic()
                idle = self._answering == 0 and now - self._last_start >= self.quiet
                if idle or now >= deadline:
                    return
                self._answered.wait(min(self.quiet, deadline - now))


def install(
    app: App,
    core: Core,
    locales: Locales | None = None,
    accepting: Callable[[], bool] = lambda: True,
) -> None:
    """Gives every listener the core, the caches of languages, groups and OMI menus, and the
    pool that runs what follows acknowledgements; drops redelivered requests, refuses new ones
    while `accepting()` is false (shutting down), then registers the listeners."""
    locales = locales or Locales()
    groups = Groups()
    later = Later()
    omis = OmiMenus(lambda fn: later(fn, before_answers=True), views.omi_option)
    seen = SeenTriggers()
    app.client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))

    @app.middleware
    def provide(
        request: BoltRequest, context: BoltContext, body: dict[str, Any], next: Callable[[], Any]
    ) -> Any:
        if not accepting():
            # Not acknowledged: Slack delivers it again, to a replica that is not stopping.
            return BoltResponse(status=503, body="")
        context["core"] = core
        context["locales"] = locales
        context["groups"] = groups
        context["later"] = later
        context["omis"] = omis
        trigger = body.get("trigger_id") or body.get("event_id") if isinstance(body, dict) else None
        if trigger and not seen.first_time(str(trigger)):
            logger.info(
                "redelivered request ignored (retry %s)",
                request.headers.get("x-slack-retry-num", ["-"])[0],
            )
            return _acknowledged()
        with later.answering():
            return next()

    listeners.register(app)


def _acknowledged() -> Any:
    return BoltResponse(status=200, body="")


def warm_up(core: Core) -> None:
    """Builds the OUTSCALE gateways now: the first one takes seconds, longer than Slack waits
    for an options load."""
    for label in ("seller", "distribution"):
        try:
            getattr(core.cloud, label)
        except Exception as exc:
            logger.warning("OUTSCALE %s account not ready: %s", label, exc)


def build_app(
    settings: BotSettings, core: Core, accepting: Callable[[], bool] = lambda: True
) -> App:
    return create_app(settings, lambda app: install(app, core, accepting=accepting))

"""Wires the Slack app to the core: the Bolt app with every listener, the worker beside it."""

from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot import listeners, observe, views
from bot.app import BotSettings, Dispatch, around_dispatch, create_app
from bot.groups import Groups
from bot.locale import Locales
from bot.omis import OmiMenus
from bot.texts import t
from commands import deliveries, logs
from commands.bootstrap import Core
from commands.errors import DatabaseUnavailable
from commands.metrics import request_kind
from commands.notifications.slack import CountRateLimits

logger = logging.getLogger(__name__)


def delivery_of(body: object) -> tuple[str, str] | None:
    """What names a delivery Slack may send again: its team and its trigger_id (slash
    commands, clicks, submissions) or event_id (events). None for what carries neither
    (options loads, closed modals), which are answered again harmlessly."""
    if not isinstance(body, dict):
        return None
    ident = body.get("trigger_id") or body.get("event_id")
    if not ident:
        return None
    team = body.get("team_id") or _id(body.get("team")) or _id(body.get("enterprise")) or ""
    return str(team)[:32], str(ident)


def _id(part: object) -> str | None:
    if not isinstance(part, dict) or not part.get("id"):
        return None
    return str(part["id"])


class Redeliveries:
    """Drops what Slack delivers again, on whichever replica it lands (the database holds
    the deliveries taken, commands/deliveries.py); forgets the expired ones about once every
    `purge_every` seconds, after an answer."""

    def __init__(
        self, core: Core, later: Callable[[Callable[[], None]], object], purge_every: float = 60
    ) -> None:
        self.core = core
        self.later = later
        self.purge_every = purge_every
        self._next_purge = time.monotonic() + purge_every
        self._lock = threading.Lock()

    def first_time(self, body: object, retry: str = "-") -> bool:
        """DatabaseUnavailable when the database cannot tell. `retry`: Slack's
        X-Slack-Retry-Num, for the line logged when it is a copy."""
        identity = delivery_of(body)
        if identity is None:
            return True
        taken = deliveries.first_delivery(self.core, *identity)
        if not taken:
            logger.info("redelivered request ignored (retry %s)", retry)
        with self._lock:
            due = time.monotonic() >= self._next_purge
            if due:
                self._next_purge = time.monotonic() + self.purge_every
        if due:
            self.later(self._purge)
        return taken

    def seen(self, body: object, retry: str = "-") -> bool:
        """Whether the delivery was taken already (a copy), without taking it: a read that
        waits for no writer. DatabaseUnavailable when the database cannot tell."""
        identity = delivery_of(body)
        if identity is None or not deliveries.taken_before(self.core, *identity):
            return False
        logger.info("redelivered request ignored (retry %s)", retry)
        return True

    def after_answer(
        self, body: dict[str, Any], later: Later, unavailable: Callable[[], None], retry: str
    ) -> ClaimFirst:
        """What runs the request's work after its answer, once its delivery is claimed there
        (`unavailable` tells the person when the database cannot say; `retry`: Slack's
        X-Slack-Retry-Num, for the log)."""
        return ClaimFirst(later, lambda: self.first_time(body, retry), unavailable)

    def _purge(self) -> None:
        try:
            deliveries.purge_deliveries(self.core)
        except Exception as exc:
            # Only the type: messages of storage errors may embed connection URLs.
            logger.warning("expired Slack deliveries not purged: %s", type(exc).__name__)


@dataclass(frozen=True)
class _Held:
    context: contextvars.Context  # the request's: its work logs with its IDs
    fn: Callable[[], None]
    future: Future[None]
    until: float  # when it goes, answers or not


class Later:
    """Runs what follows an acknowledgement on threads of its own, once the requests being
    answered have their answers.

    Everything shares one interpreter: work that waits on OUTSCALE or on Slack's Web API must
    not hold up the answers, and work that computes (database, views, Web API calls) must not
    compete with answers still due. Such work is held until no request is being answered,
    `yield_for` seconds at most, so a steady stream of requests never starves it (a trigger's
    views.open is still due within 3 seconds). Requests queued in the HTTP server are not seen
    yet, so a burst counts as over only once no request has started for `quiet` seconds.
    Held work has no thread of its own: one gate thread waits for the answers, then hands it
    to the pool, so that a burst of fifty answers wakes one thread instead of fifty."""

    def __init__(self, threads: int = 16, yield_for: float = 0.5, quiet: float = 0.02) -> None:
        self._pool: ThreadPoolExecutor = logs.ContextPool(
            threads, thread_name_prefix="omi-bot-after-ack"
        )
        self.yield_for = yield_for
        self.quiet = quiet
        self._answering = 0
        self._last_start = 0.0
        self._answered = threading.Condition()
        self._held: deque[_Held] = deque()
        self._gate: threading.Thread | None = None
        self._draining = False

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
        """Run `fn` on the pool once the answers in flight are given; `before_answers`: at
        once, for work an answer waits on (the OMI list an options load needs)."""
        if before_answers:
            return self._pool.submit(_guarded, fn)
        future: Future[None] = Future()
        held = _Held(contextvars.copy_context(), fn, future, time.monotonic() + self.yield_for)
        with self._answered:
            self._held.append(held)
            if self._gate is None:
                self._gate = threading.Thread(
                    target=self._keep_gate, name="omi-bot-after-ack-gate", daemon=True
                )
                self._gate.start()
            if len(self._held) == 1:
                # Only an idle gate needs waking: work held before goes no later than this.
                self._answered.notify_all()
        return future

    def drain(self, timeout: float) -> bool:
        """Lets what is held go at once, takes no more work and waits up to `timeout` seconds
        for it all. True when it all ended in time."""
        deadline = time.monotonic() + timeout
        with self._answered:
            self._draining = True
            self._answered.notify_all()
            while self._held and time.monotonic() < deadline:
                self._answered.wait(max(0.0, deadline - time.monotonic()))
        # Executor.shutdown has no timeout of its own: it is waited for from a thread that
        # can be given up on.
        done = threading.Thread(target=self._pool.shutdown, kwargs={"wait": True}, daemon=True)
        done.start()
        done.join(max(0.0, deadline - time.monotonic()))
        return not done.is_alive()

    def _keep_gate(self) -> None:
        with self._answered:
            while True:
                if not self._held:
                    self._answered.wait()
                    continue
                now = time.monotonic()
                due = self._held[0].until - now
                calm = now - self._last_start
                idle = not self._answering and calm >= self.quiet
                if not (idle or self._draining or due <= 0):
                    # Woken when the last answer in flight is given, or by new work.
                    wait = due if self._answering else min(due, self.quiet - calm)
                    self._answered.wait(wait)
                    continue
                going: list[_Held] = []
                while self._held and (idle or self._draining or self._held[0].until <= now):
                    going.append(self._held.popleft())
                for held in going:
                    try:
                        self._pool.submit(_release, held)
                    except RuntimeError as stopped:  # drained: the process is stopping
                        held.future.set_exception(stopped)
                self._answered.notify_all()  # a drain waits for the held to go


def _guarded(fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception:
        # Listeners answer people themselves; reaching here is a bug, logged once.
        logger.exception("work after an acknowledgement failed")


def _release(held: _Held) -> None:
    if not held.future.set_running_or_notify_cancel():
        return
    try:
        held.context.run(_guarded, held.fn)
    except BaseException as error:
        held.future.set_exception(error)
        raise
    held.future.set_result(None)


class ClaimFirst:
    """Runs a request's work after its answer, once the request's delivery is claimed (by the
    first task to run, after the answers in flight): a copy delivered again runs none of it.

    A slash command or a click is answered with an empty acknowledgement, and a form
    submission with what the form's checks say, reading only; what they change comes after,
    so their claim need not delay the answer: claimed here, it costs the answers nothing, and
    a replica that stops between the answer and the claim leaves the delivery unclaimed
    rather than taken and never done. A listener that writes before its answer claims first
    (`now`)."""

    def __init__(
        self, later: Later, claim: Callable[[], bool], unavailable: Callable[[], None]
    ) -> None:
        self._later = later
        self._claim = claim
        self._unavailable = unavailable
        self._lock = threading.Lock()
        self._taken: bool | None = None

    def __call__(self, fn: Callable[[], None], *, before_answers: bool = False) -> Future[None]:
        return self._later(lambda: self._run(fn), before_answers=before_answers)

    def now(self) -> bool:
        """Claims the delivery at once, for a listener about to write before its answer:
        False for a copy of one taken. DatabaseUnavailable when the database cannot say (the
        listener tells the person; the work after the answer asks again)."""
        with self._lock:
            if self._taken is None:
                self._taken = self._claim()
            return self._taken

    def _run(self, fn: Callable[[], None]) -> None:
        with self._lock:
            if self._taken is None:
                try:
                    self._taken = self._claim()
                except DatabaseUnavailable as unavailable:
                    self._taken = False
                    logger.warning(
                        "database unavailable (%s): Slack request told to try again",
                        unavailable.reason or "out of reach",
                    )
                    self._unavailable()
        if self._taken:
            fn()


# The requests whose answer changes nothing: their delivery is claimed by what follows it.
CLAIMED_AFTER_ANSWER = ("slash_command", "block_actions", "view_submission")
# Those whose answer a person sees (a form's next view): a copy of one already taken is
# answered with an empty acknowledgement instead, found by a read before the answer.
READ_BEFORE_ANSWER = ("view_submission",)


def install(
    app: App,
    core: Core,
    locales: Locales | None = None,
    accepting: Callable[[], bool] = lambda: True,
    observed: bool = True,
    later: Later | None = None,
) -> None:
    """Gives every listener the core, the caches of languages, groups and OMI menus, and the
    pool that runs what follows acknowledgements (`later`, which a process drains when it
    stops); drops redelivered requests, refuses new ones while `accepting()` is false
    (shutting down), then registers the listeners. `observed`: each request counted, timed
    and logged (bot/observe.py)."""
    if observed:
        observe.register(app)
    locales = locales or Locales()
    groups = Groups()
    later = later or Later()
    omis = OmiMenus(lambda fn, urgent: later(fn, before_answers=urgent), views.omi_option)
    seen = Redeliveries(core, later)
    app.client.retry_handlers.insert(0, CountRateLimits("bot"))
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
        retry = request.headers.get("x-slack-retry-num", ["-"])[0]
        kind = request_kind(body)
        context["claim"] = lambda: True
        try:
            if kind in CLAIMED_AFTER_ANSWER and delivery_of(body) is not None:
                if kind in READ_BEFORE_ANSWER and seen.seen(body, retry):
                    return _acknowledged()
                claimer = seen.after_answer(
                    body, later, lambda: _tell_try_again(body, context, locales), retry
                )
                context["later"], context["claim"] = claimer, claimer.now
                return next()
            first = seen.first_time(body, retry)
        except DatabaseUnavailable as unavailable:
            logger.warning(
                "database unavailable (%s): Slack request answered 'try again'",
                unavailable.reason or "out of reach",
            )
            return _try_again(body, context, locales)
        if not first:
            return _acknowledged()
        return next()

    def answering(request: BoltRequest, dispatch: Dispatch) -> BoltResponse:
        # From the request's arrival to its answer, the claim and the listener included.
        with later.answering():
            return dispatch(request)

    around_dispatch(app, answering)

    listeners.register(app)


def _acknowledged() -> Any:
    return BoltResponse(status=200, body="")


def _try_again(body: dict[str, Any], context: BoltContext, locales: Locales) -> BoltResponse:
    """The answer while the database is out of reach, for what is read or claimed before its
    answer: a form submission is told, in the person's language, that nothing was done and to
    try again (no 500, no wait); anything else is refused so that Slack delivers it again."""
    client = context.client
    user = _id(body.get("user"))
    if client is None or not user or request_kind(body) != "view_submission":
        return BoltResponse(status=503, body="")
    lang = locales.language(client, user)
    # Pushed over the form, which stays underneath as it was typed.
    view = views.refused(lang, t(lang, "database_down"))
    return _json({"response_action": "push", "view": view})


def _tell_try_again(body: dict[str, Any], context: BoltContext, locales: Locales) -> None:
    """After the answer of a command, a click or a form submission whose delivery could not
    be claimed: the person is told, in their language, that nothing was done and to try
    again."""
    client = context.client
    user = body.get("user_id") or _id(body.get("user"))
    if client is None or not user:
        return
    lang = locales.language(client, str(user))
    text = t(lang, "database_down")
    trigger = str(body.get("trigger_id") or "")
    in_modal = (body.get("container") or {}).get("type") == "view"
    submitted = _id(body.get("view")) if request_kind(body) == "view_submission" else None
    try:
        if request_kind(body) == "slash_command" and context.respond is not None:
            context.respond(text=text, response_type="ephemeral")
        elif submitted is not None:
            # The form's answer replaced it with a "working" view, which says so now.
            client.views_update(view_id=submitted, view=views.refused(lang, text))
        elif in_modal:
            client.views_push(trigger_id=trigger, view=views.refused(lang, text))
        else:
            client.views_open(trigger_id=trigger, view=views.refused(lang, text))
    except SlackApiError as exc:
        logger.warning("could not tell a user to try again: %s", exc.response.get("error"))
    except OSError as exc:  # Slack unreachable too
        logger.warning("could not tell a user to try again: %s", type(exc).__name__)


def _json(answer: dict[str, Any]) -> BoltResponse:
    return BoltResponse(
        status=200, body=json.dumps(answer), headers={"content-type": "application/json"}
    )


def warm_up(core: Core) -> None:
    """Builds the OUTSCALE gateways now: the first one takes seconds, longer than Slack waits
    for an options load."""
    for label in ("seller", "distribution"):
        try:
            getattr(core.cloud, label)
        except Exception as exc:
            logger.warning("OUTSCALE %s account not ready: %s", label, exc)


def build_app(
    settings: BotSettings,
    core: Core,
    accepting: Callable[[], bool] = lambda: True,
    later: Later | None = None,
) -> App:
    return create_app(settings, lambda app: install(app, core, accepting=accepting, later=later))


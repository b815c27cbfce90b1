"""Every Slack request counted, timed to its acknowledgement, logged as one line, and the log
lines written while it is handled (after its answer too) carrying its request ID and the Slack
user's ID. It wraps the app's whole dispatch (bot.app.around_dispatch), from the request's
arrival to its answer, so the requests refused while stopping and the redeliveries dropped are
counted as well."""

from __future__ import annotations

import functools
import logging
import re
import time
import uuid
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse

from bot.app import Dispatch, around_dispatch
from commands import logs, metrics

log = logging.getLogger("omi_bot.slack")

_VERSION_ID = re.compile(r"\bver-[0-9a-f]{10}\b")
# The IDs are read before the signature is checked: only what an ID of Slack's can look like
# reaches a log line.
_SLACK_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _id(value: object) -> str | None:
    text = str(value) if isinstance(value, str | int) else ""
    return text if _SLACK_ID.fullmatch(text) else None


def _user(body: dict[str, Any]) -> str | None:
    user = body.get("user")
    if isinstance(user, dict):
        return _id(user.get("id"))
    event = body.get("event")
    if isinstance(event, dict) and isinstance(event.get("user"), str):
        return _id(event["user"])
    return _id(body.get("user_id"))


def _version(body: dict[str, Any]) -> str | None:
    """A version ID the request names in its text (`/omi modify ver-…`), if any."""
    found = _VERSION_ID.search(str(body.get("text") or ""))
    return found.group(0) if found else None


@functools.lru_cache(maxsize=256)
def _series(kind: str) -> tuple[Any, Any]:
    """The kind's request counter and acknowledgement histogram: labels() takes a lock and
    builds a key on every call, and there are a handful of kinds."""
    return metrics.slack_requests.labels(kind), metrics.slack_ack_seconds.labels(kind)


@functools.lru_cache(maxsize=256)
def _acks(kind: str, status: int) -> Any:
    return metrics.slack_acks.labels(kind, str(status))


def register(app: App) -> None:
    around_dispatch(app, observe)


def observe(request: BoltRequest, dispatch: Dispatch) -> BoltResponse:
    started = time.perf_counter()
    data = request.body if isinstance(request.body, dict) else {}
    kind = metrics.request_kind(data)
    requests, ack_seconds = _series(kind)
    requests.inc()
    request_id = _id(data.get("trigger_id")) or _id(data.get("event_id")) or uuid.uuid4().hex[:12]
    # Bound around the dispatch, so the listeners and the work they hand on (which copy the
    # context when submitted) log with the request's IDs.
    with logs.bound(request_id=request_id, user_id=_user(data), version_id=_version(data)):
        response = dispatch(request)
        took = time.perf_counter() - started
        ack_seconds.observe(took)
        _acks(kind, response.status).inc()
        log.info("%s answered %s in %.1f ms", kind, response.status, took * 1000)
    return response

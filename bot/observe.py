"""Every Slack request counted, timed to its acknowledgement, logged as one line, and the log
lines written while it is handled (after its answer too) carrying its request ID and the Slack
user's ID. Registered first, so the requests refused while stopping and the redeliveries
dropped are counted as well."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse

from commands import logs, metrics

log = logging.getLogger("omi_bot.slack")

_VERSION_ID = re.compile(r"\bver-[0-9a-f]{10}\b")


def _user(body: dict[str, Any]) -> str | None:
    user = body.get("user")
    if isinstance(user, dict):
        return str(user.get("id")) if user.get("id") else None
    event = body.get("event")
    if isinstance(event, dict) and isinstance(event.get("user"), str):
        return str(event["user"])
    value = body.get("user_id")
    return str(value) if value else None


def _version(body: dict[str, Any]) -> str | None:
    """A version ID the request names in its text (`/omi modify ver-…`), if any."""
    found = _VERSION_ID.search(str(body.get("text") or ""))
    return found.group(0) if found else None


def register(app: App) -> None:
    @app.middleware
    def observe(request: BoltRequest, body: dict[str, Any], next: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        kind = metrics.request_kind(body)
        metrics.slack_requests.labels(kind).inc()
        data = body if isinstance(body, dict) else {}
        request_id = data.get("trigger_id") or data.get("event_id") or uuid.uuid4().hex[:12]
        with logs.bound(request_id=request_id, user_id=_user(data), version_id=_version(data)):
            response = next()
            status = response.status if isinstance(response, BoltResponse) else 200
            took = time.perf_counter() - started
            metrics.slack_ack_seconds.labels(kind).observe(took)
            metrics.slack_acks.labels(kind, str(status)).inc()
            log.info("%s answered %s in %.1f ms", kind, status, took * 1000)
        return response

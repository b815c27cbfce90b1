"""Slack posts from the outbox: announcements to subscriber channels (written by
announcements.py) and the progress of a request in its thread.

Delivery promises, and how they are kept:

- Paced: Slack allows about one message per second per channel. The last post time of each
  channel is kept in the process; an item for a channel posted too recently goes back to the
  outbox for one second later instead of making the worker sleep, so other channels go on.
- 429: the item goes back for `Retry-After` seconds and the method is paused as long for every
  channel (Slack's limits are per method and workspace); it is not a failed attempt.
- Never lost: transient trouble (network, Slack's own errors) is retried with backoff; only a
  refusal that cannot change by itself (channel gone, bot not in it, bad blocks) fails an item,
  with Slack's error recorded.
- Never twice: items are claimed with a lease (SKIP LOCKED on PostgreSQL), and each outcome is
  committed right after its post. Slack's chat.postMessage has no idempotency key, so a crash
  between a post and its record re-posts that one message when the lease runs out; no other.
  The item's key travels in the message metadata so such a duplicate can be traced.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from commands import audit, metrics
from commands.bootstrap import Core
from commands.model import OutboxItem, OutboxState
from commands.notices import is_notice
from commands.notifications.announcements import render_announcement
from commands.notifications.transport import backoff

__all__ = [
    "ANNOUNCEMENTS",
    "PERMANENT_ERRORS",
    "Pacer",
    "deliver_slack",
    "slack_deliverer_from_env",
]

log = logging.getLogger(__name__)

ANNOUNCEMENTS = frozenset(
    {
        "version_published",
        "version_unpublished",
        "product_unpublished",
        "unpublication_scheduled",
        "unpublication_reminder",
        "unpublication_cancelled",
    }
)
PROGRESS_PREFIX = "progress_"
# Messages to release managers (commands/notifications/managers/), posted as written.
MANAGERS_PREFIX = "managers_"
CHANNEL_INTERVAL = timedelta(seconds=1)
DEFAULT_API_URL = "https://slack.com/api/"

# Refusals that the same call will meet again: retrying only delays telling the operator.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "channel_is_archived",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "msg_too_long",
        "no_text",
        "too_many_attachments",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "cannot_reply_to_message",
        "user_not_found",
        "user_disabled",
        "user_not_visible",
        "cannot_dm_bot",
        "invalid_arguments",
        "invalid_arg_name",
        "duplicate_channel_not_found",
        "team_access_not_granted",
    }
)


# -- pacing -------------------------------------------------------------------------------------


class Pacer:
    """Per-channel last post times of this process, shared by its threads."""

    def __init__(self, interval: timedelta = CHANNEL_INTERVAL) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._last: dict[str, datetime] = {}
        self._paused_until: datetime | None = None

    def reserve(self, channel: str, at: datetime) -> datetime | None:
        """Takes the channel's slot at `at`, or returns when the next slot opens. Taking the
        slot before posting keeps two threads from posting to one channel in the same second."""
        with self._lock:
            if self._paused_until is not None and at < self._paused_until:
                return self._paused_until
            last = self._last.get(channel)
            if last is not None and at < last + self.interval:
                return last + self.interval
            self._last[channel] = at
            return None

    def pause(self, until: datetime) -> None:
        with self._lock:
            if self._paused_until is None or until > self._paused_until:
                self._paused_until = until

    def reset(self) -> None:
        with self._lock:
            self._last.clear()
            self._paused_until = None


PACER = Pacer()


# -- delivery -----------------------------------------------------------------------------------


class _PutBack(Exception):
    """Not now, not a failure: try again at `at`."""

    def __init__(self, at: datetime) -> None:
        self.at = at


class _Failed(Exception):
    """Slack refused for good."""


class _Retry(Exception):
    """Worth another attempt later."""


def _slack_error(error: SlackApiError) -> str:
    data = error.response.data if isinstance(error.response.data, dict) else {}
    return str(data.get("error") or f"HTTP {error.response.status_code}")


def _retry_after(error: SlackApiError) -> float:
    headers = {k.lower(): v for k, v in (error.response.headers or {}).items()}
    raw = headers.get("retry-after")
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    try:
        return max(1.0, float(raw)) if raw is not None else 1.0
    except ValueError:
        return 1.0


class _Delivery:
    def __init__(
        self, core: Core, worker: str, client: WebClient, pacer: Pacer, item: OutboxItem
    ) -> None:
        self.core = core
        self.worker = worker
        self.client = client
        self.pacer = pacer
        self.item = item

    def call(self, channel_key: str, method: Callable[..., Any], **kwargs: Any) -> Any:
        """One Web API call that posts to `channel_key`, paced and classified."""
        at = self.core.clock()
        if channel_key:
            wait = self.pacer.reserve(channel_key, at)
            if wait is not None:
                raise _PutBack(wait)
        try:
            return method(**kwargs)
        except SlackApiError as error:
            if error.response.status_code == 429:
                metrics.slack_rate_limited.labels("outbox").inc()
                until = self.core.clock() + timedelta(seconds=_retry_after(error))
                self.pacer.pause(until)
                raise _PutBack(until) from None
            reason = _slack_error(error)
            if reason in PERMANENT_ERRORS:
                raise _Failed(reason) from None
            raise _Retry(reason) from None
        except (SlackClientError, OSError) as error:
            # Network trouble: the post may or may not have landed; only a later retry is safe.
            raise _Retry(f"{type(error).__name__}: {error}") from None

    def run(self) -> dict[str, Any]:
        """Posts the item; returns what to merge into its payload on success."""
        payload = self.item.payload
        if self.item.event in ANNOUNCEMENTS:
            rendered = render_announcement(payload, self.item.language)
            self.call(
                self.item.recipient,
                self.client.chat_postMessage,
                channel=self.item.recipient,
                text=rendered.text,
                blocks=rendered.blocks,
                unfurl_links=False,
                metadata={"event_type": "omi_bot_notice", "event_payload": {"key": self.item.key}},
            )
            return {}
        if self.item.event.startswith((PROGRESS_PREFIX, MANAGERS_PREFIX)):
            return self.progress(payload)
        raise _Failed(f"unknown Slack notice {self.item.event!r}")

    def progress(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        text = str(payload.get("text") or "")
        blocks = payload.get("blocks") or None
        if self.item.recipient and not payload.get("posted_ts"):
            args: dict[str, Any] = {"channel": self.item.recipient, "text": text}
            if blocks:
                args["blocks"] = blocks
            if payload.get("thread_ts"):
                args["thread_ts"] = str(payload["thread_ts"])
            answer = self.call(self.item.recipient, self.client.chat_postMessage, **args)
            # The thread post is recorded before the DM, so retrying the DM never repeats it.
            self.checkpoint({"posted_ts": str(answer.get("ts") or "posted")})
            if payload.get("request_id") and answer.get("ts"):
                self.remember_request_message(
                    int(payload["request_id"]), str(answer.get("channel") or ""), answer["ts"]
                )
        user = str(payload.get("notify_user") or "")
        if user:
            opened = self.call("", self.client.conversations_open, users=user)
            dm = str((opened.get("channel") or {}).get("id") or "")
            if not dm:
                raise _Retry("conversations.open gave no channel")
            dm_args: dict[str, Any] = {"channel": dm, "text": text}
            if blocks:
                dm_args["blocks"] = blocks
            self.call(dm, self.client.chat_postMessage, **dm_args)
        return {}

    def remember_request_message(self, request_id: int, channel: str, ts: str) -> None:
        """A request posted by the worker (a retention proposal) is updated in place once
        decided, like one posted by the bot: its message joins the request's surface."""
        with self.core.uow() as uow:
            request = uow.requests.get(request_id, lock=True)
            if request is None:
                return
            surface = dict(request.surface or {})
            messages = [*surface.get("messages", []), [channel or self.item.recipient, ts]]
            surface.update(
                messages=messages,
                lang=surface.get("lang") or self.item.language,
                blocks=self.item.payload.get("blocks") or [],
            )
            surface.setdefault("channel", messages[0][0])
            surface.setdefault("ts", messages[0][1])
            request.surface = surface
            uow.commit()

    def checkpoint(self, merge: Mapping[str, Any]) -> None:
        payload = {**self.item.payload, **merge}
        with self.core.uow() as uow:
            # Fenced on the claim in the statement itself: no other worker writes this item's
            # payload while the claim holds, so ours is the one to extend.
            if not uow.outbox.settle(self.item, payload=payload):
                raise _Lost()
            uow.commit()
        self.item.payload = payload

    def record(
        self,
        state: OutboxState,
        *,
        error: str | None = None,
        at: datetime | None = None,
        counted: bool = True,
    ) -> None:
        now = self.core.clock()
        values: dict[str, Any] = {"state": state, "lease_until": None}
        if error is not None:
            values["last_error"] = error[:1000]
        if state is OutboxState.SENT:
            values["sent_at"] = now
        elif state is OutboxState.PENDING:
            values["next_attempt_at"] = at or now
            if not counted:
                values["attempts"] = self.item.attempts - 1
        with self.core.uow() as uow:
            if not uow.outbox.settle(self.item, **values):
                log.warning("slack notice %s was taken over by another worker", self.item.id)
                metrics.slack_notices.labels("lost").inc()
                return
            if is_notice(self.item.event):
                if state is OutboxState.SENT:
                    audit.notices_sent(uow, [self.item], now)
                elif state is OutboxState.FAILED:
                    audit.notice_failed(uow, self.item, str(values.get("last_error")), now)
            uow.commit()
        if state is OutboxState.PENDING:
            metrics.slack_notices.labels("retry" if counted else "put_back").inc()
        else:
            metrics.slack_notices.labels(state.value).inc()


class _Lost(Exception):
    """Another worker took the item over."""


def deliver_slack(
    core: Core,
    worker_name: str,
    client: WebClient,
    batch: int = 50,
    *,
    pacer: Pacer | None = None,
    stopping: Callable[[], bool] | None = None,
) -> int:
    """Claims due Slack notices and posts them. Returns how many were sent or failed.
    `stopping()` turning true (a worker shutting down) puts back the notices not yet posted."""
    pacer = pacer or PACER
    lease = timedelta(seconds=core.settings.job_lease_seconds)
    with core.uow() as uow:
        items = uow.outbox.claim("slack", worker_name, core.clock(), lease, batch)
        uow.commit()
    taken_over = sum(item.taken_over for item in items)
    if taken_over:
        metrics.leases_taken_over.labels("slack").inc(taken_over)
    done = 0
    held = {item.id for item in items}
    lease_until = min((item.lease_until or core.clock() for item in items), default=core.clock())
    for index, item in enumerate(items):
        # As for mail: a slow Web API must not let the lease run out under the batch, and a
        # worker that stalled past it must not post what another one has taken over.
        if core.clock() >= lease_until - lease / 2:
            with core.uow() as uow:
                held = uow.outbox.renew(items[index:], core.clock() + lease)
                uow.commit()
            lease_until = core.clock() + lease
        if item.id not in held:
            log.warning("slack notice %s was taken over by another worker", item.id)
            continue
        delivery = _Delivery(core, worker_name, client, pacer, item)
        if stopping is not None and stopping():
            delivery.record(OutboxState.PENDING, at=core.clock(), counted=False)
            continue
        try:
            delivery.run()
        except _PutBack as later:
            delivery.record(OutboxState.PENDING, at=later.at, counted=False)
            continue
        except _Failed as refused:
            log.warning("slack notice %s to %s failed: %s", item.id, item.recipient, refused)
            delivery.record(OutboxState.FAILED, error=str(refused))
            done += 1
            continue
        except _Retry as trouble:
            reason = str(trouble)
            if item.attempts >= core.settings.job_max_attempts:
                log.warning(
                    "slack notice %s gave up after %s attempts: %s", item.id, item.attempts, reason
                )
                delivery.record(OutboxState.FAILED, error=reason)
                done += 1
            else:
                wait = backoff(item.attempts, base=core.settings.retry_base_seconds)
                log.info("slack notice %s will retry in %.0fs: %s", item.id, wait, reason)
                delivery.record(
                    OutboxState.PENDING, error=reason, at=core.clock() + timedelta(seconds=wait)
                )
            continue
        except _Lost:
            log.warning("slack notice %s was taken over by another worker", item.id)
            continue
        except Exception as error:  # a bug must not strand the rest of the batch
            log.exception("slack notice %s could not be posted", item.id)
            delivery.record(
                OutboxState.PENDING,
                error=f"{type(error).__name__}",
                at=core.clock()
                + timedelta(seconds=backoff(item.attempts, base=core.settings.retry_base_seconds)),
            )
            continue
        delivery.record(OutboxState.SENT)
        done += 1
    return done


class CountRateLimits(RetryHandler):
    """Counts the Web API's 429 answers (omi_slack_rate_limited_total) and retries nothing:
    put first among a client's retry handlers, it sees every error answer."""

    def __init__(self, client: str) -> None:
        super().__init__(max_retry_count=0)
        self.client = client

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is not None and response.status_code == 429:
            metrics.slack_rate_limited.labels(self.client).inc()
        return False


def slack_client(token: str, api_url: str | None = None) -> WebClient:
    """A client without slack_sdk's retry handlers: a 429 must not block the worker (it is
    counted where the delivery handles it)."""
    base = (api_url or "").strip() or DEFAULT_API_URL
    if not base.endswith("/"):
        base += "/"  # WebClient joins method names with urljoin
    return WebClient(token=token, base_url=base, timeout=15, retry_handlers=[])


def slack_deliverer_from_env(
    core: Core,
    worker_name: str,
    environ: Mapping[str, str] | None = None,
    stopping: Callable[[], bool] | None = None,
) -> Sequence[Callable[[], int]]:
    """The Slack deliverer when `SLACK_BOT_TOKEN` is set; none otherwise."""
    env = os.environ if environ is None else environ
    token = (env.get("SLACK_BOT_TOKEN") or "").strip()
    if not token:
        return []
    client = slack_client(token, env.get("SLACK_API_URL"))
    return [lambda: deliver_slack(core, worker_name, client, stopping=stopping)]

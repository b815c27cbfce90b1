"""The shape of every answer the fake gives, as Slack gives it: an HTTP status, a JSON body
that says `ok`, and headers (`Retry-After` on a rate limit). A refusal is HTTP 200 with
`ok: false` and Slack's error code, as the client expects it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# What a method handler returns: (HTTP status, JSON body, extra headers).
SlackResult = tuple[int, dict[str, Any], dict[str, str]]
Handler = Callable[[dict[str, Any]], dict[str, Any]]


def not_ok(error: str, *messages: str) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error": error}
    if messages:
        body["response_metadata"] = {"messages": list(messages)}
    return body

"""The shape of what Slack sends, checked before Bolt reads it.

Bolt and the listeners read a payload's fields the way Slack sends them: `user` is an object
with an `id`, `actions` a list of objects, `view.state.values` objects of objects. A signed body
of another shape (a broken client, a replayed body edited by hand) would make them raise, and
Bolt answer 500 with a traceback. The HTTP shell answers it 400 instead (bot/server.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Fields that are objects when present (some may be null).
_OBJECTS = ("user", "team", "view", "container", "message", "state", "event")
_OPTIONAL_OBJECTS = ("channel", "enterprise")
# Fields that are strings when present.
_STRINGS = (
    "type",
    "trigger_id",
    "response_url",
    "api_app_id",
    "action_id",
    "block_id",
    "value",
    "callback_id",
    "command",
    "text",
    "user_id",
    "channel_id",
    "team_id",
    "event_id",
    "challenge",
    "token",
)
_VIEW_STRINGS = ("id", "callback_id", "private_metadata", "hash", "type")
_ELEMENT_STRINGS = ("type", "value", "selected_date", "action_id")


def problem(body: Mapping[str, Any]) -> str | None:
    """What in `body` is not as Slack sends it, or None."""
    for name in _OBJECTS:
        if name in body and not isinstance(body[name], dict):
            return f"{name} is not an object"
    for name in _OPTIONAL_OBJECTS:
        if body.get(name) is not None and not isinstance(body[name], dict):
            return f"{name} is not an object"
    for name in _STRINGS:
        if name in body and not isinstance(body[name], str):
            return f"{name} is not a string"
    user = body.get("user")
    if isinstance(user, dict) and not isinstance(user.get("id"), str):
        return "user has no id"
    if "actions" in body:
        actions = body["actions"]
        if not isinstance(actions, list) or not actions:
            return "actions is not a list of actions"
        for action in actions:
            if not isinstance(action, dict) or not isinstance(action.get("action_id"), str):
                return "an action is not an object with an action_id"
            found = _element(action)
            if found is not None:
                return f"an action's {found}"
    for view in (body.get("view"), (body.get("event") or {}).get("view")):
        if isinstance(view, dict):
            found = _view(view)
            if found is not None:
                return f"view: {found}"
    event = body.get("event")
    if isinstance(event, dict):
        if not isinstance(event.get("type"), str):
            return "event has no type"
        if "user" in event and not isinstance(event["user"], str):
            return "event user is not a string"
    return None


def _view(view: Mapping[str, Any]) -> str | None:
    for name in _VIEW_STRINGS:
        if name in view and not isinstance(view[name], str):
            return f"{name} is not a string"
    state = view.get("state", {})
    if not isinstance(state, dict):
        return "state is not an object"
    values = state.get("values", {})
    if not isinstance(values, dict):
        return "state.values is not an object"
    for block in values.values():
        if not isinstance(block, dict):
            return "a block of state.values is not an object"
        for element in block.values():
            if not isinstance(element, dict):
                return "an input of state.values is not an object"
            found = _element(element)
            if found is not None:
                return found
    return None


def _element(element: Mapping[str, Any]) -> str | None:
    for name in _ELEMENT_STRINGS:
        if element.get(name) is not None and not isinstance(element[name], str):
            return f"{name} is not a string"
    option = element.get("selected_option")
    if option is not None and not (isinstance(option, dict) and _is_text(option.get("value"))):
        return "selected_option is not an option"
    return None


def _is_text(value: Any) -> bool:
    return value is None or isinstance(value, str)

"""manifest.yml declares exactly what the code uses: scopes of the Web API calls, the events the
listeners subscribe to, the slash command, interactivity and the options load URL.

The code is read with `ast`, not regular expressions, so calls split over lines, aliases of the
client and `api_call("...")` are all found; the WebClient's own source maps its Python method
names to Web API methods, so any method the SDK offers is recognised."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

import pytest
import yaml
from slack_sdk.web import client as web_client

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("bot", "commands")
EVENTS_URL_PATH = "/slack/events"

# Web API method -> the bot scopes any one of which allows it (empty: no scope needed).
# From the "Required scopes" of each method's page at https://api.slack.com/methods.
SCOPES: dict[str, frozenset[str]] = {
    "api.test": frozenset(),
    "auth.test": frozenset(),
    "chat.postMessage": frozenset({"chat:write"}),
    "chat.postEphemeral": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    "chat.delete": frozenset({"chat:write"}),
    "chat.scheduleMessage": frozenset({"chat:write"}),
    "chat.getPermalink": frozenset(),
    "views.open": frozenset(),
    "views.push": frozenset(),
    "views.update": frozenset(),
    "views.publish": frozenset(),
    "users.info": frozenset({"users:read"}),
    "users.list": frozenset({"users:read"}),
    "users.lookupByEmail": frozenset({"users:read.email"}),
    "users.profile.get": frozenset({"users.profile:read"}),
    "usergroups.list": frozenset({"usergroups:read"}),
    "usergroups.users.list": frozenset({"usergroups:read"}),
    "conversations.open": frozenset({"im:write", "mpim:write"}),
    "conversations.info": frozenset({"channels:read", "groups:read", "im:read", "mpim:read"}),
    "conversations.members": frozenset({"channels:read", "groups:read", "im:read", "mpim:read"}),
    "conversations.history": frozenset(
        {"channels:history", "groups:history", "im:history", "mpim:history"}
    ),
    "conversations.join": frozenset({"channels:join"}),
    "reactions.add": frozenset({"reactions:write"}),
    "reactions.remove": frozenset({"reactions:write"}),
    "pins.add": frozenset({"pins:write"}),
    "files.upload": frozenset({"files:write"}),
    "files.uploadV2": frozenset({"files:write"}),
    "files.getUploadURLExternal": frozenset({"files:write"}),
    "files.completeUploadExternal": frozenset({"files:write"}),
    "team.info": frozenset({"team:read"}),
}
# Scopes that no Web API call needs but a manifest feature does.
FEATURE_SCOPES = {"commands": "features.slash_commands"}
# Bolt's `say()` posts with chat.postMessage; `respond()` uses the response_url (no scope).
BOLT_HELPERS = {"say": "chat.postMessage"}


@cache
def sdk_methods() -> dict[str, str]:
    """WebClient's Python method names -> Web API methods, read from slack_sdk's source."""
    tree = ast.parse(inspect.getsource(web_client))
    found: dict[str, str] = {}
    for cls in tree.body:
        if not (isinstance(cls, ast.ClassDef) and cls.name == "WebClient"):
            continue
        for fn in cls.body:
            if not isinstance(fn, ast.FunctionDef):
                continue
            for node in ast.walk(fn):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "api_call"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                ):
                    found.setdefault(fn.name, node.args[0].value)
    return found


def _string(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def web_api_calls(source: str, where: str = "<source>") -> dict[str, list[str]]:
    """Web API methods a piece of code calls -> where (file:line)."""
    methods = sdk_methods()
    calls: dict[str, list[str]] = {}
    for node in ast.walk(ast.parse(source)):
        # A bound method handed to a helper (`call(client.chat_postMessage, ...)`) counts too.
        if isinstance(node, ast.Attribute) and node.attr in methods:
            calls.setdefault(methods[node.attr], []).append(f"{where}:{node.lineno}")
            continue
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        method: str | None = None
        if name == "api_call":
            method = _string(node.args[0] if node.args else None) or _string(
                next((k.value for k in node.keywords if k.arg == "api_method"), None)
            )
            if method is None:
                raise AssertionError(f"{where}:{node.lineno}: api_call with a computed method")
        elif isinstance(func, ast.Name) and name in BOLT_HELPERS:
            method = BOLT_HELPERS[name]
        if method is not None:
            calls.setdefault(method, []).append(f"{where}:{node.lineno}")
    return calls


def listener_registrations(source: str, kind: str) -> set[str]:
    """String arguments of `<app>.<kind>("...")` calls (events, commands)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == kind
            and node.args
        ):
            arg = node.args[0]
            value = _string(arg)
            if value is None and isinstance(arg, ast.Dict):
                keys = [_string(k) for k in arg.keys]
                if "type" in keys:
                    value = _string(arg.values[keys.index("type")])
            if value is not None:
                found.add(value)
    return found


def sources(folders: Iterable[str] = SCANNED) -> Iterable[tuple[str, str]]:
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")


def code_calls() -> dict[str, list[str]]:
    calls: dict[str, list[str]] = {}
    for where, text in sources():
        for method, places in web_api_calls(text, where).items():
            calls.setdefault(method, []).extend(places)
    return calls


def scope_problems(calls: Mapping[str, list[str]], declared: set[str]) -> list[str]:
    """Why `declared` does not match what `calls` need; empty when it does."""
    problems: list[str] = []
    used: set[str] = set()
    for method, places in sorted(calls.items()):
        if method not in SCOPES:
            problems.append(
                f"{method} (called at {places[0]}) is not in SCOPES: add its required scopes"
            )
            continue
        allowed = SCOPES[method]
        if allowed and not allowed & declared:
            problems.append(
                f"{method} (called at {places[0]}) needs one of {sorted(allowed)} in manifest.yml"
            )
        used |= allowed & declared
    return problems + [
        f"scope {scope} is declared but no call needs it"
        for scope in sorted(declared - used - set(FEATURE_SCOPES))
    ]


@pytest.fixture(scope="module")
def manifest() -> dict:  # type: ignore[type-arg]
    data = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def all_registrations(kind: str) -> set[str]:
    """Listeners live in bot/ (the CLI's own `.command(...)` registrations are not Slack's)."""
    found: set[str] = set()
    for _, text in sources(["bot"]):
        found |= listener_registrations(text, kind)
    return found


def test_the_scan_finds_the_calls_the_bot_makes() -> None:
    calls = code_calls()
    # The deliverer's announcement, the Home tab and the language lookup are all found.
    for method in ("chat.postMessage", "views.publish", "users.info", "conversations.open"):
        assert method in calls, f"{method} not found: the scan is broken"
    # The outbox deliverer passes the bound method to its pacing helper.
    assert any(p.startswith("commands/notifications/slack.py") for p in calls["chat.postMessage"])


def test_every_web_api_call_has_its_scope_and_no_scope_is_unused(manifest: dict) -> None:  # type: ignore[type-arg]
    declared = set(manifest["oauth_config"]["scopes"]["bot"])
    assert scope_problems(code_calls(), declared) == []
    assert "user" not in manifest["oauth_config"]["scopes"], "the bot needs no user scopes"


def test_a_new_call_without_its_scope_is_caught() -> None:
    declared = {"chat:write", "commands", "im:write", "usergroups:read", "users:read"}
    added = """
def handler(client, app):
    client.reactions_add(
        channel="C1", name="tada", timestamp="1.2"
    )
    app.client.api_call("pins.add", params={})
    web = client
    web.users_lookupByEmail(email="a@b.c")
    retry(client.chat_scheduleMessage, channel="C1")
"""
    calls = web_api_calls(added)
    assert set(calls) == {
        "reactions.add",
        "pins.add",
        "users.lookupByEmail",
        "chat.scheduleMessage",
    }
    problems = scope_problems({**code_calls(), **calls}, declared)
    assert any("reactions.add" in p and "reactions:write" in p for p in problems)
    assert any("pins.add" in p for p in problems)
    assert any("users.lookupByEmail" in p for p in problems)
    # An unknown method must be added to the table rather than pass unnoticed.
    assert scope_problems({"admin.apps.approve": ["x:1"]}, set()) != []
    # A scope nobody needs is refused too.
    assert "scope channels:read is declared but no call needs it" in scope_problems(
        code_calls(), declared | {"channels:read"}
    )


def test_events_match_the_listeners(manifest: dict) -> None:  # type: ignore[type-arg]
    declared = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert declared == all_registrations("event")
    assert manifest["settings"]["event_subscriptions"]["request_url"].endswith(EVENTS_URL_PATH)
    if "app_home_opened" in declared:
        assert manifest["features"]["app_home"]["home_tab_enabled"] is True


def test_slash_command_matches_the_command_listener(manifest: dict) -> None:  # type: ignore[type-arg]
    commands = manifest["features"]["slash_commands"]
    assert {c["command"] for c in commands} == all_registrations("command") == {"/omi"}
    (omi,) = commands
    assert omi["url"].endswith(EVENTS_URL_PATH)
    assert omi["usage_hint"] and omi["description"]
    assert "commands" in manifest["oauth_config"]["scopes"]["bot"]


def test_interactivity_and_options_load_url(manifest: dict) -> None:  # type: ignore[type-arg]
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"].endswith(EVENTS_URL_PATH)
    registered_options = any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "options"
        for _, text in sources(["bot"])
        for node in ast.walk(ast.parse(text))
    )
    assert registered_options, "the OMI picker's options listener is gone: is the URL still needed?"
    assert interactivity["message_menu_options_url"].endswith(EVENTS_URL_PATH)
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert manifest["features"]["bot_user"]["display_name"]

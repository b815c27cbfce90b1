"""Hypothesis strategies for what a hostile (or broken) Slack client could send to
/slack/events with a valid signature: payloads of every kind the bot listens to, built from
their real shapes, then pulled apart: fields missing, values of the wrong type, unknown action
and callback IDs, huge values, private_metadata pointing at another product, version or
request, and raw bodies that are not Slack's at all.

Every payload here is one the bot must refuse: its values are never a valid request (no usable
OMI in a Version form, no date an unpublication could take), and its users may not decide."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from hypothesis import strategies as st

from bot import approvals, unpublication, views
from commands.notifications import managers

HOSTILE_TEXT = [
    "<!channel>",
    "<!here>",
    "<@U0ADMIN>",
    "<!subteam^S0GROUP>",
    "<https://evil.example|click me>",
    "*bold* _it_ ~s~ `code` ```block```",
    "\x00\x01\x1b[31m",
    "line\r\nBcc: victim@example.com",
    "\u202eevil\u202c",
    "😀" * 50,
    "x" * 100_000,
]

text = st.one_of(st.text(max_size=40), st.sampled_from(HOSTILE_TEXT))
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def ids(world: dict[str, list[str]]) -> st.SearchStrategy[Any]:
    """IDs the bot knows (of every product, request and version) and IDs it does not."""
    known = [v for values in world.values() for v in values]
    return st.one_of(
        st.sampled_from(known),
        st.sampled_from(["0", "-1", "999999", "1e9", "9" * 40, "ver-0000000000", "ami-ffffffff"]),
        json_value,
    )


def private_metadata(world: dict[str, list[str]]) -> st.SearchStrategy[str]:
    tampered = st.fixed_dictionaries(
        {},
        optional={
            "mode": st.sampled_from(["publish", "modify", "unpublish", "unpublish-product"])
            | json_value,
            "product": ids(world),
            "version": ids(world),
            "request": ids(world),
            "lang": st.sampled_from(["en", "fr", "xx"]) | json_value,
            "channel": st.sampled_from(["CREL", "C1"]) | json_value,
            # a form claiming its user is in a release manager group
            "groups": st.sampled_from([["SRM"], ["S0OTHER"], "SRM"]) | json_value,
        },
    )
    return st.one_of(tampered.map(json.dumps), text, st.just(""), json_value.map(json.dumps))


def state_values(world: dict[str, list[str]]) -> st.SearchStrategy[Any]:
    """view.state.values: never a usable OMI nor a date an unpublication could take."""
    bad_omi = st.sampled_from(["", "ami-5e11e004", "ami-0f5ca1e1", "ami-5e11e001", "not-an-omi"])
    field = st.fixed_dictionaries(
        {
            views.VALUE: st.fixed_dictionaries(
                {"type": st.just("plain_text_input"), "value": text | json_value}
            )
        }
    )
    good_shape = st.fixed_dictionaries(
        {},
        optional={
            "omi": st.fixed_dictionaries(
                {
                    views.OMI_ACTION: st.fixed_dictionaries(
                        {
                            "type": st.just("external_select"),
                            "selected_option": st.fixed_dictionaries({"value": bad_omi})
                            | json_value,
                        }
                    )
                }
            ),
            "release_note": field,
            "software_version": field,
            "reason": field,
            "when": st.fixed_dictionaries(
                {
                    unpublication.WHEN_ACTION: st.fixed_dictionaries(
                        {
                            "selected_option": st.fixed_dictionaries(
                                {"value": st.sampled_from(["date", "soon", "now-ish"]) | json_value}
                            )
                        }
                    )
                }
            ),
            "date": st.fixed_dictionaries(
                {
                    unpublication.DATE_ACTION: st.fixed_dictionaries(
                        {
                            "selected_date": st.sampled_from(
                                ["", "2000-01-01", "yesterday", "31/12/2099", "9999-99-99"]
                            )
                            | json_value
                        }
                    )
                }
            ),
            "product": st.fixed_dictionaries({views.PICK_ACTION: json_value}),
        },
    )
    return st.one_of(good_shape, json_value)


CALLBACKS = [
    views.FORM_CALLBACK,
    views.PICK_CALLBACK,
    approvals.CONFIRM_CALLBACK,
    approvals.REJECT_CALLBACK,
    unpublication.UNPUBLISH_CALLBACK,
    "no_such_callback",
]
ACTIONS = [
    approvals.APPROVE_ACTION,
    approvals.REJECT_ACTION,
    views.PICK_ACTION,
    managers.CANCEL_SCHEDULE_ACTION,
    managers.REPAIR_ACTION,
    views.OMI_ACTION,
    "no_such_action",
]


def user(users: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(users).map(lambda u: {"id": u, "name": u.lower()}), json_value)


def view(world: dict[str, list[str]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "id": st.just("VFUZZ"),
            "type": st.just("modal"),
            "callback_id": st.sampled_from(CALLBACKS),
            "private_metadata": private_metadata(world),
            "state": st.fixed_dictionaries({"values": state_values(world)}),
            "hash": st.just("1.abc"),
        }
    )


def payload(world: dict[str, list[str]], users: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """An interactivity payload of any kind the bot listens to."""
    submission = st.fixed_dictionaries(
        {
            "type": st.just("view_submission"),
            "user": user(users),
            "view": view(world),
            "trigger_id": st.uuids().map(str),
            "team": st.just({"id": "T1"}),
        }
    )
    action = st.fixed_dictionaries(
        {
            "type": st.just("block_actions"),
            "user": user(users),
            "trigger_id": st.uuids().map(str),
            "team": st.just({"id": "T1"}),
            "channel": st.just({"id": "CREL"}),
            "actions": st.lists(
                st.fixed_dictionaries(
                    {
                        "action_id": st.sampled_from(ACTIONS),
                        "block_id": st.just("b"),
                        "type": st.just("button"),
                        "value": ids(world),
                    },
                    optional={"selected_option": st.fixed_dictionaries({"value": ids(world)})},
                ),
                min_size=0,
                max_size=2,
            ),
        },
        optional={"view": view(world), "response_url": st.sampled_from(world["response_urls"])},
    )
    suggestion = st.fixed_dictionaries(
        {
            "type": st.just("block_suggestion"),
            "user": user(users),
            "action_id": st.sampled_from(ACTIONS),
            "block_id": st.just("omi"),
            "value": text,
            "team": st.just({"id": "T1"}),
        },
        optional={"view": view(world)},
    )
    closed = st.fixed_dictionaries(
        {"type": st.just("view_closed"), "user": user(users), "view": view(world)}
    )
    other = st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["shortcut", "message_action", "interactive_message", "no_such_type"]
            ),
            "user": user(users),
            "callback_id": st.sampled_from(CALLBACKS),
        }
    )
    return st.one_of(submission, action, suggestion, closed, other).flatmap(pulled_apart)


def pulled_apart(body: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """The payload with some of its fields gone or of another type."""
    keys = sorted(body)

    def apart(drop: list[str], swap: dict[str, Any]) -> dict[str, Any]:
        changed = {k: v for k, v in body.items() if k not in drop and k != "type"}
        changed.update(swap)
        changed["type"] = body["type"]
        return changed

    return st.builds(
        apart,
        st.lists(st.sampled_from(keys), max_size=2, unique=True),
        st.dictionaries(st.sampled_from(keys), json_value, max_size=1),
    ) | st.just(body)


def slash_text(world: dict[str, list[str]]) -> st.SearchStrategy[str]:
    verbs = st.sampled_from(
        [
            "publish",
            "modify",
            "unpublish",
            "unpublish-product",
            "versions",
            "products",
            "help",
            "cancel-unpublish",
            "drift",
            "PUBLISH",
            "",
            "\x00",
        ]
    )
    arg = st.one_of(ids(world).map(str), text)
    return st.builds(lambda v, a: " ".join([v, *a]), verbs, st.lists(arg, max_size=3))


def slash_body(world: dict[str, list[str]], users: list[str]) -> st.SearchStrategy[str]:
    fields = st.fixed_dictionaries(
        {
            "command": st.sampled_from(["/omi", "/other"]),
            "text": slash_text(world),
            "user_id": st.sampled_from(users),
            "channel_id": st.just("C1"),
            "response_url": st.sampled_from(world["response_urls"]),
            "trigger_id": st.uuids().map(str),
            "team_id": st.just("T1"),
        },
    )
    return fields.flatmap(pulled_apart_form).map(urlencode)


def pulled_apart_form(fields: dict[str, Any]) -> st.SearchStrategy[dict[str, str]]:
    keys = sorted(fields)
    return st.builds(
        lambda drop: {k: str(v) for k, v in fields.items() if k not in drop},
        st.lists(st.sampled_from(keys), max_size=2, unique=True),
    )


def events_body(users: list[str]) -> st.SearchStrategy[str]:
    event = st.fixed_dictionaries(
        {
            "type": st.sampled_from(["app_home_opened", "message", "no_such_event"]),
            "user": st.sampled_from(users) | json_value,
            "tab": st.sampled_from(["home", "x"]),
        },
    )
    body = st.fixed_dictionaries(
        {
            "type": st.sampled_from(["event_callback", "url_verification", "app_rate_limited"]),
            "event": event | json_value,
            "event_id": st.uuids().map(str),
            "team_id": st.just("T1"),
            "challenge": text,
        },
    )
    return body.flatmap(pulled_apart).map(json.dumps)


def body(world: dict[str, list[str]], users: list[str]) -> st.SearchStrategy[tuple[str, str]]:
    """(content type, body) of one request."""
    form = "application/x-www-form-urlencoded"
    interactive = payload(world, users).map(lambda p: (form, urlencode({"payload": json.dumps(p)})))
    raw = st.tuples(
        st.sampled_from([form, "application/json", "text/plain", ""]),
        st.one_of(
            st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
            st.just("payload=%7Bnot%20json"),
            st.just("payload=" + "A" * 200_000),
            json_value.map(json.dumps),
            json_value.map(lambda v: urlencode({"payload": json.dumps(v)})),
        ),
    )
    return st.one_of(
        interactive,
        slash_body(world, users).map(lambda b: (form, b)),
        events_body(users).map(lambda b: ("application/json", b)),
        raw,
    )

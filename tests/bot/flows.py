"""What the Slack flow tests do as Slack would: open the Version form, submit modals, click the
request buttons, and read what the bot sent to the fake Web API."""

from __future__ import annotations

import time
from typing import Any

from bot import approvals, unpublication, views
from tests.conftest import OMI_1
from tests.slackfake import Call, FakeSlackAPI
from tests.slackfake.signing import SlackClient

SELLER_USER = "USELLER"
# Slack gives an answer 3 seconds; a request still open after this has failed for the user.
SLACK_DEADLINE = 3.0


def last_view(fake: FakeSlackAPI, method: str = "views.update", count: int = 1) -> dict[str, Any]:
    return fake.wait_for(method, count, timeout=15)[-1].params["view"]


def next_update(fake: FakeSlackAPI, before: int) -> dict[str, Any]:
    """The view of the first views.update after the `before` ones already seen."""
    return fake.wait_for("views.update", before + 1, timeout=15)[before].params["view"]


def state(**fields: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "omi":
            values["omi"] = {
                views.OMI_ACTION: {
                    "type": "external_select",
                    "selected_option": {
                        "text": {"type": "plain_text", "text": value},
                        "value": value,
                    }
                    if value
                    else None,
                }
            }
        else:
            values[name] = {views.VALUE: {"type": "plain_text_input", "value": value}}
    return values


def open_form(
    slack: SlackClient, fake: FakeSlackAPI, text: str = "publish 0001", user: str = SELLER_USER
) -> dict[str, Any]:
    before = len(fake.calls_to("views.update"))
    assert slack.slash_command(text, user_id=user).status_code == 200
    return next_update(fake, before)


def submit(
    slack: SlackClient, view: dict[str, Any], user: str = SELLER_USER, **fields: str
) -> dict[str, Any] | None:
    return submit_values(slack, view, user, state(**fields))


def submit_values(
    slack: SlackClient, view: dict[str, Any], user: str, values: dict[str, Any]
) -> dict[str, Any] | None:
    """The view submitted with these state values; Slack's answer to it, if any."""
    response = slack.view_submission(
        {
            "id": view.get("id") or "VSUBMITTED",
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
        },
        user_id=user,
        state_values=values,
    )
    assert response.status_code == 200
    return response.json() if response.text else None


def submit_then(
    slack: SlackClient, fake: FakeSlackAPI, view: dict[str, Any], user: str, **fields: str
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """A submission answered with a working view, and the view it becomes afterwards."""
    before = len(fake.calls_to("views.update"))
    answer = submit(slack, view, user=user, **fields)
    assert answer is not None and answer["response_action"] == "update", answer
    return answer, next_update(fake, before)


def texts(view: dict[str, Any]) -> str:
    return " ".join(str(b) for b in view.get("blocks", []))


def request_publication(
    slack: SlackClient, fake: FakeSlackAPI, omi: str = OMI_1, user: str = SELLER_USER
) -> int:
    form = open_form(slack, fake, user=user)
    posts = len(approval_posts(fake))
    _, done = submit_then(
        slack, fake, form, user, omi=omi, software_version="2.0", release_note="Faster"
    )
    assert "sent to the release managers" in texts(done), done
    deadline = time.monotonic() + 15
    while len(approval_posts(fake)) == posts and time.monotonic() < deadline:
        fake.wait_for("chat.postMessage", len(fake.calls_to("chat.postMessage")) + 1, timeout=15)
    post = approval_posts(fake)[-1]
    buttons = next(b for b in post.params["blocks"] if b["type"] == "actions")["elements"]
    return int(buttons[0]["value"])


def approval_posts(fake: FakeSlackAPI) -> list[Call]:
    return [c for c in fake.calls_to("chat.postMessage") if c.params["channel"] == "CREL"]


def click(slack: SlackClient, action: str, request_id: int, user: str) -> None:
    response = slack.block_action(action, str(request_id), user_id=user, channel_id="CREL")
    assert response.status_code == 200
    assert response.text == ""


def opened_by_click(
    slack: SlackClient, fake: FakeSlackAPI, action: str, request_id: int, user: str
) -> dict[str, Any]:
    """The modal a click opens (a loading view at once), once the bot has filled it."""
    opened = len(fake.calls_to("views.open"))
    before = len(fake.calls_to("views.update"))
    click(slack, action, request_id, user)
    fake.wait_for("views.open", opened + 1, timeout=15)
    return next_update(fake, before)


def approve(
    slack: SlackClient, fake: FakeSlackAPI, request_id: int, user: str = "URM1"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The confirmation modal, and what it shows once Proceed was submitted."""
    confirm = opened_by_click(slack, fake, approvals.APPROVE_ACTION, request_id, user)
    assert confirm["callback_id"] == approvals.CONFIRM_CALLBACK, confirm
    _, outcome = submit_then(slack, fake, confirm, user)
    return confirm, outcome


def ephemeral_to(fake: FakeSlackAPI, user: str, count: int = 1) -> list[str]:
    fake.wait_for("chat.postEphemeral", count, timeout=15)
    return [
        c.params["text"] for c in fake.calls_to("chat.postEphemeral") if c.params["user"] == user
    ]


def when_state(*, now: bool = False, day: str = "") -> dict[str, Any]:
    """The date form's values: "now" picked, and/or a date."""
    values: dict[str, Any] = {"date": {unpublication.DATE_ACTION: {"type": "datepicker"}}}
    if day:
        values["date"][unpublication.DATE_ACTION]["selected_date"] = day
    if now:
        values["when"] = {
            unpublication.WHEN_ACTION: {
                "type": "radio_buttons",
                "selected_option": {"value": "now", "text": {"type": "plain_text", "text": "Now"}},
            }
        }
    return values


def ask_unpublish(
    slack: SlackClient, fake: FakeSlackAPI, text: str, user: str, **when: Any
) -> dict[str, Any]:
    """`/omi unpublish …`, then the date form submitted; returns the submission's answer
    (inline errors, or the modal updated to say the request was sent)."""
    form = open_form(slack, fake, text, user=user)
    assert form["callback_id"] == unpublication.UNPUBLISH_CALLBACK, form
    answer = submit_values(slack, form, user, when_state(**when))
    assert answer is not None
    return answer


def sent(answer: dict[str, Any]) -> bool:
    return answer.get("response_action") == "update" and "sent to the release managers" in texts(
        answer["view"]
    )


def posted_request(fake: FakeSlackAPI, count: int = 1) -> tuple[int, dict[str, Any]]:
    """The latest request message in the approval channel, once `count` are there."""
    deadline = time.monotonic() + 15
    while len(approval_posts(fake)) < count and time.monotonic() < deadline:
        fake.wait_for("chat.postMessage", len(fake.calls_to("chat.postMessage")) + 1, timeout=15)
    params = approval_posts(fake)[-1].params
    actions = next(b for b in params["blocks"] if b["type"] == "actions")
    return int(actions["elements"][0]["value"]), params

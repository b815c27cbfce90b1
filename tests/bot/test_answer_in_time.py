"""Slack gives every request 3 seconds. Whatever may wait on OUTSCALE (latency, 503 bursts the
SDK retries) or on Slack's Web API (slow answers, 429s with Retry-After) is put in front of
each interaction here, much longer than 3 seconds: the HTTP answer must still come back before
Slack's deadline, with the right content, and the slow part must finish afterwards."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from bot import approvals, views
from commands import services
from commands.bootstrap import Core
from commands.model import VersionForm
from commands.sandbox import SandboxServer
from tests.bot.conftest import SIGNING_SECRET, StartBot
from tests.bot.flows import (
    SELLER_USER,
    SLACK_DEADLINE,
    next_update,
    open_form,
    request_publication,
    state,
    submit_values,
    texts,
    when_state,
)
from tests.conftest import OMI_1, OMI_2
from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import SlackClient

SLOW = 4.0  # seconds the slow part takes: past Slack's deadline on its own
LATER = 20.0  # how long a test waits for the slow part to finish


@pytest.fixture
def on_time(slack: SlackClient, fake_slack: FakeSlackAPI) -> SlackClient:
    """Sends like `slack`, but gives up at Slack's deadline: a late answer fails the test."""
    return SlackClient(
        slack.events_url,
        SIGNING_SECRET,
        response_urls=fake_slack.response_url,
        timeout=SLACK_DEADLINE,
    )


@pytest.fixture
def slow_cloud(sandbox: SandboxServer) -> Iterator[None]:
    """OUTSCALE answers late, after a burst of 503s the SDK retries."""
    sandbox.sandbox.latency = SLOW
    sandbox.sandbox.fail_next(2)
    yield
    sandbox.sandbox.latency = 0.0


def slow_slack(fake: FakeSlackAPI, method: str) -> None:
    """Slack's Web API rate-limits this method once (429, Retry-After), then answers late."""
    fake.rate_limit(method, times=1, retry_after=int(SLOW))
    fake.delay(method, 0.5)


def test_slash_command_opens_its_modal_before_asking_slack_anything(
    on_time: SlackClient, fake_slack: FakeSlackAPI
) -> None:
    slow_slack(fake_slack, "users.info")
    answer = on_time.slash_command("publish 0001", user_id=SELLER_USER)
    assert (answer.status_code, answer.text) == (200, "")
    form = fake_slack.wait_for("views.update", timeout=LATER)[0].params["view"]
    assert form["callback_id"] == views.FORM_CALLBACK
    opened, asked = fake_slack.calls_to("views.open")[0], fake_slack.calls_to("users.info")[0]
    assert opened.at <= asked.at  # the trigger is used before the slow lookups


def test_slash_modify_waits_on_group_membership_after_its_answer(
    on_time: SlackClient, fake_slack: FakeSlackAPI, core: Core, drain: Callable[..., None]
) -> None:
    form = VersionForm(omi=OMI_1, release_note="n")
    version = services.publish(core, "0001", form, requested_by="ops")
    drain()
    slow_slack(fake_slack, "usergroups.users.list")
    answer = on_time.slash_command(f"modify {version.id}", user_id="UGRP")
    assert (answer.status_code, answer.text) == (200, "")
    form = fake_slack.wait_for("views.update", timeout=LATER)[0].params["view"]
    assert json.loads(form["private_metadata"])["mode"] == "modify"


def test_slash_unpublish_answers_before_posting(
    on_time: SlackClient, fake_slack: FakeSlackAPI, core: Core, drain: Callable[..., None]
) -> None:
    for omi in (OMI_1, OMI_2):
        services.publish(core, "0001", VersionForm(omi=omi, release_note="n"), requested_by="ops")
    drain()
    slow_slack(fake_slack, "chat.postMessage")
    version = services.versions_table(core, "0001").rows[0]
    form = open_form(on_time, fake_slack, f"unpublish {version.id}")
    tomorrow = (services.today(core) + timedelta(days=1)).isoformat()
    answer = submit_values(on_time, form, SELLER_USER, when_state(day=tomorrow))
    assert answer is not None
    assert "sent to the release managers" in texts(answer["view"])
    posted = fake_slack.wait_for("chat.postMessage", timeout=LATER)
    assert posted[0].params["channel"] == "CREL"


def test_version_form_is_answered_before_outscale_checks_the_omi(
    slack: SlackClient, on_time: SlackClient, fake_slack: FakeSlackAPI, slow_cloud: None
) -> None:
    form = open_form(slack, fake_slack)
    before = len(fake_slack.calls_to("views.update"))
    slow_slack(fake_slack, "chat.postMessage")
    answer = on_time.view_submission(
        {"id": "VFORM", **{k: form[k] for k in ("callback_id", "private_metadata")}},
        user_id=SELLER_USER,
        state_values=state(omi=OMI_2, release_note="Faster"),
    )
    assert answer.status_code == 200
    working = answer.json()
    assert working["response_action"] == "update" and OMI_2 in texts(working["view"])
    done = next_update(fake_slack, before)
    assert "sent to the release managers" in texts(done)
    fake_slack.wait_for("chat.postMessage", timeout=LATER)


def test_omi_menu_is_answered_while_outscale_is_slow(
    on_time: SlackClient, fake_slack: FakeSlackAPI, slow_cloud: None
) -> None:
    view = {"callback_id": views.FORM_CALLBACK, "private_metadata": json.dumps({"product": "0001"})}
    first = on_time.block_suggestion(views.OMI_ACTION, "", block_id="omi", view=view)
    assert first.status_code == 200 and first.json() == {"options": []}  # the list is on its way
    deadline = time.monotonic() + LATER
    while True:
        options = on_time.block_suggestion(views.OMI_ACTION, "", block_id="omi", view=view)
        values = [o["value"] for o in options.json()["options"]]
        if values or time.monotonic() > deadline:
            break
        time.sleep(0.5)  # the seller types again
    assert OMI_1 in values


@pytest.mark.parametrize("action", [approvals.APPROVE_ACTION, approvals.REJECT_ACTION])
def test_decision_button_opens_at_once_and_decides_after(
    slack: SlackClient, on_time: SlackClient, fake_slack: FakeSlackAPI, action: str
) -> None:
    request_id = request_publication(slack, fake_slack)
    fake_slack.reset()
    fake_slack.set_usergroup("SRM", ["UGRP"])
    slow_slack(fake_slack, "users.info")
    answer = on_time.block_action(action, str(request_id), user_id="UGRP", channel_id="CREL")
    assert (answer.status_code, answer.text) == (200, "")
    modal = fake_slack.wait_for("views.update", timeout=LATER)[0].params["view"]
    approving = action == approvals.APPROVE_ACTION
    wanted = approvals.CONFIRM_CALLBACK if approving else approvals.REJECT_CALLBACK
    assert modal["callback_id"] == wanted
    opened, asked = fake_slack.calls_to("views.open")[0], fake_slack.calls_to("users.info")[0]
    assert opened.at <= asked.at


@pytest.mark.parametrize(
    ("action", "fields", "outcome"),
    [
        (approvals.APPROVE_ACTION, {}, "is approved"),
        (approvals.REJECT_ACTION, {"reason": "Not now"}, "is rejected"),
    ],
)
def test_decision_modal_is_answered_before_slack_and_outscale(
    slack: SlackClient,
    on_time: SlackClient,
    fake_slack: FakeSlackAPI,
    sandbox: SandboxServer,
    action: str,
    fields: dict[str, str],
    outcome: str,
) -> None:
    request_id = request_publication(slack, fake_slack)
    approving = action == approvals.APPROVE_ACTION
    callback = approvals.CONFIRM_CALLBACK if approving else approvals.REJECT_CALLBACK
    # The modal as the click opened it, possibly in another process: the membership is asked
    # at submission, and rate-limited; the OMI is looked up again at approval, slowly.
    modal = {
        "callback_id": callback,
        "private_metadata": json.dumps({"request": request_id, "lang": "en"}),
    }
    before = len(fake_slack.calls_to("views.update"))
    fake_slack.rate_limit("usergroups.users.list", times=1, retry_after=int(SLOW))
    sandbox.sandbox.latency = SLOW
    try:
        answer = on_time.view_submission(
            {"id": "VDECIDE", **modal},
            user_id="UGRP",
            state_values=state(**fields),
        )
        assert answer.status_code == 200 and answer.json()["response_action"] == "update"
        assert outcome in texts(next_update(fake_slack, before))
    finally:
        sandbox.sandbox.latency = 0.0


def test_product_picker_is_answered_from_the_database(
    core: Core, on_time: SlackClient, fake_slack: FakeSlackAPI
) -> None:
    services.save_product(
        core, code="0002", name="Redis", seller_account_id="111111111111", pricing="free"
    )
    slow_slack(fake_slack, "users.info")
    answer = on_time.slash_command("publish", user_id=SELLER_USER)
    assert answer.status_code == 200
    picker = fake_slack.wait_for("views.update", timeout=LATER)[0].params["view"]
    assert picker["callback_id"] == views.PICK_CALLBACK
    picked = on_time.view_submission(
        {"callback_id": picker["callback_id"], "private_metadata": picker["private_metadata"]},
        user_id=SELLER_USER,
        state_values={"product": {views.PICK_ACTION: {"selected_option": {"value": "0002"}}}},
    )
    assert picked.json()["response_action"] == "update"
    assert picked.json()["view"]["callback_id"] == views.FORM_CALLBACK


def test_app_home_event_is_answered_before_its_lookups(
    on_time: SlackClient, fake_slack: FakeSlackAPI
) -> None:
    slow_slack(fake_slack, "usergroups.users.list")
    answer = on_time.event({"type": "app_home_opened", "user": "UGRP", "tab": "home"})
    assert answer.status_code == 200
    home = fake_slack.wait_for("views.publish", timeout=LATER)[0].params["view"]
    assert home["type"] == "home"


def test_work_after_an_answer_waits_for_the_answers_being_made() -> None:
    """Acknowledgements first: follow-up work starts once no request is being answered."""
    from bot.runtime import Later

    later = Later(threads=2, yield_for=LATER, quiet=0.0)
    order: list[str] = []
    done = later(lambda: order.append("work"))
    done.result(timeout=LATER)  # nothing being answered: it runs at once
    with later.answering():
        waiting = later(lambda: order.append("work after the answer"))
        time.sleep(0.2)  # the work had every chance to start; it must not have
        order.append("answered")
    waiting.result(timeout=LATER)
    assert order == ["work", "answered", "work after the answer"]


def test_a_request_counts_as_being_answered_until_its_listener_answers(
    start_bot: StartBot,
) -> None:
    """What wraps the dispatch (the count of answers in flight, the timing of acks) spans the
    listener up to its ack, not only the middleware: Bolt runs the listeners once the
    middleware has returned."""
    from slack_bolt import Ack, App, BoltRequest, BoltResponse

    from bot.app import Dispatch, around_dispatch

    spans: list[float] = []
    threads: dict[str, int] = {}

    def timed(request: BoltRequest, dispatch: Dispatch) -> BoltResponse:
        threads["dispatch"] = threading.get_ident()
        started = time.perf_counter()
        try:
            return dispatch(request)
        finally:
            spans.append(time.perf_counter() - started)

    def register(app: App) -> None:
        around_dispatch(app, timed)

        @app.command("/omi")
        def slow(ack: Ack) -> None:
            threads["listener"] = threading.get_ident()
            time.sleep(0.3)
            ack()

    _, client = start_bot(register)
    assert client.slash_command("help").status_code == 200
    assert len(spans) == 1 and 0.3 <= spans[0] < 0.8
    # The listener runs on the request's own thread and the answer is sent as it returns:
    # no second pool, no poll of the ack (Bolt's other way polls every 10 ms).
    assert threads["listener"] == threads["dispatch"]


def test_work_after_the_answers_is_drained_within_the_time_given() -> None:
    """Stopping waits for the work handed over after answers, and no longer than it may."""
    from bot.runtime import Later

    later = Later(threads=2, yield_for=0.0, quiet=0.0)
    done: list[str] = []
    later(lambda: (time.sleep(0.3), done.append("short")))
    assert later.drain(5.0) and done == ["short"]
    # Handed over once drained (the process is stopping): refused, not lost in silence.
    with pytest.raises(RuntimeError):
        later(lambda: done.append("too late")).result(timeout=5)
    assert done == ["short"]

    slow = Later(threads=1, yield_for=0.0, quiet=0.0)
    release = threading.Event()
    slow(lambda: release.wait(5))
    assert not slow.drain(0.2)  # given back while it still runs
    release.set()
    assert slow.drain(5.0)


def test_held_work_leaves_the_pool_to_work_an_answer_waits_on() -> None:
    """Work waiting for the answers in flight holds no thread of the pool: an OMI menu's own
    fetch (which its answer waits on) runs at once, however much work is held."""
    from bot.runtime import Later

    later = Later(threads=1, yield_for=LATER, quiet=0.0)
    ran: list[str] = []
    with later.answering():
        held = [later(lambda i=i: ran.append(f"held {i}")) for i in range(3)]
        urgent = later(lambda: ran.append("urgent"), before_answers=True)
        urgent.result(timeout=2)
        assert ran == ["urgent"]
    for future in held:
        future.result(timeout=LATER)
    assert ran == ["urgent", "held 0", "held 1", "held 2"]

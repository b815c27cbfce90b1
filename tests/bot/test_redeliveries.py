"""Slack's redeliveries are recognised through the database, so that whichever replica a copy
lands on drops it; and while the database is out of reach, a person is told to try again."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from slack_bolt import App

from bot import approvals
from bot.runtime import delivery_of, install
from commands import deliveries, services
from commands.bootstrap import Core
from commands.deliveries import EXPIRY, first_delivery, purge_deliveries
from commands.errors import DatabaseUnavailable
from commands.model import VersionForm, now
from storage.orm import slack_deliveries
from storage.uow import Database
from tests.conftest import OMI_1, OMI_2, OMI_NO_CODE
from tests.notifications.smtp_server import free_port
from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import SlackClient

from .conftest import StartBot
from .flows import (
    SELLER_USER,
    approval_posts,
    next_update,
    open_form,
    sent,
    state,
    submit,
    submit_then,
    texts,
    when_state,
)


def test_a_delivery_is_taken_once_per_team(core: Core) -> None:
    assert first_delivery(core, "T1", "1.2.abc")
    assert not first_delivery(core, "T1", "1.2.abc")
    assert first_delivery(core, "T2", "1.2.abc")  # another workspace's ID
    assert first_delivery(core, "T1", "1.2.abd")


def test_an_expired_delivery_is_taken_again_and_purged(core: Core) -> None:
    assert first_delivery(core, "T1", "Ev1")
    assert first_delivery(core, "T1", "Ev2")
    later = dataclasses.replace(core, clock=lambda: now() + EXPIRY + timedelta(seconds=1))
    assert not first_delivery(core, "T1", "Ev1")
    assert first_delivery(later, "T1", "Ev1")  # past its expiry, before any purge
    assert not first_delivery(later, "T1", "Ev1")
    # Ev2 has expired by then; Ev1 was taken again, so it stays.
    assert purge_deliveries(later) == 1
    with core.uow() as uow:
        rows = uow.session.execute(slack_deliveries.select()).all()
    assert [r.delivery_id for r in rows] == ["Ev1"]
    assert not first_delivery(later, "T1", "Ev1")


def test_deliveries_claimed_at_once_are_taken_by_one(core: Core) -> None:
    results: list[bool] = []
    start = threading.Barrier(8)

    def claim() -> None:
        start.wait()
        results.append(first_delivery(core, "T1", "raced"))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_claims_written_together_each_get_their_own_answer(core: Core) -> None:
    """Claims that arrive while one is written are written together: each distinct delivery
    is taken, a copy in the same group is not, and one taken before stays taken."""
    assert first_delivery(core, "T1", "before")
    keys = [f"d{i}" for i in range(30)] + ["d0", "d1", "before"]
    results: dict[int, bool] = {}
    start = threading.Barrier(len(keys))

    def claim(index: int) -> None:
        start.wait()
        results[index] = first_delivery(core, "T1", keys[index])

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(keys))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken: dict[str, int] = {}
    for index, first in results.items():
        taken[keys[index]] = taken.get(keys[index], 0) + first
    assert taken == {**{f"d{i}": 1 for i in range(30)}, "before": 0}
    with core.reading() as uow:
        rows = uow.session.execute(slack_deliveries.select()).all()
    assert len(rows) == 31


def test_a_failed_write_fails_every_claim_written_with_it(core: Core) -> None:
    """Every claim of a group gets the group's failure: none is let through untold."""
    down = unreachable(core)
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def claim(index: int) -> None:
        start.wait()
        try:
            first_delivery(down, "T1", f"x{index}")
        except DatabaseUnavailable as error:
            errors.append(error)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 6
    down.db.engine.dispose()


def test_what_names_a_delivery() -> None:
    assert delivery_of({"team_id": "T1", "trigger_id": "tr", "command": "/omi"}) == ("T1", "tr")
    assert delivery_of({"team": {"id": "T2"}, "trigger_id": "tr", "type": "view_submission"}) == (
        "T2",
        "tr",
    )
    assert delivery_of({"team_id": "T1", "event_id": "Ev9", "type": "event_callback"}) == (
        "T1",
        "Ev9",
    )
    assert delivery_of({"team": None, "enterprise": {"id": "E1"}, "trigger_id": "x"}) == (
        "E1",
        "x",
    )
    assert delivery_of({"type": "block_suggestion", "team": {"id": "T1"}}) is None


def unreachable(core: Core) -> Core:
    """The same core on a database that refuses every connection."""
    from storage.db import make_engine

    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone")
    return dataclasses.replace(core, db=Database(engine))


def test_an_unreachable_database_is_told_apart(core: Core) -> None:
    down = unreachable(core)
    try:
        first_delivery(down, "T1", "x")
    except DatabaseUnavailable as error:
        assert "cannot be used right now" in str(error)
        assert error.reason == "OperationalError"  # the class only: messages may hold URLs
    else:
        raise AssertionError("an unreachable database let the delivery through")


def unavailable(*_args: object) -> Any:
    """What a call does while a lock held elsewhere outlasts the lock timeout."""
    raise DatabaseUnavailable("The database cannot be used right now.", "lock timeout")


def two_apps(start_bot: StartBot, core: Core) -> tuple[SlackClient, SlackClient]:
    """Two apps with every listener on one database, as two replicas behind one URL."""
    apps = [start_bot(lambda app: install(app, core))[1] for _ in range(2)]
    return apps[0], apps[1]


def test_redelivery_to_another_app_on_the_same_database_is_dropped(
    start_bot: StartBot, core: Core, product: str, fake_slack: FakeSlackAPI
) -> None:
    first, second = two_apps(start_bot, core)
    trigger = first.new_trigger_id()
    assert first.slash_command("publish 0001", trigger_id=trigger).status_code == 200
    fake_slack.wait_for("views.update")
    again = second.slash_command("publish 0001", trigger_id=trigger, retry_num=1)
    assert again.status_code == 200 and again.text == ""
    assert len(fake_slack.calls_to("views.open")) == 1


def _down_bot(start_bot: StartBot, core: Core) -> SlackClient:
    def register(app: App) -> None:
        install(app, unreachable(core))

    return start_bot(register)[1]


def test_database_down_a_command_is_told_to_try_again_in_french(
    start_bot: StartBot, core: Core, fake_slack: FakeSlackAPI
) -> None:
    fake_slack.set_user("UFR", locale="fr-FR")
    slack = _down_bot(start_bot, core)
    answer = slack.slash_command("publish 0001", user_id="UFR")
    # Acknowledged at once; its delivery is claimed after the answer, where the database is
    # found away, and the person is told through the command's response_url.
    assert answer.status_code == 200 and answer.text == ""
    (told,) = fake_slack.wait_for("response_url", timeout=10)
    assert told.params["response_type"] == "ephemeral"
    assert "Réessayez dans une minute" in told.params["text"]
    assert fake_slack.calls_to("views.open") == []


def test_database_down_a_submission_pushes_a_notice_over_the_form(
    start_bot: StartBot, core: Core, fake_slack: FakeSlackAPI
) -> None:
    slack = _down_bot(start_bot, core)
    answer = slack.view_submission(
        {"callback_id": "version_form", "private_metadata": "{}"}, user_id="U1"
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["response_action"] == "push"
    assert "Try again in a minute" in texts(body["view"])


def test_database_down_a_click_opens_a_notice(
    start_bot: StartBot, core: Core, fake_slack: FakeSlackAPI
) -> None:
    slack = _down_bot(start_bot, core)
    answer = slack.block_action(approvals.APPROVE_ACTION, "1", user_id="URM1")
    assert answer.status_code == 200 and answer.text == ""
    (opened,) = fake_slack.wait_for("views.open")
    assert "Try again in a minute" in texts(opened.params["view"])


def test_database_down_an_event_is_left_for_slack_to_deliver_again(
    start_bot: StartBot, core: Core, fake_slack: FakeSlackAPI
) -> None:
    slack = _down_bot(start_bot, core)
    answer = slack.event({"type": "app_home_opened", "user": "U1", "tab": "home"})
    assert answer.status_code == 503
    assert fake_slack.calls_to("views.publish") == []


def test_work_after_an_answer_runs_once_its_delivery_is_claimed() -> None:
    """A command's or a click's work claims its delivery when it first runs, after the
    answer: the claim is asked once for all the request's work, a copy runs none of it, and a
    database that cannot say tells the person once and runs nothing."""
    from bot.runtime import ClaimFirst, Later

    later = Later(threads=2, yield_for=0.1, quiet=0.0)

    def run_twice(taken: bool) -> tuple[list[str], list[str]]:
        asked: list[str] = []
        ran: list[str] = []

        def claim() -> bool:
            asked.append("claim")
            return taken

        first = ClaimFirst(later, claim, lambda: ran.append("told"))
        first(lambda: ran.append("open")).result(timeout=5)
        first(lambda: ran.append("update")).result(timeout=5)
        return asked, ran

    assert run_twice(True) == (["claim"], ["open", "update"])
    assert run_twice(False) == (["claim"], [])

    told: list[str] = []

    def down() -> bool:
        raise DatabaseUnavailable("The database cannot be reached.")

    first = ClaimFirst(later, down, lambda: told.append("try again"))
    ran = []
    first(lambda: ran.append("open")).result(timeout=5)
    first(lambda: ran.append("update")).result(timeout=5)
    assert told == ["try again"] and ran == []


def test_a_click_delivered_again_to_another_app_acts_once(
    start_bot: StartBot, core: Core, product: str, fake_slack: FakeSlackAPI
) -> None:
    first, second = two_apps(start_bot, core)
    trigger = first.new_trigger_id()
    for client in (first, second):
        answer = client.block_action(
            approvals.APPROVE_ACTION, "1", user_id="URM1", trigger_id=trigger
        )
        assert answer.status_code == 200 and answer.text == ""
    fake_slack.wait_for("views.update")
    time.sleep(0.5)  # the copy's work, had it run, would have opened a second modal by now
    assert len(fake_slack.calls_to("views.open")) == 1


def test_home_tab_with_the_database_unavailable_logs_one_line_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An event has no reply to show an error in: a database out of reach (or a statement cut
    off at its time limit) after the event was taken is one warning, not a traceback."""
    from bot.listeners import events

    monkeypatch.setattr(events, "core_of", lambda *_args: None)
    monkeypatch.setattr(events, "actor", lambda *_args: None)
    monkeypatch.setattr(events, "language", lambda *_args: "en")
    monkeypatch.setattr(events, "publish_home", unavailable)
    events.show_home(None, None, "U1")  # type: ignore[arg-type]
    (line,) = [r for r in caplog.records if r.name == "bot.listeners.events"]
    assert line.levelname == "WARNING" and line.exc_info is None
    assert "database is unavailable (lock timeout)" in line.getMessage()
    monkeypatch.setattr(events, "publish_home", lambda *_args: 1 / 0)
    events.show_home(None, None, "U1")  # type: ignore[arg-type]
    assert caplog.records[-1].exc_info is not None  # a bug keeps its traceback


def test_a_refused_form_that_cannot_be_shown_again_says_try_again(
    slack: SlackClient,
    fake_slack: FakeSlackAPI,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """OUTSCALE refuses the OMI (R2) after the answer, and the product cannot be read again to
    show the form: the modal says to try again, and the log has one line, no traceback."""
    form = open_form(slack, fake_slack)

    monkeypatch.setattr(services, "new_form", unavailable)
    _, shown = submit_then(slack, fake_slack, form, SELLER_USER, omi=OMI_NO_CODE, release_note="x")
    assert "Try again in a minute" in texts(shown)
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


def _form_view(form: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": form.get("id") or "VSUBMITTED",
        "callback_id": form["callback_id"],
        "private_metadata": form["private_metadata"],
    }


def test_a_form_submitted_again_asks_once_and_the_copy_closes_the_modal(
    start_bot: StartBot, core: Core, product: str, fake_slack: FakeSlackAPI
) -> None:
    """A submission is claimed by the work after its answer; a copy that comes once it is
    taken, on whichever replica, is found by a read before its answer and answered empty
    (the modal closes) instead of with a "checking" view no work would ever replace."""
    first, second = two_apps(start_bot, core)
    form = open_form(first, fake_slack)
    trigger = first.new_trigger_id()
    values = state(omi=OMI_1, release_note="x")
    before = len(fake_slack.calls_to("views.update"))
    answer = first.view_submission(
        _form_view(form), user_id=SELLER_USER, state_values=values, trigger_id=trigger
    )
    assert answer.json()["response_action"] == "update"
    assert "sent to the release managers" in texts(next_update(fake_slack, before))
    again = second.view_submission(
        _form_view(form), user_id=SELLER_USER, state_values=values, trigger_id=trigger, retry_num=1
    )
    assert again.status_code == 200 and again.text == ""
    time.sleep(0.5)  # the copy's work, had it run, would have asked a second time by now
    assert len(services.requests_of(core, SELLER_USER)) == 1


def test_a_form_is_answered_before_its_delivery_is_claimed(
    slack: SlackClient, core: Core, fake_slack: FakeSlackAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer of a Version form reads only; its claim, a write, waits for nothing of it."""
    form = open_form(slack, fake_slack)
    release = threading.Event()
    claims: list[str] = []
    real = deliveries.first_delivery

    def held(*args: Any) -> bool:
        release.wait(10)
        claims.append("claimed")
        return real(*args)

    monkeypatch.setattr(deliveries, "first_delivery", held)
    before = len(fake_slack.calls_to("views.update"))
    answer = submit(slack, form, omi=OMI_1, release_note="x")
    assert answer is not None and answer["response_action"] == "update"
    assert claims == [] and services.requests_of(core, SELLER_USER) == []
    release.set()
    assert "sent to the release managers" in texts(next_update(fake_slack, before))
    assert claims == ["claimed"] and len(services.requests_of(core, SELLER_USER)) == 1


def test_a_form_whose_delivery_cannot_be_claimed_says_try_again_and_asks_nothing(
    slack: SlackClient, core: Core, fake_slack: FakeSlackAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    form = open_form(slack, fake_slack)

    monkeypatch.setattr(deliveries, "first_delivery", unavailable)
    _, shown = submit_then(slack, fake_slack, form, SELLER_USER, omi=OMI_1, release_note="x")
    assert "Try again in a minute" in texts(shown)
    time.sleep(0.3)
    assert services.requests_of(core, SELLER_USER) == []
    assert approval_posts(fake_slack) == []


def test_an_unpublish_date_form_claims_before_it_writes(
    start_bot: StartBot, core: Core, product: str, fake_slack: FakeSlackAPI, drain: Any
) -> None:
    """The date form writes its request before its answer: it claims its delivery first, so a
    copy on another replica (a lost answer, delivered again) writes no second request."""
    first, second = two_apps(start_bot, core)
    for omi in (OMI_1, OMI_2):
        services.publish(core, product, VersionForm(omi=omi, release_note=omi), requested_by="ops")
    drain()
    form = open_form(first, fake_slack, "unpublish-product 0001", user="URM1")
    trigger = first.new_trigger_id()
    for client, retry in ((first, None), (second, 1)):
        answer = client.view_submission(
            _form_view(form),
            user_id="URM1",
            state_values=when_state(now=True),
            trigger_id=trigger,
            retry_num=retry,
        )
        assert answer.status_code == 200
        if retry is None:
            assert sent(answer.json())
        else:
            assert answer.text == ""
    assert len(services.requests_of(core, "URM1")) == 1

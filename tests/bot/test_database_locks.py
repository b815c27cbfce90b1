"""A Slack request whose statement waits on a lock held elsewhere (a session left open in a
transaction) past the lock timeout is answered as during an outage, through the real HTTP
endpoint: the user is told that nothing was done and to try again, in time, never a traceback;
once the lock is gone the same request passes."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import pytest

from commands import services
from commands.bootstrap import Core
from commands.config import Settings
from commands.model import RequestState
from tests.conftest import TEST_DATABASE_URL
from tests.locks import delivery_being_taken, row_locked
from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import SlackClient

from .flows import SLACK_DEADLINE, approve, request_publication, texts

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL, reason="the lock timeout is PostgreSQL's")

# Small, so that the test waits little; the default (2 s) is under Slack's 3 s too.
LOCK_TIMEOUT = 0.5


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, lock_timeout_seconds=LOCK_TIMEOUT)


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info]


def test_a_command_blocked_on_a_lock_is_told_to_try_again_in_time(
    slack: SlackClient, core: Core, fake_slack: FakeSlackAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """Another replica's claim of the same delivery stays uncommitted (its connection froze):
    the command is acknowledged at once, its claim after the answer waits on the other, and the
    lock timeout ends the wait within seconds: the person is told to try again."""
    fake_slack.set_user("UFR", locale="fr-FR")
    trigger = slack.new_trigger_id()
    with delivery_being_taken(core.settings.database_url, "T1", trigger):
        started = time.monotonic()
        answer = slack.slash_command("publish 0001", user_id="UFR", trigger_id=trigger)
        assert answer.status_code == 200 and answer.text == ""
        assert time.monotonic() - started < SLACK_DEADLINE
        (told,) = fake_slack.wait_for("response_url", timeout=10)
        took = time.monotonic() - started
    assert told.params["response_type"] == "ephemeral"
    assert "Réessayez dans une minute" in told.params["text"]
    assert LOCK_TIMEOUT <= took < SLACK_DEADLINE
    assert fake_slack.calls_to("views.open") == []  # nothing was done
    assert _tracebacks(caplog) == []
    # The lock gone, a new command works.
    assert slack.slash_command("publish 0001", user_id="UFR").status_code == 200
    fake_slack.wait_for("views.open")


def test_an_approval_blocked_on_a_lock_is_told_to_try_again(
    slack: SlackClient, core: Core, fake_slack: FakeSlackAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """Proceed waits on the product's row (R7's lock) held elsewhere: the modal says to try
    again instead of "failed", the request still waits, and approving again passes."""
    request_id = request_publication(slack, fake_slack)
    caplog.set_level(logging.WARNING, logger="bot.listeners")
    with row_locked(core.settings.database_url, "products", "code = '0001'"):
        _, outcome = approve(slack, fake_slack, request_id)
    assert "Try again in a minute" in texts(outcome), outcome
    assert _tracebacks(caplog) == []
    assert any(
        "approval failed: the database is unavailable (lock timeout)" in r.getMessage()
        for r in caplog.records
    ), caplog.text
    assert services.get_request(core, request_id).state is RequestState.PENDING

    _, outcome = approve(slack, fake_slack, request_id)
    assert "is approved" in texts(outcome), outcome

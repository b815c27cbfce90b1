"""Leases of the outbox are fenced: a worker that stalled past its lease never sends a mail nor
posts a message that another worker has taken over, even when the notice has been retried since
and its attempt count has come back to the stalled worker's."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from commands.bootstrap import Core
from commands.model import OutboxItem, OutboxState
from commands.notifications.outbox import retry_mail, send_due_mail
from commands.notifications.slack import Pacer, deliver_slack, slack_client
from tests.notifications.smtp_server import SmtpTestServer
from tests.slackfake import FakeSlackAPI

from .conftest import BOT_TOKEN, outbox, set_clock


def take_over(core: Core, channel: str, worker: str) -> list[OutboxItem]:
    with core.uow() as uow:
        taken = uow.outbox.claim(channel, worker, core.clock(), timedelta(hours=1), 100)
        uow.commit()
    return taken


def fail_and_retry(core: Core, items: list[OutboxItem]) -> None:
    """Another worker's claims end failed, and an operator puts them back: each mail's attempt
    count starts again from zero."""
    with core.uow() as uow:
        for item in items:
            assert uow.outbox.settle(item, state=OutboxState.FAILED, lease_until=None)
        uow.commit()
    for item in items:
        retry_mail(core, item.id, at=core.clock())


def test_a_stalled_sender_sends_nothing_claimed_again_after_a_retry(
    smtp_core: Core, published: str, smtp_server: SmtpTestServer
) -> None:
    clock = set_clock(smtp_core)

    def stall(item: OutboxItem, state: OutboxState | None) -> None:
        if len(smtp_server.messages) != 1:
            return
        # w1 stalls past its lease. w2 takes the three other mails, they fail, an operator
        # retries them, and w3 claims them: each is `sending` at attempt 1 again, as when w1
        # claimed it, but under w3's claim.
        clock.advance(seconds=smtp_core.settings.job_lease_seconds * 2)
        fail_and_retry(smtp_core, take_over(smtp_core, "email", "w2"))
        assert [i.attempts for i in take_over(smtp_core, "email", "w3")] == [1, 1, 1]

    # Each outcome committed on its own: the stall comes right after the first mail.
    report = send_due_mail(smtp_core, "w1", record_every=1, after_each=stall)
    assert (report.sent, report.lost) == (1, 3)
    assert len(smtp_server.messages) == 1
    held = [i for i in outbox(smtp_core, "email") if i.state is OutboxState.SENDING]
    assert {(i.worker, i.attempts) for i in held} == {("w3", 1)} and len(held) == 3


def test_a_stalled_slack_deliverer_posts_nothing_another_has_taken_over(
    core: Core, published: str, fake_slack: FakeSlackAPI
) -> None:
    clock = set_clock(core)
    posted: list[str] = []

    def post(params: dict[str, Any]) -> dict[str, Any]:
        posted.append(str(params["channel"]))
        if len(posted) == 1:
            # The first post takes longer than the lease: w2 claims both announcements
            # meanwhile. That first one may be posted twice (Slack has no idempotency key, as
            # slack.py says); the second must be posted by w2 only.
            clock.advance(seconds=core.settings.job_lease_seconds * 2)
            assert len(take_over(core, "slack", "w2")) == 2
        return {"ok": True, "channel": params["channel"], "ts": f"{len(posted)}.000"}

    fake_slack.set_response("chat.postMessage", post)
    client = slack_client(BOT_TOKEN, fake_slack.url)
    deliver_slack(core, "w1", client, pacer=Pacer())
    assert len(posted) == 1
    states = Counter((i.state, i.worker) for i in outbox(core, "slack"))
    assert states == {(OutboxState.SENDING, "w2"): 2}


def test_an_outcome_is_written_only_under_the_claim_that_sent(core: Core, published: str) -> None:
    first = take_over(core, "email", "w1")
    set_clock(core).advance(hours=2)
    second = take_over(core, "email", "w2")
    assert [i.id for i in first] == [i.id for i in second]
    with core.uow() as uow:
        # w1's renewal and outcome are refused; w2's go through.
        assert uow.outbox.renew(first, core.clock() + timedelta(minutes=5)) == set()
        assert not uow.outbox.settle(first[0], state=OutboxState.SENT)
        assert uow.outbox.renew(second, core.clock()) == {i.id for i in second}
        assert uow.outbox.settle(second[0], state=OutboxState.SENT)
        uow.commit()

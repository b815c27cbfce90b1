"""The Slack deliverer against the fake Slack Web API over HTTP, with the real database."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from commands.bootstrap import Core
from commands.model import OutboxItem, OutboxState
from commands.notifications import managers
from commands.notifications.announcements import render_announcement
from commands.notifications.slack import (
    Pacer,
    deliver_slack,
    slack_client,
    slack_deliverer_from_env,
)
from tests.bot.conftest import BOT_TOKEN
from tests.slackfake import FakeSlackAPI, iter_blocks

WORKER = "test-worker"


def published_facts(version: str = "1.26") -> dict[str, Any]:
    return {
        "event": "version_published",
        "product_code": "0001",
        "product_name": "Nginx on Debian",
        "versions": [
            {
                "id": "ver-0123456789",
                "software_version": version,
                "release_note": "Fixes CVE-2024-1 <script>",
                "omi_copy_id": "ami-c0c0c0c0",
                "operating_system": "Debian 12",
            }
        ],
        "last_available": {"id": "ver-0123456789", "software_version": version},
        "date": "2026-11-01T10:00:00+00:00",
    }


def queue(
    core: Core,
    recipient: str,
    *,
    event: str = "version_published",
    language: str = "en",
    payload: dict[str, Any] | None = None,
    key: str | None = None,
) -> int:
    with core.uow() as uow:
        item = OutboxItem(
            channel="slack",
            key=key or f"{event}:{recipient}:{time.monotonic_ns()}",
            event=event,
            product_code="0001",
            recipient=recipient,
            language=language,
            payload=payload if payload is not None else published_facts(),
            at=core.clock(),
        )
        assert uow.outbox.add(item)
        uow.commit()
        return item.id


def item(core: Core, item_id: int) -> OutboxItem:
    with core.uow() as uow:
        found = uow.outbox.get(item_id)
        assert found is not None
        return found


def posts(fake: FakeSlackAPI, channel: str | None = None) -> list[Any]:
    return [
        c
        for c in fake.calls_to("chat.postMessage")
        if channel is None or c.params.get("channel") == channel
    ]


def text_of(call: Any) -> str:
    parts: list[str] = [str(call.params.get("text", ""))]
    for block in iter_blocks(call):
        for key in ("text",):
            value = block.get(key)
            if isinstance(value, dict):
                parts.append(str(value.get("text", "")))
        for field in block.get("fields") or []:
            parts.append(str(field.get("text", "")))
        for element in block.get("elements") or []:
            if isinstance(element, dict) and "text" in element:
                parts.append(str(element["text"]))
    return "\n".join(parts)


@pytest.fixture
def client(fake_slack: FakeSlackAPI) -> Any:
    return slack_client(BOT_TOKEN, fake_slack.url)


def test_announcement_in_french_for_a_french_item(
    core: Core, fake_slack: FakeSlackAPI, client: Any
) -> None:
    fr = queue(core, "CACME", language="fr")
    en = queue(core, "CGLOBEX", language="en")

    assert deliver_slack(core, WORKER, client, pacer=Pacer()) == 2

    (acme,) = posts(fake_slack, "CACME")
    said = text_of(acme)
    assert "La version 1.26 de Nginx on Debian (code produit 0001) est publiée." in said
    assert "Nous vous recommandons de mettre à niveau" in said
    assert "ami-c0c0c0c0" in said
    assert "1er novembre 2026" in said
    # Seller input is escaped so it cannot become markup, a mention or a link.
    assert "&lt;script&gt;" in said and "<script>" not in said
    (globex,) = posts(fake_slack, "CGLOBEX")
    assert "Version 1.26 of Nginx on Debian (product code 0001) is published." in text_of(globex)
    assert "We advise you to upgrade" in text_of(globex)
    assert globex.params["blocks"][0]["type"] == "header"
    for done in (fr, en):
        sent = item(core, done)
        assert sent.state is OutboxState.SENT and sent.sent_at is not None


def test_unpublish_texts_say_the_copy_is_deleted_and_what_is_left() -> None:
    facts = {
        **published_facts(),
        "event": "version_unpublished",
        "last_available": {"id": "ver-aaaaaaaaaa", "software_version": "1.25"},
    }
    en = render_announcement(facts, "en")
    body = str(en.blocks)
    assert en.text == "Version 1.26 of Nginx on Debian (product code 0001) is unpublished."
    assert "VMs already running keep running" in body and "*1.25*" in body
    fr = render_announcement(
        {**facts, "event": "product_unpublished", "last_available": None}, "fr-FR"
    )
    assert fr.text == "Nginx on Debian (code produit 0001) est dépublié."
    assert "Les VM déjà lancées continuent de fonctionner" in str(fr.blocks)
    assert "Plus aucune version de Nginx on Debian n'est disponible." in str(fr.blocks)


def test_scheduled_unpublication_announcements_say_the_date_and_the_replacement() -> None:
    facts = {
        **published_facts(),
        "event": "unpublication_scheduled",
        "last_available": {"id": "ver-bbbbbbbbbb", "software_version": "1.27"},
        "unpublish_on": "2027-01-04T00:00:00+00:00",
        "whole_product": False,
        "days_left": None,
    }
    en = render_announcement(facts, "en")
    body = str(en.blocks)
    assert en.text == "Nginx on Debian (product code 0001): unpublication on 4 January 2027."
    assert "will be unpublished on *4 January 2027*" in body
    assert "VMs already running keep running" in body
    assert "replaced by the last available version, *1.27*" in body
    reminder = render_announcement(
        {**facts, "event": "unpublication_reminder", "days_left": 1}, "fr"
    )
    assert "Rappel : plus que 1 jour(s)." in str(reminder.blocks)
    assert "sera dépubliée le *4 janvier 2027*" in str(reminder.blocks)
    cancelled = render_announcement(
        {**facts, "event": "unpublication_cancelled", "whole_product": True}, "en"
    )
    assert "announced for 4 January 2027 is cancelled: its versions stay published" in str(
        cancelled.blocks
    )


def test_messages_to_release_managers_are_posted_as_written(
    core: Core, product: str, fake_slack: FakeSlackAPI, client: Any
) -> None:
    with core.uow() as uow:
        found = uow.products.get(product)
        assert found is not None
        managers.blocked_by_r7(uow, found, 7, "ver-0123456789", "2027-01-04", core.clock(), "fr")
        uow.commit()
    assert deliver_slack(core, WORKER, client, pacer=Pacer()) == 1
    (post,) = posts(fake_slack, "CREL")
    assert "seule version publiée restante (R7)" in post.params["text"]
    (button,) = next(b for b in post.params["blocks"] if b["type"] == "actions")["elements"]
    assert button["action_id"] == managers.CANCEL_SCHEDULE_ACTION and button["value"] == "7"
    assert button["confirm"]["confirm"]["text"] == "L'annuler"


def test_at_most_one_post_per_second_per_channel_without_holding_other_channels(
    core: Core, fake_slack: FakeSlackAPI, client: Any
) -> None:
    first = queue(core, "CBUSY")
    second = queue(core, "CBUSY", payload=published_facts("1.27"))
    other = queue(core, "CQUIET")
    pacer = Pacer()

    assert deliver_slack(core, WORKER, client, pacer=pacer) == 2
    assert [c.params["channel"] for c in posts(fake_slack)] == ["CBUSY", "CQUIET"]
    assert item(core, first).state is OutboxState.SENT
    assert item(core, other).state is OutboxState.SENT
    waiting = item(core, second)
    # Put back for a second later, not counted as an attempt, not lost.
    assert waiting.state is OutboxState.PENDING and waiting.attempts == 0
    assert waiting.next_attempt_at > core.clock() + timedelta(seconds=0.5)

    deadline = time.monotonic() + 5
    while item(core, second).state is not OutboxState.SENT:
        assert time.monotonic() < deadline, "the paced item was never posted"
        deliver_slack(core, WORKER, client, pacer=pacer)
        time.sleep(0.05)
    busy = posts(fake_slack, "CBUSY")
    assert len(busy) == 2
    assert busy[1].at - busy[0].at >= 0.95


def test_429_retry_after_is_obeyed_and_the_item_posted_once_later(
    core: Core, fake_slack: FakeSlackAPI, client: Any
) -> None:
    fake_slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    notice = queue(core, "CACME")
    pacer = Pacer()

    started = time.monotonic()
    assert deliver_slack(core, WORKER, client, pacer=pacer) == 0
    assert time.monotonic() - started < 0.9, "the worker must not sleep on a 429"
    held = item(core, notice)
    assert held.state is OutboxState.PENDING
    assert held.attempts == 0  # a 429 is not a failed attempt
    assert held.next_attempt_at >= core.clock() + timedelta(seconds=0.5)

    assert deliver_slack(core, WORKER, client, pacer=pacer) == 0  # not due yet
    assert len(fake_slack.calls_to("chat.postMessage")) == 1

    time.sleep(1.05)
    assert deliver_slack(core, WORKER, client, pacer=pacer) == 1
    calls = fake_slack.calls_to("chat.postMessage")
    assert len(calls) == 2  # the refused one, then the one that landed
    assert calls[1].at - calls[0].at >= 0.95
    assert item(core, notice).state is OutboxState.SENT


def test_channel_not_found_fails_the_item_with_slacks_error(
    core: Core, fake_slack: FakeSlackAPI, client: Any
) -> None:
    fake_slack.fail("chat.postMessage", "channel_not_found")
    notice = queue(core, "CGONE")

    assert deliver_slack(core, WORKER, client, pacer=Pacer()) == 1
    failed = item(core, notice)
    assert failed.state is OutboxState.FAILED
    assert failed.last_error == "channel_not_found"
    assert deliver_slack(core, WORKER, client, pacer=Pacer()) == 0
    assert len(posts(fake_slack)) == 1


def test_transient_errors_are_retried_with_backoff(
    core: Core, fake_slack: FakeSlackAPI, client: Any
) -> None:
    fake_slack.fail("chat.postMessage", "internal_error")
    notice = queue(core, "CACME")

    deliver_slack(core, WORKER, client, pacer=Pacer())
    retrying = item(core, notice)
    assert retrying.state is OutboxState.PENDING
    assert retrying.attempts == 1 and retrying.last_error == "internal_error"

    deadline = time.monotonic() + 5
    while item(core, notice).state is not OutboxState.SENT:
        assert time.monotonic() < deadline
        deliver_slack(core, WORKER, client, pacer=Pacer())
        time.sleep(0.02)
    assert len(posts(fake_slack)) == 2


def test_progress_goes_to_the_thread_and_to_the_requester(
    core: Core, fake_slack: FakeSlackAPI, client: Any
) -> None:
    notice = queue(
        core,
        "CREL",
        event="progress_published",
        payload={"text": "Published", "thread_ts": "1700000000.000100", "notify_user": "UREQ"},
    )

    assert deliver_slack(core, WORKER, client, pacer=Pacer()) == 1
    thread, dm = posts(fake_slack)
    assert thread.params["channel"] == "CREL"
    assert thread.params["thread_ts"] == "1700000000.000100"
    (opened,) = fake_slack.calls_to("conversations.open")
    assert opened.params["users"] == "UREQ"
    assert dm.params["channel"] == "DUREQ" and dm.params["text"] == "Published"
    assert item(core, notice).state is OutboxState.SENT


def test_a_failed_dm_never_reposts_the_thread_message(
    core: Core, fake_slack: FakeSlackAPI, client: Any
) -> None:
    fake_slack.fail("conversations.open", "internal_error")
    notice = queue(
        core,
        "CREL",
        event="progress_failed",
        payload={"text": "Failed", "thread_ts": "1700000000.000100", "notify_user": "UREQ"},
    )
    deadline = time.monotonic() + 5
    while item(core, notice).state is not OutboxState.SENT:
        assert time.monotonic() < deadline
        deliver_slack(core, WORKER, client, pacer=Pacer())
        time.sleep(0.02)
    assert [c.params["channel"] for c in posts(fake_slack)] == ["CREL", "DUREQ"]


def test_two_workers_at_once_post_each_notice_exactly_once(
    core: Core, fake_slack: FakeSlackAPI, client: Any
) -> None:
    channels = [f"C{n:03d}" for n in range(12)]
    ids = [queue(core, channel) for channel in channels]
    fake_slack.delay("chat.postMessage", 0.01)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        # Each thread plays a separate process: its own pacing, its own worker name.
        pacer = Pacer()
        own = slack_client(BOT_TOKEN, fake_slack.url)
        try:
            start.wait()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with core.uow() as uow:
                    if uow.outbox.unfinished() == 0:
                        return
                deliver_slack(core, name, own, batch=3, pacer=pacer)
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert not errors, [repr(e) for e in errors]
    per_channel = {c: len(posts(fake_slack, c)) for c in channels}
    assert per_channel == dict.fromkeys(channels, 1)
    assert all(item(core, i).state is OutboxState.SENT for i in ids)


def test_the_deliverer_runs_only_with_a_bot_token(core: Core, fake_slack: FakeSlackAPI) -> None:
    assert slack_deliverer_from_env(core, WORKER, {}) == []
    (deliver,) = slack_deliverer_from_env(
        core, WORKER, {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": fake_slack.url.rstrip("/")}
    )
    queue(core, "CACME")
    assert deliver() == 1
    assert len(posts(fake_slack, "CACME")) == 1

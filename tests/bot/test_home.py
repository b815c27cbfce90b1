"""App Home: a signed app_home_opened event through the real endpoint publishes the view."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import pytest

from bot.runtime import install
from commands import services
from commands.bootstrap import Core
from commands.model import Request, RequestKind, RequestState, Unpublication, VersionForm
from tests.bot.conftest import StartBot
from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import SlackClient


def add_request(
    core: Core, kind: RequestKind, by: str, *, state: RequestState = RequestState.PENDING
) -> int:
    with core.uow() as uow:
        request = Request(
            kind=kind,
            product_code="0001",
            requested_by=by,
            at=core.clock(),
            form=VersionForm(software_version="1.27", release_note="New")
            if kind is RequestKind.PUBLISH
            else None,
        )
        uow.requests.add(request)
        if state is not RequestState.PENDING:
            request.decide(state, "URM2", core.clock(), "Not <this> week")
        uow.commit()
        return request.id


@pytest.fixture
def home(core: Core, product: str, start_bot: StartBot) -> SlackClient:
    _, client = start_bot(lambda app: install(app, core))
    return client


def open_home(client: SlackClient, fake: FakeSlackAPI, user: str) -> dict[str, Any]:
    before = len(fake.calls_to("views.publish"))
    answer = client.event({"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"})
    assert answer.status_code == 200
    call = fake.wait_for("views.publish", before + 1)[-1]
    assert call.params["user_id"] == user
    view = call.params["view"]
    assert view["type"] == "home"
    return view


def section(view: dict[str, Any], header_id: str) -> str:
    """The text of the blocks under the header `header_id`, up to the next divider."""
    texts: list[str] = []
    inside = False
    for block in view["blocks"]:
        if block.get("block_id") == header_id:
            inside = True
            continue
        if inside and block["type"] in ("divider", "header"):
            break
        if inside:
            texts.append(str((block.get("text") or {}).get("text", "")))
            texts += [str(e.get("text", "")) for e in block.get("elements") or []]
    assert inside, f"no {header_id} section"
    return "\n".join(texts)


def test_home_shows_products_requests_to_approve_and_my_requests(
    core: Core, home: SlackClient, fake_slack: FakeSlackAPI
) -> None:
    services.save_product(
        core,
        code="0002",
        name="Redis & co",
        seller_account_id="111111111111",
        pricing="free",
        release_managers=["UOTHER"],
    )
    publish = add_request(core, RequestKind.PUBLISH, "UDEV")
    unpublish = add_request(core, RequestKind.UNPUBLISH_PRODUCT, "URM2")
    own = add_request(core, RequestKind.PUBLISH, "URM1")
    mine_rejected = add_request(core, RequestKind.PUBLISH, "URM1", state=RequestState.REJECTED)

    view = open_home(home, fake_slack, "URM1")

    products = section(view, "products")
    assert "*Nginx on Debian* · product code `0001`" in products
    assert "Last available version: none" in products
    assert "Redis &amp; co" in products and "`0002`" in products
    awaiting = section(view, "awaiting")
    assert f"#{publish} " in awaiting and f"#{unpublish} " in awaiting
    assert f"#{own} " not in awaiting  # never one's own request
    assert "· 1.27" in awaiting and "asked by <@UDEV>" in awaiting
    mine = section(view, "mine")
    assert f"#{own} " in mine and "waiting for approval" in mine
    assert f"#{mine_rejected} " in mine
    assert "rejected by <@URM2>: Not &lt;this&gt; week" in mine
    assert f"#{publish} " not in mine


def test_group_members_see_requests_to_approve_others_do_not(
    core: Core, home: SlackClient, fake_slack: FakeSlackAPI
) -> None:
    fake_slack.set_usergroup("SRM", ["UGRP"])
    request = add_request(core, RequestKind.PUBLISH, "UDEV")

    assert f"#{request} " in section(open_home(home, fake_slack, "UGRP"), "awaiting")
    (asked,) = fake_slack.calls_to("usergroups.users.list")
    assert asked.params["usergroup"] == "SRM"

    stranger = open_home(home, fake_slack, "UNOBODY")
    assert "No request is waiting for your approval." in section(stranger, "awaiting")
    assert "You have not asked for anything yet." in section(stranger, "mine")
    requester = open_home(home, fake_slack, "UDEV")
    assert f"#{request} " in section(requester, "mine")


def test_home_in_french_for_a_french_locale(
    core: Core, home: SlackClient, fake_slack: FakeSlackAPI
) -> None:
    fake_slack.set_user("URM1", locale="fr-FR")
    add_request(core, RequestKind.UNPUBLISH_PRODUCT, "UDEV")

    view = open_home(home, fake_slack, "URM1")

    headers = [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]
    assert headers == ["Produits", "En attente de mon approbation", "Mes demandes récentes"]
    assert "code produit `0001`" in section(view, "products")
    assert "Dépublier tout le produit *Nginx on Debian*" in section(view, "awaiting")
    (info,) = fake_slack.calls_to("users.info")
    assert info.params["user"] == "URM1"


def test_messages_tab_publishes_nothing(home: SlackClient, fake_slack: FakeSlackAPI) -> None:
    answer = home.event({"type": "app_home_opened", "user": "URM1", "tab": "messages"})
    assert answer.status_code == 200
    home.event({"type": "app_home_opened", "user": "URM1", "tab": "home"})
    fake_slack.wait_for("views.publish")
    time.sleep(0.2)  # the messages tab event was acknowledged first; give it time to misbehave
    assert len(fake_slack.calls_to("views.publish")) == 1


def test_home_shows_each_products_scheduled_unpublications(
    core: Core, home: SlackClient, fake_slack: FakeSlackAPI
) -> None:
    with core.uow() as uow:
        for version_id, day, blocked in (
            ("ver-00000000aa", date(2027, 1, 15), False),
            ("ver-00000000bb", date(2027, 2, 1), True),
        ):
            schedule = Unpublication(
                product_code="0001",
                version_id=version_id,
                unpublish_on=day,
                reminder_days=(7, 1),
                scheduled_by="URM1",
                at=core.clock(),
            )
            if blocked:
                schedule.blocked("R7")
            uow.schedules.add(schedule)
        uow.commit()

    products = section(open_home(home, fake_slack, "URM1"), "products")
    assert ":calendar: version `ver-00000000aa`: unpublish on 2027-01-15" in products
    assert ":warning: version `ver-00000000bb`: blocked by R7" in products
    fake_slack.set_user("UFR", locale="fr-FR")
    french = section(open_home(home, fake_slack, "UFR"), "products")
    assert "version `ver-00000000aa` : dépublication le 2027-01-15" in french

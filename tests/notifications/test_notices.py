"""The notices of R4, R8, R9, R10 end to end: the operation writes them to the outbox in its own
transaction, the worker runs the cloud jobs (sandbox over HTTP), deliver_mail sends them to a
real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC

import pytest

from commands import notices, services
from commands.bootstrap import Core
from commands.errors import RuleBroken
from commands.model import Organization, OutboxItem, OutboxState, Subscriber, VersionForm
from commands.notifications.outbox import deliver_mail, message_id
from commands.sandbox import SandboxServer
from tests.conftest import OMI_1, OMI_2, OPERATOR, SELLER, SUB_A, SUB_B, SUB_C
from tests.notifications.smtp_server import ReceivedMail, SmtpTestServer

Drain = Callable[..., None]

ACME = ["ops@acme.example", "admin@acme.example"]  # fr
GLOBEX = ["cloud@globex.example", "it@globex.example"]  # en


@pytest.fixture
def smtp_core(core: Core, smtp_server: SmtpTestServer) -> Iterator[Core]:
    yield replace(core, settings=replace(core.settings, smtp_url=smtp_server.url))


def publish(core: Core, omi: str, note: str, software_version: str) -> str:
    form = VersionForm(omi=omi, release_note=note, software_version=software_version)
    return services.publish(core, "0001", form, requested_by="U1").id


def deliver_all(core: Core) -> int:
    handled = 0
    while n := deliver_mail(core, "test-worker"):
        handled += n
    return handled


def by_recipient(mails: list[ReceivedMail]) -> dict[str, ReceivedMail]:
    counts = Counter(r for m in mails for r in m.rcpt_tos)
    assert all(n == 1 for n in counts.values()), f"a recipient got several mails: {counts}"
    return {m.rcpt_tos[0]: m for m in mails}


def text(mail: ReceivedMail) -> str:
    body = mail.message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def html(mail: ReceivedMail) -> str:
    body = mail.message.get_body(("html",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def outbox(core: Core, channel: str | None = None) -> list[OutboxItem]:
    with core.uow() as uow:
        return uow.outbox.list(channel=channel, limit=10_000)


def test_publication_mails_each_contact_and_admin_once_in_their_language(
    smtp_core: Core, subscribers: list[str], drain: Drain, smtp_server: SmtpTestServer
) -> None:
    # Acme's contact is also one of its administrators, written in another case: one mail.
    services.save_organization(
        smtp_core,
        name="Acme",
        language="fr",
        admin_emails=["admin@acme.example", "OPS@Acme.example"],
    )
    vid = publish(smtp_core, OMI_1, "Fixes CVE-2026-0001.\nFaster start.", "1.24")
    assert outbox(smtp_core) == []  # nothing is announced before the copy is published
    drain()
    assert deliver_all(smtp_core) == 4

    mails = by_recipient(smtp_server.messages)
    assert sorted(mails) == sorted(ACME + GLOBEX)
    version = services.show_version(smtp_core, vid).version
    for address in ACME + GLOBEX:
        mail = mails[address]
        body = text(mail)
        for fact in ("Nginx on Debian", "0001", "1.24", vid, str(version.copy_id)):
            assert fact in body
            assert fact in html(mail)
        assert "Fixes CVE-2026-0001." in body and "Faster start." in body
        assert "Fixes CVE-2026-0001." in html(mail)
        assert mail.message["From"] == smtp_core.settings.mail_from
        assert mail.message["To"] == address
        assert mail.message["Date"]
    for address in ACME:
        assert mails[address].message["Content-Language"] == "fr"
        assert "publiée" in mails[address].message["Subject"]
        assert "Nous vous recommandons de mettre à niveau" in text(mails[address])
    for address in GLOBEX:
        assert mails[address].message["Content-Language"] == "en"
        assert "published" in mails[address].message["Subject"]
        assert "We advise you to upgrade" in text(mails[address])

    stored = {i.recipient.lower(): i for i in outbox(smtp_core, "email")}
    assert set(stored) == set(ACME + GLOBEX)
    for address, item in stored.items():
        assert item.state is OutboxState.SENT and item.sent_at is not None
        assert item.version_id == vid
        assert mails[address].message["Message-ID"].strip() == message_id(
            item, smtp_core.settings.mail_from
        )
    # versions show counts them (R4 is visible to the operator)
    assert services.show_version(smtp_core, vid).mails == {"sent": 4}


def test_only_the_products_subscribers_are_told(
    smtp_core: Core, subscribers: list[str], drain: Drain, smtp_server: SmtpTestServer
) -> None:
    services.save_product(
        smtp_core, code="0002", name="PostgreSQL", seller_account_id=SELLER, pricing="free"
    )
    services.save_organization(
        smtp_core, name="Initech", language="en", admin_emails=["boss@initech.example"]
    )
    services.save_subscriber(
        smtp_core, account_id=SUB_C, organization="Initech", email="dev@initech.example"
    )
    services.subscribe(smtp_core, SUB_C, "0002")
    publish(smtp_core, OMI_1, "note", "1.24")
    drain()
    deliver_all(smtp_core)
    assert sorted(by_recipient(smtp_server.messages)) == sorted(ACME + GLOBEX)


def test_unpublish_mail_says_running_vms_keep_running_and_names_the_last_available_version(
    smtp_core: Core, subscribers: list[str], drain: Drain, smtp_server: SmtpTestServer
) -> None:
    old = publish(smtp_core, OMI_1, "first", "1.24")
    drain()
    new = publish(smtp_core, OMI_2, "second", "1.26")
    drain()
    deliver_all(smtp_core)
    before = len(smtp_server.messages)
    copy_id = services.show_version(smtp_core, old).version.copy_id

    services.unpublish(smtp_core, old, by=OPERATOR)
    drain()
    assert deliver_all(smtp_core) == 4
    mails = by_recipient(smtp_server.messages[before:])
    assert sorted(mails) == sorted(ACME + GLOBEX)
    for address in GLOBEX:
        body = text(mails[address])
        assert "unpublished" in mails[address].message["Subject"]
        assert old in body and str(copy_id) in body
        assert "has been deleted" in body
        assert "VMs already launched from it keep running" in body
        assert (
            f"The last available version of Nginx on Debian is now 1.26 (version ID {new}" in body
        )
    for address in ACME:
        body = text(mails[address])
        assert "continuent de fonctionner" in body
        assert f"est désormais la version 1.26 (ID de la version : {new}" in body
    # its publication's 4 and its unpublication's 4
    assert services.show_version(smtp_core, old).mails == {"sent": 8}


def test_product_unpublish_is_one_mail_per_recipient_listing_every_version(
    smtp_core: Core, subscribers: list[str], drain: Drain, smtp_server: SmtpTestServer
) -> None:
    first = publish(smtp_core, OMI_1, "first", "1.24")
    drain()
    second = publish(smtp_core, OMI_2, "second", "1.26")
    drain()
    deliver_all(smtp_core)
    before = len(smtp_server.messages)

    services.unpublish_product(smtp_core, "0001", by=OPERATOR)
    drain()
    assert deliver_all(smtp_core) == 4  # not one per version
    mails = by_recipient(smtp_server.messages[before:])
    assert sorted(mails) == sorted(ACME + GLOBEX)
    for address in GLOBEX:
        body = text(mails[address])
        assert first in body and second in body
        assert "1.24" in body and "1.26" in body
        assert "keep running" in body
        assert "No version of Nginx on Debian remains available." in body
    for address in ACME:
        body = text(mails[address])
        assert first in body and second in body
        assert "Plus aucune version du produit Nginx on Debian n'est disponible." in body
    items = [i for i in outbox(smtp_core, "email") if i.event == "product_unpublished"]
    assert len(items) == 4
    assert all(sorted(i.payload["version_ids"]) == sorted([first, second]) for i in items)


def test_modifying_a_version_sends_nothing(
    smtp_core: Core, subscribers: list[str], drain: Drain, smtp_server: SmtpTestServer
) -> None:
    vid = publish(smtp_core, OMI_1, "first", "1.24")
    drain()
    deliver_all(smtp_core)
    rows = len(outbox(smtp_core))
    sent = len(smtp_server.messages)
    _, changed = services.modify(
        smtp_core,
        vid,
        VersionForm(release_note="better words", software_version="1.24.1"),
        by=OPERATOR,
    )
    assert changed  # the modification happened (R6)...
    drain()
    assert len(outbox(smtp_core)) == rows  # ...and queued no notice
    assert deliver_all(smtp_core) == 0
    assert len(smtp_server.messages) == sent


def test_a_refused_operation_queues_no_notice(
    smtp_core: Core, subscribers: list[str], drain: Drain
) -> None:
    vid = publish(smtp_core, OMI_1, "only", "1.24")
    drain()
    rows = len(outbox(smtp_core))
    with pytest.raises(RuleBroken):
        services.unpublish(smtp_core, vid, by=OPERATOR)  # R7: the only published version
    assert len(outbox(smtp_core)) == rows


def test_a_failed_publication_announces_nothing(
    smtp_core: Core, subscribers: list[str], drain: Drain, sandbox: SandboxServer
) -> None:
    sandbox.sandbox.fail_copies(True)
    publish(smtp_core, OMI_1, "note", "1.24")
    drain()
    assert [i for i in outbox(smtp_core) if i.event.startswith("version")] == []


def test_a_notice_written_twice_is_queued_once(
    core: Core, subscribers: list[str], drain: Drain
) -> None:
    vid = publish(core, OMI_1, "note", "1.24")
    drain()
    first = {i.key for i in outbox(core)}
    assert len([k for k in first if k.startswith("version_published")]) == 6  # 4 mails, 2 posts
    with core.uow() as uow:
        product = services.get_product(uow, "0001", lock=True)
        version = product.version(vid)
        notices.version_published(uow, product, version, version.published_at or core.clock())
        uow.commit()
    assert {i.key for i in outbox(core)} == first


def test_one_slack_announcement_per_channel_with_the_facts(
    smtp_core: Core, subscribers: list[str], drain: Drain, smtp_server: SmtpTestServer
) -> None:
    # SUB_C shares Globex's channel: the channel is told once.
    services.save_subscriber(
        smtp_core,
        account_id=SUB_C,
        organization="Globex",
        email="cloud@globex.example",
        slack_channel="CGLOBEX",
    )
    services.subscribe(smtp_core, SUB_C, "0001")
    vid = publish(smtp_core, OMI_1, "Release\nnote", "1.24")
    drain()
    deliver_all(smtp_core)
    posts = {i.recipient: i for i in outbox(smtp_core, "slack") if i.event == "version_published"}
    assert sorted(posts) == ["CACME", "CGLOBEX"]
    assert posts["CACME"].language == "fr" and posts["CGLOBEX"].language == "en"
    # mail delivery leaves Slack's notices to Slack's deliverer
    assert all(p.state is OutboxState.PENDING for p in posts.values())
    version = services.show_version(smtp_core, vid).version
    assert posts["CACME"].payload == {
        "event": "version_published",
        "product_code": "0001",
        "product_name": "Nginx on Debian",
        "versions": [
            {
                "id": vid,
                "software_version": "1.24",
                "release_note": "Release\nnote",
                "omi_copy_id": version.copy_id,
                "operating_system": "",
            }
        ],
        "last_available": {"id": vid, "software_version": "1.24"},
        "date": version.published_at.astimezone(UTC).isoformat() if version.published_at else "",
    }
    # Three subscribers, four distinct addresses: Globex's shared contact is mailed once.
    assert len(smtp_server.messages) == 4


def test_the_product_unpublished_announcement_has_no_last_version(
    core: Core, subscribers: list[str], drain: Drain
) -> None:
    publish(core, OMI_1, "a", "1.24")
    drain()
    publish(core, OMI_2, "b", "1.26")
    drain()
    services.unpublish_product(core, "0001", by=OPERATOR)
    drain()  # the notices follow the deletion of the copies
    posts = [i for i in outbox(core, "slack") if i.event == "product_unpublished"]
    assert len(posts) == 2
    assert posts[0].payload["last_available"] is None
    assert [v["software_version"] for v in posts[0].payload["versions"]] == ["1.26", "1.24"]  # type: ignore[index]


# -- who gets which language ------------------------------------------------------------------


def org(org_id: int, name: str, language: str, *admins: str) -> Organization:
    return Organization(name=name, language=language, admin_emails=list(admins), id=org_id)


def test_an_address_in_two_organizations_gets_one_mail_in_a_stable_language() -> None:
    orgs = {
        1: org(1, "Zeta", "fr", "shared@example.com"),
        2: org(2, "Alpha", "en", "shared@example.com"),
        3: org(3, "Mid", "fr"),
    }
    zeta, alpha = Subscriber(SUB_A, 1, "a@zeta.example"), Subscriber(SUB_B, 2, "b@alpha.example")
    mid = Subscriber(SUB_C, 3, "Shared@Example.com")
    for subs in ([zeta, alpha], [alpha, zeta]):
        found = {r.address: r.language for r in notices.mail_recipients(subs, orgs)}
        # An administrator of both: the organization whose name sorts first (Alpha, en),
        # whatever order the subscribers come in.
        assert found == {
            "a@zeta.example": "fr",
            "b@alpha.example": "en",
            "shared@example.com": "en",
        }
    for subs in ([zeta, alpha, mid], [mid, alpha, zeta]):
        found = {r.address.lower(): r.language for r in notices.mail_recipients(subs, orgs)}
        # The contact of Mid (fr) is also an administrator elsewhere: being a subscriber's
        # contact wins, and the address still gets one mail.
        assert found == {
            "a@zeta.example": "fr",
            "b@alpha.example": "en",
            "shared@example.com": "fr",
        }


def test_outbox_keys_stay_within_the_column() -> None:
    key = notices.outbox_key("version_published", "ver-0123456789", "x" * 240 + "@example.com")
    assert len(key) <= 255
    assert key != notices.outbox_key("version_published", "ver-0123456789", "y" * 240 + "@e.com")
    assert notices.outbox_key("e", "v", "A@B.example") == "e:v:a@b.example"

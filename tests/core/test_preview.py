"""The preview of a request, before a decision: it is what is sent and done afterwards, on the
real database, the OUTSCALE sandbox and the Maildir the worker delivers to."""

from __future__ import annotations

import mailbox
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest

from commands import services
from commands.bootstrap import Core
from commands.config import Settings
from commands.delivery import deliverers
from commands.errors import FormErrors, NotAllowed, NotFound, RuleBroken, UserError
from commands.model import Actor, OutboxItem, VersionForm
from commands.notifications.announcements import render_announcement
from commands.preview import (
    COPY_ID_PLACEHOLDER,
    VERSION_ID_PLACEHOLDER,
    Preview,
    preview_publication,
    preview_request,
)
from commands.sandbox import SandboxServer
from commands.worker import Worker
from tests.conftest import (
    DISTRIBUTION,
    OMI_1,
    OMI_2,
    OMI_NO_CODE,
    OPERATOR,
    SELLER,
    SUB_A,
    SUB_B,
)

Drain = Callable[..., None]
RM = Actor.slack_user("URM1")


def mails(settings: Settings) -> dict[str, EmailMessage]:
    box = mailbox.Maildir(Path(settings.maildir), factory=None, create=False)
    found: dict[str, EmailMessage] = {}
    for key in box.keys():
        with box.get_file(key) as raw:
            message = mailbox.email.message_from_binary_file(raw, policy=default)  # type: ignore[attr-defined]
        found[key] = message  # type: ignore[assignment]
    return found


def text_part(message: EmailMessage, subtype: str = "plain") -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content())


def deliver_all(core: Core) -> None:
    """The worker, with its real mail deliverer (to the Maildir), until nothing is left."""
    worker = Worker(core, deliverers=deliverers(core, "preview-test"))

    def idle() -> bool:
        with core.uow() as uow:
            mail = uow.outbox.list(channel="email", limit=10_000)
            return uow.jobs.unfinished() == 0 and all(i.state.value != "pending" for i in mail)

    assert worker.run_until(idle, 20)


def published_first(core: Core, drain: Drain) -> str:
    version = services.publish(
        core,
        "0001",
        VersionForm(omi=OMI_1, software_version="1.24", operating_system="Debian 12",
                    software_base=("nginx 1.24",), release_note="First", instructions="Run it"),
        requested_by="UDEV",
    )  # fmt: skip
    drain()
    return version.id


def request_second(core: Core) -> int:
    form = VersionForm(omi=OMI_2, software_version="1.26", release_note="Faster <b>&</b> safer")
    return services.request_publication(core, "0001", form, requested_by="UDEV").id


def filled(text: str, version_id: str, copy_id: str) -> str:
    return text.replace(VERSION_ID_PLACEHOLDER, version_id).replace(COPY_ID_PLACEHOLDER, copy_id)


def test_a_publication_preview_is_the_mail_and_the_announcement_sent(
    core: Core, subscribers: list[str], drain: Drain, settings: Settings
) -> None:
    first = published_first(core, drain)
    deliver_all(core)
    before = set(mails(settings))
    request_id = request_second(core)
    preview = preview_request(core, request_id, by=RM)

    assert preview.form is not None and preview.form.omi == OMI_2
    assert preview.previous is not None and preview.previous.id == first
    # R3: the form is completed from the previous version; what differs is the diff.
    assert preview.form.operating_system == "Debian 12"
    assert preview.changes == [("software_version", "1.24", "1.26")]
    assert [(o.name, o.language, o.accounts) for o in preview.organizations] == [
        ("Acme", "fr", [SUB_A]),
        ("Globex", "en", [SUB_B]),
    ]
    assert preview.organizations[0].addresses == ["admin@acme.example", "ops@acme.example"]
    assert preview.organizations[0].channels == ["CACME"]
    assert {n.language: (n.recipients, n.channels) for n in preview.notices.values()} == {
        "en": (2, 1),
        "fr": (2, 1),
    }
    cloud = preview.cloud
    assert (cloud.source_omi, cloud.seller_account, cloud.distribution_account) == (
        OMI_2,
        SELLER,
        DISTRIBUTION,
    )
    assert cloud.grant_source and not cloud.public
    assert (cloud.accounts, cloud.share_calls) == (2, 1)

    services.approve(core, request_id, by=RM)
    deliver_all(core)
    request = services.get_request(core, request_id)
    version = services.show_version(core, str(request.version_id)).version
    assert version.copy_id
    sent = {str(m["To"]): m for key, m in mails(settings).items() if key not in before}
    assert set(sent) == {
        "ops@acme.example", "admin@acme.example", "cloud@globex.example", "it@globex.example"
    }  # fmt: skip
    for to, message in sent.items():
        lang = str(message["Content-Language"])
        mail = preview.notices[lang].mail
        assert str(message["Subject"]) == filled(mail.subject, version.id, version.copy_id), to
        assert text_part(message) == filled(mail.text, version.id, version.copy_id), to
        assert text_part(message, "html") == filled(mail.html, version.id, version.copy_id), to
    with core.uow() as uow:
        posts = [
            i for i in uow.outbox.list(channel="slack", version_id=version.id)
            if i.event == "version_published"
        ]  # fmt: skip
    assert {p.recipient: p.language for p in posts} == {"CACME": "fr", "CGLOBEX": "en"}
    for post in posts:
        rendered = render_announcement(post.payload, post.language)
        shown = preview.notices[post.language].announcement
        assert rendered.text == filled(shown.text, version.id, version.copy_id)
        assert str(rendered.blocks) == filled(str(shown.blocks), version.id, version.copy_id)


def outbox_of(core: Core, event: str) -> list[OutboxItem]:
    with core.uow() as uow:
        return [i for i in uow.outbox.list(channel="email") if i.event == event]


def test_an_unpublication_preview_is_its_notice_and_the_copy_deleted(
    core: Core, subscribers: list[str], drain: Drain
) -> None:
    first = published_first(core, drain)
    services.publish(core, "0001", VersionForm(omi=OMI_2, release_note="2"), requested_by="U")
    drain()
    request = services.request_unpublish(core, first, requested_by="URM2", groups=["SRM"])
    preview = preview_request(core, request.id, by=RM)
    copy = services.show_version(core, first).version.copy_id
    assert [v.id for v in preview.versions] == [first]
    assert preview.cloud.deletions == [(first, copy)] and preview.cloud.on is None
    assert preview.event.value == "version_unpublished"

    services.approve(core, request.id, by=RM)
    drain()
    items = outbox_of(core, "version_unpublished")
    assert {i.language for i in items} == {"en", "fr"} and len(items) == 4
    for item in items:
        mail = preview.notices[item.language].mail
        assert (item.payload["subject"], item.payload["text"], item.payload["html"]) == (
            mail.subject,
            mail.text,
            mail.html,
        )


def test_a_scheduled_unpublication_preview_is_the_notice_told_at_approval(
    core: Core, subscribers: list[str], drain: Drain
) -> None:
    published_first(core, drain)
    services.set_product(core, "0001", notice_days=10)
    on = services.today(core) + timedelta(days=12)
    request = services.request_unpublish_product(core, "0001", requested_by="UDEV", on=on)
    preview = preview_request(core, request.id, by=OPERATOR)
    assert preview.unpublish_on == on and preview.cloud.on == on
    assert preview.event.value == "unpublication_scheduled"

    services.approve(core, request.id, by=RM)
    items = outbox_of(core, "unpublication_scheduled")
    assert len(items) == 4
    for item in items:
        mail = preview.notices[item.language].mail
        assert (item.payload["subject"], item.payload["text"]) == (mail.subject, mail.text)


def test_a_free_product_is_made_public_and_big_audiences_take_several_calls(
    core: Core, subscribers: list[str], drain: Drain
) -> None:
    published_first(core, drain)
    request_id = request_second(core)
    core.settings = replace(core.settings, share_batch_size=1)
    assert preview_request(core, request_id, by=RM).cloud.share_calls == 2
    services.save_product(
        core,
        code="0001",
        name="Nginx on Debian",
        seller_account_id=SELLER,
        pricing="free",
        release_managers=["URM1"],
    )
    free = preview_request(core, request_id, by=RM).cloud
    assert free.public and free.share_calls == 1


def test_only_those_who_may_see_the_request_preview_it(
    core: Core, subscribers: list[str], drain: Drain
) -> None:
    published_first(core, drain)
    request_id = request_second(core)
    with pytest.raises(NotAllowed, match="release managers of product 0001"):
        preview_request(core, request_id, by=Actor.slack_user("USELLER"))
    # A member of the release manager group may.
    member = Actor.slack_user("UX", ["SRM"])
    assert isinstance(preview_request(core, request_id, by=member), Preview)
    with pytest.raises(NotFound):
        preview_request(core, 999, by=RM)
    services.reject(core, request_id, by=RM, reason="not now")
    with pytest.raises(UserError, match="already rejected"):
        preview_request(core, request_id, by=RM)


def row_counts(core: Core) -> dict[str, int]:
    from sqlalchemy import func, select

    from storage.orm import metadata

    with core.uow() as uow:
        return {
            t.name: int(uow.session.scalar(select(func.count()).select_from(t)) or 0)
            for t in metadata.sorted_tables
        }


def writes(sandbox: SandboxServer) -> list[str]:
    return [action for _, action, _ in sandbox.sandbox.calls if not action.startswith("Read")]


def test_a_dry_run_checks_every_rule_and_the_cloud_and_writes_nothing(
    core: Core, subscribers: list[str], drain: Drain, sandbox: SandboxServer
) -> None:
    published_first(core, drain)
    counts, written, reads = row_counts(core), writes(sandbox), len(sandbox.sandbox.calls)
    form = VersionForm(omi="debian-12-nginx-1.26", release_note="Faster")
    preview = preview_publication(core, "0001", form, requested_by="cli:ci")
    assert preview.form is not None and preview.form.software_version == "1.24"  # R3
    assert preview.cloud.source_omi == OMI_2 and preview.cloud.source_name == "debian-12-nginx-1.26"
    assert preview.notices["fr"].mail.subject.endswith("publiée")
    assert len(sandbox.sandbox.calls) > reads  # the OMI was asked of the cloud (R2)
    assert row_counts(core) == counts and writes(sandbox) == written

    for bad, field in (
        (VersionForm(omi=OMI_NO_CODE, release_note="x"), "omi"),  # R2
        (VersionForm(omi=OMI_1, release_note="x"), "omi"),  # R5: already a version's
        (VersionForm(omi=OMI_2, release_note=" "), "release_note"),
    ):
        with pytest.raises(FormErrors) as refused:
            preview_publication(core, "0001", bad, requested_by="cli:ci")
        assert field in refused.value.fields
    assert row_counts(core) == counts and writes(sandbox) == written


def test_a_request_that_can_no_longer_pass_says_why_instead_of_a_preview(
    core: Core, subscribers: list[str], drain: Drain
) -> None:
    published_first(core, drain)
    request_id = request_second(core)
    # The OMI of the request became another version's meanwhile (R5).
    services.publish(core, "0001", VersionForm(omi=OMI_2, release_note="x"), requested_by="U")
    with pytest.raises(FormErrors, match="already the OMI of version"):
        preview_request(core, request_id, by=RM)
    drain()
    first = services.versions_table(core, "0001").rows[-1].id
    unpublish = services.request_unpublish(core, first, requested_by="URM2", groups=["SRM"])
    services.unpublish(core, first, by=OPERATOR)
    with pytest.raises(RuleBroken, match="only a published version"):
        preview_request(core, unpublish.id, by=RM)


def test_a_retention_proposal_is_previewed_on_the_date_its_approval_would_give(
    core: Core, subscribers: list[str], drain: Drain, settings: Settings
) -> None:
    from commands.model import Request, RequestKind
    from commands.retention import RETENTION

    first = published_first(core, drain)
    services.publish(core, "0001", VersionForm(omi=OMI_2, release_note="2"), requested_by="U")
    drain()
    services.set_product(core, "0001", notice_days=10)
    asked = services.today(core) + timedelta(days=10)
    with core.uow() as uow:
        proposal = Request(
            kind=RequestKind.UNPUBLISH,
            product_code="0001",
            version_id=first,
            requested_by=RETENTION,
            at=core.clock() - timedelta(days=5),
            unpublish_on=asked - timedelta(days=5),
        )
        uow.requests.add(proposal)
        uow.commit()
        proposal_id = proposal.id
    preview = preview_request(core, proposal_id, by=RM)
    assert preview.unpublish_on == preview.cloud.on == services.today(core) + timedelta(days=10)
    decision = services.approve(core, proposal_id, by=RM)
    assert decision.schedule is not None and decision.schedule.unpublish_on == preview.unpublish_on

"""Every Block Kit builder of the bot and the worker, fed with hostile and overlong text, for
the tests of what reaches Slack (escaping, clipping, Slack's limits)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from bot import approvals, history, home, unpublication, views
from bot import preview as previews
from bot.texts import TEXTS, t
from commands.audit import AuditEvent, Kind, Source
from commands.config import Settings
from commands.model import (
    Omi,
    Organization,
    Pricing,
    Product,
    Request,
    RequestKind,
    Subscriber,
    Unpublication,
    Version,
    VersionForm,
)
from commands.notices import Reach, mail_recipients, slack_channels
from commands.notifications import managers
from commands.notifications.announcements import render_announcement
from commands.notifications.slack_text import mention
from commands.preview import Preview, build
from commands.progress import Stage, progress_text
from commands.services import Audience, ProductLine, VersionDetails, VersionsTable
from tests.conftest import DISTRIBUTION, OMI_1, SELLER

AT = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
HOSTILE = (
    "<!channel> <!here> <!everyone> <@UEVIL> <!subteam^SEVIL|@admins> <#CEVIL> "
    "<https://evil.example|click me> @channel @here @everyone *bold* _it_ ~s~ `code` "
    "```block``` > quote & \x00\x07\x1b[31m\u202egnp.exe\u2066"
)


def product(name: str = HOSTILE) -> Product:
    p = Product(
        code="0001",
        name=name,
        seller_account_id=SELLER,
        pricing=Pricing.HOURLY,
        at=AT,
        release_managers=["URM1"],
        release_manager_group="SRM",
    )
    omi = Omi(OMI_1, HOSTILE, SELLER, ("0001",), "available")
    form = VersionForm(
        omi=OMI_1,
        software_version=HOSTILE[:64],
        operating_system=HOSTILE[:128],
        software_base=(HOSTILE[:128], "x" * 128),
        release_note=HOSTILE + "x" * 2500,
        instructions=HOSTILE,
    )
    version = Version(
        id="ver-0123456789",
        product_code="0001",
        omi=omi,
        form=form,
        requested_by="UDEV",
        approved_by="URM1",
        at=AT,
    )
    version.published(AT)
    version.copy_made("ami-c0c0c0c0")
    p.versions.append(version)
    return p


def requests_of(p: Product) -> list[Request]:
    made = []
    for kind in RequestKind:
        r = Request(
            kind=kind,
            product_code=p.code,
            requested_by="UDEV",
            at=AT,
            version_id=p.versions[0].id if kind is RequestKind.UNPUBLISH else None,
            form=p.versions[0].form() if kind is RequestKind.PUBLISH else None,
        )
        r.id = len(made) + 1
        made.append(r)
    made[0].decide(made[0].state.REJECTED, "URM1", AT, HOSTILE)
    return made


def every_builder(language: str, name: str = HOSTILE) -> Iterator[Any]:
    """Every Block Kit builder of the bot and the worker, fed with `name` and hostile text."""
    p = product(name)
    version = p.versions[0]
    audience = Audience(accounts=2, recipients=3)
    line = ProductLine(p, 1, version)
    meta = {"product": p.code, "lang": language}
    yield views.version_form(language, p, p.new_form(), meta)
    yield views.version_form(language, p, version.form(), meta, version=version)
    yield views.version_form(
        language,
        p,
        version.form(),
        meta,
        errors={"omi": HOSTILE, "release_note": HOSTILE},
        omi={"text": {"type": "plain_text", "text": HOSTILE}, "value": OMI_1},
    )
    yield views.product_picker(language, [line], meta)
    yield views.omi_option(Omi(OMI_1, HOSTILE * 3, SELLER, ("0001",), "available"))
    for request in requests_of(p):
        blocks = approvals.request_blocks(
            language, request, p, audience, previous=version, version=version
        )
        yield blocks
        outcome = t(language, "rejected_by", user=mention("URM1"), reason=HOSTILE)
        yield approvals.decided_blocks(blocks, outcome)
        yield approvals.confirm_approve(language, request, p, audience, meta)
    yield approvals.request_blocks(language, requests_of(p)[0], p, audience, previous=None)
    yield approvals.reject_form(language, meta)
    yield views.versions_table(language, VersionsTable(p, p.versions, 30, version))
    yield views.products_list(language, [line])
    yield views.help_blocks(language)
    yield views.loading()
    yield views.working(language, t(language, "checking", omi=HOSTILE))
    yield views.refused(language, HOSTILE)
    modified = t(language, "modified", id="v", fields=HOSTILE)
    yield views.notice(language, t(language, "done_title"), modified)
    yield home.build_home([line], requests_of(p), requests_of(p), language).to_dict()
    yield from scheduling_builders(language, p, version, audience, line, meta)
    for organizations in (1, 150):
        for request in requests_of(p)[1:]:
            found = preview_of(p, request, organizations)
            yield previews.preview_view(language, found)
            yield previews.recipients_view(language, found)
    yield from history_builders(language, p, version)
    for stage in Stage:
        yield {"text": progress_text(language, version, stage, HOSTILE)}
    for event in (
        "version_published",
        "version_unpublished",
        "product_unpublished",
        "unpublication_scheduled",
        "unpublication_reminder",
        "unpublication_cancelled",
    ):
        rendered = render_announcement(
            {
                "event": event,
                "product_code": "0001",
                "product_name": name,
                "date": AT.isoformat(),
                "versions": [
                    {
                        "id": version.id,
                        "software_version": HOSTILE,
                        "operating_system": HOSTILE,
                        "release_note": HOSTILE * 20,
                        "omi_copy_id": HOSTILE,
                    }
                ]
                * 3,
                "last_available": {"id": version.id, "software_version": HOSTILE},
                "unpublish_on": AT.isoformat(),
                "whole_product": event == "unpublication_cancelled",
                "days_left": 7,
            },
            language,
        )
        yield {"text": rendered.text, "blocks": rendered.blocks}
    for key, template in TEXTS[language].items():
        if "{" in template:
            names = re.findall(r"{(\w+)}", template)
            yield {"text": t(language, key, **{n: HOSTILE for n in names})}


def scheduling_builders(
    language: str,
    p: Product,
    version: Version,
    audience: Audience,
    line: ProductLine,
    meta: dict[str, Any],
) -> Iterator[Any]:
    """The date form, scheduled requests and their confirmation, the Versions table and App
    Home with schedules, and the worker's messages to release managers."""
    day = date(2027, 1, 4)
    for allow_now in (False, True):
        yield unpublication.unpublish_form(
            language, p, version, day, allow_now=allow_now, meta=meta
        )
        yield unpublication.unpublish_form(language, p, None, day, allow_now=allow_now, meta=meta)
    for request in requests_of(p)[1:]:
        request.unpublish_on = day
        yield approvals.request_blocks(language, request, p, audience, version=version)
        yield approvals.confirm_approve(language, request, p, audience, meta)
    schedules = []
    for whole, blocked in ((False, False), (True, True)):
        schedule = Unpublication(
            product_code=p.code,
            version_id=None if whole else version.id,
            unpublish_on=day,
            reminder_days=(7, 1),
            scheduled_by=HOSTILE,
            at=AT,
        )
        schedule.id = len(schedules) + 1
        if blocked:
            schedule.blocked(HOSTILE)
        schedules.append(schedule)
    table = VersionsTable(p, p.versions, 1, version, {version.id: schedules[0]})
    yield views.versions_table(language, table)
    yield home.build_home([line], [], [], language, schedules).to_dict()
    yield managers.scheduled_blocks(language, 1, day.isoformat())
    for message in (
        managers.blocked_message(language, p, 1, version.id, HOSTILE),
        managers.blocked_message(language, p, 1, None, HOSTILE),
        managers.late_message(language, p, version.id, HOSTILE, HOSTILE),
        managers.drift_message(language, p, [HOSTILE] * 25),
        managers.broken_message(language, p, version.id, HOSTILE),
        managers.retention_message(language, p, 1, version, HOSTILE),
    ):
        yield {"text": message.text, "blocks": message.blocks}


class _Cloud:
    """The distribution account as the preview asks for it."""

    class distribution:  # read as core.cloud.distribution
        account_id = DISTRIBUTION


class _Core:
    """What building a preview reads of the core: the clock, the settings, the cloud."""

    settings = Settings(share_batch_size=7)
    cloud = _Cloud()

    @staticmethod
    def clock() -> datetime:
        return AT


def preview_of(p: Product, request: Request, organizations: int = 1) -> Preview:
    """The preview of `request` reaching that many organizations, each with hostile names,
    many addresses and channels."""
    orgs = {
        i: Organization(
            name=f"{HOSTILE} {i}",
            language="fr" if i % 2 else "en",
            admin_emails=[f"admin{n}-{i}@example.com" for n in range(40)],
            id=i,
        )
        for i in range(1, organizations + 1)
    }
    subs = [
        Subscriber(
            account_id=f"{i:06d}{n:06d}",
            organization_id=i,
            email=f"ops{n}-{i}@example.com",
            slack_channel=f"C{i:04d}{n:04d}",
        )
        for i in orgs
        for n in range(30)
    ]
    found = Reach(
        subscribers=subs,
        organizations=orgs,
        recipients=mail_recipients(subs, orgs),
        channels=slack_channels(subs, orgs),
    )
    return build(_Core(), request, p, found)  # type: ignore[arg-type]


def hostile_events(version: Version) -> list[AuditEvent]:
    """One event of each kind, from each source, every value hostile and overlong."""
    made = []
    sources = list(Source)
    for index, kind in enumerate(Kind):
        source = sources[index % len(sources)]
        event = AuditEvent(
            kind,
            at=AT,
            product_code="0001",
            actor_id="URM1" if source is Source.SLACK else HOSTILE[:64],
            actor_name=HOSTILE,
            source=source,
            version_id=version.id,
            detail={
                "changes": {
                    "release_note": [HOSTILE * 20, HOSTILE * 20],
                    "software_base": [[HOSTILE, HOSTILE], []],
                },
                "reason": HOSTILE * 20,
                "unpublish_on": HOSTILE,
                "recipients": 4,
                "sent": 3,
                "days_left": 7,
                "recipient": HOSTILE,
                "outcome": HOSTILE,
                "copy_id": HOSTILE,
            },
        )
        event.id = index + 1
        made.append(event)
    return made


def history_builders(language: str, p: Product, version: Version) -> Iterator[Any]:
    """A version and its History: empty, a few events, more than are shown."""
    events = hostile_events(version)
    for shown, total in (([], 0), (events[:3], 3), (events * 2, 500)):
        details = VersionDetails(version, p, [], history=shown, history_total=total)
        blocks = history.version_blocks(language, details)
        yield {"text": t(language, "version_text", id=version.id), "blocks": blocks}

"""Every Block Kit builder of the bot and the worker, fed with hostile and overlong text, for
the tests of what reaches Slack (escaping, clipping, Slack's limits)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from bot import home, views
from bot.texts import TEXTS, t
from commands.model import Omi, Pricing, Product, Request, RequestKind, Version, VersionForm
from commands.notifications.announcements import render_announcement
from commands.notifications.slack_text import mention
from commands.progress import Stage, progress_text
from commands.services import Audience, ProductLine, VersionsTable
from tests.conftest import OMI_1, SELLER

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
        blocks = views.request_blocks(
            language, request, p, audience, previous=version, version=version
        )
        yield blocks
        outcome = t(language, "rejected_by", user=mention("URM1"), reason=HOSTILE)
        yield views.decided_blocks(blocks, outcome)
        yield views.confirm_approve(language, request, p, audience, meta)
    yield views.request_blocks(language, requests_of(p)[0], p, audience, previous=None)
    yield views.reject_form(language, meta)
    yield views.versions_table(language, VersionsTable(p, p.versions, 30, version))
    yield views.products_list(language, [line])
    yield views.help_blocks(language)
    yield views.loading()
    yield views.working(language, t(language, "checking", omi=HOSTILE))
    yield views.refused(language, HOSTILE)
    modified = t(language, "modified", id="v", fields=HOSTILE)
    yield views.notice(language, t(language, "done_title"), modified)
    yield home.build_home([line], requests_of(p), requests_of(p), language).to_dict()
    for stage in Stage:
        yield {"text": progress_text(language, version, stage, HOSTILE)}
    for event in ("version_published", "version_unpublished", "product_unpublished"):
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
            },
            language,
        )
        yield {"text": rendered.text, "blocks": rendered.blocks}
    for key, template in TEXTS[language].items():
        if "{" in template:
            names = re.findall(r"{(\w+)}", template)
            yield {"text": t(language, key, **{n: HOSTILE for n in names})}



"""`omi-bot versions`: the Versions table and the Version form: list, show, publish, modify,
unpublish."""

from __future__ import annotations

import json
from typing import Any

import click

from cli.common import (
    Ctx,
    LazyGroup,
    form_options,
    operator,
    pass_ctx,
    reported,
    table,
    when,
    who,
)
from commands import audit, services
from commands.bootstrap import Core
from commands.config import Settings
from commands.errors import CloudError, OmiError, UserError
from commands.model import Status, Unpublication, Version, VersionForm

# Verbs of their own module, imported when they run.
VERSIONS_LAZY: dict[str, tuple[str, str, str]] = {
    "request": (
        "cli.requests",
        "versions_request",
        "Ask the release managers to publish a new version.",
    ),
    "request-unpublish": (
        "cli.requests",
        "versions_request_unpublish",
        "Ask the release managers to unpublish a version, at once or on a date (R7, R8).",
    ),
    "preview": (
        "cli.preview",
        "versions_preview",
        "What a pending request will send and do once approved.",
    ),
}


@click.group(cls=LazyGroup, lazy=VERSIONS_LAZY)
def versions() -> None:
    """The Versions table and the Version form."""


def schedule_json(schedule: Unpublication | None) -> dict[str, Any]:
    """A version's scheduled unpublication, as `versions list/show --json` show it."""
    if schedule is None:
        return {"unpublish_on": None, "schedule": None}
    return {
        "unpublish_on": schedule.unpublish_on.isoformat(),
        "schedule": {
            "id": schedule.id,
            "state": schedule.state.value,
            "label": schedule.label(),
            "whole_product": schedule.whole_product,
            "reminder_days": list(schedule.reminder_days),
            "reason": schedule.reason,
        },
    }


def status_text(v: Version, schedule: Unpublication | None) -> str:
    """`published`, or `published, unpublish on 2026-12-01` / `published, blocked by R7`."""
    return f"{v.status.value}, {schedule.label()}" if schedule else v.status.value


def version_json(v: Version, schedule: Unpublication | None = None) -> dict[str, Any]:
    return {
        "id": v.id,
        "product_code": v.product_code,
        "software_version": v.software_version,
        "operating_system": v.operating_system,
        "software_base": list(v.software_base),
        "release_note": v.release_note,
        "instructions": v.instructions,
        "status": v.status.value,
        "omi_id": v.omi_id,
        "omi_name": v.omi_name,
        "omi_copy_id": v.copy_id,
        "created_at": v.created_at.isoformat(),
        "modified_at": v.modified_at.isoformat(),
        "published_at": v.published_at.isoformat() if v.published_at else None,
        "unpublished_at": v.unpublished_at.isoformat() if v.unpublished_at else None,
        "requested_by": v.requested_by,
        "approved_by": v.approved_by,
        "failure": v.failure,
        **schedule_json(schedule),
    }


@versions.command("list")
@click.argument("product_code")
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", type=click.IntRange(1), help="Show the newest N versions only.")
@pass_ctx
@reported
def versions_list(ctx: Ctx, product_code: str, as_json: bool, limit: int | None) -> None:
    """The Versions table of a product (R1)."""
    t = services.versions_table(ctx.core, product_code, limit=limit)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "product_code": t.product.code,
                    "product_name": t.product.name,
                    "last_available_version": t.last_available.id if t.last_available else None,
                    "versions": [version_json(v, t.schedule_of(v)) for v in t.rows],
                },
                indent=2,
            )
        )
        return
    last = (
        f"{t.last_available.software_version or '-'} ({t.last_available.id})"
        if t.last_available
        else "none"
    )
    click.echo(f"Product {t.product.name} — product code {t.product.code}")
    click.echo(f"Last available version: {last}; {t.total} version(s)")
    table(
        ("ID", "SOFTWARE VERSION", "MODIFIED", "STATUS", "OMI", "OMI COPY"),
        [
            (
                v.id,
                v.software_version or "-",
                when(v.modified_at),
                status_text(v, t.schedule_of(v)),
                v.omi_id,
                v.copy_id or "-",
            )
            for v in t.rows
        ],
    )


@versions.command("show")
@click.argument("version_id")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@reported
def versions_show(ctx: Ctx, version_id: str, as_json: bool) -> None:
    """One version: its Version form, its state and what was done for it."""
    d = services.show_version(ctx.core, version_id)
    v = d.version
    sent_mail = d.mails.get("sent", 0)
    failed_mail = d.mails.get("failed", 0)
    queued_mail = d.mails.get("pending", 0) + d.mails.get("sending", 0)
    if as_json:
        data = version_json(v, d.schedule)
        data["mails"] = {"sent": sent_mail, "failed": failed_mail, "queued": queued_mail}
        data["jobs"] = [
            {
                "kind": j.kind,
                "state": j.state.value,
                "attempts": j.attempts,
                "last_error": j.last_error,
            }
            for j in d.jobs
        ]
        data["history"] = [e.as_dict() for e in d.history]
        data["history_total"] = d.history_total
        click.echo(json.dumps(data, indent=2))
        return
    fields = [
        ("Version", v.id),
        ("Product code", f"{d.product.code} ({d.product.name})"),
        ("Status", status_text(v, d.schedule) + (f" — {v.failure}" if v.failure else "")),
        ("OMI", f"{v.omi_id} ({v.omi_name})"),
        ("OMI copy", v.copy_id or "-"),
        ("Software version", v.software_version or "-"),
        ("Operating system", v.operating_system or "-"),
        ("Software base", ", ".join(v.software_base) or "-"),
        ("Release note", v.release_note),
        ("Instructions for use", v.instructions or "-"),
        ("Created", when(v.created_at)),
        ("Modified", when(v.modified_at)),
        ("Published", when(v.published_at)),
        ("Unpublished", when(v.unpublished_at)),
        ("Requested by", v.requested_by),
        ("Approved by", v.approved_by or "-"),
        ("Mails", f"{sent_mail} sent, {failed_mail} failed, {queued_mail} queued"),
    ]
    width = max(len(k) for k, _ in fields)
    for key, value in fields:
        click.echo(f"{key.ljust(width)}  {value}")
    if d.jobs:
        click.echo("Jobs:")
        for j in d.jobs:
            err = f" — {j.last_error}" if j.last_error else ""
            click.echo(f"  {j.kind:<15} {j.state.value:<8} attempts {j.attempts}{err}")
    click.echo("History:")
    if d.history_total > len(d.history):
        click.echo(
            f"  ({d.history_total - len(d.history)} earlier: omi-bot audit list --version {v.id})"
        )
    for e in d.history:
        actor = "omi-bot" if e.source.value == "system" else e.actor_id
        if e.actor_name:
            actor += f" ({e.actor_name})"
        what = audit.summary(e)
        click.echo(f"  {when(e.at)}  {e.kind.value:<19} {actor}" + (f" — {what}" if what else ""))


@versions.command("publish")
@click.argument("product_code")
@click.option("--omi", required=True, help="The OMI's ID or name.")
@click.option("--release-note", required=True)
@form_options
@click.option(
    "--no-approval",
    is_flag=True,
    help="Publish with no release manager approving; only where OMI_ALLOW_DIRECT=1.",
)
@click.option("--wait", is_flag=True, help="Stay until the version is published or failed.")
@click.option("--timeout", default=1800.0, show_default=True)
@pass_ctx
@reported
def versions_publish(
    ctx: Ctx,
    product_code: str,
    omi: str,
    release_note: str,
    software_version: str | None,
    operating_system: str | None,
    software_base: tuple[str, ...],
    instructions: str | None,
    no_approval: bool,
    wait: bool,
    timeout: float,
) -> None:
    """Publish a new version at once, with no approval (--no-approval, where the installation
    sets OMI_ALLOW_DIRECT=1); `versions request` asks the release managers instead. Fields
    not given come from the last created version (R3)."""
    if not no_approval or not Settings.from_env().allow_direct:
        raise UserError(
            "versions publish publishes with no approval: it needs --no-approval, and "
            "OMI_ALLOW_DIRECT=1 set for this installation. To ask the release managers, run "
            "`omi-bot versions request CODE --omi … --release-note …`."
        )
    form = VersionForm(
        omi=omi,
        software_version=software_version or "",
        operating_system=operating_system or "",
        software_base=software_base,
        release_note=release_note,
        instructions=instructions or "",
    )
    version = services.publish(ctx.core, product_code, form, requested_by=who(), approved_by=who())
    click.echo(
        f"Version {version.id} of product {product_code} is being published (OMI {version.omi_id})."
    )
    if wait:
        wait_for(ctx.core, version.id, timeout)


@versions.command("modify")
@click.argument("version_id")
@click.option("--release-note")
@form_options
@click.option("--omi", help="Refused if it differs from the version's OMI (R5).")
@pass_ctx
@reported
def versions_modify(
    ctx: Ctx,
    version_id: str,
    release_note: str | None,
    software_version: str | None,
    operating_system: str | None,
    software_base: tuple[str, ...],
    instructions: str | None,
    omi: str | None,
) -> None:
    """Modify a published version; what is not given stays as it is (R6)."""
    current = services.show_version(ctx.core, version_id).version.form()
    form = VersionForm(
        omi=omi if omi is not None else current.omi,
        software_version=current.software_version if software_version is None else software_version,
        operating_system=current.operating_system if operating_system is None else operating_system,
        software_base=software_base or current.software_base,
        release_note=current.release_note if release_note is None else release_note,
        instructions=current.instructions if instructions is None else instructions,
    )
    version, changed = services.modify(ctx.core, version_id, form, by=operator())
    if changed:
        click.echo(f"Modified version {version.id}: {', '.join(changed)}.")
    else:
        click.echo(f"Version {version.id} already had these values; nothing changed.")


ON_HELP = (
    "YYYY-MM-DD (UTC): unpublish on that date, at least the product's notice period away; "
    "subscribers are told now and reminded before it. 'now' (the default) is only for a "
    "product without a notice period."
)


@versions.command("unpublish")
@click.argument("version_id")
@click.option("--on", "on", default="now", show_default=True, help=ON_HELP)
@click.option("--wait", is_flag=True, help="Stay until the OMI copy is deleted (at once only).")
@click.option("--timeout", default=600.0, show_default=True)
@pass_ctx
@reported
def versions_unpublish(ctx: Ctx, version_id: str, on: str, wait: bool, timeout: float) -> None:
    """Unpublish a version, at once or on a date: its OMI copy is deleted; running VMs keep
    running (R7, R8)."""
    day = services.parse_date(on)
    if day is not None:
        schedule = services.schedule_unpublish(ctx.core, version_id, on=day, by=operator())
        click.echo(
            f"Version {schedule.version_id} of product {schedule.product_code} will be "
            f"unpublished on {day.isoformat()}; subscribers are told now."
        )
        return
    version = services.unpublish(ctx.core, version_id, by=operator())
    click.echo(f"Unpublished version {version.id} of product {version.product_code}.")
    if wait:
        wait_for(ctx.core, version.id, timeout)


@versions.command("cancel-unpublish")
@click.argument("version_id")
@pass_ctx
@reported
def versions_cancel_unpublish(ctx: Ctx, version_id: str) -> None:
    """Cancel a version's scheduled (or R7-blocked) unpublication; those told are told it is
    no longer scheduled."""
    schedule = services.find_schedule(ctx.core, version_id=version_id)
    services.cancel_unpublication(ctx.core, schedule.id, by=operator())
    click.echo(
        f"Cancelled the unpublication of version {schedule.version_id} on "
        f"{schedule.unpublish_on.isoformat()}."
    )


def wait_for(core: Core, version_id: str, timeout: float) -> None:
    from commands.worker import Worker

    worker = Worker(core)
    if not worker.run_until(lambda: services.is_settled(core, version_id), timeout):
        raise OmiError(
            f"version {version_id} was not done after {timeout:g} s; "
            "a running worker will finish it."
        )
    v = services.show_version(core, version_id).version
    if v.status is Status.FAILED:
        raise CloudError("publish", f"Version {v.id} failed: {v.failure}")
    click.echo(
        f"Version {v.id}: {v.status.value}"
        + (f", OMI copy {v.copy_id}" if v.copy_id and v.status is Status.PUBLISHED else "")
        + "."
    )

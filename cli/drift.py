"""`omi-bot drift`: compare the cloud with the Versions table, and repair what differs.

`drift check` exits 3 when it finds drift, so that cron or CI can act on it."""

from __future__ import annotations

import json
import sys

import click

from cli.common import Ctx, operator, pass_ctx, reported, table, when
from commands import drift
from commands.errors import OmiError
from commands.model import Finding

DRIFT_EXIT = 3


@click.group("drift")
def drift_group() -> None:
    """Drift between the cloud and the Versions table: check, repair."""


def finding_json(f: Finding, new: bool) -> dict[str, object]:
    return {
        "id": f.id,
        "product_code": f.product_code,
        "version_id": f.version_id,
        "image_id": f.image_id,
        "kind": f.kind.value,
        "detail": f.detail,
        "new": new,
        "found_at": f.found_at.isoformat(),
        "repair_asked_by": f.repair_asked_by,
    }


@drift_group.command("check")
@click.argument("product_code", required=False)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@reported
def drift_check(ctx: Ctx, product_code: str | None, as_json: bool) -> None:
    """Compare one product (or all) with what the distribution account sees. Exit 3 on
    drift; new findings are also reported to the product's release managers in Slack."""
    reports = drift.check(ctx.core, product_code)
    found = [(f, f in r.new) for r in reports for f in r.findings]
    if as_json:
        click.echo(json.dumps([finding_json(f, new) for f, new in found], indent=2))
    elif not found:
        checked = ", ".join(r.product_code for r in reports) or "no product"
        click.echo(f"No drift: the cloud matches the Versions table ({checked}).")
    else:
        table(
            ("PRODUCT CODE", "VERSION", "OMI COPY", "KIND", "SINCE", "WHAT"),
            [
                (
                    f.product_code,
                    f.version_id,
                    f.image_id,
                    f.kind.value + (" (new)" if new else ""),
                    when(f.found_at),
                    f.detail,
                )
                for f, new in found
            ],
        )
    if found:
        sys.exit(DRIFT_EXIT)


@drift_group.command("repair")
@click.argument("product_code")
@click.option("--wait", is_flag=True, help="Stay until the repairs are done.")
@click.option("--timeout", default=1800.0, show_default=True)
@pass_ctx
@reported
def drift_repair(ctx: Ctx, product_code: str, wait: bool, timeout: float) -> None:
    """Queue the jobs that restore what the Versions table says (re-share, re-tag, re-copy,
    delete a leftover copy omi-bot made). Run `drift check` first to see what differs."""
    jobs = drift.repair(ctx.core, product_code, by=operator())
    if not jobs:
        open_now = drift.open_findings(ctx.core, product_code)
        click.echo(
            f"Nothing new to repair on product {product_code}"
            + (f" ({len(open_now)} repair(s) already queued)." if open_now else ".")
        )
        return
    click.echo(f"Queued {len(jobs)} repair(s) on product {product_code}.")
    if wait:
        from commands.worker import Worker

        ids = {j.id for j in jobs}
        core = ctx.core

        def settled() -> bool:
            with core.reading() as uow:
                return all(
                    (job := uow.jobs.get(i)) is not None and job.state.value in ("done", "failed")
                    for i in ids
                )

        if not Worker(core).run_until(settled, timeout):
            raise OmiError(f"the repairs were not done after {timeout:g} s; a worker will go on.")
        left = drift.open_findings(core, product_code)
        click.echo(
            "Repaired." if not left else f"{len(left)} finding(s) still open: run drift check."
        )

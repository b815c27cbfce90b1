"""Drift checks: does the cloud still show what the Versions table says?

Per product, one paged `ReadImages` of the distribution account's images carrying the product
code, whatever the number of versions; a second one, by image ID, only for the expected copies
the first did not show (gone, or their product code removed). Then the database, read after
the cloud so that work queued meanwhile is seen as under way rather than as drift.

A finding is reported once, when first seen, to the product's release managers with a
*Repair* button; it stays open while later checks still see it and is resolved when they no
longer do. Repairing queues jobs (commands/drift_repair.py); it never deletes an image omi-bot
did not make: only the recorded copy of a version that is no longer published.

The periodic check runs as a job: each worker's timer queues the check of the current period
under one key, so one worker among several runs it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from commands import audit
from commands.audit import Kind
from commands.bootstrap import Core
from commands.errors import NotFound, quoted
from commands.model import Actor, Difference, Finding, Job, Product, Seen, compare
from commands.notifications import managers
from commands.pipeline import Context, Step
from storage.uow import UnitOfWork

log = logging.getLogger("omi_bot.drift")


@dataclass(frozen=True)
class Report:
    """A product's drift after a check: every open finding, and which of them are new."""

    product_code: str
    findings: list[Finding] = field(default_factory=list)
    new: list[Finding] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(self.findings)


def seen_images(core: Core, product: Product) -> dict[str, Seen]:
    """The images the distribution account owns that matter to the product, by ID."""
    dist = core.cloud.distribution
    mine = dist.account_id
    found = {
        i.image_id: i.seen()
        for i in dist.images(AccountIds=[mine], ProductCodes=[product.code])
        if i.account_id == mine
    }
    wanted = sorted({v.copy_id for v in product.published_versions() if v.copy_id} - set(found))
    if wanted:
        # An empty ImageIds filter would list everything: only asked when something is missing.
        found.update(
            (i.image_id, i.seen()) for i in dist.images(ImageIds=wanted) if i.account_id == mine
        )
    return found


def check_product(core: Core, code: str) -> Report:
    with core.reading() as uow:
        product = uow.products.get(code)
        if product is None:
            raise NotFound(f"There is no product with product code {quoted(code)}.")
    images = seen_images(core, product)
    with core.uow() as uow:
        product = uow.products.get(code, lock=True)
        assert product is not None
        busy = uow.jobs.busy_versions(code)
        differences = compare(product, images, uow.subscribers.account_ids(code), busy)
        report = record(uow, product, differences, core.clock(), busy)
        uow.commit()
        return report


def record(
    uow: UnitOfWork,
    product: Product,
    differences: Iterable[Difference],
    at: datetime,
    busy: Collection[str],
) -> Report:
    """Opens findings for new differences (and tells the release managers of those only),
    refreshes the ones seen again, resolves the ones no longer seen. The versions in `busy`
    (with work under way) are not compared: their open findings stay as they are, so that a
    repair under way finds its finding still open and finishes."""
    current = {d.key: d for d in differences}
    open_findings = {f.key: f for f in uow.drift.open(product.code)}
    new: list[Finding] = []
    for key, difference in current.items():
        finding = open_findings.get(key)
        if finding is None:
            finding = Finding(product.code, difference, at)
            uow.drift.add(finding)
            new.append(finding)
        else:
            finding.seen_again(difference, at)
    still: list[Finding] = []
    for key, finding in open_findings.items():
        if key in current or finding.version_id in busy:
            still.append(finding)
        else:
            finding.resolved(at)
    if new:
        stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        managers.drift_found(uow, product, stamp, [f.detail for f in new], at)
        log.info("product %s: %d new drift finding(s)", product.code, len(new))
    return Report(product.code, still + new, new)


def check(core: Core, product_code: str | None = None) -> list[Report]:
    """Checks one product, or every product; returns each product's report."""
    if product_code is not None:
        return [check_product(core, product_code)]
    with core.reading() as uow:
        codes = [p.code for p, _ in uow.products.summaries()]
    return [check_product(core, code) for code in codes]


def open_findings(core: Core, product_code: str | None = None) -> list[Finding]:
    with core.reading() as uow:
        return uow.drift.open(product_code)


# -- repairing ----------------------------------------------------------------------------------


def repair(core: Core, product_code: str, *, by: Actor) -> list[Job]:
    """A release manager (or the CLI's operator) asks to repair a product's open findings: a
    job each, queued once however often it is asked."""
    with core.uow() as uow:
        product = uow.products.get(product_code, lock=True)
        if product is None:
            raise NotFound(f"There is no product with product code {quoted(product_code)}.")
        product.check_release_manager(by, "repair its drift")
        at = core.clock()
        queued = []
        for finding in uow.drift.open(product.code):
            job = Job(
                "drift_repair",
                at=at,
                key=f"drift_repair:{finding.id}",
                version_id=finding.version_id,
                product_code=product.code,
                payload={"finding_id": finding.id, "kind": finding.kind.value},
            )
            # A repair that failed (a copy that failed too) is tried again when asked again.
            if uow.jobs.add(job, again_if_failed=True):
                finding.repair_asked_by = by.id
                finding.repair_asked_at = at
                audit.record(
                    uow,
                    Kind.REPAIR_ASKED,
                    at=at,
                    product_code=product.code,
                    by=by,
                    version_id=finding.version_id,
                    finding=_finding(finding),
                )
                queued.append(job)
        uow.commit()
        return queued


def _finding(finding: Finding) -> str:
    return f"{finding.id} ({finding.kind.value}, {finding.image_id})"


# -- the periodic check -------------------------------------------------------------------------


def enqueue_check(core: Core) -> bool:
    """Queues this period's check; a no-op when another worker (or a restart) already did."""
    interval = core.settings.drift_interval_seconds
    if interval <= 0:
        return False
    slot = int(core.clock().timestamp() // interval)
    with core.uow() as uow:
        added = uow.jobs.add(Job("drift_check", at=core.clock(), key=f"drift_check:{slot}"))
        uow.commit()
        return added


def run_check(ctx: Context) -> Step:
    for report in check(ctx.core):
        if report.drifted:
            log.info("product %s: %d open finding(s)", report.product_code, len(report.findings))
    return Step()


HANDLERS: dict[str, Callable[[Context], Step]] = {"drift_check": run_check}

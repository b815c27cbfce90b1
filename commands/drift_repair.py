"""Repairing drift: one job per finding, each reading the cloud again when it runs and doing
only what still differs, so a repair run twice (a retry, a second click) does nothing more.

- permissions: re-share (grant the subscribers who lack it, revoke the others, public or not
  as the pricing says);
- product code, tag: put them back on the copy;
- missing, not available: copy the source OMI again, wait until the copy is available, share
  and tag it, and record it as the version's copy; a copy of ours that is there but unusable
  is deleted first. When the source OMI is gone too, the version is marked broken and the
  release managers are told;
- leftover: delete the copy of a version that is no longer published, only when it is the
  copy recorded for that version: an image omi-bot did not make is never deleted."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from commands import audit
from commands.audit import Kind
from commands.model import VERSION_TAG, DriftKind, Finding, Job, Product, Status, Version
from commands.notifications import managers
from commands.outscale import ENDED, Image
from commands.pipeline import Context, Step, StepFailed, copy_timed_out, copy_timeout
from storage.uow import UnitOfWork

log = logging.getLogger("omi_bot.drift")


@dataclass(frozen=True)
class Facts:
    finding: Finding
    product: Product
    version: Version
    subscribers: list[str]


def _read(ctx: Context) -> Facts | None:
    finding_id = int(str(ctx.job.payload.get("finding_id") or 0))
    with ctx.core.reading() as uow:
        finding = uow.drift.get(finding_id)
        if finding is None:
            raise StepFailed(f"drift finding {finding_id} no longer exists")
        product = uow.products.get(finding.product_code)
        if product is None:
            raise StepFailed(f"product {finding.product_code} no longer exists")
        version = product.version(finding.version_id)
        if finding.resolved_at is not None:
            return None  # a later check no longer sees it
        return Facts(finding, product, version, uow.subscribers.account_ids(product.code))


def _resolve(
    ctx: Context, finding_id: int, outcome: str, copy_id: str | None = None
) -> Callable[[UnitOfWork], list[Job]]:
    """Closes the finding, on record with what the repair did (`outcome`)."""

    def apply(uow: UnitOfWork) -> list[Job]:
        finding = uow.drift.get(finding_id)
        if finding is not None and finding.resolved_at is None:
            at = ctx.core.clock()
            finding.resolved(at)
            audit.record(
                uow,
                Kind.REPAIRED,
                at=at,
                product_code=finding.product_code,
                version_id=finding.version_id,
                finding=f"{finding.id} ({finding.kind.value}, {finding.image_id})",
                outcome=outcome,
                copy_id=copy_id,
            )
        return []

    return apply


def _share(ctx: Context, product: Product, image: Image, subscribers: list[str]) -> None:
    """Launch permissions exactly as they should be: public, or the subscribers only."""
    dist = ctx.core.cloud.distribution
    if product.pricing.public_copy:
        if not image.global_permission:
            dist.make_public(image.image_id)
        return
    if image.global_permission:
        dist.make_private(image.image_id)
    permitted = set(image.permitted_accounts)
    size = ctx.core.settings.share_batch_size
    lacking = sorted(set(subscribers) - permitted)
    extra = sorted(permitted - set(subscribers))
    for start in range(0, len(lacking), size):
        dist.grant(image.image_id, lacking[start : start + size])
    for start in range(0, len(extra), size):
        dist.revoke(image.image_id, extra[start : start + size])


def repair(ctx: Context) -> Step:
    facts = _read(ctx)
    if facts is None:
        return Step()
    finding, product, version = facts.finding, facts.product, facts.version
    dist = ctx.core.cloud.distribution
    if finding.kind is DriftKind.LEFTOVER:
        # Only the copy recorded for a version no longer published: ours, and unwanted.
        if (
            version.status in (Status.UNPUBLISHED, Status.FAILED)
            and version.copy_id == finding.image_id
        ):
            dist.delete(finding.image_id)
            return Step(_resolve(ctx, finding.id, "leftover copy deleted"))
        return Step(_resolve(ctx, finding.id, "not the version's copy: left alone"))
    if version.status is not Status.PUBLISHED or version.copy_id != finding.image_id:
        # The table moved on since the check (unpublished, copied again by another repair):
        # a copy this repair made and nobody recorded would be left over.
        made = str(ctx.job.payload.get("copy_id") or "")
        if made and made != version.copy_id:
            dist.delete(made)
            return Step(_resolve(ctx, finding.id, "no longer needed: the new copy deleted", made))
        return Step(_resolve(ctx, finding.id, "nothing left to repair"))
    if finding.kind in (DriftKind.MISSING, DriftKind.NOT_AVAILABLE):
        return recopy(ctx, facts)
    image = dist.image(finding.image_id)
    if image is None:
        raise StepFailed(f"the OMI copy {finding.image_id} is gone; check again to repair it")
    outcome = "nothing left to repair"
    if finding.kind is DriftKind.PRODUCT_CODE and product.code not in image.product_codes:
        dist.set_product_codes(image.image_id, [*image.product_codes, product.code])
        outcome = "product code put back"
    elif finding.kind is DriftKind.TAG and image.tags.get(VERSION_TAG) != version.id:
        dist.tag_version(image.image_id, version.id)
        outcome = "tag put back"
    elif finding.kind is DriftKind.PERMISSIONS:
        _share(ctx, product, image, facts.subscribers)
        outcome = "shared again"
    return Step(_resolve(ctx, finding.id, outcome))


def recopy(ctx: Context, facts: Facts) -> Step:
    """Copies the source OMI again, in steps recorded on the job: a worker that dies goes on
    from the last one (the new copy is found again by its tag or name)."""
    core = ctx.core
    finding, product, version = facts.finding, facts.product, facts.version
    dist, seller = core.cloud.distribution, core.cloud.seller
    new_id = str(ctx.job.payload.get("copy_id") or "")
    if not new_id:
        if finding.kind is DriftKind.NOT_AVAILABLE and not ctx.job.payload.get("cleared"):
            old = dist.image(finding.image_id)
            if old is not None and old.image_id == version.copy_id:
                dist.delete(old.image_id)  # our copy, unusable: it goes before the new one
            ctx.checkpoint({"cleared": True})
        source = seller.image(version.omi_id)
        if source is None or source.state != "available":
            return Step(_broken(ctx, finding.id, version.id, product.code))
        found = dist.find_copy(version.id, version.copy_name())
        if found is not None and found.state in ENDED and found.image_id != finding.image_id:
            # A copy of ours that will never serve (an earlier repair's, whose job ended
            # without it): it goes, and the source is copied afresh.
            dist.delete(found.image_id)
            found = None
        if found is not None and found.image_id != finding.image_id:
            new_id = found.image_id
        else:
            if dist.account_id != product.seller_account_id:
                seller.grant(version.omi_id, [dist.account_id])
            new_id = dist.copy(
                version.omi_id,
                version.copy_name(),
                product.code,
                f"Copy of {version.omi_id} for version {version.id} of product {product.code}",
            )
            dist.tag_version(new_id, version.id)
        ctx.checkpoint({"copy_id": new_id})
    image = dist.image(new_id)
    if image is None:
        raise StepFailed(f"the new OMI copy {new_id} disappeared")
    if image.state in ENDED:
        dist.delete(new_id)  # a copy of ours that will never serve: asking again starts afresh
        raise StepFailed(f"the new OMI copy {new_id} ended {image.state}; it is deleted")
    if image.state != "available":
        if copy_timed_out(ctx):
            dist.delete(new_id)
            raise StepFailed(
                f"the new OMI copy {new_id} was still {image.state or 'pending'} after "
                f"{copy_timeout(core)}; it is deleted"
            )
        return Step(later=core.settings.copy_poll_seconds)
    _share(ctx, product, image, facts.subscribers)
    if image.tags.get(VERSION_TAG) != version.id:
        dist.tag_version(new_id, version.id)

    def apply(uow: UnitOfWork) -> list[Job]:
        v = uow.versions.get(version.id)
        if v is not None and v.status is Status.PUBLISHED:
            v.copy_made(new_id)
        _resolve(ctx, finding.id, "copied again", new_id)(uow)
        log.info("version %s: OMI copy made again as %s", version.id, new_id)
        return []

    return Step(apply)


def _broken(
    ctx: Context, finding_id: int, version_id: str, product_code: str
) -> Callable[[UnitOfWork], list[Job]]:
    def apply(uow: UnitOfWork) -> list[Job]:
        product = uow.products.get(product_code, lock=True)
        assert product is not None
        version = product.version(version_id)
        if version.status is Status.PUBLISHED:
            at = ctx.core.clock()
            version.broken(
                f"its OMI copy is gone and its source OMI {version.omi_id} no longer exists", at
            )
            product.modified_at = at
            audit.record(
                uow,
                Kind.BROKEN,
                at=at,
                product_code=product.code,
                version_id=version.id,
                reason=version.failure,
            )
            managers.version_broken(uow, product, version.id, version.omi_id, at)
        _resolve(ctx, finding_id, "source OMI gone: version marked broken")(uow)
        return []

    return apply


HANDLERS: dict[str, Callable[[Context], Step]] = {"drift_repair": repair}

"""Unpublishing a version (R7, R8) and a whole product (R9) at once (on a date: schedules.py;
at once only for products without a notice period): the state changes at once, the copies are
deleted by the worker, and the notices follow the deletions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from commands import audit, notices
from commands.audit import Kind
from commands.bootstrap import Core
from commands.model import (
    Actor,
    Product,
    Unpublication,
    Version,
)
from commands.pipeline import delete_copy_job
from commands.services.products import get_product, get_version
from commands.services.schedules import close_schedules, today
from storage.uow import UnitOfWork


def _delete_copies(
    uow: UnitOfWork,
    product: Product,
    versions: Sequence[Version],
    at: datetime,
    *,
    whole_product: bool,
) -> None:
    """Queues the deletion of each copy. The notices say the copies have been deleted, so the
    last deletion writes them (pipeline.delete_copy); without a copy to delete, they go now."""
    notice: dict[str, object] = {
        "versions": [v.id for v in versions],
        "whole_product": whole_product,
    }
    queued = False
    for v in versions:
        if v.copy_id:
            queued |= uow.jobs.add(delete_copy_job(v, v.modified_at, notice))
    if not queued:
        notices.versions_unpublished(uow, product, versions, at, whole_product=whole_product)


def _unpublished(
    uow: UnitOfWork,
    product: Product,
    versions: Sequence[Version],
    at: datetime,
    by: Actor | str | None,
    request_id: int | None,
    schedule: Unpublication | None,
) -> None:
    if schedule is not None and request_id is None:
        request_id = schedule.request_id
    for v in versions:
        audit.record(
            uow,
            Kind.UNPUBLISHED,
            at=at,
            product_code=product.code,
            by=by,
            version_id=v.id,
            request_id=request_id,
            schedule_id=schedule.id if schedule is not None else None,
            copy_id=v.copy_id,
        )


def unpublish_one(
    uow: UnitOfWork,
    product: Product,
    version: Version,
    core: Core,
    *,
    by: Actor | str | None = None,
    request_id: int | None = None,
    schedule: Unpublication | None = None,
) -> None:
    """`by` is who decided (None: omi-bot itself, `schedule` reaching its date)."""
    at = core.clock()
    product.unpublish(version, at)
    _unpublished(uow, product, [version], at, by, request_id, schedule)
    _delete_copies(uow, product, [version], at, whole_product=False)
    close_schedules(uow, product, [version], at, running=schedule)


def unpublish_whole(
    uow: UnitOfWork,
    product: Product,
    core: Core,
    *,
    by: Actor | str | None = None,
    request_id: int | None = None,
    schedule: Unpublication | None = None,
) -> list[Version]:
    at = core.clock()
    gone = product.unpublish_all(at)
    _unpublished(uow, product, gone, at, by, request_id, schedule)
    _delete_copies(uow, product, gone, at, whole_product=True)
    close_schedules(uow, product, gone, at, running=schedule)
    return gone


def unpublish(core: Core, version_id: str, *, by: Actor) -> Version:
    """R7, R8: a release manager (or the CLI's operator) unpublishes the version at once, on a
    product without a notice period (Slack users ask instead); its OMI copy is deleted by the
    worker."""
    with core.uow() as uow:
        version = get_version(uow, version_id)
        product = get_product(uow, version.product_code, lock=True)
        product.check_release_manager(by, "unpublish its versions")
        version = product.version(version.id)
        product.check_unpublishable(version)  # R7 first: it refuses whatever the date
        product.check_unpublish_date(None, today(core), release_manager=True)
        unpublish_one(uow, product, version, core, by=by)
        uow.commit()
        return version


def unpublish_product(core: Core, product_code: str, *, by: Actor) -> list[Version]:
    """R9: every published version at once, by a release manager; R7 does not apply."""
    with core.uow() as uow:
        product = get_product(uow, product_code, lock=True)
        product.check_release_manager(by, "unpublish it")
        product.check_unpublishable_product()
        product.check_unpublish_date(None, today(core), release_manager=True)
        gone = unpublish_whole(uow, product, core, by=by)
        uow.commit()
        return gone

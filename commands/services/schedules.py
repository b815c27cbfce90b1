"""Scheduled unpublications: a version (R8) or a whole product (R9) unpublished on a date that
gives subscribers the product's notice period, and cancelled by a release manager before it.

Scheduling writes the schedule and the notice of it in one transaction; the worker hands out
what is due (commands/deprecation.py). Every write locks the product first, as the other
decisions do, so a schedule and an unpublication of the same product never interleave."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from commands import audit, notices
from commands.audit import Kind
from commands.bootstrap import Core
from commands.errors import NotFound, UserError, quoted
from commands.model import Actor, Product, ScheduleState, Unpublication, Version
from commands.services.products import get_product, get_version
from storage.uow import UnitOfWork


def today(core: Core) -> date:
    return core.clock().astimezone(UTC).date()


def parse_date(text: str | None) -> date | None:
    """`now` (or nothing) is None; otherwise a calendar date, YYYY-MM-DD."""
    value = (text or "").strip().lower()
    if value in ("", "now"):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{quoted(text)} is not a date: write it YYYY-MM-DD, or 'now'.") from None


def targets(product: Product, schedule: Unpublication) -> list[Version]:
    """What the schedule would unpublish now: its version, or every published one."""
    if schedule.whole_product:
        return product.published_versions()
    return [product.version(str(schedule.version_id))]


def _check_free(uow: UnitOfWork, product: Product, version: Version | None) -> None:
    for active in uow.schedules.active(product.code):
        if active.whole_product:
            what = f"Product {product.code}"
        elif version is not None and active.version_id == version.id:
            what = f"Version {version.id}"
        else:
            continue
        raise UserError(
            f"{what} is already scheduled for unpublication on "
            f"{active.unpublish_on.isoformat()} ({active.label()}); cancel that first."
        )


def check_schedulable(
    uow: UnitOfWork, product: Product, version: Version | None, on: date | None
) -> None:
    """What a schedule needs, at request and again at approval: the version can be unpublished
    (R7, R8) or the product (R9), and nothing of it is scheduled yet."""
    if version is None:
        product.check_unpublishable_product()
    else:
        product.check_unpublishable(version)
    if on is not None:
        _check_free(uow, product, version)


def schedule_in(
    uow: UnitOfWork,
    core: Core,
    product: Product,
    version: Version | None,
    on: date,
    *,
    by: Actor | str,
    request_id: int | None = None,
) -> Unpublication:
    """Schedules the unpublication of `version` (None: the whole product) on `on`, and tells
    subscribers and organization administrators now. The caller holds the product's lock and
    has checked the date (Product.check_unpublish_date)."""
    check_schedulable(uow, product, version, on)
    at = core.clock()
    schedule = Unpublication(
        product_code=product.code,
        version_id=version.id if version else None,
        unpublish_on=on,
        reminder_days=product.reminder_days,
        scheduled_by=by.id if isinstance(by, Actor) else by,
        at=at,
        request_id=request_id,
    )
    uow.schedules.add(schedule)
    audit.record(
        uow,
        Kind.SCHEDULED,
        at=at,
        product_code=product.code,
        by=by,
        version_id=schedule.version_id,
        request_id=request_id,
        schedule_id=schedule.id,
        unpublish_on=on.isoformat(),
        whole_product=version is None or None,
    )
    notices.unpublication_scheduled(uow, product, schedule, targets(product, schedule), at)
    return schedule


def schedule_unpublish(core: Core, version_id: str, *, on: date, by: Actor) -> Unpublication:
    """A release manager (the CLI's operator) schedules a version's unpublication on `on`,
    without a request (Slack users ask instead)."""
    with core.uow() as uow:
        version = get_version(uow, version_id)
        product = get_product(uow, version.product_code, lock=True)
        product.check_release_manager(by, "unpublish its versions")
        product.check_unpublish_date(on, today(core), release_manager=True)
        schedule = schedule_in(uow, core, product, product.version(version.id), on, by=by)
        uow.commit()
        return schedule


def schedule_unpublish_product(
    core: Core, product_code: str, *, on: date, by: Actor
) -> Unpublication:
    """A release manager (the CLI's operator): every version unpublished on `on` (R9)."""
    with core.uow() as uow:
        product = get_product(uow, product_code, lock=True)
        product.check_release_manager(by, "unpublish it")
        product.check_unpublish_date(on, today(core), release_manager=True)
        schedule = schedule_in(uow, core, product, None, on, by=by)
        uow.commit()
        return schedule


def close_schedules(
    uow: UnitOfWork,
    product: Product,
    versions: Sequence[Version],
    at: datetime,
    running: Unpublication | None = None,
) -> None:
    """The versions were unpublished by other means: their schedules have nothing left to do.
    The schedule `running` (the one unpublishing them on its date) is closed by its job."""
    gone = {v.id for v in versions}
    for schedule in uow.schedules.active(product.code):
        if running is not None and schedule.id == running.id:
            continue
        if schedule.whole_product and not product.published_versions():
            schedule.done("the product was unpublished")
        elif schedule.version_id in gone:
            schedule.done("the version was unpublished")
        else:
            continue
        schedule_closed(uow, schedule, at)


def schedule_closed(
    uow: UnitOfWork, schedule: Unpublication, at: datetime, by: Actor | str | None = None
) -> None:
    """The trail of a schedule that reached its end: done (carried out, or nothing left to
    do), blocked by R7, or cancelled."""
    kind = {
        ScheduleState.DONE: Kind.SCHEDULE_DONE,
        ScheduleState.BLOCKED: Kind.SCHEDULE_BLOCKED,
        ScheduleState.CANCELLED: Kind.SCHEDULE_CANCELLED,
    }[schedule.state]
    audit.record(
        uow,
        kind,
        at=at,
        product_code=schedule.product_code,
        by=by,
        version_id=schedule.version_id,
        request_id=schedule.request_id,
        schedule_id=schedule.id,
        unpublish_on=schedule.unpublish_on.isoformat(),
        late_seconds=schedule.late_seconds,
        reason=schedule.reason,
    )


def locked_schedule(uow: UnitOfWork, schedule_id: int, *, lock: bool = False) -> Unpublication:
    schedule = uow.schedules.get(schedule_id, lock=lock)
    if schedule is None:
        raise NotFound(f"There is no scheduled unpublication {schedule_id}.")
    return schedule


def get_schedule(core: Core, schedule_id: int) -> Unpublication:
    with core.reading() as uow:
        return locked_schedule(uow, schedule_id)


def find_schedule(
    core: Core, *, version_id: str | None = None, product_code: str | None = None
) -> Unpublication:
    """The active schedule of a version, or of a whole product."""
    with core.reading() as uow:
        if version_id is not None:
            version = get_version(uow, version_id)
            code, wanted = version.product_code, version.id
        else:
            code, wanted = get_product(uow, str(product_code)).code, None
        for schedule in uow.schedules.active(code):
            if schedule.version_id == wanted:
                return schedule
    what = f"version {version_id}" if version_id is not None else f"product {product_code}"
    raise NotFound(f"No unpublication of {what} is scheduled.")


def active_schedules(core: Core, product_code: str | None = None) -> list[Unpublication]:
    with core.reading() as uow:
        return uow.schedules.active(product_code)


def cancel_unpublication(core: Core, schedule_id: int, *, by: Actor) -> Unpublication:
    """A release manager (checked by ID, or the CLI's operator) cancels a scheduled or
    R7-blocked unpublication; those who were told get a "no longer scheduled" notice."""
    with core.uow() as uow:
        code = locked_schedule(uow, schedule_id).product_code
        product = get_product(uow, code, lock=True)
        schedule = locked_schedule(uow, schedule_id, lock=True)
        product.check_release_manager(by, "cancel its scheduled unpublications")
        if not schedule.active:
            raise UserError(
                f"The unpublication on {schedule.unpublish_on.isoformat()} is already "
                f"{schedule.state.value}."
            )
        at = core.clock()
        schedule.cancel(by.id, at)
        schedule_closed(uow, schedule, at, by)
        versions = targets(product, schedule)
        if versions:
            notices.unpublication_cancelled(uow, product, schedule, versions, at)
        uow.commit()
        return schedule

"""The worker's side of scheduled unpublications: what is due becomes a job, and the jobs send
the reminders and unpublish on the date.

The schedule lives in the database (schedules.next_at). On every tick a worker takes the
schedules whose moment has come, in one transaction that locks them (SKIP LOCKED: a second
worker passes them by) and queues one job per moment under a unique key; the job then runs
once, under a lease, like every other job. Nothing is kept in memory, so a restart loses
nothing, and a worker that was down over the date does it when it is back, saying how late."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from commands import audit, notices
from commands.audit import Kind
from commands.bootstrap import Core
from commands.errors import RuleBroken
from commands.model import Job, Product, ScheduleState, Status, Unpublication
from commands.notifications import managers
from commands.pipeline import Context, Step, StepFailed
from commands.services.schedules import schedule_closed, targets
from commands.services.unpublication import unpublish_one, unpublish_whole
from storage.uow import UnitOfWork

log = logging.getLogger("omi_bot.schedule")

# Later than this and the release managers hear how late it ran.
LATE_AFTER = timedelta(minutes=10)


def promote_due(core: Core) -> int:
    """Queues a job for each schedule whose next moment has come. Returns how many."""
    with core.uow() as uow:
        at = core.clock()
        queued = 0
        for schedule in uow.schedules.due(at):
            due = schedule.take_due(at)
            if due is None:
                continue
            suffix = f":{due.days}" if due.days is not None else ""
            queued += uow.jobs.add(
                Job(
                    due.kind,
                    at=at,
                    key=f"{due.kind}:{schedule.id}{suffix}",
                    version_id=schedule.version_id,
                    product_code=schedule.product_code,
                    payload={
                        "schedule_id": schedule.id,
                        "days": due.days,
                        "due_at": due.at.isoformat(),
                    },
                )
            )
        uow.commit()
        return queued


def _locked(uow: UnitOfWork, ctx: Context) -> tuple[Unpublication, Product] | None:
    schedule_id = int(str(ctx.job.payload.get("schedule_id") or 0))
    product = uow.products.get(str(ctx.job.product_code), lock=True)
    schedule = uow.schedules.get(schedule_id, lock=True)
    if product is None or schedule is None:
        raise StepFailed(f"scheduled unpublication {schedule_id} no longer exists")
    if schedule.state is not ScheduleState.SCHEDULED:
        return None  # cancelled, blocked or done meanwhile: nothing to do
    return schedule, product


def _language(uow: UnitOfWork, schedule: Unpublication) -> str:
    """The release managers are answered in the language of the request, when there was one."""
    if schedule.request_id is None:
        return "en"
    request = uow.requests.get(schedule.request_id)
    return str(((request.surface if request else None) or {}).get("lang") or "en")


def send_reminder(ctx: Context) -> Step:
    days = int(str(ctx.job.payload.get("days") or 0))

    def apply(uow: UnitOfWork) -> list[Job]:
        found = _locked(uow, ctx)
        if found is None:
            return []
        schedule, product = found
        versions = targets(product, schedule)
        if versions:
            at = ctx.core.clock()
            notices.unpublication_scheduled(uow, product, schedule, versions, at, days_left=days)
            audit.record(
                uow,
                Kind.REMINDER_SENT,
                at=at,
                product_code=product.code,
                version_id=schedule.version_id,
                request_id=schedule.request_id,
                schedule_id=schedule.id,
                unpublish_on=schedule.unpublish_on.isoformat(),
                days_left=days,
            )
        return []

    return Step(apply)


def unpublish_on_date(ctx: Context) -> Step:
    """Unpublishes exactly as an approval at once would (R8, R9), R7 checked again now."""
    core = ctx.core
    due_at = datetime.fromisoformat(str(ctx.job.payload.get("due_at")))

    def apply(uow: UnitOfWork) -> list[Job]:
        found = _locked(uow, ctx)
        if found is None:
            return []
        schedule, product = found
        at = core.clock()
        late = schedule.ran(at, due_at)
        day = schedule.unpublish_on.isoformat()
        language = _language(uow, schedule)
        if schedule.whole_product:
            if product.published_versions():
                unpublish_whole(uow, product, core, schedule=schedule)
                schedule.done()
            else:
                schedule.done("nothing was published any more")
        else:
            version = product.version(str(schedule.version_id))
            if version.status not in (Status.PUBLISHED, Status.BROKEN):
                schedule.done(f"the version was already {version.status.value}")
            else:
                try:
                    unpublish_one(uow, product, version, core, schedule=schedule)
                except RuleBroken as refused:
                    schedule.blocked(str(refused))
                    schedule_closed(uow, schedule, at)
                    log.warning("schedule %s blocked: %s", schedule.id, refused)
                    managers.blocked_by_r7(
                        uow, product, schedule.id, schedule.version_id, day, at, language
                    )
                    return []
                schedule.done()
        schedule_closed(uow, schedule, at)
        if late > LATE_AFTER.total_seconds():
            told = _duration(late)
            log.warning("scheduled unpublication %s ran %s late", schedule.id, told)
            managers.ran_late(
                uow, product, schedule.id, schedule.version_id, day, told, at, language
            )
        return []

    return Step(apply)


def _duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if minutes and not days:
        parts.append(f"{minutes} min")
    return " ".join(parts) or "under a minute"


HANDLERS = {
    "unpublication_reminder": send_reminder,
    "scheduled_unpublish": unpublish_on_date,
}

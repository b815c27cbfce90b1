"""The cloud work behind a decision, one job per step, each safe to run again.

Publishing: copy the OMI (the distribution account, after the seller lets it launch the
source), wait until the copy is available (OMI_COPY_TIMEOUT_SECONDS at most), share it with the
subscribers (or make it public for free and BYOL products), then mark the version published and
write the notices (R4). Unpublishing deletes the copy, then writes the notices, which say the
copy has been deleted (R8, R9); a deletion is never given up. A publication that fails deletes
whatever copy it made. A step that dies half-way is run again and finds what it had already
done: the copy by its tag or name, the sharing by its checkpoint."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from commands import audit, notices, retention
from commands.audit import Kind
from commands.bootstrap import Core
from commands.errors import CloudError
from commands.model import Job, Product, Status, Version
from commands.notifications import managers
from commands.outscale import ENDED, NO_SUCH_IMAGE
from commands.progress import Stage, stage
from storage.uow import UnitOfWork


class StepFailed(Exception):
    """The step cannot succeed by running again (a failed copy, a copy gone)."""


@dataclass
class Step:
    """What a step asks the worker to commit: `apply` runs in the transaction that marks the
    job done and returns the jobs that follow; `later` asks to run again after that many
    seconds (waiting on the cloud)."""

    apply: Callable[[UnitOfWork], Sequence[Job]] | None = None
    later: float | None = None


class Context(Protocol):
    core: Core
    job: Job

    def checkpoint(self, payload: dict[str, object]) -> None: ...


@dataclass(frozen=True)
class Snapshot:
    version: Version
    product: Product
    accounts: list[str] = field(default_factory=list)


def _read(core: Core, version_id: str, *, accounts: bool = False) -> Snapshot:
    with core.reading() as uow:
        version = uow.versions.get(version_id)
        if version is None:
            raise StepFailed(f"version {version_id} no longer exists")
        product = uow.products.get(version.product_code, versions=False)
        assert product is not None
        ids = uow.subscribers.account_ids(product.code) if accounts else []
        return Snapshot(version, product, ids)


def step_key(kind: str, version_id: str) -> str:
    return f"{kind}:{version_id}"


def step_job(kind: str, version: Version, at: datetime, **payload: object) -> Job:
    """A step of one version's pipeline, keyed so it is queued once."""
    return Job(
        kind,
        at=at,
        key=step_key(kind, version.id),
        version_id=version.id,
        product_code=version.product_code,
        payload=payload,
    )


def delete_copy_job(version: Version, at: datetime, notice: dict[str, object] | None = None) -> Job:
    """Deletes the version's copy; `notice` ({"versions", "whole_product"}) is the
    unpublication whose notices wait for the deletion."""
    payload: dict[str, object] = {"copy_id": version.copy_id}
    if notice is not None:
        payload["notice"] = notice
    return step_job("delete_copy", version, at, **payload)


def copy_omi(ctx: Context) -> Step:
    core = ctx.core
    snap = _read(core, str(ctx.job.version_id))
    version, product = snap.version, snap.product
    if version.status is not Status.PUBLISHING:
        return Step()
    dist = core.cloud.distribution
    found = dist.find_copy(version.id, version.copy_name())
    if found is None:
        if dist.account_id != product.seller_account_id:
            core.cloud.seller.grant(version.omi_id, [dist.account_id])
        copy_id = dist.copy(
            version.omi_id,
            version.copy_name(),
            product.code,
            f"Copy of {version.omi_id} for version {version.id} of product {product.code}",
        )
        dist.tag_version(copy_id, version.id)
    else:
        copy_id = found.image_id
        if found.tags.get("omi-bot:version-id") != version.id:
            dist.tag_version(copy_id, version.id)

    def apply(uow: UnitOfWork) -> list[Job]:
        v = uow.versions.get(version.id)
        assert v is not None
        v.copy_made(copy_id)
        at = core.clock()
        stage(uow, v, Stage.COPIED, at, copy_id)
        return [step_job("await_copy", v, at)]

    return Step(apply)


def await_copy(ctx: Context) -> Step:
    core = ctx.core
    version = _read(core, str(ctx.job.version_id)).version
    if version.status is not Status.PUBLISHING or not version.copy_id:
        return Step()
    image = core.cloud.distribution.image(version.copy_id)
    if image is None:
        raise StepFailed(f"the OMI copy {version.copy_id} disappeared from the cloud")
    if image.state == "available":

        def apply(uow: UnitOfWork) -> list[Job]:
            at = core.clock()
            stage(uow, version, Stage.SHARING, at)
            return [step_job("share_copy", version, at)]

        return Step(apply)
    if image.state in ENDED:
        why = f": {image.state_message}" if image.state_message else ""
        raise StepFailed(f"the OMI copy {image.image_id} ended {image.state}{why}")
    if copy_timed_out(ctx):
        raise StepFailed(
            f"the OMI copy {image.image_id} was still {image.state or 'pending'} after "
            f"{copy_timeout(core)}; it is deleted"
        )
    return Step(later=core.settings.copy_poll_seconds)


def copy_timed_out(ctx: Context) -> bool:
    """Whether the copy this job waits for has been pending too long. The job was queued when
    the copy was made, or just before: its age is how long the copy has been pending."""
    age = (ctx.core.clock() - ctx.job.created_at).total_seconds()
    return age >= ctx.core.settings.copy_timeout_seconds


def copy_timeout(core: Core) -> str:
    return f"{_duration(core.settings.copy_timeout_seconds)} (OMI_COPY_TIMEOUT_SECONDS)"


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"


def _batches(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def share_copy(ctx: Context) -> Step:
    core = ctx.core
    snap = _read(core, str(ctx.job.version_id), accounts=True)
    version, product = snap.version, snap.product
    if version.status is not Status.PUBLISHING or not version.copy_id:
        return Step()
    dist = core.cloud.distribution
    public = product.pricing.public_copy
    shared = set(snap.accounts)
    with _copy_known(version):
        if public:
            dist.make_public(version.copy_id)
        else:
            # Accounts are shared in ID order; the checkpoint is the last ID shared, so a
            # restart goes on from there and nobody is shared twice.
            through = ctx.job.payload.get("shared_through")
            pending = [a for a in snap.accounts if through is None or a > str(through)]
            for batch in _batches(pending, core.settings.share_batch_size):
                dist.grant(version.copy_id, batch)
                ctx.checkpoint({"shared_through": batch[-1]})
            # Who may launch the copy, as the cloud says: a run cut short (by a 503, a worker
            # that died) may have shared with an account that unsubscribed before the run that
            # finishes, or passed one that subscribed meanwhile below its checkpoint; neither is
            # in this run's list of subscribers, and the reconciliation below needs both.
            copy = dist.image(version.copy_id)
            if copy is None:
                raise _gone(version)
            shared = set(copy.permitted_accounts)

    def apply(uow: UnitOfWork) -> list[Job]:
        at = core.clock()
        locked = uow.products.get(product.code, lock=True)
        assert locked is not None
        v = locked.version(version.id)
        if v.status is not Status.PUBLISHING:
            return []
        locked.publication_done(v, at)
        audit.record(
            uow,
            Kind.PUBLISHED,
            at=at,
            product_code=locked.code,
            version_id=v.id,
            copy_id=v.copy_id,
            shared_with="public" if public else len(shared),
        )
        notices.version_published(uow, locked, v, at)
        stage(uow, v, Stage.PUBLISHED, at)
        retention.propose(uow, locked, at)
        if public:
            return []
        # Subscriptions that changed while sharing ran (subscribe() only queues access for
        # versions already published).
        now_subscribed = set(uow.subscribers.account_ids(locked.code))
        follow = []
        for kind, ids in (
            ("grant_account", sorted(now_subscribed - shared)),
            ("revoke_account", sorted(shared - now_subscribed)),
        ):
            if ids:
                follow.append(
                    Job(
                        kind,
                        at=at,
                        version_id=v.id,
                        product_code=v.product_code,
                        payload={"account_ids": ids},
                    )
                )
        return follow

    return Step(apply)


class CopyGone(StepFailed):
    """The cloud no longer has a copy the Versions table knows (deleted by hand, or a cloud
    whose state was lost): running the step again cannot bring it back."""


@contextmanager
def _copy_known(version: Version) -> Iterator[None]:
    """Turns OUTSCALE's "no such image" about the version's copy into what it means."""
    try:
        yield
    except CloudError as error:
        if error.code not in NO_SUCH_IMAGE:
            raise
        raise _gone(version, f"OUTSCALE answered {error.code}: no such image") from None


def _gone(version: Version, how: str = "OUTSCALE lists no such image") -> CopyGone:
    return CopyGone(
        f"the OMI copy {version.copy_id} of version {version.id} is gone from the OUTSCALE "
        f"Cloud ({how}), though omi-bot made it; nothing was changed on the cloud"
    )


def delete_copy(ctx: Context) -> Step:
    """Deletes a version's copy: an unpublished version's (R8, R9), or whatever copy a failed
    publication made, found by its tag or name when it was never recorded. Once an unpublished
    version's copy is gone, the last deletion of its unpublication writes the notices."""
    core = ctx.core
    copy_id = str(ctx.job.payload.get("copy_id") or "")
    dist = core.cloud.distribution
    if copy_id:
        dist.delete(copy_id)
    # Any other copy of ours goes too: one the drift repair was making when the version left.
    version = _read(core, str(ctx.job.version_id)).version
    for image in dist.copies_of(version.id, version.copy_name()):
        if image.image_id != copy_id:
            dist.delete(image.image_id)
            copy_id = copy_id or image.image_id

    def apply(uow: UnitOfWork) -> list[Job]:
        version = uow.versions.get(str(ctx.job.version_id))
        if version is None or version.status is not Status.UNPUBLISHED:
            return []
        at = core.clock()
        stage(uow, version, Stage.DELETED, at, copy_id)
        audit.record(
            uow,
            Kind.COPY_DELETED,
            at=at,
            product_code=version.product_code,
            version_id=version.id,
            copy_id=copy_id or None,
        )
        notice = ctx.job.payload.get("notice")
        if isinstance(notice, dict):
            _notify_when_deleted(uow, ctx.job, notice, at)
        return []

    return Step(apply)


def _notify_when_deleted(uow: UnitOfWork, job: Job, notice: dict[str, Any], at: datetime) -> None:
    """The notices of an unpublication say the copies have been deleted: they are written by
    the deletion that finishes last among its versions'. The product's lock makes the
    deletions of one product finish one after the other, so exactly one sees the others done."""
    product = uow.products.get(str(job.product_code), lock=True)
    assert product is not None
    group = [str(v) for v in notice.get("versions") or []]
    others = [step_key("delete_copy", v) for v in group if v != job.version_id]
    if uow.jobs.unfinished_keys(others):
        return
    versions = [product.version(v) for v in group]
    notices.versions_unpublished(
        uow, product, versions, at, whole_product=bool(notice.get("whole_product"))
    )


def _account_access(ctx: Context, grant: bool) -> Step:
    version = _read(ctx.core, str(ctx.job.version_id)).version
    asked = [str(a) for a in ctx.job.payload.get("account_ids") or []]  # type: ignore[union-attr]
    # The accounts' subscriptions as they are now, not as they were when the job was queued:
    # a grant retried after a 503 may run after the revoke of an unsubscription that followed
    # it, and must not give the account back what it was just refused.
    with ctx.core.reading() as uow:
        ids = [
            a
            for a in asked
            if (uow.subscribers.subscription(a, version.product_code) is not None) is grant
        ]
    if version.status is Status.PUBLISHED and version.copy_id and ids:
        dist = ctx.core.cloud.distribution
        with _copy_known(version):
            for batch in _batches(ids, ctx.core.settings.share_batch_size):
                (dist.grant if grant else dist.revoke)(version.copy_id, batch)
    return Step()


def grant_account(ctx: Context) -> Step:
    return _account_access(ctx, grant=True)


def revoke_account(ctx: Context) -> Step:
    return _account_access(ctx, grant=False)


HANDLERS: dict[str, Callable[[Context], Step]] = {
    "copy_omi": copy_omi,
    "await_copy": await_copy,
    "share_copy": share_copy,
    "delete_copy": delete_copy,
    "grant_account": grant_account,
    "revoke_account": revoke_account,
}

PUBLISHING_STEPS = {"copy_omi", "await_copy", "share_copy"}
# A copy that must go is never given up (R8): the job goes on at the longest backoff.
UNTIL_DONE = {"delete_copy"}


def on_failure(uow: UnitOfWork, job: Job, reason: str, at: datetime) -> None:
    """A step gave up. A publication step fails its version with the reason and deletes any
    copy it made, found by tag or name if it was never recorded, so nothing half-published
    stays in the cloud; nothing is announced. A copy the cloud lost under a published version
    is told to the release managers."""
    if not job.version_id:
        return
    version = uow.versions.get(job.version_id)
    if version is None:
        return
    if job.kind in PUBLISHING_STEPS and version.status is Status.PUBLISHING:
        version.failed(reason, at)
        audit.record(
            uow,
            Kind.PUBLISH_FAILED,
            at=at,
            product_code=version.product_code,
            version_id=version.id,
            reason=reason,
            step=job.kind,
        )
        stage(uow, version, Stage.FAILED, at, reason)
        uow.jobs.add(delete_copy_job(version, at))
    elif job.kind in ("grant_account", "revoke_account") and version.status is Status.PUBLISHED:
        product = uow.products.get(version.product_code, versions=False)
        if product is not None:
            managers.copy_gone(uow, product, version, reason, at)


def on_stuck(uow: UnitOfWork, job: Job, reason: str, at: datetime) -> None:
    """A deletion failed as many times as a job may: the release managers hear of it, once;
    the job goes on, and the unpublication's notices wait for it."""
    product = uow.products.get(str(job.product_code), versions=False)
    if job.version_id and product is not None:
        managers.deletion_stuck(uow, product, job.version_id, reason, at)


def describe(error: BaseException) -> str:
    if isinstance(error, CloudError | StepFailed):
        return str(error)
    return f"internal error ({type(error).__name__}); see the worker's log"

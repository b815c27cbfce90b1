"""The release managers' approvals: a publication, an unpublication or a product's
unpublication asked for, then approved or rejected."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from commands import audit
from commands.audit import Kind
from commands.bootstrap import Core
from commands.errors import FormErrors, NotFound, UserError, quoted
from commands.model import (
    Actor,
    Excerpt,
    Omi,
    Product,
    Request,
    RequestKind,
    RequestState,
    Unpublication,
    Version,
    VersionForm,
    check_idempotency_key,
    typed,
)
from commands.notifications import managers
from commands.retention import RETENTION
from commands.services.products import find_omi, get_excerpt, get_product, get_version
from commands.services.publication import check_publication, start_publication
from commands.services.schedules import check_schedulable, schedule_in, targets, today
from commands.services.subscribers import Audience, audience_in
from commands.services.unpublication import unpublish_one, unpublish_whole
from storage.uow import UnitOfWork


def check_request(core: Core, product_code: str, form: VersionForm) -> VersionForm:
    """What a publication request can be refused for from the database alone (R3, R5), so a
    Version form is answered before the cloud is asked whether the OMI may be published (R2).
    Anyone may ask; returns the completed form."""
    with core.reading() as uow:
        product = get_excerpt(uow, product_code, Excerpt.of_form(form))
    return product.check_form(product.complete(form))


def request_publication(
    core: Core,
    product_code: str,
    form: VersionForm,
    *,
    requested_by: str,
    name: str = "",
    idempotency_key: str | None = None,
) -> Request:
    """The Version form was submitted: a release manager must now proceed with publication.
    Anyone may ask. `name` is the requester's, for the audit trail. With `idempotency_key`,
    the request asked before with that key is returned as it is instead of a second one."""
    if idempotency_key is not None:
        existing = asked_before(core, idempotency_key, RequestKind.PUBLISH, product_code)
        if existing is not None:
            return existing
    _, completed, _ = check_publication(core, product_code, form)
    with core.uow() as uow:
        request = Request(
            kind=RequestKind.PUBLISH,
            product_code=product_code,
            requested_by=requested_by,
            at=core.clock(),
            form=completed,
            idempotency_key=idempotency_key,
        )
        return _added(uow, request, name)


def asked_before(
    core: Core, idempotency_key: str, kind: RequestKind, product_code: str
) -> Request | None:
    """The request asked with this key, if any. A key names one request: reusing it for
    another kind of request or another product is refused."""
    check_idempotency_key(idempotency_key)
    with core.reading() as uow:
        request = uow.requests.by_key(idempotency_key)
    if request is not None and (request.kind, request.product_code) != (kind, product_code):
        raise UserError(
            f"The idempotency key {quoted(idempotency_key)} is that of request {request.id} "
            f"({request.kind.value} of product {request.product_code}); give another key."
        )
    return request


def _added(uow: UnitOfWork, request: Request, name: str) -> Request:
    """Adds the request and its audit event, or returns the one a concurrent run with the
    same idempotency key added first (whose event is already written)."""
    added = uow.requests.add_once(request)
    if added is request:
        _requested(uow, request, name)
    uow.commit()
    return added


def _requested(uow: UnitOfWork, request: Request, name: str) -> None:
    form = request.form or {}
    audit.record(
        uow,
        Kind.REQUESTED,
        at=request.created_at,
        product_code=request.product_code,
        by=request.requested_by,
        name=name,
        version_id=request.version_id,
        request_id=request.id,
        request_kind=request.kind.value,
        unpublish_on=request.unpublish_on.isoformat() if request.unpublish_on else None,
        omi=form.get("omi"),
        software_version=form.get("software_version"),
    )


def request_unpublish(
    core: Core,
    version_id: str,
    *,
    requested_by: str,
    on: date | None = None,
    groups: Iterable[str] = (),
    name: str = "",
    idempotency_key: str | None = None,
) -> Request:
    """Asks to unpublish a version at once (`on` None: only without a notice period, and only
    a release manager may ask) or on a date at least the notice period away. With
    `idempotency_key`, the request asked before with that key is returned as it is."""
    if idempotency_key is not None:
        with core.reading() as uow:
            code = get_version(uow, version_id).product_code
        existing = asked_before(core, idempotency_key, RequestKind.UNPUBLISH, code)
        if existing is not None:
            return existing
    with core.uow() as uow:
        version = get_version(uow, version_id)
        product = get_product(uow, version.product_code)
        version = product.version(version.id)
        product.check_unpublishable(version)  # R7 and R8 first: they refuse any date
        product.check_unpublish_date(
            on,
            today(core),
            release_manager=product.is_release_manager(Actor.of(requested_by, groups)),
        )
        check_schedulable(uow, product, version, on)
        request = Request(
            kind=RequestKind.UNPUBLISH,
            product_code=product.code,
            version_id=version.id,
            requested_by=requested_by,
            at=core.clock(),
            unpublish_on=on,
            idempotency_key=idempotency_key,
        )
        return _added(uow, request, name)


def request_unpublish_product(
    core: Core,
    product_code: str,
    *,
    requested_by: str,
    on: date | None = None,
    groups: Iterable[str] = (),
    name: str = "",
    idempotency_key: str | None = None,
) -> Request:
    """Asks to unpublish every version of a product (R9), at once or on a date."""
    if idempotency_key is not None:
        existing = asked_before(core, idempotency_key, RequestKind.UNPUBLISH_PRODUCT, product_code)
        if existing is not None:
            return existing
    with core.uow() as uow:
        product = get_product(uow, product_code)
        product.check_unpublishable_product()
        product.check_unpublish_date(
            on,
            today(core),
            release_manager=product.is_release_manager(Actor.of(requested_by, groups)),
        )
        check_schedulable(uow, product, None, on)
        request = Request(
            kind=RequestKind.UNPUBLISH_PRODUCT,
            product_code=product.code,
            requested_by=requested_by,
            at=core.clock(),
            unpublish_on=on,
            idempotency_key=idempotency_key,
        )
        return _added(uow, request, name)


def get_request(core: Core, request_id: int) -> Request:
    with core.reading() as uow:
        request = uow.requests.get(request_id)
        if request is None:
            raise NotFound(f"There is no request {request_id}.")
        return request


def release_manager_groups(core: Core) -> list[str]:
    """The user group IDs that make release managers, over every product."""
    with core.reading() as uow:
        groups = {p.release_manager_group for p, _ in uow.products.summaries()}
    return sorted(g for g in groups if g)


def awaiting_approval(core: Core, actor: Actor) -> list[Request]:
    """Pending requests this actor may decide: on products where they are a release manager,
    never their own."""
    with core.reading() as uow:
        codes = [p.code for p, _ in uow.products.summaries() if p.is_release_manager(actor)]
        if not codes:
            return []
        return [r for r in uow.requests.pending(codes) if r.requested_by != actor.id]


def check_decision(core: Core, request_id: int, *, by: Actor) -> tuple[Request, Product, Audience]:
    """Whether `by` may decide the request now (the Approve and Reject buttons ask before any
    modal opens), with whom it would reach; the decision itself checks again under the lock."""
    with core.reading() as uow:
        request = uow.requests.get(request_id)
        if request is None:
            raise NotFound(f"There is no request {request_id}.")
        whole_product = request.kind is RequestKind.UNPUBLISH_PRODUCT
        excerpt = Excerpt(version_id=request.version_id, live=whole_product)
        product = get_excerpt(uow, request.product_code, excerpt)
        request.check_decidable(product, by)
        return request, product, audience_in(uow, product.code)


def request_context(core: Core, request: Request) -> tuple[Product, Audience]:
    """What a request's message shows besides the request: its product, with the version it
    names and the last created one (what a publication changes), and whom it would reach."""
    with core.reading() as uow:
        excerpt = Excerpt(version_id=request.version_id)
        product = get_excerpt(uow, request.product_code, excerpt)
        return product, audience_in(uow, product.code)


def requests_of(core: Core, user_id: str, limit: int = 10) -> list[Request]:
    """A user's most recent requests, newest first."""
    with core.reading() as uow:
        return uow.requests.by_requester(user_id, limit)


@dataclass(frozen=True)
class Decision:
    request: Request
    versions: list[Version]
    schedule: Unpublication | None = None  # an unpublication on a date


def approve(core: Core, request_id: int, *, by: Actor) -> Decision:
    """A release manager proceeds. Checked by user or group ID; never the requester. A second
    approval of the same request (a double click, a retry) is refused and changes nothing."""
    request = get_request(core, request_id)
    omi: Omi | None = None
    if request.kind is RequestKind.PUBLISH and request.state is RequestState.PENDING:
        with core.reading() as uow:
            product = get_product(uow, request.product_code)
            request.check_decidable(product, by)
        omi = find_omi(core, product, request.version_form().omi)
    with core.uow() as uow:
        request = _locked_request(uow, request_id)
        product = get_product(uow, request.product_code, lock=True)
        request.check_decidable(product, by)
        try:
            versions, schedule = _carry_out(uow, core, product, request, omi, by)
        except UserError as refused:
            # The rules changed since the request (another version was unpublished, the OMI
            # was used...): the request can never pass; say so on it and keep nothing else.
            uow.rollback()
            request = _locked_request(uow, request_id)
            request.decide(RequestState.FAILED, by.id, core.clock(), str(refused))
            _decided(uow, request, by, Kind.REQUEST_FAILED)
            uow.commit()
            raise
        request.decide(RequestState.APPROVED, by.id, core.clock())
        _decided(uow, request, by, Kind.APPROVED)
        uow.commit()
        return Decision(request, versions, schedule)


def _decided(uow: UnitOfWork, request: Request, by: Actor, kind: Kind) -> None:
    audit.record(
        uow,
        kind,
        at=request.decided_at or request.created_at,
        product_code=request.product_code,
        by=by,
        version_id=request.version_id,
        request_id=request.id,
        request_kind=request.kind.value,
        unpublish_on=request.unpublish_on.isoformat() if request.unpublish_on else None,
        reason=request.reason,
    )


def _locked_request(uow: UnitOfWork, request_id: int) -> Request:
    request = uow.requests.get(request_id, lock=True)
    if request is None:
        raise NotFound(f"There is no request {request_id}.")
    return request


def _carry_out(
    uow: UnitOfWork, core: Core, product: Product, request: Request, omi: Omi | None, by: Actor
) -> tuple[list[Version], Unpublication | None]:
    if request.kind is RequestKind.PUBLISH:
        version = product.publish(
            request.version_form(),
            omi,
            requested_by=request.requested_by,
            approved_by=by.id,
            at=core.clock(),
        )
        start_publication(uow, version)
        request.version_id = version.id
        return [version], None
    # The notice is counted from now, when subscribers are told: a date that was far enough
    # when asked may no longer be. The approver is a release manager.
    request.unpublish_on = unpublish_date(core, product, request)
    product.check_unpublish_date(request.unpublish_on, today(core), release_manager=True)
    version = (
        product.version(request.version_id)
        if request.kind is RequestKind.UNPUBLISH and request.version_id
        else None
    )
    if request.unpublish_on is not None:
        schedule = schedule_in(
            uow, core, product, version, request.unpublish_on, by=by, request_id=request.id
        )
        return targets(product, schedule), schedule
    if version is not None:
        unpublish_one(uow, product, version, core, by=by, request_id=request.id)
        return [version], None
    return unpublish_whole(uow, product, core, by=by, request_id=request.id), None


def unpublish_date(core: Core, product: Product, request: Request) -> date | None:
    """The date an approval now would schedule the unpublication on: the one asked for, but
    a retention proposal is for the earliest date its notice allows, so it moves with the
    approval."""
    if request.requested_by == RETENTION and request.unpublish_on is not None:
        return max(request.unpublish_on, product.earliest_unpublish_date(today(core)))
    return request.unpublish_on


def check_reason(reason: str) -> str:
    """A rejection says why; the reason form is answered with this before anything else."""
    reason = typed(reason).strip()
    if not reason:
        raise FormErrors({"reason": "Say why the request is rejected."})
    return reason


def reject(core: Core, request_id: int, *, by: Actor, reason: str) -> Request:
    reason = check_reason(reason)
    with core.uow() as uow:
        request = _locked_request(uow, request_id)
        product = get_product(uow, request.product_code)
        request.check_decidable(product, by)
        request.decide(RequestState.REJECTED, by.id, core.clock(), reason[:2000])
        _decided(uow, request, by, Kind.REJECTED)
        uow.commit()
        return request


def queue_for_approval(
    core: Core, request_id: int, text: str, blocks: list[dict[str, Any]], language: str = "en"
) -> None:
    """A request asked outside Slack (the CLI) is posted by a worker from the outbox, to the
    product's approval channel or to each release manager; the posts become the request's
    messages, updated in place once it is decided. Queued once: a second call changes
    nothing."""
    with core.uow() as uow:
        request = _locked_request(uow, request_id)
        product = get_product(uow, request.product_code)
        managers.post(
            uow,
            product,
            managers.Message(text, blocks),
            event="request",
            key=str(request.id),
            at=core.clock(),
            language=language,
            version_id=request.version_id,
            request_id=request.id,
        )
        uow.commit()


def record_surface(core: Core, request_id: int, surface: dict[str, object]) -> None:
    """Remembers where a request is shown (a Slack message) so it can be updated in place."""
    with core.uow() as uow:
        request = _locked_request(uow, request_id)
        request.surface = {**request.surface, **surface}
        uow.commit()

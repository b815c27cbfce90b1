"""Retention: a product that keeps N published versions (`keep_published`) proposes, when a new
version is published, to unpublish the oldest beyond N with its notice period. The proposal is
an unpublication request like any other, pre-filled and posted to the release managers, who
approve it with one click; nothing is unpublished without them."""

from __future__ import annotations

from datetime import UTC, datetime

from commands import audit
from commands.audit import Kind
from commands.model import Product, Request, RequestKind, RequestState
from commands.notifications import managers
from storage.uow import UnitOfWork

# Who asks, on a retention proposal; nobody's own request, so any release manager decides.
RETENTION = "omi-bot:retention"


def propose(uow: UnitOfWork, product: Product, at: datetime) -> list[Request]:
    """Called in the transaction that publishes a version. Versions already scheduled, or
    with an unpublication request waiting, are not proposed again."""
    beyond = product.beyond_retention()
    if not beyond:
        return []
    scheduled = {s.version_id for s in uow.schedules.active(product.code)}
    if None in scheduled:
        return []  # the whole product is going
    asked = {
        r.version_id
        for r in uow.requests.pending([product.code])
        if r.kind is RequestKind.UNPUBLISH and r.state is RequestState.PENDING
    }
    day = product.earliest_unpublish_date(at.astimezone(UTC).date())
    proposed = []
    for version in beyond:
        if version.id in scheduled or version.id in asked:
            continue
        request = Request(
            kind=RequestKind.UNPUBLISH,
            product_code=product.code,
            version_id=version.id,
            requested_by=RETENTION,
            at=at,
            unpublish_on=day,
        )
        uow.requests.add(request)
        audit.record(
            uow,
            Kind.REQUESTED,
            at=at,
            product_code=product.code,
            by=RETENTION,
            version_id=version.id,
            request_id=request.id,
            request_kind=request.kind.value,
            unpublish_on=day.isoformat(),
        )
        managers.retention_request(uow, product, request.id, version, day.isoformat(), at)
        proposed.append(request)
    return proposed

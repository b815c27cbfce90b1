"""A request waiting for a release manager's decision: publish, unpublish a version, unpublish
a product."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from commands.errors import NotAllowed, UserError
from commands.model.product import Product
from commands.model.versions import VersionForm


@dataclass(frozen=True)
class Actor:
    """Who asks for an operation. A Slack user is known by their user ID and the IDs of the
    user groups Slack says they are in; names never count. An operator of the CLI works with the
    database's own rights and passes the release-manager check, but still never decides a
    request they made. `name` is only what the audit trail shows beside the ID."""

    id: str
    groups: frozenset[str] = frozenset()
    operator: bool = False
    name: str = ""

    @classmethod
    def slack_user(cls, user_id: str, groups: Iterable[str] = (), name: str = "") -> Actor:
        return cls(id=user_id, groups=frozenset(groups), name=name)

    @classmethod
    def cli_operator(cls, name: str) -> Actor:
        return cls(id=name, operator=True)


class RequestKind(StrEnum):
    PUBLISH = "publish"
    UNPUBLISH = "unpublish"
    UNPUBLISH_PRODUCT = "unpublish_product"


class RequestState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    FAILED = "failed"  # approved, but the rules no longer allowed it at approval time


class Request:
    """A release manager's decision waiting to be made: publish (the filled Version form),
    unpublish a version, or unpublish a product."""

    id: int
    kind: RequestKind
    product_code: str
    version_id: str | None
    # An unpublication on this date rather than at once.
    unpublish_on: date | None
    form: dict[str, object]
    requested_by: str
    state: RequestState
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    created_at: datetime
    surface: dict[str, object]

    def __init__(
        self,
        *,
        kind: RequestKind,
        product_code: str,
        requested_by: str,
        at: datetime,
        version_id: str | None = None,
        form: VersionForm | None = None,
        unpublish_on: date | None = None,
    ) -> None:
        self.kind = kind
        self.product_code = product_code
        self.version_id = version_id
        self.unpublish_on = unpublish_on
        self.form = form.as_dict() if form else {}
        self.requested_by = requested_by
        self.state = RequestState.PENDING
        self.decided_by = None
        self.decided_at = None
        self.reason = None
        self.created_at = at
        self.surface = {}

    def version_form(self) -> VersionForm:
        return VersionForm.from_dict(self.form)

    def check_decidable(self, product: Product, actor: Actor) -> None:
        if self.state is not RequestState.PENDING:
            raise UserError(f"Request {self.id} was already {self.state.value}.")
        if actor.id == self.requested_by:
            raise NotAllowed("You cannot decide on your own request; another release manager must.")
        product.check_release_manager(actor, "decide on its requests")

    def decide(self, state: RequestState, user_id: str, at: datetime, reason: str = "") -> None:
        self.state = state
        self.decided_by = user_id
        self.decided_at = at
        self.reason = reason or None

"""A request waiting for a release manager's decision: publish, unpublish a version, unpublish
a product."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from commands.errors import NotAllowed, UserError
from commands.model.product import Product
from commands.model.versions import VersionForm

# Who a CLI operator is on requests and in the Versions table: "cli:" then their name (the OS
# user, or the origin a pipeline gives with --requested-by). Slack user IDs never start so.
CLI_PREFIX = "cli:"
# Requests and versions keep who asked in 64 characters.
MAX_REQUESTER = 64
MAX_REQUESTER_NAME = MAX_REQUESTER - len(CLI_PREFIX)
_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


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
        """`name` with or without its "cli:" prefix: "alice", "cli:alice", "ci@runner-7". The
        name is what people read in Slack and in the Versions table, so it must be one line
        of text that fits."""
        name = name.removeprefix(CLI_PREFIX).strip()
        if not name or any(ord(c) < 32 or ord(c) == 127 for c in name):
            raise UserError("The requester's name must be one line of text.")
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise UserError("The requester's name is not valid UTF-8 text.") from None
        if len(name) > MAX_REQUESTER_NAME:
            raise UserError(
                f"The requester's name is {len(name)} characters long; "
                f"{MAX_REQUESTER_NAME} at most."
            )
        return cls(id=CLI_PREFIX + name, operator=True)

    @classmethod
    def of(cls, user_id: str, groups: Iterable[str] = ()) -> Actor:
        """Who made a request, from what it records: a CLI operator or a Slack user."""
        if user_id.startswith(CLI_PREFIX):
            return cls(id=user_id, operator=True)
        return cls.slack_user(user_id, groups)


MAX_IDEMPOTENCY_KEY = 200


def check_idempotency_key(key: str) -> str:
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise UserError(f"An idempotency key is 1 to {MAX_IDEMPOTENCY_KEY} printable characters.")
    return key


def slack_user_id(user_id: str) -> str | None:
    """The Slack user to tell about a request they made; None for a CLI operator or omi-bot
    itself (a retention proposal), whom Slack cannot reach."""
    return user_id if _SLACK_USER_ID.match(user_id) else None


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
    # Given by whoever asks from a pipeline: asking again with it returns this request.
    idempotency_key: str | None

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
        idempotency_key: str | None = None,
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
        self.idempotency_key = idempotency_key

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

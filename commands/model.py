"""The domain, as the seed tells it: a product, its Versions table, the Version form.

Plain Python: storage maps these classes to tables (storage/orm.py), nothing here knows about it.
Every method that enforces one of DESIGN.md's rules names it (R1–R9)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum

from commands.errors import FormErrors, NotAllowed, NotFound, RuleBroken, UserError


def now() -> datetime:
    return datetime.now(UTC)


class Pricing(StrEnum):
    HOURLY = "hourly"
    YEARLY = "yearly"
    BYOL = "byol"
    FREE = "free"
    SUBSCRIPTION = "subscription"

    @property
    def public_copy(self) -> bool:
        """Free/open-source and BYOL products' copies are public; paid ones are shared with
        subscriber accounts only."""
        return self in (Pricing.FREE, Pricing.BYOL)


class Status(StrEnum):
    PUBLISHING = "publishing"  # approved, the OMI copy is being made and shared
    PUBLISHED = "published"
    FAILED = "failed"  # the copy could not be made; nothing was announced
    UNPUBLISHED = "unpublished"


PRODUCT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
OMI_ID = re.compile(r"^ami-[0-9a-f]{8,17}$")
VERSION_ID = re.compile(r"^ver-[0-9a-f]{10}$")

# Slack's plain_text_input caps a value at 3000 characters; the same caps hold for the CLI so
# a version made in one place can always be shown and edited in the other.
LIMITS = {
    "software_version": 64,
    "operating_system": 128,
    "software_base_item": 128,
    "release_note": 3000,
    "instructions": 3000,
}
MAX_SOFTWARE_BASE = 30


def new_version_id() -> str:
    return "ver-" + secrets.token_hex(5)


def check_product_code(code: str) -> str:
    if not PRODUCT_CODE.match(code or ""):
        raise UserError(
            f"{code!r} is not a product code: use letters, digits, '.', '_' or '-' (64 at most)."
        )
    return code


def check_account_id(account_id: str) -> str:
    if not ACCOUNT_ID.match(account_id or ""):
        raise UserError(f"{account_id!r} is not an OUTSCALE account ID (12 digits).")
    return account_id


@dataclass(frozen=True)
class Omi:
    """An OMI as the cloud shows it to the seller."""

    image_id: str
    name: str
    account_id: str
    product_codes: tuple[str, ...]
    state: str


@dataclass(frozen=True)
class VersionForm:
    """The Version form's fields (R3). `omi` is the OMI name or ID the seller picked."""

    omi: str = ""
    software_version: str = ""
    operating_system: str = ""
    software_base: tuple[str, ...] = ()
    release_note: str = ""
    instructions: str = ""

    def cleaned(self) -> VersionForm:
        """Strips blanks and checks sizes; raises FormErrors naming each bad field."""
        form = replace(
            self,
            omi=self.omi.strip(),
            software_version=self.software_version.strip(),
            operating_system=self.operating_system.strip(),
            software_base=tuple(s.strip() for s in self.software_base if s.strip()),
            release_note=self.release_note.strip(),
            instructions=self.instructions.strip(),
        )
        errors: dict[str, str] = {}
        if not form.release_note:
            errors["release_note"] = "A release note is required."
        for name in ("software_version", "operating_system", "release_note", "instructions"):
            value = getattr(form, name)
            if len(value) > LIMITS[name]:
                label = name.replace("_", " ").capitalize()
                errors[name] = f"{label} is {len(value)} characters long; {LIMITS[name]} at most."
        if len(form.software_base) > MAX_SOFTWARE_BASE:
            errors["software_base"] = (
                f"The software base lists {MAX_SOFTWARE_BASE} elements at most."
            )
        elif any(len(item) > LIMITS["software_base_item"] for item in form.software_base):
            errors["software_base"] = (
                f"Each software base element is {LIMITS['software_base_item']} characters at most."
            )
        if errors:
            raise FormErrors(errors)
        return form

    def as_dict(self) -> dict[str, object]:
        return {
            "omi": self.omi,
            "software_version": self.software_version,
            "operating_system": self.operating_system,
            "software_base": list(self.software_base),
            "release_note": self.release_note,
            "instructions": self.instructions,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> VersionForm:
        base = data.get("software_base") or []
        return cls(
            omi=str(data.get("omi") or ""),
            software_version=str(data.get("software_version") or ""),
            operating_system=str(data.get("operating_system") or ""),
            software_base=tuple(str(s) for s in base) if isinstance(base, list | tuple) else (),
            release_note=str(data.get("release_note") or ""),
            instructions=str(data.get("instructions") or ""),
        )


class Version:
    """One row of a product's Versions table (R1) and the Version form behind it."""

    id: str
    product_code: str
    omi_id: str
    omi_name: str
    copy_id: str | None
    software_version: str
    operating_system: str
    software_base: list[str]
    release_note: str
    instructions: str
    status: Status
    created_at: datetime
    modified_at: datetime
    published_at: datetime | None
    unpublished_at: datetime | None
    requested_by: str
    approved_by: str | None
    failure: str | None

    def __init__(
        self,
        *,
        id: str,
        product_code: str,
        omi: Omi,
        form: VersionForm,
        requested_by: str,
        approved_by: str | None,
        at: datetime,
    ) -> None:
        self.id = id
        self.product_code = product_code
        self.omi_id = omi.image_id
        self.omi_name = omi.name
        self.copy_id = None
        self.software_version = form.software_version
        self.operating_system = form.operating_system
        self.software_base = list(form.software_base)
        self.release_note = form.release_note
        self.instructions = form.instructions
        self.status = Status.PUBLISHING
        self.created_at = at
        self.modified_at = at
        self.published_at = None
        self.unpublished_at = None
        self.requested_by = requested_by
        self.approved_by = approved_by
        self.failure = None

    def form(self) -> VersionForm:
        return VersionForm(
            omi=self.omi_id,
            software_version=self.software_version,
            operating_system=self.operating_system,
            software_base=tuple(self.software_base),
            release_note=self.release_note,
            instructions=self.instructions,
        )

    def copy_name(self) -> str:
        """The OMI copy's name: unique and derived from the version, so a copy that was made
        but not recorded (a crash) is found again instead of made twice."""
        return f"{self.omi_name[:80]}-omi-bot-{self.id}"

    def modify(self, form: VersionForm, at: datetime) -> list[str]:
        """R5, R6: only a published version can be modified, never its OMI. Returns the names
        of the fields that changed; the modification date moves only when something did."""
        if self.status is not Status.PUBLISHED:
            raise RuleBroken(
                "R6",
                f"Version {self.id} is {self.status.value}: only a published version can be "
                "modified.",
            )
        form = form.cleaned()
        if form.omi and form.omi not in (self.omi_id, self.omi_name):
            raise RuleBroken(
                "R5",
                f"The OMI of version {self.id} cannot change once published; publish a new "
                "version with the new OMI instead.",
            )
        changed = [
            name
            for name, value in (
                ("software_version", form.software_version),
                ("operating_system", form.operating_system),
                ("software_base", list(form.software_base)),
                ("release_note", form.release_note),
                ("instructions", form.instructions),
            )
            if getattr(self, name) != value
        ]
        if changed:
            self.software_version = form.software_version
            self.operating_system = form.operating_system
            self.software_base = list(form.software_base)
            self.release_note = form.release_note
            self.instructions = form.instructions
            self.modified_at = at
        return changed

    def copy_made(self, copy_id: str) -> None:
        self.copy_id = copy_id

    def published(self, at: datetime) -> None:
        self.status = Status.PUBLISHED
        self.published_at = at
        self.modified_at = at

    def failed(self, reason: str, at: datetime) -> None:
        self.status = Status.FAILED
        self.failure = reason[:1000]
        self.modified_at = at

    def unpublished(self, at: datetime) -> None:
        self.status = Status.UNPUBLISHED
        self.unpublished_at = at
        self.modified_at = at


class Product:
    """An OMI product and its Versions table."""

    code: str
    name: str
    seller_account_id: str
    pricing: Pricing
    created_at: datetime
    modified_at: datetime
    release_managers: list[str]
    release_manager_group: str | None
    approval_channel: str | None
    versions: list[Version]

    def __init__(
        self,
        *,
        code: str,
        name: str,
        seller_account_id: str,
        pricing: Pricing,
        at: datetime,
        release_managers: Iterable[str] = (),
        release_manager_group: str | None = None,
        approval_channel: str | None = None,
    ) -> None:
        self.code = check_product_code(code)
        if not name.strip():
            raise UserError("A product needs a name.")
        self.name = name.strip()
        self.seller_account_id = check_account_id(seller_account_id)
        self.pricing = pricing
        self.created_at = at
        self.modified_at = at
        self.release_managers = list(release_managers)
        self.release_manager_group = release_manager_group
        self.approval_channel = approval_channel
        self.versions = []

    # R1 -- the Versions table
    def versions_table(self) -> list[Version]:
        """Newest first, as the Marketplace lists them."""
        return sorted(self.versions, key=lambda v: (v.created_at, v.id), reverse=True)

    def version(self, version_id: str) -> Version:
        for v in self.versions:
            if v.id == version_id:
                return v
        raise NotFound(f"Product {self.code} has no version {version_id}.")

    def published_versions(self) -> list[Version]:
        return [v for v in self.versions if v.status is Status.PUBLISHED]

    def last_available_version(self) -> Version | None:
        published = self.published_versions()
        if not published:
            return None
        return max(published, key=lambda v: (v.published_at or v.created_at, v.id))

    def last_created_version(self) -> Version | None:
        if not self.versions:
            return None
        return max(self.versions, key=lambda v: (v.created_at, v.id))

    # R3 -- a new Version form starts from the last created version
    def new_form(self) -> VersionForm:
        last = self.last_created_version()
        if last is None:
            return VersionForm()
        # The OMI and the release note belong to each version: a new form starts without them.
        return replace(last.form(), omi="", release_note="")

    def complete(self, form: VersionForm) -> VersionForm:
        """R3: the fields a form leaves empty come from the last created version; the release
        note is the new version's own."""
        defaults = self.new_form()
        return VersionForm(
            omi=form.omi,
            software_version=form.software_version or defaults.software_version,
            operating_system=form.operating_system or defaults.operating_system,
            software_base=form.software_base or defaults.software_base,
            release_note=form.release_note,
            instructions=form.instructions or defaults.instructions,
        )

    # R2, R5 -- which OMIs may be published
    def selectable(self, omi: Omi) -> bool:
        return (
            omi.account_id == self.seller_account_id
            and self.code in omi.product_codes
            and omi.state == "available"
        )

    def version_using(self, omi_id: str) -> Version | None:
        """A version whose OMI this is; failed attempts don't hold their OMI."""
        for v in self.versions:
            if v.omi_id == omi_id and v.status is not Status.FAILED:
                return v
        return None

    def check_publishable(self, form: VersionForm, omi: Omi | None) -> VersionForm:
        """Everything a publication needs before anyone approves it. Collects the form's
        errors and the OMI's in one FormErrors so a modal can show them all at once."""
        errors: dict[str, str] = {}
        try:
            form = form.cleaned()
        except FormErrors as bad:
            errors.update(bad.fields)
        if not form.omi:
            errors["omi"] = "Pick the OMI to publish."
        elif omi is None:
            errors["omi"] = (
                f"No OMI {form.omi!r} is visible to the seller account {self.seller_account_id}."
            )
        elif not self.selectable(omi):
            errors["omi"] = (
                f"OMI {omi.image_id} cannot be published for product {self.code}: only available "
                f"OMIs created by account {self.seller_account_id} and carrying product code "
                f"{self.code} can (R2)."
            )
        else:
            holder = self.version_using(omi.image_id)
            if holder is not None:
                errors["omi"] = (
                    f"OMI {omi.image_id} is already the OMI of version {holder.id} "
                    f"({holder.software_version or 'no software version'}); a new version needs "
                    "a new OMI (R5)."
                )
        if errors:
            raise FormErrors(errors)
        return form

    def publish(
        self,
        form: VersionForm,
        omi: Omi | None,
        *,
        requested_by: str,
        approved_by: str | None,
        at: datetime,
    ) -> Version:
        """R2–R5: a new version, publishing."""
        merged = self.check_publishable(self.complete(form), omi)
        assert omi is not None  # check_publishable refused a missing OMI
        version = Version(
            id=new_version_id(),
            product_code=self.code,
            omi=omi,
            form=merged,
            requested_by=requested_by,
            approved_by=approved_by,
            at=at,
        )
        self.versions.append(version)
        return version

    def publication_done(self, version: Version, at: datetime) -> None:
        """R4: publication updates the product's modification date and last available
        version (derived from the published versions)."""
        version.published(at)
        self.modified_at = at

    # R7, R8 -- unpublish one version
    def check_unpublishable(self, version: Version) -> None:
        if version.status is not Status.PUBLISHED:
            raise RuleBroken(
                "R8",
                f"Version {version.id} is {version.status.value}: only a published version can "
                "be unpublished.",
            )
        if len(self.published_versions()) == 1:
            raise RuleBroken(
                "R7",
                f"Version {version.id} is the only published version of product {self.code} "
                "and cannot be unpublished; unpublish the whole product instead.",
            )

    def unpublish(self, version: Version, at: datetime) -> None:
        self.check_unpublishable(version)
        version.unpublished(at)
        self.modified_at = at

    # R9 -- unpublish the whole product
    def check_unpublishable_product(self) -> list[Version]:
        published = self.published_versions()
        if not published:
            raise RuleBroken("R9", f"Product {self.code} has no published version to unpublish.")
        if any(v.status is Status.PUBLISHING for v in self.versions):
            raise RuleBroken(
                "R9",
                f"A version of product {self.code} is being published; unpublish the product "
                "once it is done.",
            )
        return published

    def unpublish_all(self, at: datetime) -> list[Version]:
        published = self.check_unpublishable_product()
        for v in published:
            v.unpublished(at)
        self.modified_at = at
        return published

    # approvals
    def check_approver(self, user_id: str, groups: Iterable[str] = ()) -> None:
        """Release managers are named by Slack user ID or user group ID, never by name."""
        if user_id in self.release_managers:
            return
        if self.release_manager_group and self.release_manager_group in set(groups):
            return
        raise NotAllowed(f"Only the release managers of product {self.code} can decide this.")


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
    ) -> None:
        self.kind = kind
        self.product_code = product_code
        self.version_id = version_id
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

    def check_decidable(self, product: Product, user_id: str, groups: Iterable[str]) -> None:
        if self.state is not RequestState.PENDING:
            raise UserError(f"Request {self.id} was already {self.state.value}.")
        if user_id == self.requested_by:
            raise NotAllowed("You cannot decide on your own request; another release manager must.")
        product.check_approver(user_id, groups)

    def decide(self, state: RequestState, user_id: str, at: datetime, reason: str = "") -> None:
        self.state = state
        self.decided_by = user_id
        self.decided_at = at
        self.reason = reason or None


@dataclass
class Organization:
    """A subscriber's organization: its language and its administrators get the notices."""

    name: str
    language: str = "en"
    admin_emails: list[str] = field(default_factory=list)
    id: int | None = None


@dataclass
class Subscriber:
    """An OUTSCALE account subscribed to products."""

    account_id: str
    organization_id: int
    email: str
    slack_channel: str | None = None


@dataclass
class Subscription:
    account_id: str
    product_code: str
    created_at: datetime = field(default_factory=now)


class JobState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job:
    """One step of the cloud work a decision implies (copy, wait, share, delete...).

    Written in the same transaction as the state change that needs it, run later by a worker.
    `key` makes enqueuing idempotent: the same step of the same thing is queued once."""

    id: int
    kind: str
    key: str | None
    version_id: str | None
    product_code: str | None
    payload: dict[str, object]
    state: JobState
    attempts: int
    run_at: datetime
    lease_until: datetime | None
    worker: str | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None

    def __init__(
        self,
        kind: str,
        *,
        at: datetime,
        key: str | None = None,
        version_id: str | None = None,
        product_code: str | None = None,
        payload: dict[str, object] | None = None,
        run_at: datetime | None = None,
    ) -> None:
        self.kind = kind
        self.key = key
        self.version_id = version_id
        self.product_code = product_code
        self.payload = dict(payload or {})
        self.state = JobState.PENDING
        self.attempts = 0
        self.run_at = run_at or at
        self.lease_until = None
        self.worker = None
        self.last_error = None
        self.created_at = at
        self.finished_at = None


class OutboxState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class OutboxItem:
    """A notice to deliver (an email or a Slack post), written in the same transaction as the
    event it tells of and delivered by the worker. `key` (event + recipient) is unique, so a
    recipient is told once per event."""

    id: int
    channel: str  # "email" or "slack"
    key: str
    event: str
    product_code: str
    version_id: str | None
    recipient: str
    language: str
    payload: dict[str, object]
    state: OutboxState
    attempts: int
    next_attempt_at: datetime
    lease_until: datetime | None
    last_error: str | None
    sent_at: datetime | None
    created_at: datetime

    def __init__(
        self,
        *,
        channel: str,
        key: str,
        event: str,
        product_code: str,
        recipient: str,
        language: str,
        payload: dict[str, object],
        at: datetime,
        version_id: str | None = None,
    ) -> None:
        self.channel = channel
        self.key = key
        self.event = event
        self.product_code = product_code
        self.version_id = version_id
        self.recipient = recipient
        self.language = language
        self.payload = dict(payload)
        self.state = OutboxState.PENDING
        self.attempts = 0
        self.next_attempt_at = at
        self.lease_until = None
        self.last_error = None
        self.sent_at = None
        self.created_at = at

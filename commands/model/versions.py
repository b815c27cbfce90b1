"""A version of an OMI product, as one row of the Versions table and the Version form
behind it (R1, R3, R5, R6); the OMI it is made from."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from commands.errors import FormErrors, RuleBroken, UserError, quoted


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
    # Published, but its OMI copy is gone from the cloud and cannot be made again (its source
    # OMI is gone too): no subscriber can launch it any more.
    BROKEN = "broken"


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

# The tag each OMI copy carries: which version it is the copy of.
VERSION_TAG = "omi-bot:version-id"


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def typed(value: str) -> str:
    """Text a person typed, without control characters (PostgreSQL refuses NUL in text, and
    none belongs in a Versions table); line breaks and tabs stay."""
    return _CONTROL.sub("", value.replace("\r\n", "\n"))


def _utf8(value: str) -> bool:
    """Bytes that were not UTF-8 reach Python as lone surrogates (a command line decodes them
    so, JSON's escapes can carry them); no database or mail takes them."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def new_version_id() -> str:
    return "ver-" + secrets.token_hex(5)


def check_product_code(code: str) -> str:
    if not PRODUCT_CODE.match(code or ""):
        raise UserError(
            f"{quoted(code)} is not a product code: use letters, digits, '.', '_' or '-' "
            "(64 at most)."
        )
    return code


def check_account_id(account_id: str) -> str:
    if not ACCOUNT_ID.match(account_id or ""):
        raise UserError(f"{quoted(account_id)} is not an OUTSCALE account ID (12 digits).")
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
            omi=typed(self.omi).strip(),
            software_version=typed(self.software_version).strip(),
            operating_system=typed(self.operating_system).strip(),
            software_base=tuple(typed(s).strip() for s in self.software_base if typed(s).strip()),
            release_note=typed(self.release_note).strip(),
            instructions=typed(self.instructions).strip(),
        )
        errors: dict[str, str] = {}
        for name in ("omi", "software_version", "operating_system", "release_note", "instructions"):
            if not _utf8(getattr(form, name)):
                errors[name] = f"{_label(name)} is not valid UTF-8 text."
        if not all(_utf8(item) for item in form.software_base):
            errors["software_base"] = "The software base is not valid UTF-8 text."
        if not form.release_note and "release_note" not in errors:
            errors["release_note"] = "A release note is required."
        for name in ("software_version", "operating_system", "release_note", "instructions"):
            value = getattr(form, name)
            if len(value) > LIMITS[name] and name not in errors:
                errors[name] = (
                    f"{_label(name)} is {len(value)} characters long; {LIMITS[name]} at most."
                )
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

    def check_modifiable(self) -> None:
        """R6: only a published version can be modified."""
        if self.status is not Status.PUBLISHED:
            raise RuleBroken(
                "R6",
                f"Version {self.id} is {self.status.value}: only a published version can be "
                "modified.",
            )

    def modify(self, form: VersionForm, at: datetime) -> list[str]:
        """R5, R6: only a published version can be modified, never its OMI. Returns the names
        of the fields that changed; the modification date moves only when something did."""
        self.check_modifiable()
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

    def broken(self, reason: str, at: datetime) -> None:
        self.status = Status.BROKEN
        self.failure = reason[:1000]
        self.modified_at = at

    def unpublished(self, at: datetime) -> None:
        self.status = Status.UNPUBLISHED
        self.unpublished_at = at
        self.modified_at = at

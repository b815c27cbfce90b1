"""Drift: where the cloud no longer matches the Versions table, which is the truth.

For each published version the distribution account must show its OMI copy, `available`,
carrying the product code and the version's tag, launchable by exactly the subscribers'
accounts (or by everyone for free and BYOL products); no copy of an unpublished version may
remain. `compare` says what differs from what one listing of the product's images shows; a
`Finding` is a difference as recorded, reported once when first seen and resolved when a
later check no longer sees it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from commands.model.product import Product
from commands.model.versions import VERSION_TAG, Status


class DriftKind(StrEnum):
    MISSING = "missing"  # the copy of a published version is gone
    NOT_AVAILABLE = "not_available"  # it exists but cannot be launched
    PRODUCT_CODE = "product_code"  # it no longer carries the product code
    TAG = "tag"  # its version tag is gone or names another version
    PERMISSIONS = "permissions"  # who may launch it differs from the subscribers
    LEFTOVER = "leftover"  # a copy of an unpublished version is still there


@dataclass(frozen=True)
class Seen:
    """An image as the distribution account reads it (its owner's view)."""

    image_id: str
    state: str
    product_codes: tuple[str, ...]
    global_permission: bool
    permitted_accounts: tuple[str, ...]
    tags: Mapping[str, str]


@dataclass(frozen=True)
class Difference:
    kind: DriftKind
    version_id: str
    image_id: str
    detail: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind.value, self.version_id, self.image_id)


def _accounts(ids: Iterable[str], limit: int = 5) -> str:
    ids = sorted(ids)
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def compare(
    product: Product,
    images: Mapping[str, Seen],
    subscribers: Iterable[str],
    busy: Iterable[str] = (),
) -> list[Difference]:
    """What differs between the product's Versions table and `images` (by ID: those listed by
    product code, and the expected copies looked up by ID). Versions with work under way
    (`busy`) are left out: their copy is being made, shared or deleted."""
    skip = set(busy)
    expected = set(subscribers)
    found: list[Difference] = []
    for v in product.versions_table():
        if v.id in skip or not v.copy_id:
            continue
        seen = images.get(v.copy_id)
        if v.status in (Status.UNPUBLISHED, Status.FAILED):
            if seen is not None:
                found.append(
                    Difference(
                        DriftKind.LEFTOVER,
                        v.id,
                        v.copy_id,
                        f"the OMI copy {v.copy_id} of {v.status.value} version {v.id} is still "
                        "in the distribution account",
                    )
                )
            continue
        if v.status is not Status.PUBLISHED:
            continue
        if seen is None:
            found.append(
                Difference(
                    DriftKind.MISSING,
                    v.id,
                    v.copy_id,
                    f"the OMI copy {v.copy_id} of published version {v.id} is gone",
                )
            )
            continue
        if seen.state != "available":
            found.append(
                Difference(
                    DriftKind.NOT_AVAILABLE,
                    v.id,
                    v.copy_id,
                    f"the OMI copy {v.copy_id} of version {v.id} is {seen.state}, not available",
                )
            )
        if product.code not in seen.product_codes:
            found.append(
                Difference(
                    DriftKind.PRODUCT_CODE,
                    v.id,
                    v.copy_id,
                    f"the OMI copy {v.copy_id} of version {v.id} no longer carries product "
                    f"code {product.code}",
                )
            )
        if seen.tags.get(VERSION_TAG) != v.id:
            found.append(
                Difference(
                    DriftKind.TAG,
                    v.id,
                    v.copy_id,
                    f"the OMI copy {v.copy_id} of version {v.id} lacks its tag "
                    f"{VERSION_TAG}={v.id}",
                )
            )
        problems = permission_problems(product.pricing.public_copy, seen, expected)
        if problems:
            found.append(
                Difference(
                    DriftKind.PERMISSIONS,
                    v.id,
                    v.copy_id,
                    f"launch permissions of the OMI copy {v.copy_id} of version {v.id}: "
                    + "; ".join(problems),
                )
            )
    return found


def permission_problems(public: bool, seen: Seen, subscribers: set[str]) -> list[str]:
    if public:
        return [] if seen.global_permission else ["it is no longer public"]
    problems = []
    if seen.global_permission:
        problems.append("it is public, but the product is paid")
    permitted = set(seen.permitted_accounts)
    lacking = subscribers - permitted
    extra = permitted - subscribers
    if lacking:
        problems.append(f"{len(lacking)} subscriber(s) cannot launch it ({_accounts(lacking)})")
    if extra:
        problems.append(f"{len(extra)} other account(s) can ({_accounts(extra)})")
    return problems


class Finding:
    """A difference as recorded: first seen, last seen, reported, resolved."""

    id: int
    product_code: str
    version_id: str
    image_id: str
    kind: DriftKind
    detail: str
    found_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    repair_asked_by: str | None
    repair_asked_at: datetime | None

    def __init__(self, product_code: str, difference: Difference, at: datetime) -> None:
        self.product_code = product_code
        self.version_id = difference.version_id
        self.image_id = difference.image_id
        self.kind = difference.kind
        self.detail = difference.detail
        self.found_at = at
        self.last_seen_at = at
        self.resolved_at = None
        self.repair_asked_by = None
        self.repair_asked_at = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind.value, self.version_id, self.image_id)

    def seen_again(self, difference: Difference, at: datetime) -> None:
        self.detail = difference.detail
        self.last_seen_at = at

    def resolved(self, at: datetime) -> None:
        self.resolved_at = at

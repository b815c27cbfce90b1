"""The catalog file as written, read and checked on its own, without the database: every
problem is found before anything is written, and named with the file, the entry and the key.

    [[products]]
    code = "0001"
    name = "Nginx on Debian"
    seller_account_id = "111111111111"
    pricing = "hourly"

    [[organizations]]
    name = "Acme"
    language = "fr"
    admins = ["admin@acme.example"]

    [[subscribers]]
    account_id = "333333333333"
    organization = "Acme"
    email = "ops@acme.example"
    products = ["0001"]
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from commands import services
from commands.errors import UserError, clipped, quoted
from commands.model import (
    Pricing,
    Product,
    check_account_id,
    check_name,
    check_product_code,
    check_slack_channel,
    check_slack_group,
    check_slack_user,
    now,
)


@dataclass(frozen=True)
class ProductEntry:
    code: str
    name: str
    seller_account_id: str
    pricing: str
    release_managers: tuple[str, ...] = ()
    release_manager_group: str | None = None
    approval_channel: str | None = None
    # None: not in the file, the product keeps what it has (or the defaults).
    notice_days: int | None = None
    reminder_days: tuple[int, ...] | None = None
    keep_published: int | None = None


@dataclass(frozen=True)
class OrganizationEntry:
    name: str
    language: str
    admins: tuple[str, ...]


@dataclass(frozen=True)
class SubscriberEntry:
    account_id: str
    organization: str
    email: str
    slack_channel: str | None = None
    products: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalog:
    products: tuple[ProductEntry, ...] = ()
    organizations: tuple[OrganizationEntry, ...] = ()
    subscribers: tuple[SubscriberEntry, ...] = ()


class _Table:
    """One `[[section]]` entry, read field by field with errors that say where."""

    def __init__(self, where: str, data: object, known: set[str]) -> None:
        if not isinstance(data, dict):
            raise UserError(f"{where} must be a table.")
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(
                f"{where}: unknown key {quoted(unknown[0])} (expected {', '.join(sorted(known))})."
            )
        self.where = where
        self.data: dict[str, Any] = data

    def text(self, key: str) -> str:
        value = self.data.get(key)
        if value is None:
            raise UserError(f"{self.where}: {quoted(key)} is missing.")
        if not isinstance(value, str):
            raise UserError(f"{self.where}: {quoted(key)} must be a string.")
        return value.strip()

    def optional(self, key: str) -> str | None:
        if self.data.get(key) in (None, ""):
            return None
        return self.text(key)

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserError(f"{self.where}: {quoted(key)} must be a list of strings.")
        return tuple(v.strip() for v in value)

    def number(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{self.where}: {quoted(key)} must be a whole number.")
        return value

    def numbers(self, key: str) -> tuple[int, ...] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise UserError(f"{self.where}: {quoted(key)} must be a list of whole numbers.")
        return tuple(value)

    def check(self, fn: Callable[..., object], *args: str) -> None:
        try:
            fn(*args)
        except UserError as bad:
            raise UserError(f"{self.where}: {bad}") from None


def load(path: str | Path) -> Catalog:
    """Reads and checks a catalog file on its own (no database). Every problem is a UserError
    starting with the file's name."""
    path = Path(path)
    name = clipped(path, 240)  # a real path is long, a pasted one is not repeated whole
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as bad:
        raise UserError(f"{name}: cannot be read ({bad.strerror or bad}).") from None
    except UnicodeDecodeError:
        raise UserError(f"{name}: is not UTF-8 text.") from None
    except tomllib.TOMLDecodeError as bad:
        raise UserError(f"{name}: is not valid TOML ({bad}).") from None
    except ValueError:  # a NUL in the path: no file can have that name
        raise UserError(f"{name}: is not a file name.") from None
    try:
        return parse(data)
    except UserError as bad:
        raise UserError(f"{name}: {bad}") from None


def parse(data: dict[str, Any]) -> Catalog:
    sections = {"products", "organizations", "subscribers"}
    unknown = sorted(set(data) - sections)
    if unknown:
        raise UserError(
            f"unknown section {quoted(unknown[0])} (expected [[products]], [[organizations]] or "
            "[[subscribers]])."
        )
    for name in sections:
        if not isinstance(data.get(name, []), list):
            raise UserError(f"{quoted(name)} must be an array of tables ([[{name}]]).")
    products = tuple(
        _product(f"products[{i}]", entry) for i, entry in enumerate(data.get("products", []), 1)
    )
    organizations = tuple(
        _organization(f"organizations[{i}]", entry)
        for i, entry in enumerate(data.get("organizations", []), 1)
    )
    subscribers = tuple(
        _subscriber(f"subscribers[{i}]", entry)
        for i, entry in enumerate(data.get("subscribers", []), 1)
    )
    _unique("products", [p.code for p in products])
    _unique("organizations", [o.name for o in organizations])
    _unique("subscribers", [s.account_id for s in subscribers])
    return Catalog(products, organizations, subscribers)


def _unique(section: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise UserError(f"{section}: {quoted(name)} is listed twice.")
        seen.add(name)


def _product(where: str, data: object) -> ProductEntry:
    t = _Table(
        where,
        data,
        {
            "code",
            "name",
            "seller_account_id",
            "pricing",
            "release_managers",
            "release_manager_group",
            "approval_channel",
            "notice_days",
            "reminder_days",
            "keep_published",
        },
    )
    entry = ProductEntry(
        code=t.text("code"),
        name=t.text("name"),
        seller_account_id=t.text("seller_account_id"),
        pricing=t.text("pricing"),
        release_managers=t.texts("release_managers"),
        release_manager_group=t.optional("release_manager_group"),
        approval_channel=t.optional("approval_channel"),
        notice_days=t.number("notice_days"),
        reminder_days=t.numbers("reminder_days"),
        keep_published=t.number("keep_published"),
    )
    t.where = f"{where} ({entry.code})"
    t.check(check_product_code, entry.code)
    t.check(check_name, entry.name, "product")
    t.check(check_account_id, entry.seller_account_id)
    if entry.pricing not in {p.value for p in Pricing}:
        choices = ", ".join(p.value for p in Pricing)
        raise UserError(
            f"{t.where}: pricing must be one of {choices}, not {quoted(entry.pricing)}."
        )
    for user in entry.release_managers:
        t.check(check_slack_user, user)
    if entry.release_manager_group is not None:
        t.check(check_slack_group, entry.release_manager_group)
    if entry.approval_channel is not None:
        t.check(check_slack_channel, entry.approval_channel)
    try:
        Product(
            code=entry.code,
            name=entry.name,
            seller_account_id=entry.seller_account_id,
            pricing=Pricing(entry.pricing),
            at=now(),
            notice_days=30 if entry.notice_days is None else entry.notice_days,
            reminder_days=(7, 1) if entry.reminder_days is None else entry.reminder_days,
            keep_published=entry.keep_published or None,
        )
    except UserError as bad:
        raise UserError(f"{t.where}: {bad}") from None
    return entry


def _organization(where: str, data: object) -> OrganizationEntry:
    t = _Table(where, data, {"name", "language", "admins"})
    entry = OrganizationEntry(
        name=t.text("name"), language=t.text("language").lower(), admins=t.texts("admins")
    )
    t.where = f"{where} ({entry.name})"
    t.check(check_name, entry.name, "organization")
    if entry.language not in ("en", "fr"):
        raise UserError(f"{t.where}: language is 'en' or 'fr', not {quoted(entry.language)}.")
    if not entry.admins:
        raise UserError(f"{t.where}: an organization needs at least one administrator email.")
    for admin in entry.admins:
        t.check(services.check_email, admin)
    return entry


def _subscriber(where: str, data: object) -> SubscriberEntry:
    t = _Table(where, data, {"account_id", "organization", "email", "slack_channel", "products"})
    entry = SubscriberEntry(
        account_id=t.text("account_id"),
        organization=t.text("organization"),
        email=t.text("email"),
        slack_channel=t.optional("slack_channel"),
        products=t.texts("products"),
    )
    t.where = f"{where} ({entry.account_id})"
    t.check(check_account_id, entry.account_id)
    t.check(services.check_email, entry.email)
    if entry.slack_channel is not None:
        t.check(check_slack_channel, entry.slack_channel)
    _unique(f"{t.where}: products", list(entry.products))
    return entry

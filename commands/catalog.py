"""The catalog file: products, organizations and subscribers described in one TOML file and
applied idempotently (`omi-bot catalog apply FILE`), plus the directory reads the CLI shows.

The whole file is checked before anything is written, so a bad file changes nothing and is
answered with one line naming the file and the problem. Applying adds and updates; it never
removes a product, an organization, a subscriber or a subscription the file does not mention
(a partial file must not revoke anyone's access): removals go through the CLI.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from commands import services
from commands.bootstrap import Core
from commands.errors import NotFound, UserError, clipped, quoted
from commands.model import (
    Organization,
    Pricing,
    Product,
    Subscriber,
    check_account_id,
    check_name,
    check_product_code,
    check_slack_channel,
    check_slack_group,
    check_slack_user,
    now,
)

# -- the file -----------------------------------------------------------------------------------


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


# -- applying -----------------------------------------------------------------------------------


def apply(core: Core, catalog: Catalog) -> list[str]:
    """Brings the database to what the catalog says, through the same operations as the CLI.
    Returns one line per change; none when the database already matched."""
    _check_against_database(core, catalog)
    changes: list[str] = []
    for p in catalog.products:
        changes += _apply_product(core, p)
    for o in catalog.organizations:
        changes += _apply_organization(core, o)
    for s in catalog.subscribers:
        changes += _apply_subscriber(core, s)
    return changes


def _check_against_database(core: Core, catalog: Catalog) -> None:
    """What only the database can tell, checked before the first write."""
    orgs = {o.name for o in catalog.organizations}
    codes = {p.code for p in catalog.products}
    with core.reading() as uow:
        for p in catalog.products:
            current = uow.products.get(p.code, versions=False)
            if (
                current is not None
                and current.seller_account_id != p.seller_account_id
                and uow.versions.count(p.code) > 0
            ):
                raise UserError(
                    f"product {p.code} already has versions from account "
                    f"{current.seller_account_id}; its seller account cannot change."
                )
        for s in catalog.subscribers:
            if s.organization not in orgs and uow.subscribers.organization(s.organization) is None:
                raise UserError(
                    f"subscriber {s.account_id}: there is no organization {quoted(s.organization)} "
                    "in the file or the database."
                )
            for code in s.products:
                if code not in codes and uow.products.get(code, versions=False) is None:
                    raise UserError(
                        f"subscriber {s.account_id}: there is no product {quoted(code)} in the "
                        "file or the database."
                    )


def _apply_product(core: Core, p: ProductEntry) -> list[str]:
    with core.reading() as uow:
        current = uow.products.get(p.code, versions=False)
        if current is not None:
            differs = [
                name
                for name, old, new in (
                    ("name", current.name, p.name),
                    ("seller_account_id", current.seller_account_id, p.seller_account_id),
                    ("pricing", current.pricing.value, p.pricing),
                    ("release_managers", list(current.release_managers), list(p.release_managers)),
                    (
                        "release_manager_group",
                        current.release_manager_group,
                        p.release_manager_group,
                    ),
                    ("approval_channel", current.approval_channel, p.approval_channel),
                )
                if old != new
            ]
            # The schedule settings change only when the file gives them.
            differs += [
                name
                for name, old, new in (
                    ("notice_days", current.notice_days, p.notice_days),
                    ("reminder_days", list(current.reminder_days), _days(p.reminder_days)),
                    ("keep_published", current.keep_published or 0, p.keep_published),
                )
                if new is not None and old != new
            ]
            if not differs:
                return []
    services.save_product(
        core,
        code=p.code,
        name=p.name,
        seller_account_id=p.seller_account_id,
        pricing=p.pricing,
        release_managers=p.release_managers,
        release_manager_group=p.release_manager_group,
        approval_channel=p.approval_channel,
        notice_days=p.notice_days,
        reminder_days=p.reminder_days,
        # 0 keeps every version, as the CLI's --keep-published 0 does.
        keep_published=services.UNSET if p.keep_published is None else p.keep_published or None,
    )
    if current is None:
        return [f"added product {p.code} ({p.name})"]
    return [f"updated product {p.code}: {', '.join(differs)}"]


def _days(days: tuple[int, ...] | None) -> list[int] | None:
    return None if days is None else sorted(set(days), reverse=True)


def _apply_organization(core: Core, o: OrganizationEntry) -> list[str]:
    with core.reading() as uow:
        current = uow.subscribers.organization(o.name)
        if current is not None:
            differs = [
                name
                for name, old, new in (
                    ("language", current.language, o.language),
                    ("admins", list(current.admin_emails), list(o.admins)),
                )
                if old != new
            ]
            if not differs:
                return []
    services.save_organization(core, name=o.name, language=o.language, admin_emails=o.admins)
    if current is None:
        return [f"added organization {o.name} ({o.language})"]
    return [f"updated organization {o.name}: {', '.join(differs)}"]


def _apply_subscriber(core: Core, s: SubscriberEntry) -> list[str]:
    changes: list[str] = []
    with core.reading() as uow:
        org = uow.subscribers.organization(s.organization)
        current = uow.subscribers.get(s.account_id)
        subscribed = {x.product_code for x in uow.subscribers.subscriptions_of(s.account_id)}
        same = (
            current is not None
            and org is not None
            and current.organization_id == org.id
            and current.email == s.email
            and current.slack_channel == s.slack_channel
        )
    if not same:
        services.save_subscriber(
            core,
            account_id=s.account_id,
            organization=s.organization,
            email=s.email,
            slack_channel=s.slack_channel,
        )
        verb = "added" if current is None else "updated"
        changes.append(f"{verb} subscriber {s.account_id} ({s.organization}, {s.email})")
    for code in s.products:
        if code not in subscribed and services.subscribe(core, s.account_id, code):
            changes.append(f"subscribed {s.account_id} to product {code}")
    return changes


# -- the directory, as the CLI lists it ---------------------------------------------------------


@dataclass(frozen=True)
class SubscriberLine:
    subscriber: Subscriber
    organization: str
    products: list[str] = field(default_factory=list)


def organizations(core: Core) -> list[Organization]:
    with core.reading() as uow:
        return uow.subscribers.organizations()


def subscribers(core: Core, product_code: str | None = None) -> list[SubscriberLine]:
    with core.reading() as uow:
        if product_code is not None:
            services.get_product(uow, product_code)
        names = {o.id: o.name for o in uow.subscribers.organizations()}
        return [
            SubscriberLine(
                sub,
                names.get(sub.organization_id, "?"),
                sorted(x.product_code for x in uow.subscribers.subscriptions_of(sub.account_id)),
            )
            for sub in uow.subscribers.list(product_code)
        ]


def find_subscriber(core: Core, account_id: str) -> Subscriber | None:
    with core.reading() as uow:
        return uow.subscribers.get(account_id)


def subscriber_line(core: Core, account_id: str) -> SubscriberLine:
    with core.reading() as uow:
        sub = uow.subscribers.get(account_id)
        if sub is None:
            raise NotFound(f"There is no subscriber with account {quoted(account_id)}.")
        org = uow.subscribers.organization_by_id(sub.organization_id)
        return SubscriberLine(
            sub,
            org.name if org else "?",
            sorted(x.product_code for x in uow.subscribers.subscriptions_of(account_id)),
        )


def check_subscriber_input(
    core: Core,
    *,
    account_id: str,
    organization: str,
    email: str,
    slack_channel: str | None,
    products: tuple[str, ...],
) -> None:
    """Everything `subscribers add` needs, checked before its first write."""
    check_account_id(account_id)
    services.check_email(email)
    if slack_channel:
        check_slack_channel(slack_channel)
    with core.reading() as uow:
        if uow.subscribers.organization(organization) is None:
            raise NotFound(f"There is no organization {quoted(organization)}.")
        for code in products:
            services.get_product(uow, code)


def organization_exists(core: Core, name: str) -> bool:
    with core.reading() as uow:
        return uow.subscribers.organization(name.strip()) is not None

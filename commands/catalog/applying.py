"""The catalog brought into the database, through the same operations as the CLI. What only
the database can tell (a seller account that can no longer change, an organization or a product
found neither in the file nor in the database) is checked before the first write; then each
entry is added, updated or left alone, and each change is said in one line.

Nothing the file does not mention is removed: a partial file must not revoke anyone's access."""

from __future__ import annotations

from commands import services
from commands.bootstrap import Core
from commands.catalog.file import Catalog, OrganizationEntry, ProductEntry, SubscriberEntry
from commands.errors import UserError, quoted


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

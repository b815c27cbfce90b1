"""Products, organizations and subscribers: who a product's publications reach (R4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from commands.bootstrap import Core
from commands.errors import NotFound, UserError, quoted
from commands.model import (
    Job,
    Organization,
    Subscriber,
    Subscription,
    Version,
    check_account_id,
    check_name,
    check_slack_channel,
)
from commands.services.products import get_product
from storage.uow import UnitOfWork


def save_organization(
    core: Core, *, name: str, language: str, admin_emails: Sequence[str]
) -> Organization:
    language = language.strip().lower()
    if language not in ("en", "fr"):
        raise UserError(f"An organization's language is 'en' or 'fr', not {quoted(language)}.")
    emails = [check_email(e) for e in admin_emails]
    name = check_name(name, "organization")
    with core.uow() as uow:
        org = uow.subscribers.organization(name)
        if org is None:
            org = Organization(name=name, language=language, admin_emails=emails)
            uow.subscribers.add_organization(org)
        else:
            org.language = language
            org.admin_emails = emails
        uow.commit()
        return org


def check_email(address: str) -> str:
    address = address.strip()
    local, _, domain = address.partition("@")
    if (
        not local
        or "." not in domain
        or any(c in address for c in " \r\n\t<>,;\"'")
        or len(address) > 254
    ):
        raise UserError(f"{quoted(address)} is not an email address.")
    return address


def save_subscriber(
    core: Core,
    *,
    account_id: str,
    organization: str,
    email: str,
    slack_channel: str | None = None,
) -> Subscriber:
    check_account_id(account_id)
    email = check_email(email)
    slack_channel = check_slack_channel(slack_channel) if slack_channel else None
    with core.uow() as uow:
        org = uow.subscribers.organization(organization)
        if org is None or org.id is None:
            raise NotFound(f"There is no organization {quoted(organization)}.")
        sub = uow.subscribers.get(account_id)
        if sub is None:
            sub = Subscriber(
                account_id=account_id,
                organization_id=org.id,
                email=email,
                slack_channel=slack_channel or None,
            )
            uow.subscribers.add(sub)
        else:
            sub.organization_id = org.id
            sub.email = email
            sub.slack_channel = slack_channel or None
        uow.commit()
        return sub


def subscribe(core: Core, account_id: str, product_code: str) -> bool:
    """The account gets launch permission on every published copy of the product (a job
    each). Returns False when it was already subscribed."""
    with core.uow() as uow:
        product = get_product(uow, product_code, lock=True)
        if uow.subscribers.get(account_id) is None:
            raise NotFound(f"There is no subscriber with account {quoted(account_id)}.")
        if uow.subscribers.subscription(account_id, product_code) is not None:
            return False
        at = core.clock()
        uow.subscribers.add_subscription(Subscription(account_id, product_code, at))
        if not product.pricing.public_copy:
            for v in product.published_versions():
                _access_job(uow, "grant_account", v, account_id, at)
        uow.commit()
        return True


def unsubscribe(core: Core, account_id: str, product_code: str) -> bool:
    """The account loses launch permission on the product's copies."""
    with core.uow() as uow:
        product = get_product(uow, product_code, lock=True)
        subscription = uow.subscribers.subscription(account_id, product_code)
        if subscription is None:
            return False
        uow.subscribers.delete(subscription)
        at = core.clock()
        if not product.pricing.public_copy:
            for v in product.published_versions():
                _access_job(uow, "revoke_account", v, account_id, at)
        uow.commit()
        return True


def _access_job(
    uow: UnitOfWork, kind: str, version: Version, account_id: str, at: datetime
) -> None:
    uow.jobs.add(
        Job(
            kind,
            at=at,
            version_id=version.id,
            product_code=version.product_code,
            payload={"account_ids": [account_id]},
        )
    )


def remove_subscriber(core: Core, account_id: str) -> None:
    """Ends every subscription of the account, then forgets it."""
    with core.reading() as uow:
        sub = uow.subscribers.get(account_id)
        if sub is None:
            raise NotFound(f"There is no subscriber with account {quoted(account_id)}.")
        codes = [s.product_code for s in uow.subscribers.subscriptions_of(account_id)]
    for code in codes:
        unsubscribe(core, account_id, code)
    with core.uow() as uow:
        sub = uow.subscribers.get(account_id)
        if sub is not None:
            uow.subscribers.delete(sub)
            uow.commit()


@dataclass(frozen=True)
class Audience:
    """Who a publication reaches: subscriber accounts and distinct mail recipients (the
    subscribers' contacts and their organizations' administrators)."""

    accounts: int
    recipients: int


def audience(core: Core, product_code: str) -> Audience:
    with core.reading() as uow:
        return audience_in(uow, product_code)


def audience_in(uow: UnitOfWork, product_code: str) -> Audience:
    if uow.products.get(product_code, versions=False) is None:
        raise NotFound(f"There is no product with product code {quoted(product_code)}.")
    subs = uow.subscribers.list(product_code)
    emails = {s.email.lower() for s in subs}
    for org in uow.subscribers.organizations_by_id(s.organization_id for s in subs).values():
        emails.update(e.lower() for e in org.admin_emails)
    return Audience(accounts=len(subs), recipients=len(emails))

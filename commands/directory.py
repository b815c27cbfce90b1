"""The directory as the CLI shows it: organizations, subscribers and the products each one is
subscribed to, and what `subscribers add` checks before its first write. Only reads: the writes
go through the services, as every other change does."""

from __future__ import annotations

from dataclasses import dataclass, field

from commands import services
from commands.bootstrap import Core
from commands.errors import NotFound, quoted
from commands.model import Organization, Subscriber, check_account_id, check_slack_channel


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

"""`omi-bot mail`, `organizations`, `subscribers` and `catalog`: who is told, and what was sent.

Same conventions as cli/main.py: bad input is one line on stderr and exit 2, nothing changed."""

from __future__ import annotations

import json
from typing import Any

import click

from cli.common import Ctx, pass_ctx, reported, table, when, who
from commands import catalog, directory, services
from commands.errors import UserError, clipped, quoted
from commands.model import OutboxItem
from commands.notifications.outbox import (
    DeliveryReport,
    list_mail,
    message_id,
    retry_mail,
    send_due_mail,
)

# -- mail ---------------------------------------------------------------------------------------


@click.group()
def mail() -> None:
    """The mails to subscribers and organization administrators."""


def mail_json(item: OutboxItem, mail_from: str) -> dict[str, Any]:
    return {
        "id": item.id,
        "state": item.state.value,
        "event": item.event,
        "product_code": item.product_code,
        "version_id": item.version_id,
        "recipient": item.recipient,
        "language": item.language,
        "subject": item.payload.get("subject"),
        "message_id": message_id(item, mail_from),
        "attempts": item.attempts,
        "next_attempt_at": item.next_attempt_at.isoformat(),
        "sent_at": item.sent_at.isoformat() if item.sent_at else None,
        "last_error": item.last_error,
        "created_at": item.created_at.isoformat(),
    }


@mail.command("list")
@click.option("--failed", is_flag=True, help="Only the mails that failed for good.")
@click.option("--limit", type=click.IntRange(1), default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@reported
def mail_list(ctx: Ctx, failed: bool, limit: int, as_json: bool) -> None:
    """The newest mails first, with their state and the server's last answer."""
    items = list_mail(ctx.core, failed=failed, limit=limit)
    if as_json:
        mail_from = ctx.core.settings.mail_from
        click.echo(json.dumps([mail_json(i, mail_from) for i in items], indent=2))
        return
    if not items:
        click.echo("No failed mail." if failed else "No mail.")
        return
    table(
        ("ID", "STATE", "EVENT", "PRODUCT", "VERSION", "TO", "LANG", "TRIES", "SENT", "LAST ERROR"),
        [
            (
                str(i.id),
                i.state.value,
                i.event,
                i.product_code,
                i.version_id or "-",
                i.recipient,
                i.language,
                str(i.attempts),
                when(i.sent_at),
                one_line(i.last_error or "-", 80),
            )
            for i in items
        ],
    )


def one_line(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@mail.command("retry")
@click.argument("mail_id")
@pass_ctx
@reported
def mail_retry(ctx: Ctx, mail_id: str) -> None:
    """Put a failed mail back in the queue, due now."""
    try:
        number = int(mail_id)
    except ValueError:
        raise UserError(f"{quoted(mail_id)} is not a mail ID (see `omi-bot mail list`).") from None
    item = retry_mail(ctx.core, number)
    click.echo(f"Mail {item.id} to {item.recipient} will be sent again.")


@mail.command("send")
@pass_ctx
@reported
def mail_send(ctx: Ctx) -> None:
    """Send the mails that are due now, once, without waiting for the worker."""
    total = DeliveryReport()
    while True:
        report = send_due_mail(ctx.core, f"{who()}:mail-send")
        total.add(report)
        # A mail put back for a retry may be due again at once with a short backoff: one pass
        # over what was due is what was asked, so stop when a round brought nothing new.
        if report.claimed == 0 or report.released or report.sent + report.failed == 0:
            break
    if total.claimed == 0:
        click.echo("No mail is due.")
        return
    click.echo(
        f"{total.sent} sent, {total.retry} to retry later, {total.failed} failed"
        + (f", {total.released} not tried (server unreachable)" if total.released else "")
        + "."
    )


# -- organizations ------------------------------------------------------------------------------


@click.group()
def organizations() -> None:
    """Subscribers' organizations: their language and administrators."""


@organizations.command("add")
@click.argument("name")
@click.option("--language", required=True, help="en or fr: the language of its mails.")
@click.option(
    "--admin", "admins", multiple=True, required=True, help="An administrator email (repeat)."
)
@pass_ctx
@reported
def organizations_add(ctx: Ctx, name: str, language: str, admins: tuple[str, ...]) -> None:
    """Add an organization, or update its language and administrators."""
    existed = directory.organization_exists(ctx.core, name)
    org = services.save_organization(ctx.core, name=name, language=language, admin_emails=admins)
    click.echo(
        f"{'Updated' if existed else 'Added'} organization {org.name} ({org.language}), "
        f"administrators: {', '.join(org.admin_emails)}."
    )


@organizations.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@reported
def organizations_list(ctx: Ctx, as_json: bool) -> None:
    """Organizations with their language and administrators."""
    orgs = directory.organizations(ctx.core)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {"name": o.name, "language": o.language, "admins": list(o.admin_emails)}
                    for o in orgs
                ],
                indent=2,
            )
        )
        return
    if not orgs:
        click.echo("No organization.")
        return
    table(
        ("NAME", "LANGUAGE", "ADMINISTRATORS"),
        [(o.name, o.language, ", ".join(o.admin_emails)) for o in orgs],
    )


# -- subscribers --------------------------------------------------------------------------------


@click.group()
def subscribers() -> None:
    """Subscriber accounts and their subscriptions."""


@subscribers.command("add")
@click.argument("account_id")
@click.option("--organization", required=True, help="The subscriber's organization.")
@click.option("--email", required=True, help="The subscriber's contact email.")
@click.option("--slack-channel", help="Slack channel ID for announcements.")
@click.option("--product", "products", multiple=True, help="Subscribe to this product (repeat).")
@pass_ctx
@reported
def subscribers_add(
    ctx: Ctx,
    account_id: str,
    organization: str,
    email: str,
    slack_channel: str | None,
    products: tuple[str, ...],
) -> None:
    """Add a subscriber account, or update it; --product subscribes it (it gets launch
    permission on every published copy of the product)."""
    directory.check_subscriber_input(
        ctx.core,
        account_id=account_id,
        organization=organization,
        email=email,
        slack_channel=slack_channel,
        products=products,
    )
    existed = directory.find_subscriber(ctx.core, account_id) is not None
    sub = services.save_subscriber(
        ctx.core,
        account_id=account_id,
        organization=organization,
        email=email,
        slack_channel=slack_channel or None,
    )
    added = [code for code in products if services.subscribe(ctx.core, account_id, code)]
    click.echo(
        f"{'Updated' if existed else 'Added'} subscriber {sub.account_id} "
        f"({organization}, {sub.email})"
        + (f"; subscribed to {', '.join(added)}" if added else "")
        + "."
    )


@subscribers.command("remove")
@click.argument("account_id")
@pass_ctx
@reported
def subscribers_remove(ctx: Ctx, account_id: str) -> None:
    """Unsubscribe the account from every product (it loses launch permission), then forget
    it."""
    products = directory.subscriber_line(ctx.core, account_id).products
    services.remove_subscriber(ctx.core, account_id)
    click.echo(
        f"Removed subscriber {account_id}"
        + (f"; unsubscribed from {', '.join(products)}" if products else "")
        + "."
    )


@subscribers.command("list")
@click.option("--product", "product_code", help="Only the subscribers of this product.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@reported
def subscribers_list(ctx: Ctx, product_code: str | None, as_json: bool) -> None:
    """Subscriber accounts with their organization, contact, Slack channel and products."""
    lines = directory.subscribers(ctx.core, product_code)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "account_id": line.subscriber.account_id,
                        "organization": line.organization,
                        "email": line.subscriber.email,
                        "slack_channel": line.subscriber.slack_channel,
                        "products": line.products,
                    }
                    for line in lines
                ],
                indent=2,
            )
        )
        return
    if not lines:
        click.echo("No subscriber.")
        return
    table(
        ("ACCOUNT", "ORGANIZATION", "EMAIL", "SLACK CHANNEL", "PRODUCTS"),
        [
            (
                line.subscriber.account_id,
                line.organization,
                line.subscriber.email,
                line.subscriber.slack_channel or "-",
                ", ".join(line.products) or "-",
            )
            for line in lines
        ],
    )


@subscribers.command("subscribe")
@click.argument("account_id")
@click.argument("product_code")
@pass_ctx
@reported
def subscribers_subscribe(ctx: Ctx, account_id: str, product_code: str) -> None:
    """Subscribe an account to a product: it gets launch permission on every published copy."""
    if services.subscribe(ctx.core, account_id, product_code):
        click.echo(f"Subscribed {account_id} to product {product_code}.")
    else:
        click.echo(f"{account_id} was already subscribed to product {product_code}.")


@subscribers.command("unsubscribe")
@click.argument("account_id")
@click.argument("product_code")
@pass_ctx
@reported
def subscribers_unsubscribe(ctx: Ctx, account_id: str, product_code: str) -> None:
    """Unsubscribe an account from a product: it loses launch permission on its copies."""
    directory.subscriber_line(ctx.core, account_id)
    if services.unsubscribe(ctx.core, account_id, product_code):
        click.echo(f"Unsubscribed {account_id} from product {product_code}.")
    else:
        click.echo(f"{account_id} was not subscribed to product {product_code}.")


# -- catalog ------------------------------------------------------------------------------------


@click.group("catalog")
def catalog_group() -> None:
    """Products, organizations and subscribers from a TOML file."""


@catalog_group.command("apply")
@click.argument("file")
@pass_ctx
@reported
def catalog_apply(ctx: Ctx, file: str) -> None:
    """Apply a catalog file: add and update what it describes; running it again changes
    nothing. It never removes anything."""
    described = catalog.load(file)
    try:
        changes = catalog.apply(ctx.core, described)
    except UserError as bad:
        raise UserError(f"{clipped(file, 240)}: {bad}") from None
    for line in changes:
        click.echo(line)
    click.echo(f"{len(changes)} change(s)." if changes else "Nothing to change.")

"""`omi-bot products` and `omi-bot omis`: the products, and the OMIs a version can be made from."""

from __future__ import annotations

import json

import click

from cli.common import Ctx, F, operator, pass_ctx, reported, table, when
from cli.requests import products_request_unpublish
from cli.versions import ON_HELP, wait_for
from commands import services
from commands.errors import UserError, quoted


def schedule_options(fn: F) -> F:
    for option in reversed(
        [
            click.option(
                "--notice-days",
                type=click.IntRange(0, 365),
                help="Days of notice before an unpublication (default 30; 0 lets a release "
                "manager unpublish at once).",
            ),
            click.option(
                "--reminder-days",
                help="Reminders before an unpublication, in days, comma-separated (default "
                "7,1; 'none' for none).",
            ),
            click.option(
                "--keep-published",
                type=click.IntRange(0),
                help="Propose to unpublish the oldest versions beyond this many published "
                "(0: keep them all).",
            ),
        ]
    ):
        fn = option(fn)
    return fn


def parse_days(text: str | None) -> list[int] | None:
    if text is None:
        return None
    if text.strip().lower() in ("", "none"):
        return []
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(
            f"--reminder-days takes days separated by commas (like 7,1), not {quoted(text)}."
        ) from None


def retention(keep: int | None) -> int | services.Unset | None:
    if keep is None:
        return services.UNSET
    return keep or None


@click.group()
def products() -> None:
    """Products: list, add, set, unpublish."""


products.add_command(products_request_unpublish)


@products.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@reported
def products_list(ctx: Ctx, as_json: bool) -> None:
    """Products with their product code, last available version and modification date."""
    lines = services.list_products(ctx.core)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "product_code": line.product.code,
                        "name": line.product.name,
                        "pricing": line.product.pricing.value,
                        "published_versions": line.published,
                        "last_available_version": line.last_available.id
                        if line.last_available
                        else None,
                        "last_available_software_version": (
                            line.last_available.software_version if line.last_available else None
                        ),
                        "modified_at": line.product.modified_at.isoformat(),
                    }
                    for line in lines
                ],
                indent=2,
            )
        )
        return
    rows = [
        (
            line.product.code,
            line.product.name,
            line.product.pricing.value,
            (
                f"{line.last_available.software_version or '-'} ({line.last_available.id})"
                if line.last_available
                else "none"
            ),
            when(line.product.modified_at),
        )
        for line in lines
    ]
    table(("PRODUCT CODE", "NAME", "PRICING", "LAST AVAILABLE VERSION", "MODIFIED"), rows)


@products.command("add")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--seller", "seller_account_id", required=True, help="The seller's account ID.")
@click.option(
    "--pricing",
    required=True,
    type=click.Choice(["hourly", "yearly", "byol", "free", "subscription"]),
)
@click.option(
    "--release-manager",
    "release_managers",
    multiple=True,
    help="Slack user ID of a release manager (repeat).",
)
@click.option("--release-manager-group", help="Slack user group ID of the release managers.")
@click.option("--approval-channel", help="Slack channel ID where requests are posted.")
@schedule_options
@pass_ctx
@reported
def products_add(
    ctx: Ctx,
    code: str,
    name: str,
    seller_account_id: str,
    pricing: str,
    release_managers: tuple[str, ...],
    release_manager_group: str | None,
    approval_channel: str | None,
    notice_days: int | None,
    reminder_days: str | None,
    keep_published: int | None,
) -> None:
    """Add a product, or update it."""
    product, created = services.save_product(
        ctx.core,
        code=code,
        name=name,
        seller_account_id=seller_account_id,
        pricing=pricing,
        release_managers=release_managers,
        release_manager_group=release_manager_group,
        approval_channel=approval_channel,
        notice_days=notice_days,
        reminder_days=parse_days(reminder_days),
        keep_published=retention(keep_published),
    )
    click.echo(f"{'Added' if created else 'Updated'} product {product.code} ({product.name}).")


@products.command("set")
@click.argument("code")
@schedule_options
@pass_ctx
@reported
def products_set(
    ctx: Ctx,
    code: str,
    notice_days: int | None,
    reminder_days: str | None,
    keep_published: int | None,
) -> None:
    """Change a product's notice period, reminders or retention."""
    product = services.set_product(
        ctx.core,
        code,
        notice_days=notice_days,
        reminder_days=parse_days(reminder_days),
        keep_published=retention(keep_published),
    )
    click.echo(
        f"Product {product.code}: {product.notice_days} days' notice, reminders "
        f"{', '.join(str(d) for d in product.reminder_days) or 'none'} day(s) before, keeps "
        + (
            f"{product.keep_published} published version(s)."
            if product.keep_published
            else "every published version."
        )
    )


@products.command("unpublish")
@click.argument("code")
@click.option("--on", "on", default="now", show_default=True, help=ON_HELP)
@click.option("--wait", is_flag=True, help="Stay until the OMI copies are deleted (at once only).")
@click.option("--timeout", default=600.0, show_default=True)
@pass_ctx
@reported
def products_unpublish(ctx: Ctx, code: str, on: str, wait: bool, timeout: float) -> None:
    """Unpublish a whole product: all its published versions, at once or on a date (R9)."""
    day = services.parse_date(on)
    if day is not None:
        services.schedule_unpublish_product(ctx.core, code, on=day, by=operator())
        click.echo(
            f"Product {code} will be unpublished on {day.isoformat()}; subscribers are told now."
        )
        return
    gone = services.unpublish_product(ctx.core, code, by=operator())
    click.echo(f"Unpublished product {code}: {', '.join(v.id for v in gone)}.")
    if wait:
        for v in gone:
            wait_for(ctx.core, v.id, timeout)


@products.command("cancel-unpublish")
@click.argument("code")
@pass_ctx
@reported
def products_cancel_unpublish(ctx: Ctx, code: str) -> None:
    """Cancel a whole product's scheduled unpublication."""
    schedule = services.find_schedule(ctx.core, product_code=code)
    services.cancel_unpublication(ctx.core, schedule.id, by=operator())
    click.echo(
        f"Cancelled the unpublication of product {code} on {schedule.unpublish_on.isoformat()}."
    )


# -- OMIs -------------------------------------------------------------------------------------


@click.group()
def omis() -> None:
    """OMIs that can be published."""


@omis.command("list")
@click.argument("product_code")
@pass_ctx
@reported
def omis_list(ctx: Ctx, product_code: str) -> None:
    """The seller's available OMIs carrying the product code (R2)."""
    found = services.selectable_omis(ctx.core, product_code)
    if not found:
        click.echo(f"No OMI of the seller carries product code {product_code}.")
        return
    table(("OMI", "NAME"), [(o.image_id, o.name) for o in found])

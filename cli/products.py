"""`omi-bot products` and `omi-bot omis`: the products, and the OMIs a version can be made from."""

from __future__ import annotations

import json

import click

from cli.common import Ctx, operator, pass_ctx, reported, table, when
from cli.versions import wait_for
from commands import services


@click.group()
def products() -> None:
    """Products: list, add, unpublish."""


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
    )
    click.echo(f"{'Added' if created else 'Updated'} product {product.code} ({product.name}).")


@products.command("unpublish")
@click.argument("code")
@click.option("--wait", is_flag=True, help="Stay until the OMI copies are deleted.")
@click.option("--timeout", default=600.0, show_default=True)
@pass_ctx
@reported
def products_unpublish(ctx: Ctx, code: str, wait: bool, timeout: float) -> None:
    """Unpublish a whole product: all its published versions at once."""
    gone = services.unpublish_product(ctx.core, code, by=operator())
    click.echo(f"Unpublished product {code}: {', '.join(v.id for v in gone)}.")
    if wait:
        for v in gone:
            wait_for(ctx.core, v.id, timeout)


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

"""`omi-bot`: the same operations as the Slack bot, for pipelines and operators; each group of
verbs lives in a module of its own."""

from __future__ import annotations

import logging

import click
from dotenv import load_dotenv

from cli.common import Ctx, pass_ctx, reported
from commands.config import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log what the worker does.")
def main(verbose: bool) -> None:
    """Publish, modify and unpublish OMI product versions on the OUTSCALE Marketplace."""
    load_dotenv(".env", override=False)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# -- operations -------------------------------------------------------------------------------


@main.command()
@pass_ctx
@reported
def worker(ctx: Ctx) -> None:
    """Run the worker: OMI copies, sharing, deletions and the outbox."""
    from commands.worker import Worker

    logging.getLogger("omi_bot").setLevel(logging.INFO)
    Worker(ctx.core).run_forever()


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@reported
def db_upgrade() -> None:
    """Apply the migrations (also done on start)."""
    from storage.db import make_engine
    from storage.migrate import upgrade

    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    click.echo(f"Database schema is up to date ({engine.url.render_as_string()}).")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8787, show_default=True, type=int)
@click.option(
    "--accounts",
    "accounts_file",
    type=click.Path(exists=True, dir_okay=False),
    help="JSON file of accounts and images (default: the demo set).",
)
@click.option(
    "--copy-delay",
    default=2.0,
    show_default=True,
    type=float,
    help="Seconds an OMI copy stays pending.",
)
@reported
def sandbox(host: str, port: int, accounts_file: str | None, copy_delay: float) -> None:
    """Serve a local OUTSCALE API for trying omi-bot without a cloud account."""
    from commands.sandbox.server import main as serve_sandbox

    serve_sandbox(host, port, accounts_file, copy_delay)


def _register() -> None:
    from cli import drift, notices, products, versions

    for group in (products.products, products.omis, versions.versions, drift.drift_group):
        main.add_command(group)
    notices.register(main)  # mail, organizations, subscribers, catalog


_register()
from cli import serve as _serve  # noqa: E402, F401  (registers `omi-bot serve`)

"""`omi-bot`: the same operations as the Slack bot, for pipelines and operators; each group of
verbs lives in a module of its own, imported when one of its verbs runs."""

from __future__ import annotations

import logging
import re

import click
from dotenv import load_dotenv

from cli.common import Ctx, LazyGroup, pass_ctx, reported
from commands.config import Settings
from commands.errors import QUOTED_MAX, quoted

# Verb -> (module, attribute, the one line `omi-bot --help` shows). The modules import the core
# (SQLAlchemy, the OUTSCALE SDK, Jinja...), which `--help`, `sandbox` and a mistyped verb do not
# need; a test checks these lines against the verbs' own help.
LAZY_VERBS: dict[str, tuple[str, str, str]] = {
    "audit": (
        "cli.audit",
        "audit_group",
        "The audit trail: requests, decisions, changes, outcomes, notices, repairs.",
    ),
    "catalog": (
        "cli.notices",
        "catalog_group",
        "Products, organizations and subscribers from a TOML file.",
    ),
    "drift": (
        "cli.drift",
        "drift_group",
        "Drift between the cloud and the Versions table: check, repair.",
    ),
    "mail": ("cli.notices", "mail", "The mails to subscribers and organization administrators."),
    "omis": ("cli.products", "omis", "OMIs that can be published."),
    "organizations": (
        "cli.notices",
        "organizations",
        "Subscribers' organizations: their language and administrators.",
    ),
    "products": ("cli.products", "products", "Products: list, add, set, unpublish."),
    "serve": (
        "cli.serve",
        "serve",
        "Serve the Slack app at /slack/events (Socket Mode when SLACK_APP_TOKEN is set).",
    ),
    "status": (
        "cli.status",
        "status",
        "Jobs queued, running and failed, the outbox, the workers' last heartbeats.",
    ),
    "subscribers": ("cli.notices", "subscribers", "Subscriber accounts and their subscriptions."),
    "versions": ("cli.versions", "versions", "The Versions table and the Version form."),
}


# A quoted value in click's own usage errors ("Invalid value for '--timeout': 'abc…' is not a
# valid float."), cut as commands.errors.quoted cuts the values in omi-bot's messages.
LONG_QUOTED = re.compile("'([^']{" + str(QUOTED_MAX) + "})[^']+'")


class Verbs(LazyGroup):
    """The top group: what no verb can take is refused before any runs, and usage errors never
    repeat a pasted value in full."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # Bytes that are not UTF-8 reach Python as lone surrogates, and a NUL (which no shell
        # passes, but a program may) is refused by PostgreSQL: neither can be stored, mailed or
        # posted, so both are refused here, before any verb runs.
        for arg in args:
            try:
                arg.encode("utf-8")
            except UnicodeEncodeError:
                shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                raise click.UsageError(
                    f"{quoted(shown)} is not UTF-8 text; omi-bot takes its arguments in UTF-8.",
                    ctx,
                ) from None
            if "\x00" in arg:
                raise click.UsageError(f"{quoted(arg)} contains a NUL character.", ctx)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except click.UsageError as err:
            err.message = LONG_QUOTED.sub(r"'\1…'", err.message)
            raise


@click.group(cls=Verbs, lazy=LAZY_VERBS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log what the worker does.")
def main(verbose: bool) -> None:
    """Publish, modify and unpublish OMI product versions on the OUTSCALE Marketplace."""
    load_dotenv(".env", override=False)
    from commands.logs import configure

    configure(verbose)


# -- operations -------------------------------------------------------------------------------


@main.command()
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    help="Serve /metrics, /readyz and /healthz on this port (0: any free one).",
)
@click.option("--metrics-host", default="0.0.0.0", show_default=True)
@pass_ctx
@reported
def worker(ctx: Ctx, metrics_port: int | None, metrics_host: str) -> None:
    """Run the worker: OMI copies, sharing, deletions and the outbox."""
    from commands.worker import Worker

    logging.getLogger("omi_bot").setLevel(logging.INFO)
    Worker(ctx.core).run_forever(metrics_port=metrics_port, metrics_host=metrics_host)


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
    engine = make_engine(settings.database_url, **settings.database_limits())
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

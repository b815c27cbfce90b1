"""`omi-bot versions request`, `versions request-unpublish`, `products request-unpublish`: a
pipeline asks, as the Slack modals do, and a release manager decides in Slack.

The request is the one the Version form (or the date form) makes; a worker posts it to the
product's approval channel, or to each release manager, with *Approve* and *Reject*. A re-run
with the same idempotency key returns the request asked before instead of a second one."""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import Callable
from datetime import date

import click

from cli.common import Ctx, F, fail, form_options, pass_ctx, reported, when
from cli.request_form import merged_form, read_form_file
from cli.waiting import INTERRUPTED, interrupted, request_json, wait_decision
from commands import services
from commands.bootstrap import Core
from commands.errors import UserError
from commands.model import MAX_REQUESTER_NAME, Actor, Request, RequestKind, RequestState

REQUESTED_BY_HELP = (
    "Who asks, shown to the release managers and kept on the request as cli:NAME "
    f"(default: the OS user and host, USER@HOST; {MAX_REQUESTER_NAME} characters at most)."
)
ON_HELP = (
    "YYYY-MM-DD (UTC): unpublish on that date, at least the product's notice period away. "
    "'now' (the default) is only for a product without a notice period."
)


def requester(requested_by: str | None) -> Actor:
    """The CLI's operator under the name the pipeline gives, else USER@HOST (clipped to fit:
    a long CI host name must not refuse the request)."""
    if requested_by is not None:
        return Actor.cli_operator(requested_by)
    try:
        user = getpass.getuser()
    except Exception:
        user = "cli"
    return Actor.cli_operator(f"{user}@{socket.gethostname()}"[:MAX_REQUESTER_NAME])


def post_for_approval(core: Core, request: Request) -> None:
    """Queues the request's message, built as the bot builds it for a request made in Slack.
    Queued once per request: a re-run that finds its request pending queues nothing new (and
    queues it if the run that asked stopped before it could)."""
    if request.state is not RequestState.PENDING:
        return
    from bot.requests import request_message

    text, blocks = request_message(core, request, "en")
    services.queue_for_approval(core, request.id, text, blocks, "en")


def where(core: Core, request: Request) -> str:
    product, _ = services.new_form(core, request.product_code)
    if product.approval_channel:
        return f"the approval channel {product.approval_channel}"
    return "each release manager by direct message"


def request_options(fn: F) -> F:
    """What every request verb takes: who asks, the key, waiting, the output."""
    for option in reversed(
        [
            click.option("--requested-by", help=REQUESTED_BY_HELP),
            click.option(
                "--idempotency-key",
                help="Names this request: a re-run with the same key returns the request "
                "asked before instead of a second one (default: derived from what is asked).",
            ),
            click.option(
                "--wait-decision",
                is_flag=True,
                help="Stay until a release manager decides and the work is done; exit 0 done, "
                "4 rejected, 5 failed, 6 timed out.",
            ),
            click.option(
                "--timeout",
                type=click.FloatRange(min=0),
                default=3600.0,
                show_default=True,
                help="Seconds --wait-decision waits in all; the request stays as it is then.",
            ),
            click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON."),
        ]
    ):
        fn = option(fn)
    return fn


def ask(
    core: Core,
    asked: tuple[RequestKind, str],
    make: Callable[[str], Request],
    key: str,
    *,
    what: str,
    wait: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Asks (or finds the request asked before with `key`), gets it posted, says so, and
    waits for the decision when told to. Ctrl-C at any point leaves what was written as it
    is, and says what that is."""
    try:
        _ask(core, asked, make, key, what=what, wait=wait, timeout=timeout, as_json=as_json)
    except KeyboardInterrupt:
        # Ctrl-C may have landed inside a database call and left its connection unusable (on
        # PostgreSQL the driver cancels the query): the lookup below takes a fresh one.
        core.db.engine.dispose()
        request = services.asked_before(core, key, *asked)
        if request is None:
            fail("interrupted before the request was written; nothing was asked.", INTERRUPTED)
        interrupted(core, request.id)


def _ask(
    core: Core,
    asked: tuple[RequestKind, str],
    make: Callable[[str], Request],
    key: str,
    *,
    what: str,
    wait: bool,
    timeout: float,
    as_json: bool,
) -> None:
    before = services.asked_before(core, key, *asked)
    request = before if before is not None else make(key)
    post_for_approval(core, request)
    if before is not None:
        click.echo(
            f"Request {request.id} ({request.state.value}) was asked before with the "
            f"idempotency key {key!r}; nothing new is asked.",
            err=True,
        )
    elif not as_json or wait:
        click.echo(
            f"Request {request.id} to {what} was sent to {where(core, request)} "
            f"(asked by {request.requested_by} at {when(request.created_at)}).",
            err=as_json,
        )
    if wait:
        wait_decision(core, request.id, timeout, as_json=as_json)
    elif as_json:
        click.echo(json.dumps({"request": request_json(request)}, indent=2))


@click.command("request")
@click.argument("product_code")
@click.option("--omi", help="The OMI's ID or name (or `omi` in the form file).")
@click.option("--release-note", help="The release note (or `release_note` in the form file).")
@form_options
@click.option(
    "--form",
    "form_file",
    help="A TOML or JSON file of the Version form's fields; options given override it.",
)
@request_options
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check every rule and the OMI in the cloud, print the preview, and ask nothing.",
)
@pass_ctx
@reported
def versions_request(
    ctx: Ctx,
    product_code: str,
    omi: str | None,
    release_note: str | None,
    software_version: str | None,
    operating_system: str | None,
    software_base: tuple[str, ...],
    instructions: str | None,
    form_file: str | None,
    requested_by: str | None,
    idempotency_key: str | None,
    wait_decision: bool,
    timeout: float,
    as_json: bool,
    dry_run: bool,
) -> None:
    """Ask the release managers to publish a new version. The request is the one the Version
    form makes in Slack; fields not given come from the last created version (R3)."""
    by = requester(requested_by)
    form = merged_form(
        read_form_file(form_file) if form_file else {},
        omi=omi,
        release_note=release_note,
        software_version=software_version,
        operating_system=operating_system,
        software_base=software_base,
        instructions=instructions,
    )
    if not form.omi.strip():
        raise UserError("Say which OMI to publish: --omi, or `omi` in the form file.")
    core = ctx.core
    if dry_run:
        from cli.preview import echo_preview
        from commands.notifications.mail import LANGUAGES
        from commands.preview import preview_publication

        echo_preview(preview_publication(core, product_code, form, requested_by=by.id), LANGUAGES)
        click.echo("Dry run: every rule holds; nothing was asked or written.", err=True)
        return
    key = idempotency_key or f"publish:{product_code}:{form.omi.strip()}"

    def make(key: str) -> Request:
        # What the database alone refuses is said before OUTSCALE is asked about the OMI (R2).
        # Only for a new request: a re-run after the approval finds its OMI used, by itself.
        services.check_request(core, product_code, form)
        return services.request_publication(
            core, product_code, form, requested_by=by.id, idempotency_key=key
        )

    ask(
        core,
        (RequestKind.PUBLISH, product_code),
        make,
        key,
        what=f"publish OMI {form.omi.strip()} for product {product_code}",
        wait=wait_decision,
        timeout=timeout,
        as_json=as_json,
    )


@click.command("request-unpublish")
@click.argument("version_id")
@click.option("--on", "on", default="now", show_default=True, help=ON_HELP)
@request_options
@pass_ctx
@reported
def versions_request_unpublish(
    ctx: Ctx,
    version_id: str,
    on: str,
    requested_by: str | None,
    idempotency_key: str | None,
    wait_decision: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Ask the release managers to unpublish a version, at once or on a date (R7, R8)."""
    by = requester(requested_by)
    day = services.parse_date(on)
    core = ctx.core
    version = services.show_version(core, version_id).version
    # A version is unpublished once at most: its ID names the request.
    key = idempotency_key or f"unpublish:{version.id}"

    def make(key: str) -> Request:
        return services.request_unpublish(
            core, version.id, requested_by=by.id, on=day, idempotency_key=key
        )

    ask(
        core,
        (RequestKind.UNPUBLISH, version.product_code),
        make,
        key,
        what=f"unpublish version {version.id} of product {version.product_code} {_on(day)}",
        wait=wait_decision,
        timeout=timeout,
        as_json=as_json,
    )


@click.command("request-unpublish")
@click.argument("product_code")
@click.option("--on", "on", default="now", show_default=True, help=ON_HELP)
@request_options
@pass_ctx
@reported
def products_request_unpublish(
    ctx: Ctx,
    product_code: str,
    on: str,
    requested_by: str | None,
    idempotency_key: str | None,
    wait_decision: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Ask the release managers to unpublish every version of a product (R9), at once or on
    a date."""
    by = requester(requested_by)
    day = services.parse_date(on)
    core = ctx.core
    product, _ = services.new_form(core, product_code)
    # A product may be published again after it was unpublished: its last version tells
    # one unpublication from the next.
    last = product.last_created_version()
    key = idempotency_key or f"unpublish-product:{product.code}:{last.id if last else '-'}"

    def make(key: str) -> Request:
        return services.request_unpublish_product(
            core, product.code, requested_by=by.id, on=day, idempotency_key=key
        )

    ask(
        core,
        (RequestKind.UNPUBLISH_PRODUCT, product.code),
        make,
        key,
        what=f"unpublish every version of product {product.code} {_on(day)}",
        wait=wait_decision,
        timeout=timeout,
        as_json=as_json,
    )


def _on(day: date | None) -> str:
    return f"on {day.isoformat()}" if day else "now"

"""`omi-bot audit`: the audit trail, filtered, as a table, JSON lines or CSV."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime

import click

from cli.common import Ctx, pass_ctx, reported, table, when
from commands import audit
from commands.audit import AuditEvent
from commands.errors import UserError, quoted

CSV_COLUMNS = (
    "id",
    "at",
    "kind",
    "product_code",
    "version_id",
    "request_id",
    "schedule_id",
    "source",
    "actor_id",
    "actor_name",
    "summary",
    "detail",
)


@click.group("audit")
def audit_group() -> None:
    """The audit trail: requests, decisions, changes, outcomes, notices, repairs."""


def parse_since(text: str | None) -> datetime | None:
    """A date (from its midnight, UTC) or a moment in ISO 8601 (UTC when it names no zone)."""
    if not text:
        return None
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(
            f"--since {quoted(text)} is not a date: write it YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def who(e: AuditEvent) -> str:
    return f"{e.actor_id} ({e.actor_name})" if e.actor_name else e.actor_id


def one_line(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def print_table(events: Sequence[AuditEvent]) -> None:
    table(
        ("ID", "WHEN", "KIND", "PRODUCT", "VERSION", "FROM", "WHO", "WHAT"),
        [
            (
                str(e.id),
                when(e.at),
                e.kind.value,
                e.product_code,
                e.version_id or "-",
                e.source.value,
                who(e),
                one_line(audit.summary(e)) or "-",
            )
            for e in events
        ],
    )


def print_csv(events: Sequence[AuditEvent]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in events:
        row = e.as_dict()
        row["detail"] = json.dumps(e.detail, ensure_ascii=False, sort_keys=True)
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])


@audit_group.command("list")
@click.option("--product", "product_code", metavar="CODE", help="Only this product's events.")
@click.option("--version", "version_id", metavar="ID", help="Only this version's events.")
@click.option("--since", metavar="DATE", help="From this date (YYYY-MM-DD, UTC) or moment on.")
@click.option("--limit", type=click.IntRange(min=1), help="Only the last N events.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row.")
@pass_ctx
@reported
def audit_list(
    ctx: Ctx,
    product_code: str | None,
    version_id: str | None,
    since: str | None,
    limit: int | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """The events in the order they happened, oldest first."""
    if as_json and as_csv:
        raise UserError("Choose one of --json and --csv.")
    events = audit.events(
        ctx.core,
        product_code=product_code,
        version_id=version_id,
        since=parse_since(since),
        limit=limit,
    )
    if as_json:
        for e in events:
            click.echo(json.dumps(e.as_dict(), ensure_ascii=False))
    elif as_csv:
        print_csv(events)
    elif not events:
        click.echo("No events.")
    else:
        print_table(events)

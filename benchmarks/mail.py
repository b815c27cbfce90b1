"""Benchmark: one publication to 10,000 mail recipients, delivered through the outbox, next to
the ceiling measured in the same run: plain smtplib sending the very same bytes over one
connection to the same kind of server.

Run from the repository root:

    .venv/bin/python -m benchmarks.mail [--recipients N] [--batch N] [--runs N] [--small]
                                        [--markdown] [--postgres-url URL | --no-postgres]

What is measured, on SQLite (a temporary file) then PostgreSQL, --runs times each (the median
run is the figure):

1. Queueing: `notices.version_published` writing one outbox row per recipient (the mail rendered
   in the recipient's language) in the transaction that marks the version published, as the
   pipeline's last step does. The cloud part of the publication is left out:
   benchmarks.publication measures it.
2. Delivery: `send_due_mail` until the outbox is empty, one claimed batch per call over one
   connection kept open, as a worker does: claiming with a lease, writing each mail's headers,
   sending it, committing the outcomes a group at a time. The SMTP server is SmtpTestServer
   (aiosmtpd) run in a process of its own, so the server and omi-bot each have a core.
3. Ceiling: the same mails as bytes, sent with smtplib's sendmail over one connection to a
   second server process: what the server and loopback allow, with no database at all.

Then once more on SQLite with no SMTP server, the embedded default: delivery into the Maildir,
and as ceiling the same bytes stored as any crash-safe Maildir delivery must (written under
tmp/, synced, linked into new/), with no database.

Delivery and ceiling take turns, a batch each, so the load other programs put on the machine
falls on both alike. Each server's count of received mails is checked: every recipient once.

Warning: on PostgreSQL the benchmark creates a schema omibot_bench_<pid> in the database given by
--postgres-url (DROP SCHEMA … CASCADE first if it exists) and drops it at the end, as
benchmarks.versions does; other schemas are not touched.
"""

from __future__ import annotations

import argparse
import itertools
import os
import smtplib
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from benchmarks.common import (
    POSTGRES_WARNING,
    BenchmarkError,
    Row,
    Table,
    add_common_options,
    check_postgres,
    positive,
    postgres_schema,
    progress,
    run_main,
)
from benchmarks.processes import smtp_process
from commands import notices, services
from commands.bootstrap import Core, bootstrap
from commands.config import Settings
from commands.model import Omi, OutboxState, VersionForm
from commands.notifications.outbox import envelope_for, open_transport, send_due_mail
from commands.outscale import Cloud
from storage.orm import organizations, subscribers, subscriptions

SELLER = "111111111111"
CODE = "0001"
SENDER_ADDRESS = "omi-bot@example.com"


# -- setup --------------------------------------------------------------------------------------


def make_core(url: str, workdir: Path, smtp_url: str | None = None) -> Core:
    settings = Settings(
        database_url=url,
        smtp_url=smtp_url,
        maildir=str(workdir / "mail"),
        mail_from="Marketplace notices <omi-bot@example.com>",
    )
    # Nothing here calls OUTSCALE; the cloud adapter is built lazily and never used.
    return bootstrap(settings, cloud=Cloud())


def add_recipients(core: Core, count: int) -> list[str]:
    """`count` subscriber accounts of product 0001, half in a French organization, half in an
    English one; each organization's administrator is also one of its subscribers' contacts,
    so the publication reaches exactly `count` distinct addresses."""
    services.save_product(
        core, code=CODE, name="Nginx on Debian", seller_account_id=SELLER, pricing="hourly"
    )
    now = datetime.now(UTC)
    emails = [f"user{n}@{'acme' if n % 2 else 'globex'}.example" for n in range(count)]
    with core.db.engine.begin() as conn:
        conn.execute(
            insert(organizations),
            [
                {"id": 1, "name": "Acme", "language": "fr", "admin_emails": [emails[1]]},
                {"id": 2, "name": "Globex", "language": "en", "admin_emails": [emails[0]]},
            ],
        )
        rows = [
            {"account_id": f"{100_000_000_000 + n}", "organization_id": 1 if n % 2 else 2,
             "email": email, "slack_channel": None}
            for n, email in enumerate(emails)
        ]  # fmt: skip
        for start in range(0, count, 2000):
            conn.execute(insert(subscribers), rows[start : start + 2000])
            conn.execute(
                insert(subscriptions),
                [
                    {"account_id": r["account_id"], "product_code": CODE, "created_at": now}
                    for r in rows[start : start + 2000]
                ],
            )
    return emails


def queue_publication(core: Core) -> float:
    """The pipeline's last step: the version is marked published and its notices queued, in
    one transaction. Returns the seconds it took."""
    omi = Omi("ami-5e11e001", "debian-12-nginx-1.24", SELLER, (CODE,), "available")
    form = VersionForm(
        omi=omi.image_id,
        software_version="1.24",
        operating_system="Debian 12",
        release_note="nginx 1.24 on Debian 12.\nSecurity fixes.",
    )
    start = time.perf_counter()
    with core.uow() as uow:
        product = services.get_product(uow, CODE, lock=True)
        at = core.clock()
        version = product.publish(form, omi, requested_by="bench", approved_by="bench", at=at)
        version.copy_made("ami-c0c0c0c0")
        product.publication_done(version, at)
        notices.version_published(uow, product, version, at)
        uow.commit()
    return time.perf_counter() - start


# -- the two measures, slice by slice --------------------------------------------------------


def built_messages(core: Core) -> list[tuple[str, bytes]]:
    """The outbox's mails as the outbox sends them (same headers and bodies), as bytes."""
    with core.uow() as uow:
        items = uow.outbox.list(channel="email", limit=10**9)
    return [
        (item.recipient, envelope_for(item, core.settings.mail_from).data)
        for item in sorted(items, key=lambda i: i.id)
    ]


@dataclass
class Measure:
    outbox: float = 0.0
    ceiling: float = 0.0


Ceiling = Callable[[Sequence[tuple[str, bytes]]], None]


@contextmanager
def smtp_ceiling(url: str) -> Iterator[Ceiling]:
    """smtplib's sendmail over one connection kept for the whole run."""
    host, port = url.removeprefix("smtp://").rsplit(":", 1)
    with smtplib.SMTP(host, int(port), timeout=30) as smtp:
        smtp.ehlo()

        def send(messages: Sequence[tuple[str, bytes]]) -> None:
            for recipient, data in messages:
                smtp.sendmail(SENDER_ADDRESS, [recipient], data)

        yield send


@contextmanager
def maildir_ceiling(folder: Path) -> Iterator[Ceiling]:
    """Each mail stored as any Maildir delivery that survives a crash must: written under
    tmp/, synced to disk, linked into new/; no database, no check for a copy already there."""
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True, exist_ok=True)

    def store(messages: Sequence[tuple[str, bytes]]) -> None:
        for n, (_, data) in enumerate(messages):
            name = f"{time.time_ns()}.{n}.ceiling"
            tmp = folder / "tmp" / name
            with tmp.open("wb") as handle:
                handle.write(data.replace(b"\r\n", b"\n"))
                handle.flush()
                os.fsync(handle.fileno())
            os.link(tmp, folder / "new" / name)
            tmp.unlink()

    yield store


def interleaved(
    core: Core, ceiling: Ceiling, messages: Sequence[tuple[str, bytes]], batch: int
) -> Measure:
    """Both ways in turns of `batch` mails, each over its one connection (or folder) kept for
    the whole run: the machine's other load falls on both alike."""
    measure = Measure()
    sent = 0
    with open_transport(core.settings) as out:
        while True:
            start = time.perf_counter()
            ceiling(messages[sent : sent + batch])
            measure.ceiling += time.perf_counter() - start
            sent += batch
            start = time.perf_counter()
            # One claimed batch per call, as a worker's tick that has other work waiting.
            report = send_due_mail(core, "bench", batch=batch, budget_seconds=0, transport=out)
            measure.outbox += time.perf_counter() - start
            if not report.claimed and sent >= len(messages):
                return measure


def check_once(label: str, received: Counter[str], emails: Sequence[str]) -> None:
    expected = Counter(e.lower() for e in emails)
    if received != expected:
        missing = len(set(expected) - set(received))
        extra = sum(n - 1 for n in received.values() if n > 1)
        raise BenchmarkError(f"{label}: {missing} recipients got nothing, {extra} got duplicates")


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "n/a"


@dataclass(frozen=True)
class Run:
    outbox: float
    ceiling: float
    queued: float

    @property
    def ratio(self) -> float:
        return self.ceiling / self.outbox if self.outbox > 0 else 0.0


def queued_core(
    url: str, workdir: Path, count: int, smtp_url: str | None
) -> tuple[Core, list[str], float, list[tuple[str, bytes]]]:
    core = make_core(url, workdir, smtp_url)
    emails = add_recipients(core, count)
    queued = queue_publication(core)
    messages = built_messages(core)
    if len(messages) != count:
        raise BenchmarkError(f"{len(messages)} mails queued, not {count}")
    return core, emails, queued, messages


def check_recorded(core: Core, count: int) -> None:
    with core.uow() as uow:
        sent = len(uow.outbox.list(channel="email", state=OutboxState.SENT, limit=10**9))
    if sent != count:
        raise BenchmarkError(f"{sent} mails recorded sent, not {count}")


def bench(url: str, workdir: Path, count: int, batch: int) -> Run:
    with smtp_process() as ceiling_server, smtp_process() as outbox_server:
        core, emails, queued, messages = queued_core(url, workdir, count, outbox_server.url)
        try:
            with smtp_ceiling(ceiling_server.url) as ceiling:
                measure = interleaved(core, ceiling, messages, batch)
            check_once("ceiling", ceiling_server.received(), emails)
            check_once("outbox", outbox_server.received(), emails)
            check_recorded(core, count)
        finally:
            core.db.engine.dispose()
    return Run(measure.outbox, measure.ceiling, queued)


def bench_maildir(url: str, workdir: Path, count: int, batch: int) -> Run:
    """The embedded default: no OMI_SMTP_URL, the mails stored in the Maildir."""
    core, _, queued, messages = queued_core(url, workdir, count, None)
    try:
        with maildir_ceiling(workdir / "ceiling") as ceiling:
            measure = interleaved(core, ceiling, messages, batch)
        for label, folder in (("ceiling", workdir / "ceiling"), ("outbox", workdir / "mail")):
            stored = sum(1 for _ in (folder / "new").iterdir())
            if stored != count:
                raise BenchmarkError(f"{label}: {stored} mails in {folder}/new, not {count}")
        check_recorded(core, count)
    finally:
        core.db.engine.dispose()
    return Run(measure.outbox, measure.ceiling, queued)


def runs_on(
    label: str,
    url_for: Callable[[int], AbstractContextManager[str]],
    args: argparse.Namespace,
    workdir: Path,
    how: Callable[[str, Path, int, int], Run] = bench,
) -> list[Run]:
    runs = []
    for n in range(args.runs):
        folder = workdir / f"{label}-{n}".replace(" ", "-")
        folder.mkdir()
        with url_for(n) as url:
            run = how(url, folder, args.recipients, args.batch)
        progress(
            f"  {label} run {n + 1}: outbox {rate(args.recipients, run.outbox)}, ceiling "
            f"{rate(args.recipients, run.ceiling)}, ratio {run.ratio:.2f} "
            f"({run.queued:.1f} s to queue)"
        )
        runs.append(run)
    return runs


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.mail",
        description=(
            "Delivers one publication's mails to N recipients through the outbox and prints "
            "mails per second next to plain smtplib over one connection (the ceiling), with "
            "the ratio; the median of --runs runs is the figure."
        ),
        epilog=POSTGRES_WARNING,
    )
    parser.add_argument("--recipients", type=positive, default=10_000, metavar="N")
    parser.add_argument(
        "--batch", type=positive, default=200, metavar="N", help="mails claimed at a time"
    )
    parser.add_argument("--runs", type=positive, default=3, metavar="N")
    add_common_options(parser)
    args = parser.parse_args(argv)
    if args.small:
        args.recipients, args.runs = 1_000, 1
    return args


def collect(args: argparse.Namespace) -> list[Table]:
    table = Table(
        f"Mail: one publication to {args.recipients:,} recipients (text + HTML, EN/FR) through "
        f"the outbox vs plain smtplib, one connection each, aiosmtpd in its own process; "
        f"median of {args.runs} runs"
    )
    if not args.no_postgres:
        check_postgres(args.postgres_url)
    with tempfile.TemporaryDirectory(prefix="omi-bot-bench-") as tmp:
        workdir = Path(tmp)
        files = itertools.count()  # a database file of its own for every run
        databases: list[tuple[str, Callable[[int], AbstractContextManager[str]]]] = [
            ("SQLite", lambda n: nullcontext(f"sqlite:///{workdir / f'mail-{next(files)}.db'}"))
        ]
        if not args.no_postgres:
            databases.append(("PostgreSQL", lambda n: postgres_schema(args.postgres_url)))
        ways: list[tuple[str, Callable[[int], AbstractContextManager[str]], Any]] = [
            (label, url_for, bench) for label, url_for in databases
        ]
        ways.append(("SQLite, Maildir", databases[0][1], bench_maildir))
        for label, url_for, how in ways:
            runs = runs_on(label, url_for, args, workdir, how)
            run = sorted(runs, key=lambda r: r.ratio)[len(runs) // 2]
            table.add(
                Row(
                    f"{label}: mails per second",
                    rate(args.recipients, run.outbox),
                    rate(args.recipients, run.ceiling),
                    f"{run.ratio:.2f}",
                    # The target is the SMTP one; the Maildir's is watched, not set.
                    "" if how is bench_maildir else ">= 0.80",
                    None if how is bench_maildir else run.ratio >= 0.80,
                )
            )
            table.add(
                Row(f"{label}: queueing the {args.recipients:,} mails", f"{run.queued:.1f} s")
            )
    if args.no_postgres:
        table.note("PostgreSQL: skipped (--no-postgres)")
    table.note(
        "outbox: send_due_mail, one claimed batch at a time (claim with a lease, write the "
        "headers, send, commit the outcomes a group at a time); ceiling: smtplib.sendmail of "
        "the same bytes; the two take turns of one batch each"
    )
    table.note(
        "SQLite, Maildir (no OMI_SMTP_URL, the embedded default): the outbox into the Maildir "
        "vs the same bytes written under tmp/, synced and linked into new/, with no database"
    )
    return [table]


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(parse, collect, argv)


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: one publication end to end, for a product with many subscriber accounts, at two
sizes, so that how each stage grows shows in the ratio between them.

Run from the repository root:

    .venv/bin/python -m benchmarks.publication [--sizes 1000,5000] [--runs 3] [--small]
                                               [--markdown] [--postgres-url URL | --no-postgres]

At each size N (default 1,000 and 5,000 subscriber accounts), the product's subscribers are N
accounts in N/5 organizations (English and French in turn), each organization with 5
administrators, so the publication reaches 2N mail recipients (10,000 at 5,000 accounts); every
10 organizations share a Slack channel (N/50 channels). A release manager approves a pending
publication request, then a worker runs the pipeline and delivers the outbox:

1. approve: `services.approve`, as the confirmation modal's submission calls it (the OMI
   checked on OUTSCALE, the version and its first job written);
2. copy: the worker's `copy_omi` and `await_copy` jobs (the copy is available at once);
3. share: the `share_copy` job, `UpdateImage` of 100 accounts at a time, each batch
   checkpointed, without the notices below;
4. notices queued: `notices.version_published` inside the share job's last transaction (one
   outbox row per recipient and channel, the mail rendered in its language);
5. mails sent: the worker's mail deliverer until the outbox has no mail left, over one SMTP
   connection, to aiosmtpd in a process of its own;
6. announcements posted: the worker's Slack deliverer until nothing is left, to the fake Slack
   Web API (tests.slackfake) in a process of its own.

The OUTSCALE sandbox runs in a process of its own too. Each stage prints its time and the
database statements it ran (SQLAlchemy's `before_cursor_execute`: one per execute or
executemany the DBAPI sees). The figure of each stage is its time and statements at the larger
size next to those at the smaller (the baseline); the target is "no worse than linear": the
ratio at most the ratio of sizes, with 20 % allowed to the times for the machine's noise.
Each size is published `--runs` times (3), each on a fresh database, and each stage keeps its
shortest time: a stage of a few tenths of a second measured once moves by more than the
allowance whenever the machine does something else meanwhile.

At the end each recipient must have received exactly one mail, each channel one announcement,
and the copy must be shared with exactly the N accounts.

`--small` runs 100 and 500 accounts, quickly.

Warning: on PostgreSQL the benchmark creates a schema omibot_bench_<pid> in the database given by
--postgres-url (DROP SCHEMA … CASCADE first if it exists) and drops it at the end, as
benchmarks.versions does; other schemas are not touched.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import logging
import os
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, insert, select

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
from benchmarks.processes import RemoteFake, SmtpProcess, sandbox_process, smtp_process
from commands import notices, services
from commands.bootstrap import Core, bootstrap
from commands.config import Settings
from commands.delivery import deliverers
from commands.lifecycle import settle_heap
from commands.model import Actor, JobState, Request, RequestKind, Status, VersionForm
from commands.notifications.slack import PACER
from commands.worker import Worker
from storage.orm import jobs, organizations, subscribers, subscriptions
from tests.conftest import write_osc_config

warnings.filterwarnings("ignore", category=DeprecationWarning, module="osc_sdk_python")

TOKEN = "xoxb-bench"
SELLER = "111111111111"
CODE = "0001"
OMI = "ami-5e11e001"
REQUESTER, MANAGER = "UDEV", "URM1"
ADMINS_PER_ORGANIZATION = 5
ACCOUNTS_PER_ORGANIZATION = 5
ORGANIZATIONS_PER_CHANNEL = 10
NOISE = 1.2  # times may grow 20 % beyond linear before the target is missed

STAGES = ("approve", "copy", "share", "notices queued", "mails sent", "announcements posted")
STAGE_OF_JOB = {"copy_omi": "copy", "await_copy": "copy", "share_copy": "share"}


# -- what each stage costs ----------------------------------------------------------------------


@dataclass
class Stages:
    """Seconds and database statements per stage; a stage entered inside another is taken
    out of the outer one."""

    current: str = ""
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    statements: Counter[str] = field(default_factory=Counter)

    def count(self, *_: Any) -> None:
        if self.current:
            self.statements[self.current] += 1

    @contextmanager
    def on(self, label: str) -> Iterator[None]:
        outer = self.current
        self.current = label
        start = time.perf_counter()
        try:
            yield
        finally:
            took = time.perf_counter() - start
            self.seconds[label] += took
            if outer:
                self.seconds[outer] -= took
            self.current = outer

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Statements the benchmark itself runs, counted nowhere."""
        outer, self.current = self.current, ""
        try:
            yield
        finally:
            self.current = outer


@contextmanager
def counted(engine: Engine, stages: Stages) -> Iterator[None]:
    event.listen(engine, "before_cursor_execute", stages.count)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", stages.count)


@contextmanager
def notices_apart(stages: Stages) -> Iterator[None]:
    """The share job writes the notices in its last transaction: they are timed as a stage of
    their own by wrapping the function the pipeline calls (commands.notices is looked up at
    each call)."""
    original = notices.version_published

    def timed(*args: Any, **kwargs: Any) -> None:
        with stages.on("notices queued"):
            original(*args, **kwargs)

    notices.version_published = timed  # type: ignore[assignment]
    try:
        yield
    finally:
        notices.version_published = original  # type: ignore[assignment]


# -- setup, not measured ------------------------------------------------------------------------


@dataclass(frozen=True)
class Audience:
    accounts: list[str]
    emails: list[str]
    channels: list[str]


def audience(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Audience]:
    """Organizations and subscribers rows for `n` accounts, and whom the notices must reach."""
    orgs = -(-n // ACCOUNTS_PER_ORGANIZATION)
    organizations = [
        {"id": k + 1, "name": f"Organization {k:05d}", "language": "fr" if k % 2 else "en",
         "admin_emails": [f"admin{j}@org{k}.example" for j in range(ADMINS_PER_ORGANIZATION)]}
        for k in range(orgs)
    ]  # fmt: skip
    subscribers = []
    for i in range(n):
        k = i // ACCOUNTS_PER_ORGANIZATION
        subscribers.append(
            {
                "account_id": f"{100_000_000_000 + i}",
                "organization_id": k + 1,
                "email": f"subscriber{i}@org{k}.example",
                "slack_channel": f"C{k // ORGANIZATIONS_PER_CHANNEL:08d}",
            }
        )
    emails = [s["email"] for s in subscribers] + [
        a for o in organizations for a in o["admin_emails"]
    ]
    channels = sorted({s["slack_channel"] for s in subscribers})
    return (
        organizations,
        subscribers,
        Audience([s["account_id"] for s in subscribers], emails, channels),
    )


def seed(core: Core, n: int) -> tuple[int, Audience]:
    """Product 0001 with `n` subscriber accounts and a publication request waiting."""
    services.save_product(
        core,
        code=CODE,
        name="Nginx on Debian",
        seller_account_id=SELLER,
        pricing="hourly",
        release_managers=[MANAGER],
        approval_channel="CREL",
    )
    orgs, subs, reached = audience(n)
    now = datetime.now(UTC)
    with core.db.engine.begin() as conn:
        conn.execute(insert(organizations), orgs)
        for start in range(0, n, 2000):
            chunk = subs[start : start + 2000]
            conn.execute(insert(subscribers), chunk)
            conn.execute(
                insert(subscriptions),
                [{"account_id": s["account_id"], "product_code": CODE, "created_at": now}
                 for s in chunk],
            )  # fmt: skip
    with core.uow() as uow:
        request = Request(
            kind=RequestKind.PUBLISH,
            product_code=CODE,
            requested_by=REQUESTER,
            at=core.clock(),
            form=VersionForm(omi=OMI, software_version="1.24", release_note="nginx 1.24."),
        )
        uow.requests.add(request)
        uow.commit()
        return int(request.id), reached  # type: ignore[arg-type]


def next_job(core: Core) -> tuple[str, datetime] | None:
    with core.db.engine.connect() as conn:
        row = conn.execute(
            select(jobs.c.kind, jobs.c.run_at)
            .where(jobs.c.state.in_([JobState.PENDING.value, JobState.RUNNING.value]))
            .order_by(jobs.c.run_at, jobs.c.id)
            .limit(1)
        ).first()
    return (str(row[0]), row[1]) if row else None


# -- one size -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    accounts: int
    recipients: int
    channels: int
    seconds: dict[str, float]
    statements: dict[str, int]


def run_size(url: str, folder: Path, n: int, smtp: SmtpProcess, fake: RemoteFake) -> Result:
    received_before = smtp.received()
    settings = Settings(
        database_url=url,
        smtp_url=smtp.url,
        mail_from="Marketplace notices <omi-bot@example.com>",
        maildir=str(folder / "mail"),
        seller_profile="seller",
        distribution_profile="distribution",
        copy_poll_seconds=0.05,
        osc_rate_limit=1000,
    )
    core = bootstrap(settings)
    engine = core.db.engine
    try:
        request_id, reached = seed(core, n)
        # Who the distribution account is: one ReadAccounts per process, asked before.
        _ = core.cloud.distribution.account_id
        settle_heap()  # as `omi-bot worker` does once started
        stages = Stages()
        worker = Worker(core, name="bench", deliverers=[])
        os.environ["SLACK_BOT_TOKEN"] = TOKEN
        os.environ["SLACK_API_URL"] = fake.url
        mail, slack = deliverers(core, "bench")
        PACER.reset()
        posted_before = fake.channels()
        with counted(engine, stages), notices_apart(stages):
            with stages.on("approve"):
                decision = services.approve(core, request_id, by=Actor.slack_user(MANAGER))
            version_id = decision.versions[0].id
            while True:
                with stages.paused():
                    due = next_job(core)
                if due is None:
                    break
                kind, run_at = due
                wait = (run_at - datetime.now(UTC)).total_seconds()
                if wait > 0:
                    time.sleep(wait)
                with stages.on(STAGE_OF_JOB.get(kind, f"job {kind}")):
                    worker.run_one()
            with stages.on("mails sent"):
                while mail():
                    pass
            with stages.on("announcements posted"):
                while slack():
                    pass
        with stages.paused():
            check(core, version_id, reached, smtp.received() - received_before, fake, posted_before)
    finally:
        gc.unfreeze()  # the next publication starts from its own start-up
        engine.dispose()
        os.environ.pop("SLACK_BOT_TOKEN", None)
        os.environ.pop("SLACK_API_URL", None)
    return Result(
        n, len(reached.emails), len(reached.channels), dict(stages.seconds), dict(stages.statements)
    )


def check(
    core: Core,
    version_id: str,
    reached: Audience,
    received: Counter[str],
    fake: RemoteFake,
    posted_before: Counter[str],
) -> None:
    """Everyone told once, the copy shared with exactly the accounts."""
    with core.uow() as uow:
        version = uow.versions.get(version_id)
        status, copy_id = version.status, version.copy_id
    if status is not Status.PUBLISHED or not copy_id:
        raise BenchmarkError(f"version {version_id} ended {status}, not published")
    expected = Counter(e.lower() for e in reached.emails)
    if received != expected:
        missing = len(set(expected) - set(received))
        extra = sum(v - 1 for v in received.values() if v > 1)
        raise BenchmarkError(f"{missing} recipients got no mail, {extra} mails were duplicates")
    posted = fake.channels() - posted_before
    wrong = [c for c in reached.channels if posted[c] != 1]
    if wrong:
        raise BenchmarkError(f"{len(wrong)} channels did not get exactly one announcement")
    image = core.cloud.distribution.image(copy_id)
    if image is None or sorted(image.permitted_accounts) != sorted(reached.accounts):
        shared = len(image.permitted_accounts) if image else 0
        raise BenchmarkError(
            f"the copy is shared with {shared} accounts, not {len(reached.accounts)}"
        )


def best_of(runs: Sequence[Result]) -> Result:
    """Each stage's shortest time over runs of one size on fresh databases (what the work
    costs, without what else the machine did meanwhile), and its most statements."""
    first = runs[0]
    stages = {name for r in runs for name in r.seconds}
    return Result(
        first.accounts,
        first.recipients,
        first.channels,
        {name: min(r.seconds.get(name, 0.0) for r in runs) for name in stages},
        {name: max(r.statements.get(name, 0) for r in runs) for name in stages},
    )


# -- the table ----------------------------------------------------------------------------------


def rows(label: str, small: Result, large: Result, table: Table) -> None:
    growth = large.accounts / small.accounts
    for name in STAGES:
        t0, t1 = small.seconds.get(name, 0.0), large.seconds.get(name, 0.0)
        s0, s1 = small.statements.get(name, 0), large.statements.get(name, 0)
        ratio = t1 / t0 if t0 > 0 else 0.0
        table.add(
            Row(
                f"{label}, {name}: time",
                f"{t1:.3f} s",
                f"{t0:.3f} s",
                f"{ratio:.2f}x",
                f"<= {growth * NOISE:.1f}x",
                ratio <= growth * NOISE,
            )
        )
        sratio = s1 / s0 if s0 else (0.0 if not s1 else float("inf"))
        table.add(
            Row(
                f"{label}, {name}: statements",
                f"{s1:,}",
                f"{s0:,}",
                f"{sratio:.2f}x",
                f"<= {growth:.1f}x",
                sratio <= growth,
            )
        )
    others = sorted({k for r in (small, large) for k in r.seconds if k not in STAGES})
    for name in others:
        table.note(
            f"{label}, {name}: {large.seconds.get(name, 0.0):.3f} s and "
            f"{large.statements.get(name, 0)} statements at {large.accounts:,} accounts"
        )
    total0, total1 = sum(small.seconds.values()), sum(large.seconds.values())
    table.add(
        Row(
            f"{label}: whole publication",
            f"{total1:.2f} s",
            f"{total0:.2f} s",
            f"{total1 / total0:.2f}x" if total0 else "n/a",
            f"<= {growth * NOISE:.1f}x",
            total0 > 0 and total1 / total0 <= growth * NOISE,
        )
    )


def collect(args: argparse.Namespace) -> list[Table]:
    logging.basicConfig(level=logging.ERROR)
    sizes: list[int] = args.sizes
    small_n, large_n = sizes[0], sizes[-1]
    table = Table(
        f"Publication end to end: {large_n:,} subscriber accounts ({2 * large_n:,} mail "
        f"recipients) vs {small_n:,} ({2 * small_n:,}); baseline: the smaller size in the same "
        "run; target: no worse than linear"
    )
    if not args.no_postgres:
        check_postgres(args.postgres_url)
    fake = RemoteFake(TOKEN, [MANAGER])
    try:
        with tempfile.TemporaryDirectory(prefix="omi-bot-bench-") as tmp:
            folder = Path(tmp)
            files = itertools.count()  # a fresh SQLite file for each publication
            with sandbox_process(folder, copy_delay=0) as api_url, smtp_process() as smtp:
                os.environ["OSC_CONFIG_FILE"] = str(write_osc_config(folder / "osc.json", api_url))
                databases: list[tuple[str, Callable[[int], AbstractContextManager[str]]]] = [
                    ("SQLite", lambda n: nullcontext(f"sqlite:///{folder}/pub-{next(files)}.db"))
                ]
                if not args.no_postgres:
                    databases.append(("PostgreSQL", lambda n: postgres_schema(args.postgres_url)))
                for label, url_for in databases:
                    results = []
                    for n in sizes:
                        runs = []
                        for _ in range(args.runs):
                            with url_for(n) as url:
                                runs.append(run_size(url, folder, n, smtp, fake))
                        result = best_of(runs)
                        results.append(result)
                        progress(f"  {label}, {n:,} accounts, best of {args.runs}:")
                        for name in (*STAGES, *sorted(set(result.seconds) - set(STAGES))):
                            progress(
                                f"    {name:<22} {result.seconds.get(name, 0.0):8.3f} s "
                                f"{result.statements.get(name, 0):7,} statements"
                            )
                    rows(label, results[0], results[-1], table)
                    small, large = results[0], results[-1]
                    table.title = (
                        f"Publication end to end: {large.accounts:,} subscriber accounts "
                        f"({large.recipients:,} mail recipients, {large.channels:,} channels) vs "
                        f"{small.accounts:,} ({small.recipients:,}, {small.channels:,}); "
                        "baseline: the smaller size in the same run; target: no worse than linear"
                    )
    finally:
        fake.stop()
    if args.no_postgres:
        table.note("PostgreSQL: skipped (--no-postgres)")
    table.note(
        "statements: SQLAlchemy before_cursor_execute, one per execute or executemany; the "
        "sandbox, the SMTP server and the fake Slack Web API each in a process of their own"
    )
    table.note(
        f"each size published {args.runs} times on fresh databases: each stage's shortest time "
        "and its most statements; the whole publication is the sum of the stages' best"
    )
    return [table]


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.publication",
        description=(
            "Times each stage of one publication (approve, copy, share, notices queued, mails "
            "sent, announcements posted) and counts its database statements, at two numbers "
            "of subscriber accounts, with the ratio between them."
        ),
        epilog=POSTGRES_WARNING,
    )
    parser.add_argument(
        "--sizes",
        type=lambda v: sorted(positive(n) for n in v.split(",")),
        default=[1_000, 5_000],
        metavar="N,N",
        help="numbers of subscriber accounts, the smaller first (default: 1000,5000)",
    )
    parser.add_argument(
        "--runs",
        type=positive,
        default=3,
        metavar="N",
        help="publications per size, each on a fresh database; each stage's best is kept "
        "(default: 3)",
    )
    add_common_options(parser)
    args = parser.parse_args(argv)
    if args.small:
        args.sizes = [100, 500]
    if len(args.sizes) < 2:
        parser.error("--sizes takes two sizes")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(parse, collect, argv)


if __name__ == "__main__":
    sys.exit(main())

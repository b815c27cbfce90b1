"""Benchmark: the Versions table of a big product, and one publication shared with many
subscriber accounts. Each omi-bot figure is printed next to a baseline measured in the same run
and the ratio between them.

Run from the repository root:

    .venv/bin/python -m benchmarks.versions [--versions N] [--subscribers N] [--repeat N]
                                            [--postgres-url URL | --no-postgres]

1. Versions table: a product with N versions (bulk inserted), read with
   `services.versions_table` (all rows, then the first page of 50) on SQLite (a temporary file)
   and on PostgreSQL, against a raw `SELECT … ORDER BY created_at DESC` run through the same
   engine with the DBAPI cursor.
2. Sharing: the OUTSCALE sandbox on loopback, a paid (hourly) product with N subscriber accounts,
   `services.publish` then the worker until the version is settled; the number of `UpdateImage`
   calls the sandbox received and the time, against the same sharing done with plain
   osc-sdk-python Gateway `UpdateImage` calls in batches of the same size.

Warning: on PostgreSQL the benchmark creates a schema omibot_bench_<pid> in the database given by
--postgres-url (DROP SCHEMA … CASCADE first if it exists), makes omi-bot's tables there and drops
the schema at the end, as the test suite does; tables in other schemas are not touched.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, text
from sqlalchemy.engine import make_url

from commands import services
from commands.bootstrap import Core, bootstrap
from commands.config import Settings
from commands.model import Status, VersionForm
from commands.sandbox import Sandbox, SandboxServer
from commands.worker import Worker
from storage.db import make_engine
from storage.orm import organizations, subscribers, subscriptions, versions
from tests.conftest import DISTRIBUTION, OMI_1, OMI_3, SELLER, write_osc_config

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PAGE = 50
RATE_LIMIT = 1000  # requests per second and identity, for omi-bot and the baseline alike
SDK_DEFAULT_RATE = 5  # osc-sdk-python's default pacing, requests per second and identity
OMI_FIXED = "ami-5e11e005"  # the demo sandbox's OMI with product code 0002

warnings.filterwarnings("ignore", category=DeprecationWarning, module="osc_sdk_python")


class BenchmarkError(Exception):
    """Something the benchmark cannot go on without; printed as one line, exit 1."""


# -- output -----------------------------------------------------------------------------------


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.1f}x" if baseline > 0 else "n/a"


def row(label: str, value: str, baseline: str, times: str) -> None:
    print(f"  {label:<50} {value:>10} {baseline:>10} {times:>7}".rstrip())


def header(title: str) -> None:
    print()
    print(title)
    row("", "omi-bot", "baseline", "ratio")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up: first connection, statement caches
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


# -- 1. the Versions table --------------------------------------------------------------------


def check_postgres(url: str) -> None:
    shown = make_url(url).render_as_string(hide_password=True)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise BenchmarkError(
            f"PostgreSQL at {shown} cannot be reached ({reason}); start it, give another "
            "--postgres-url, or pass --no-postgres."
        ) from None
    finally:
        engine.dispose()


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A schema of its own in the database, made and dropped as tests/conftest.py's
    _template_db does; yields the URL whose search_path is that schema."""
    schema = f"omibot_bench_{os.getpid()}"
    admin = make_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        yield str(
            make_url(url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def insert_versions(engine: Engine, code: str, count: int) -> None:
    """Setup, not measured: `count` versions through SQLAlchemy Core, one a minute, every
    tenth one unpublished, the rest published."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    chunk = 2000
    with engine.begin() as conn:
        for first in range(0, count, chunk):
            rows = []
            for i in range(first, min(first + chunk, count)):
                at = start + timedelta(minutes=i)
                unpublished = i % 10 == 9
                rows.append(
                    {
                        "id": f"ver-{i:010x}",
                        "product_code": code,
                        "omi_id": f"ami-{i:08x}",
                        "omi_name": f"debian-12-nginx-build-{i}",
                        "copy_id": None if unpublished else f"ami-c{i:07x}",
                        "software_version": f"1.{i // 100}.{i % 100}",
                        "operating_system": "Debian 12",
                        "software_base": ["nginx 1.26", "openssl 3.0"],
                        "release_note": f"Release {i}: security fixes and improvements.",
                        "instructions": "Connect with SSH as admin.",
                        "status": Status.UNPUBLISHED if unpublished else Status.PUBLISHED,
                        "created_at": at,
                        "modified_at": at,
                        "published_at": at,
                        "unpublished_at": at if unpublished else None,
                        "requested_by": "U0BENCH",
                        "approved_by": "U0BENCH2",
                        "failure": None,
                    }
                )
            conn.execute(insert(versions), rows)


def raw_query(engine: Engine, code: str, limit: int | None) -> Callable[[], list[Any]]:
    """The baseline: plain SQL through the same engine's DBAPI connection, fetchall."""
    param = "%(c)s" if engine.dialect.name == "postgresql" else ":c"
    columns = ", ".join(c.name for c in versions.columns)
    sql = f"SELECT {columns} FROM versions WHERE product_code = {param} ORDER BY created_at DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"

    def run() -> list[Any]:
        conn = engine.raw_connection()
        try:
            cursor = conn.cursor()
            cursor.execute(sql, {"c": code})
            rows = list(cursor.fetchall())
            cursor.close()
            return rows
        finally:
            conn.close()

    return run


def bench_versions_table(label: str, url: str, count: int, repeat: int) -> None:
    code = "BENCH"
    core = bootstrap(Settings(database_url=url))
    try:
        services.save_product(
            core, code=code, name="Benchmark product", seller_account_id=SELLER, pricing="hourly"
        )
        insert_versions(core.db.engine, code, count)
        engine = core.db.engine
        if engine.dialect.name == "postgresql":
            # Fresh statistics, as autovacuum would have them after such an insert.
            with engine.begin() as conn:
                conn.execute(text("ANALYZE versions"))

        table = services.versions_table(core, code)
        page = services.versions_table(core, code, limit=PAGE)
        raw_all = raw_query(engine, code, None)()
        raw_page = raw_query(engine, code, PAGE)()
        if len(table.rows) != count or table.total != count or len(raw_all) != count:
            raise BenchmarkError(f"{label}: the Versions table shows {len(table.rows)} rows")
        if [v.id for v in page.rows] != [r[0] for r in raw_page]:
            raise BenchmarkError(f"{label}: the first page differs from the baseline's")

        full = median_seconds(lambda: services.versions_table(core, code), repeat)
        full_base = median_seconds(raw_query(engine, code, None), repeat)
        first = median_seconds(lambda: services.versions_table(core, code, limit=PAGE), repeat)
        first_base = median_seconds(raw_query(engine, code, PAGE), repeat)
        row(f"{label}: all {count:,} rows", ms(full), ms(full_base), ratio(full, full_base))
        row(
            f"{label}: first page (limit={PAGE})",
            ms(first),
            ms(first_base),
            ratio(first, first_base),
        )
    finally:
        core.db.engine.dispose()


# -- 2. one publication shared with many subscribers ------------------------------------------


def account_ids(count: int) -> list[str]:
    return [f"{600000000000 + i:012d}" for i in range(count)]


def insert_subscribers(engine: Engine, code: str, ids: Sequence[str]) -> None:
    """Setup, not measured: organizations, subscribers and their subscriptions, bulk."""
    at = datetime.now(UTC)
    orgs = max(1, len(ids) // 100)
    with engine.begin() as conn:
        conn.execute(
            insert(organizations),
            [
                {
                    "name": f"Benchmark org {o}",
                    "language": "fr" if o % 2 else "en",
                    "admin_emails": [f"admin{o}@org{o}.example"],
                }
                for o in range(orgs)
            ],
        )
        org_ids = list(conn.scalars(select(organizations.c.id).order_by(organizations.c.id)))
        if ids:
            conn.execute(
                insert(subscribers),
                [
                    {
                        "account_id": a,
                        "organization_id": org_ids[i % orgs],
                        "email": f"ops{i}@org{i % orgs}.example",
                        "slack_channel": None,
                    }
                    for i, a in enumerate(ids)
                ],
            )
            conn.execute(
                insert(subscriptions),
                [{"account_id": a, "product_code": code, "created_at": at} for a in ids],
            )


@dataclass(frozen=True)
class Publication:
    seconds: float
    share_seconds: float  # the copy available (share_copy queued) -> settled
    loop_seconds: float  # share_copy job: created -> finished_at (the UpdateImage loop)
    update_images: int  # by the distribution account (the sharing)
    grants: int  # by the seller (launch permission on the source OMI)
    calls: int
    shared: int


def publish_and_settle(core: Core, sandbox: Sandbox, code: str, omi: str) -> Publication:
    worker = Worker(core, deliverers=[])
    before = len(sandbox.calls)
    start = time.perf_counter()
    version = services.publish(
        core,
        code,
        VersionForm(omi=omi, software_version="2.0", release_note="Benchmark release."),
        requested_by="U0BENCH",
    )
    if not worker.run_until(lambda: services.is_settled(core, version.id), timeout=120):
        raise BenchmarkError(f"the publication of {version.id} did not settle within 120 s")
    seconds = time.perf_counter() - start
    settled_at = datetime.now(UTC)
    details = services.show_version(core, version.id)
    if details.version.status is not Status.PUBLISHED or not details.version.copy_id:
        failure = details.version.failure or details.version.status.value
        raise BenchmarkError(f"the publication of {version.id} ended {failure}")
    share = [j for j in details.jobs if j.kind == "share_copy"]
    if len(share) != 1 or share[0].finished_at is None:
        raise BenchmarkError(f"version {version.id} has no finished share_copy job")
    calls = sandbox.calls[before:]
    updates = [account for account, action, _ in calls if action == "UpdateImage"]
    image = sandbox.image(details.version.copy_id) or {}
    shared = len((image.get("PermissionsToLaunch") or {}).get("AccountIds") or [])
    return Publication(
        seconds=seconds,
        share_seconds=(settled_at - share[0].created_at).total_seconds(),
        loop_seconds=(share[0].finished_at - share[0].created_at).total_seconds(),
        update_images=sum(1 for a in updates if a == DISTRIBUTION),
        grants=sum(1 for a in updates if a != DISTRIBUTION),
        calls=len(calls),
        shared=shared,
    )


@dataclass(frozen=True)
class Baseline:
    seconds: float
    update_images: int
    shared: int


def baseline_sharing(sandbox: Sandbox, ids: Sequence[str], batch: int) -> Baseline:
    """The same sharing with plain osc-sdk-python: one UpdateImage per batch, nothing else."""
    from osc_sdk_python import Gateway

    seller = Gateway(profile="seller", limiter_max_requests=RATE_LIMIT)
    dist = Gateway(profile="distribution", limiter_max_requests=RATE_LIMIT)
    # Setup: a copy of its own, available, owned by the distribution account.
    seller.UpdateImage(
        ImageId=OMI_3, PermissionsToLaunch={"Additions": {"AccountIds": [DISTRIBUTION]}}
    )
    made = dist.CreateImage(
        SourceImageId=OMI_3, SourceRegionName="eu-west-2", ImageName="benchmark-baseline-copy"
    )
    image_id = made["Image"]["ImageId"]
    deadline = time.monotonic() + 30
    while dist.ReadImages(Filters={"ImageIds": [image_id]})["Images"][0]["State"] != "available":
        if time.monotonic() > deadline:
            raise BenchmarkError(f"the baseline's copy {image_id} never became available")
        time.sleep(0.01)

    before = len(sandbox.calls)
    start = time.perf_counter()
    for first in range(0, len(ids), batch):
        dist.UpdateImage(
            ImageId=image_id,
            PermissionsToLaunch={"Additions": {"AccountIds": list(ids[first : first + batch])}},
        )
    seconds = time.perf_counter() - start
    updates = sum(1 for _, action, _ in sandbox.calls[before:] if action == "UpdateImage")
    image = sandbox.image(image_id) or {}
    shared = len((image.get("PermissionsToLaunch") or {}).get("AccountIds") or [])
    return Baseline(seconds, updates, shared)


def bench_sharing(count: int, workdir: Path) -> None:
    sandbox = Sandbox.demo(copy_delay=0.01)
    server = SandboxServer(sandbox).start()
    for name in list(os.environ):
        if name.startswith("OSC_"):
            del os.environ[name]
    os.environ["OSC_CONFIG_FILE"] = str(write_osc_config(workdir / "osc-config.json", server.url))
    settings = Settings(
        database_url=f"sqlite:///{workdir / 'sharing.db'}",
        maildir=str(workdir / "mail"),
        seller_profile="seller",
        distribution_profile="distribution",
        osc_timeout=30,
        osc_rate_limit=RATE_LIMIT,
        copy_poll_seconds=0.02,
        worker_poll_seconds=0.02,
        retry_base_seconds=0.05,
    )
    core = bootstrap(settings)
    try:
        code = "0001"
        services.save_product(
            core, code=code, name="Nginx on Debian", seller_account_id=SELLER, pricing="hourly"
        )
        services.save_product(
            core, code="0002", name="PostgreSQL", seller_account_id=SELLER, pricing="hourly"
        )
        ids = account_ids(count)
        insert_subscribers(core.db.engine, code, ids)
        # Both identities made once (the SDK parses its API spec) before anything is timed.
        core.cloud.seller.account_id  # noqa: B018
        core.cloud.distribution.account_id  # noqa: B018

        fixed = publish_and_settle(core, sandbox, "0002", OMI_FIXED)
        bot = publish_and_settle(core, sandbox, code, OMI_1)
        base = baseline_sharing(sandbox, ids, settings.share_batch_size)
        if bot.shared != count or base.shared != count:
            raise BenchmarkError(
                f"shared with {bot.shared} (omi-bot) and {base.shared} (baseline) accounts, "
                f"not {count}"
            )

        batch = settings.share_batch_size
        expected = math.ceil(count / batch)
        header(
            f"2. One publication of a paid (hourly) product shared with {count:,} subscriber "
            f"accounts, batches of {batch} (SQLite, sandbox on loopback, osc_rate_limit="
            f"{RATE_LIMIT}/s for both so the SDK's {SDK_DEFAULT_RATE}/s limiter does not "
            "dominate)"
        )
        row(
            "UpdateImage calls sharing the copy",
            str(bot.update_images),
            str(base.update_images),
            ratio(bot.update_images, base.update_images),
        )
        row(
            "sharing: copy available -> settled",
            ms(bot.share_seconds),
            ms(base.seconds),
            ratio(bot.share_seconds, base.seconds),
        )
        row(
            "  of which the UpdateImage loop (share_copy)",
            ms(bot.loop_seconds),
            ms(base.seconds),
            ratio(bot.loop_seconds, base.seconds),
        )
        row(
            "  of which marking published, writing notices",
            ms(bot.share_seconds - bot.loop_seconds),
            "",
            "",
        )
        row(
            "whole publication, publish -> settled",
            ms(bot.seconds),
            ms(base.seconds),
            ratio(bot.seconds, base.seconds),
        )
        print(f"  expected UpdateImage calls: ceil({count}/{batch}) = {expected}; plus")
        print(
            f"  {bot.grants} UpdateImage by the seller (launch permission on the source OMI), "
            f"{bot.calls} API calls in all for the publication"
        )
        print(
            f"  fixed cost of a publication with no subscriber (copy, wait, jobs): "
            f"{ms(fixed.seconds)}; {fixed.calls} API calls"
        )
        paced = bot.update_images / SDK_DEFAULT_RATE
        print(
            f"  with the SDK's default pacing ({SDK_DEFAULT_RATE} requests/s per identity) the "
            f"{bot.update_images} sharing calls alone would take about {paced:.1f} s "
            f"({bot.update_images} / {SDK_DEFAULT_RATE}), {bot.calls / SDK_DEFAULT_RATE:.1f} s "
            f"for all {bot.calls} calls (information only)"
        )
    finally:
        core.db.engine.dispose()
        server.stop()


# -- main -------------------------------------------------------------------------------------


def add_postgres_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        metavar="URL",
        help="PostgreSQL database to write to, see the warning below (default: %(default)s)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")


def positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.versions",
        description=(
            "Times omi-bot's Versions table (SQLite and PostgreSQL) and the sharing of one "
            "publication with many subscriber accounts (OUTSCALE sandbox), each next to a "
            "baseline measured in the same run, with the ratio."
        ),
        epilog=(
            "WARNING: on PostgreSQL this writes to the database of --postgres-url: it drops "
            "and recreates omi-bot's tables in a schema omibot_bench_<pid> of its own (DROP "
            "SCHEMA ... CASCADE before and after, as the test suite does); other schemas are "
            "not touched."
        ),
    )
    parser.add_argument("--versions", type=positive, default=10_000, metavar="N")
    parser.add_argument("--subscribers", type=positive, default=5_000, metavar="N")
    parser.add_argument(
        "--repeat", type=positive, default=5, metavar="N", help="timed runs per figure (median)"
    )
    add_postgres_options(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    started = time.perf_counter()
    try:
        if not args.no_postgres:
            check_postgres(args.postgres_url)
        with tempfile.TemporaryDirectory(prefix="omi-bot-bench-") as tmp:
            workdir = Path(tmp)
            header(
                f"1. Versions table of a product with {args.versions:,} versions "
                f"(median of {args.repeat}; baseline: raw SELECT … ORDER BY created_at DESC, "
                "DBAPI cursor fetchall, same engine)"
            )
            bench_versions_table(
                "SQLite", f"sqlite:///{workdir / 'versions.db'}", args.versions, args.repeat
            )
            if args.no_postgres:
                print("  PostgreSQL: skipped (--no-postgres)")
            else:
                with postgres_schema(args.postgres_url) as url:
                    bench_versions_table("PostgreSQL", url, args.versions, args.repeat)
            bench_sharing(args.subscribers, workdir)
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print()
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

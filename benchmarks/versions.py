"""Benchmark: the first page of the Versions table, as `/omi versions` asks for it, while the
database grows to 1,000, 10,000 and 100,000 versions over 1,000 products, on SQLite and on
PostgreSQL. Each figure is printed next to a baseline measured in the same run, with the ratio
and the target.

Run from the repository root:

    .venv/bin/python -m benchmarks.versions [--sizes 1000,10000,100000] [--samples N]
                                            [--small] [--markdown]
                                            [--postgres-url URL | --no-postgres]

At each size half of the versions belong to one product (the biggest) and the other half are
shared by the 999 others, so both a product with a long history and an ordinary one are read.
Versions are bulk inserted with the product's version count set as `publish` keeps it; on
PostgreSQL the tables are ANALYZEd after each insert, as autovacuum would.

- omi-bot: `services.versions_table(core, code, limit=PAGE)`, the call behind `/omi versions`:
  the product, its first page, its number of versions and its last available version.
- baseline: the page alone, `SELECT … ORDER BY created_at DESC LIMIT PAGE` through the same
  engine's DBAPI cursor, no ORM.
- p95 over --samples calls after a warm-up; "flat" is the p95 at the largest size over the p95
  at the smallest.
- `services.check_request` on the biggest product, what answers its Version form submission
  (R3, R5), with the same baseline and target, flat as well.
- For information: `services.list_products` (the product list of `/omi products` and the App
  Home) over the 1,000 products, and the database statements one first page costs.

The sharing of a publication with many subscriber accounts is measured end to end by
benchmarks.publication.

Warning: on PostgreSQL the benchmark creates a schema omibot_bench_<pid> in the database given by
--postgres-url (DROP SCHEMA … CASCADE first if it exists) and drops it at the end; tables in
other schemas are not touched.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, insert, text

from benchmarks.common import (
    POSTGRES_WARNING,
    BenchmarkError,
    Row,
    Table,
    add_common_options,
    check_postgres,
    ms,
    p95,
    positive,
    postgres_schema,
    run_main,
    times,
)
from commands import services
from commands.bootstrap import Core, bootstrap
from commands.config import Settings
from commands.errors import FormErrors
from commands.model import Pricing, Status, VersionForm
from storage.orm import products, versions

PAGE = 20  # what /omi versions shows (bot.views.MAX_TABLE_ROWS)
PRODUCTS = 1_000
SELLER = "111111111111"
TARGET_MS = 20.0
FLAT = 1.5


def code(n: int) -> str:
    return f"B{n:04d}"


BIGGEST = code(0)


# -- setup, not measured ----------------------------------------------------------------------


def insert_products(engine: Engine) -> None:
    at = datetime(2020, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(products),
            [
                {"code": code(n), "name": f"Benchmark product {n}", "seller_account_id": SELLER,
                 "pricing": Pricing.HOURLY, "created_at": at, "modified_at": at,
                 "release_managers": [], "version_count": 0}
                for n in range(PRODUCTS)
            ],
        )  # fmt: skip


def grow(engine: Engine, start: int, stop: int) -> None:
    """Versions `start` to `stop`: even ones to the biggest product, odd ones round the others;
    one a minute, every tenth one unpublished, the rest published. The products' counts are
    then set as `publish` keeps them."""
    origin = datetime(2020, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        for first in range(start, stop, 2000):
            rows = []
            for i in range(first, min(first + 2000, stop)):
                at = origin + timedelta(minutes=i)
                unpublished = i % 10 == 9
                rows.append(
                    {
                        "id": f"ver-{i:010x}",
                        "product_code": BIGGEST if i % 2 == 0 else code(1 + (i // 2) % 999),
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
        conn.execute(
            text(
                "UPDATE products SET version_count = "
                "(SELECT COUNT(*) FROM versions WHERE versions.product_code = products.code)"
            )
        )
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE products"))
            conn.execute(text("ANALYZE versions"))


# -- measures ---------------------------------------------------------------------------------


def raw_page(engine: Engine, product_code: str) -> Callable[[], list[Any]]:
    """The baseline: the page alone, plain SQL through the same engine's DBAPI connection."""
    param = "%(c)s" if engine.dialect.name == "postgresql" else ":c"
    columns = ", ".join(c.name for c in versions.columns)
    sql = (
        f"SELECT {columns} FROM versions WHERE product_code = {param} "
        f"ORDER BY created_at DESC LIMIT {PAGE}"
    )

    def run() -> list[Any]:
        conn = engine.raw_connection()
        try:
            cursor = conn.cursor()
            cursor.execute(sql, {"c": product_code})
            rows = list(cursor.fetchall())
            cursor.close()
            return rows
        finally:
            conn.close()

    return run


def samples(fn: Callable[[], object], count: int) -> list[float]:
    for _ in range(5):
        fn()  # warm-up: connections, statement caches
    taken = []
    for _ in range(count):
        start = time.perf_counter()
        fn()
        taken.append(time.perf_counter() - start)
    return taken


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    """The statements run on `engine` meanwhile."""
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def another_product(core: Core) -> Callable[[], object]:
    """The first page of each of the 999 other products in turn."""
    turn = itertools.count()
    return lambda: services.versions_table(core, code(1 + next(turn) % 999), limit=PAGE)


def check(core: Core, total: int) -> None:
    table = services.versions_table(core, BIGGEST, limit=PAGE)
    expected = (total + 1) // 2
    if table.total != expected or len(table.rows) != min(PAGE, expected):
        raise BenchmarkError(
            f"the biggest product shows {len(table.rows)} rows of {table.total}, not "
            f"{min(PAGE, expected)} of {expected}"
        )
    page = raw_page(core.db.engine, BIGGEST)()
    if [v.id for v in table.rows] != [r[0] for r in page]:
        raise BenchmarkError("the first page differs from the baseline's")


def form_check(core: Core) -> Callable[[], object]:
    """What answers a Version form submission of the biggest product (R3, R5): refused when
    the form's OMI is already a version's, as it is here (the oldest one's)."""
    form = VersionForm(omi=f"ami-{0:08x}", release_note="x")

    def run() -> None:
        try:
            services.check_request(core, BIGGEST, form)
        except FormErrors:
            return
        raise BenchmarkError("the Version form check did not find the OMI's version (R5)")

    return run


def bench(label: str, url: str, sizes: Sequence[int], count: int, table: Table) -> None:
    core = bootstrap(Settings(database_url=url))
    engine = core.db.engine
    first: float | None = None
    last = 0.0
    forms: list[float] = []
    try:
        insert_products(engine)
        grown = 0
        for size in sizes:
            grow(engine, grown, size)
            grown = size
            check(core, size)
            ours = p95(samples(lambda: services.versions_table(core, BIGGEST, limit=PAGE), count))
            base = p95(samples(raw_page(engine, BIGGEST), count))
            other = p95(samples(another_product(core), count))
            products_list = p95(samples(lambda: services.list_products(core), max(count // 20, 5)))
            forms.append(p95(samples(form_check(core), count)))
            first = ours if first is None else first
            last = ours
            big = (size + 1) // 2
            table.add(
                Row(
                    f"{label}, {size:,} versions: first page, biggest product ({big:,})",
                    ms(ours),
                    ms(base),
                    times(ours, base),
                    f"p95 <= {TARGET_MS:.0f} ms",
                    ours * 1000 <= TARGET_MS,
                )
            )
            table.add(
                Row(
                    f"{label}, {size:,} versions: first page, another product",
                    ms(other),
                    "",
                    "",
                    f"p95 <= {TARGET_MS:.0f} ms",
                    other * 1000 <= TARGET_MS,
                )
            )
            table.add(
                Row(
                    f"{label}, {size:,} versions: Version form check, biggest product",
                    ms(forms[-1]),
                    ms(base),
                    times(forms[-1], base),
                    f"p95 <= {TARGET_MS:.0f} ms",
                    forms[-1] * 1000 <= TARGET_MS,
                )
            )
            table.add(
                Row(f"{label}, {size:,} versions: products list ({PRODUCTS:,})", ms(products_list))
            )
        assert first is not None
        table.add(
            Row(
                f"{label}: flat, p95 at {sizes[-1]:,} / at {sizes[0]:,}",
                ms(last),
                ms(first),
                times(last, first),
                f"<= {FLAT}x",
                last <= FLAT * first,
            )
        )
        table.add(
            Row(
                f"{label}: Version form check flat, p95 at {sizes[-1]:,} / at {sizes[0]:,}",
                ms(forms[-1]),
                ms(forms[0]),
                times(forms[-1], forms[0]),
                f"<= {FLAT}x",
                forms[-1] <= FLAT * forms[0],
            )
        )
        with counting(engine) as seen:
            services.versions_table(core, BIGGEST, limit=PAGE)
        with counting(engine) as checked:
            form_check(core)()
        table.note(
            f"{label}: one first page runs {len(seen)} statements, one Version form check "
            f"{len(checked)}"
        )
    finally:
        engine.dispose()


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.versions",
        description=(
            "Times the first page of the Versions table (SQLite and PostgreSQL) as the database "
            "grows, next to the bare page query measured in the same run, with the ratio."
        ),
        epilog=POSTGRES_WARNING,
    )
    parser.add_argument(
        "--sizes",
        type=lambda v: sorted(positive(n) for n in v.split(",")),
        default=[1_000, 10_000, 100_000],
        metavar="N,N,…",
        help="numbers of versions, in all, at which to measure (default: 1000,10000,100000)",
    )
    parser.add_argument(
        # The figures are tenths of a millisecond: the p95 of 200 calls is ten of them, which
        # anything else the machine does moves by half.
        "--samples", type=positive, default=1000, metavar="N", help="calls per figure (p95)"
    )
    add_common_options(parser)
    args = parser.parse_args(argv)
    if args.small:
        args.sizes, args.samples = [1_000, 10_000], 50
    return args


def collect(args: argparse.Namespace) -> list[Table]:
    table = Table(
        f"Versions table: first page ({PAGE} rows) as the database grows to "
        f"{', '.join(f'{s:,}' for s in args.sizes)} versions over {PRODUCTS:,} products; "
        f"p95 of {args.samples} calls"
    )
    if not args.no_postgres:
        check_postgres(args.postgres_url)
    with tempfile.TemporaryDirectory(prefix="omi-bot-bench-") as tmp:
        databases: list[tuple[str, AbstractContextManager[str]]] = [
            ("SQLite", nullcontext(f"sqlite:///{Path(tmp) / 'versions.db'}"))
        ]
        if not args.no_postgres:
            databases.append(("PostgreSQL", postgres_schema(args.postgres_url)))
        for label, database in databases:
            with database as url:
                bench(label, url, args.sizes, args.samples, table)
    if args.no_postgres:
        table.note("PostgreSQL: skipped (--no-postgres)")
    table.note(
        "baseline: the page alone, SELECT … ORDER BY created_at DESC LIMIT "
        f"{PAGE} on the DBAPI cursor"
    )
    return [table]


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(parse, collect, argv)


if __name__ == "__main__":
    sys.exit(main())

"""What the benchmarks share: the table each prints (each figure, the baseline measured in the
same run, the ratio between them, the target and whether it is met; `--markdown` prints it as
the README's Benchmarks section shows it), the PostgreSQL options and a schema of their own."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.db import make_engine

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class BenchmarkError(Exception):
    """Something the benchmark cannot go on without; printed as one line, exit 1."""


HEADER = ("figure", "now", "baseline", "ratio", "target", "met?")


@dataclass(frozen=True)
class Row:
    figure: str
    value: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    met: bool | None = None  # None: information, no target

    def cells(self) -> tuple[str, ...]:
        met = "" if self.met is None else ("yes" if self.met else "NO")
        return (self.figure, self.value, self.baseline, self.ratio, self.target, met)


@dataclass
class Table:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def note(self, text: str) -> None:
        self.notes.append(text)

    def print(self, *, markdown: bool = False) -> None:
        lines = self.markdown() if markdown else self.plain()
        print("\n".join(lines))

    def plain(self) -> list[str]:
        cells = [HEADER, *(r.cells() for r in self.rows)]
        widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
        out = ["", self.title]
        for c in cells:
            left = c[0].ljust(widths[0])
            right = "  ".join(c[i].rjust(widths[i]) for i in range(1, len(HEADER)))
            out.append(f"  {left}  {right}".rstrip())
        out.extend(f"  {n}" for n in self.notes)
        return out

    def markdown(self) -> list[str]:
        out = ["", f"**{self.title}**", "", "| " + " | ".join(HEADER) + " |"]
        out.append("|---|" + "---:|" * (len(HEADER) - 2) + ":---:|")
        out.extend("| " + " | ".join(c or " " for c in r.cells()) + " |" for r in self.rows)
        if self.notes:
            out.append("")
            out.extend(f"- {n}" for n in self.notes)
        return out


def times(value: float, baseline: float) -> str:
    """`value / baseline` as a multiple, `1.3x`."""
    return f"{value / baseline:.2f}x" if baseline > 0 else "n/a"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def p95(values: Sequence[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


# -- options and databases --------------------------------------------------------------------


def positive(value: str) -> int:
    try:
        number = int(value.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        metavar="URL",
        help="PostgreSQL database to write to, see the warning below (default: %(default)s)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    add_output_options(parser)


def add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--markdown", action="store_true", help="print the table in Markdown")
    parser.add_argument("--small", action="store_true", help="a quick run at small sizes")


def progress(text: str) -> None:
    """What a benchmark tells while it runs: on stderr, so stdout holds only the tables."""
    print(text, file=sys.stderr, flush=True)


def run_main(
    parse: Callable[[Sequence[str] | None], argparse.Namespace],
    collect: Callable[[argparse.Namespace], list[Table]],
    argv: Sequence[str] | None,
) -> int:
    """A benchmark's main: its tables on stdout, one line on stderr and exit 1 when it cannot
    go on."""
    args = parse(argv)
    started = time.perf_counter()
    try:
        tables = collect(args)
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for table in tables:
        table.print(markdown=args.markdown)
    progress(f"done in {time.perf_counter() - started:.1f} s")
    return 0


POSTGRES_WARNING = (
    "WARNING: on PostgreSQL this writes to the database of --postgres-url, in a schema "
    "omibot_bench_<pid> of its own (DROP SCHEMA ... CASCADE before and after, as the test suite "
    "does); other schemas are not touched."
)


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

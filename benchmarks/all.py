"""Every benchmark in one run, their tables one after the other, headed by the machine and the
date: with `--markdown`, what the README's Benchmarks section shows.

Run from the repository root:

    .venv/bin/python -m benchmarks.all [--small] [--markdown] [--only NAME,NAME]
                                       [--postgres-url URL | --no-postgres]

The benchmarks run one after the other, each with its defaults (`--small`: each one's quick
sizes). Their progress goes to stderr, the tables to stdout. A benchmark that cannot run is
shown as one line saying why, and the others still run. The load average before and after is
printed with the machine, since other programs running meanwhile slow every figure.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path

from benchmarks.common import (
    DEFAULT_POSTGRES_URL,
    POSTGRES_WARNING,
    BenchmarkError,
    Row,
    Table,
    progress,
)

# In this order: those whose figures a busy machine spoils most first.
BENCHMARKS = ("slack_ack", "mail", "publication", "memory", "versions", "drift")
WITH_POSTGRES = {"versions", "mail", "publication"}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.0f} GB RAM"
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores{memory}, "
        f"Python {platform.python_version()}"
    )


def load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "n/a"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def forwarded(name: str, args: argparse.Namespace) -> list[str]:
    argv = ["--small"] if args.small else []
    if name in WITH_POSTGRES:
        argv += ["--no-postgres"] if args.no_postgres else ["--postgres-url", args.postgres_url]
    return argv


def run_one(name: str, args: argparse.Namespace) -> tuple[list[Table], float]:
    module = import_module(f"benchmarks.{name}")
    parse: Callable[[Sequence[str]], argparse.Namespace] = module.parse
    collect: Callable[[argparse.Namespace], list[Table]] = module.collect
    started = time.perf_counter()
    try:
        tables = collect(parse(forwarded(name, args)))
    except BenchmarkError as error:
        failed = Table(f"benchmarks.{name}")
        failed.add(Row(f"could not run: {error}", "", met=False))
        tables = [failed]
    return tables, time.perf_counter() - started


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.all",
        description="Runs every benchmark and prints their tables, headed by the machine.",
        epilog=POSTGRES_WARNING,
    )
    parser.add_argument("--small", action="store_true", help="each benchmark's quick sizes")
    parser.add_argument("--markdown", action="store_true", help="print the tables in Markdown")
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated, some of {', '.join(BENCHMARKS)} (default: all)",
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, metavar="URL")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    args = parser.parse_args(argv)
    wanted = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(wanted) - set(BENCHMARKS))
    if not wanted or unknown:
        parser.error(f"--only takes some of {', '.join(BENCHMARKS)}")
    args.only = [n for n in BENCHMARKS if n in wanted]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    started = datetime.now(UTC)
    # Each table is printed as soon as its benchmark ends, so a run cut short keeps the rest.
    print(
        f"Run of {started:%Y-%m-%d %H:%M} UTC{' (--small)' if args.small else ''} on "
        f"{machine()}; load average (1, 5, 15 min) {load()} at the start.",
        flush=True,
    )
    print(
        "\nColumns: the figure now, the baseline measured in the same run, the ratio between "
        "them, the target and whether it is met.",
        flush=True,
    )
    could_not = []
    took: dict[str, float] = {}
    for name in args.only:
        progress(f"benchmarks.{name} ...")
        tables, took[name] = run_one(name, args)
        for table in tables:
            if table.rows and table.rows[0].figure.startswith("could not run"):
                could_not.append(name)
            table.print(markdown=args.markdown)
        sys.stdout.flush()
        progress(f"benchmarks.{name}: {took[name]:.0f} s")
    print(
        f"\nThe run took {sum(took.values()) / 60:.0f} min; load average {load()} at the end.",
        flush=True,
    )
    return 1 if could_not else 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: the OUTSCALE calls of one drift check, for a product with many versions and many
subscribers, next to the minimum (the pages of ReadImages the product's copies fill), and
next to a check that would read each version's copy on its own.

Run from the repository root:

    .venv/bin/python -m benchmarks.drift [--versions 200] [--subscribers 5000] [--small]
                                         [--markdown]

The OUTSCALE sandbox runs on loopback with one OMI copy per version in the distribution
account, each shared with every subscriber; the database is a temporary SQLite file. The
calls are counted by the sandbox, as OUTSCALE would bill them.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from benchmarks.common import BenchmarkError, Row, Table, add_output_options, run_main
from commands import drift, services
from commands.bootstrap import bootstrap
from commands.config import Settings
from commands.model import VERSION_TAG, Status
from commands.sandbox import DEMO_ACCOUNTS, Sandbox, SandboxServer
from storage.orm import organizations, subscribers, subscriptions, versions
from tests.conftest import DISTRIBUTION, SELLER, write_osc_config

warnings.filterwarnings("ignore", category=DeprecationWarning, module="osc_sdk_python")

CODE = "0001"
PER_PAGE = 1000  # what omi-bot asks for (the API's maximum)


def accounts(n: int) -> list[str]:
    return [f"{700000000000 + i:012d}" for i in range(n)]


def copies(count: int, shared: list[str]) -> list[dict[str, object]]:
    return [
        {
            "account_id": DISTRIBUTION,
            "image_id": f"ami-c{i:07x}",
            "image_name": f"debian-12-build-{i}-omi-bot-ver-{i:010x}",
            "product_codes": [CODE],
            "permitted_account_ids": shared,
            "tags": {VERSION_TAG: f"ver-{i:010x}"},
            "state": "available",
        }
        for i in range(count)
    ]


def seed(url: str, count: int, shared: list[str]) -> None:
    core = bootstrap(Settings(database_url=url))
    services.save_product(
        core,
        code=CODE,
        name="Nginx on Debian",
        seller_account_id=SELLER,
        pricing="hourly",
        release_managers=["U0BENCH"],
    )
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with core.db.engine.begin() as conn:
        conn.execute(
            insert(versions),
            [
                {
                    "id": f"ver-{i:010x}",
                    "product_code": CODE,
                    "omi_id": f"ami-{i:08x}",
                    "omi_name": f"debian-12-build-{i}",
                    "copy_id": f"ami-c{i:07x}",
                    "software_version": f"1.{i}",
                    "operating_system": "Debian 12",
                    "software_base": [],
                    "release_note": f"Release {i}",
                    "instructions": "",
                    "status": Status.PUBLISHED,
                    "created_at": start + timedelta(hours=i),
                    "modified_at": start + timedelta(hours=i),
                    "published_at": start + timedelta(hours=i),
                    "unpublished_at": None,
                    "requested_by": "U0BENCH",
                    "approved_by": "U0BENCH2",
                    "failure": None,
                }
                for i in range(count)
            ],
        )
        org = conn.execute(
            insert(organizations).values(name="Bench", language="en", admin_emails=[])
        ).inserted_primary_key[0]
        conn.execute(
            insert(subscribers),
            [
                {"account_id": a, "organization_id": org, "email": f"{a}@bench.example"}
                for a in shared
            ],
        )
        conn.execute(
            insert(subscriptions),
            [{"account_id": a, "product_code": CODE, "created_at": start} for a in shared],
        )
    core.db.engine.dispose()


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.drift", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--versions", type=int, default=200)
    parser.add_argument("--subscribers", type=int, default=5000)
    add_output_options(parser)
    args = parser.parse_args(argv)
    if args.small:
        args.versions, args.subscribers = 20, 200
    return args


def collect(args: argparse.Namespace) -> list[Table]:
    shared = accounts(args.subscribers)
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = Sandbox(DEMO_ACCOUNTS, copies(args.versions, shared), copy_delay=0)
        server = SandboxServer(sandbox).start()
        try:
            os.environ["OSC_CONFIG_FILE"] = str(
                write_osc_config(Path(tmp) / "osc.json", server.url)
            )
            url = f"sqlite:///{tmp}/bench.db"
            seed(url, args.versions, shared)
            core = bootstrap(
                Settings(
                    database_url=url,
                    seller_profile="seller",
                    distribution_profile="distribution",
                    osc_rate_limit=1000,
                )
            )
            # Who the distribution account is: one ReadAccounts per process, asked before the
            # check so that it is not counted as part of it.
            _ = core.cloud.distribution.account_id
            sandbox.clear_calls()
            started = time.perf_counter()
            (report,) = drift.check(core, CODE)
            took = time.perf_counter() - started
            calls = [action for _, action, _ in sandbox.calls]
        finally:
            server.stop()
    if report.findings:
        raise BenchmarkError(f"the check found {len(report.findings)} findings where none are")
    pages = math.ceil(args.versions / PER_PAGE)
    table = Table(
        f"Drift: the OUTSCALE calls of one check of a product with {args.versions:,} published "
        f"versions shared with {args.subscribers:,} subscriber accounts (sandbox on loopback, "
        "SQLite); baseline: the pages of ReadImages the copies fill"
    )
    table.add(
        Row(
            f"calls of one check ({', '.join(sorted(set(calls)))})",
            f"{len(calls)}",
            f"{pages}",
            f"{len(calls) / pages:.1f}x",
            f"<= {pages}",
            len(calls) <= pages,
        )
    )
    table.add(Row("time of one check", f"{took:.2f} s"))
    table.note(
        f"one ReadImages per version would be {args.versions} calls; plus one ReadAccounts "
        "per process, to learn the distribution account's ID"
    )
    return [table]


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(parse, collect, argv)


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: the memory of `omi-bot serve` and `omi-bot worker` as real processes, and how fast
`omi-bot --help` starts.

Run from the repository root:

    .venv/bin/python -m benchmarks.memory [--requests 1000] [--subscribers 5000] [--omis 1000]
                                          [--small] [--markdown]

On a temporary SQLite database with product 0001 (`--subscribers` subscriber accounts), the
OUTSCALE sandbox (the seller owns the demo OMIs and `--omis` more) and the fake Slack Web API,
each in a process of its own:

- `omi-bot serve` (HTTP, with its worker): RSS once it answers /healthz and has been idle
  2 s, then after `--requests` signed Slack requests (10 at a time, in turn `/omi versions`,
  `/omi publish` with its OMI menu, `/omi products`, `/omi help` and an App Home opened) and
  the work they started; target 120 MB.
- `omi-bot worker`: RSS idle 2 s after start, then after it carried out one publication to the
  subscribers (copy, share, mails to the Maildir); target 100 MB. It finds osc-sdk-python's
  API spec kept in the cache folder by `serve`, started before it, as any process after the
  first one of an installation does; a second worker, on a world of its own and an empty
  cache folder, shows the first start after an install, which parses the spec itself.
- baseline: a Python process that imports the libraries omi-bot is built on (Bolt, the Slack
  SDK, SQLAlchemy, osc-sdk-python, waitress, APScheduler, Jinja2) and nothing else.
- `omi-bot --help`: the median wall time of 5 runs; target 0.5 s; with the imports
  `python -X importtime` shows as the heaviest.

RSS is VmRSS of /proc/PID/status (Linux); the peak (VmHWM) is printed too.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from benchmarks.common import (
    BenchmarkError,
    Row,
    Table,
    add_output_options,
    positive,
    progress,
    run_main,
)
from benchmarks.processes import RemoteFake, free_port, sandbox_process
from commands import services
from commands.bootstrap import bootstrap
from commands.config import Settings
from commands.model import Actor, OutboxState, Request, RequestKind, Status, VersionForm
from storage.orm import organizations, subscribers, subscriptions
from tests.conftest import write_osc_config
from tests.processes import OmiProcess, omi_env, start_omi
from tests.slackfake.signing import SlackClient

warnings.filterwarnings("ignore", category=DeprecationWarning, module="osc_sdk_python")

TOKEN = "xoxb-bench"
SECRET = "bench-signing-secret"
SELLER = "111111111111"
CODE = "0001"
REQUESTER, MANAGER = "UDEV", "URM1"
SERVE_TARGET_MB = 120.0
WORKER_TARGET_MB = 100.0
HELP_TARGET_S = 0.5
LIBRARIES = (
    "import slack_bolt, slack_sdk, sqlalchemy, osc_sdk_python, waitress, apscheduler, jinja2"
)


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.MULTILINE))
    if len(found) < 2:
        raise BenchmarkError(f"no VmRSS for process {pid} (this benchmark needs Linux's /proc)")
    return int(found["VmRSS"]) / 1024, int(found["VmHWM"]) / 1024


def seller_omis(n: int) -> list[dict[str, Any]]:
    return [
        {"account_id": SELLER, "image_id": f"ami-{0xB0000000 + i:08x}",
         "image_name": f"bench-debian-12-nginx-build-{i:05d}", "product_codes": [CODE],
         "global_permission": False, "state": "available"}
        for i in range(n)
    ]  # fmt: skip


def seed(url: str, folder: Path, accounts: int) -> None:
    core = bootstrap(Settings(database_url=url, maildir=str(folder / "mail")))
    services.save_product(
        core,
        code=CODE,
        name="Nginx on Debian",
        seller_account_id=SELLER,
        pricing="hourly",
        release_managers=[MANAGER],
        approval_channel="CREL",
    )
    now = datetime.now(UTC)
    with core.db.engine.begin() as conn:
        conn.execute(
            insert(organizations),
            [{"id": 1, "name": "Acme", "language": "fr", "admin_emails": ["admin@acme.example"]},
             {"id": 2, "name": "Globex", "language": "en", "admin_emails": []}],
        )  # fmt: skip
        rows = [
            {"account_id": f"{100_000_000_000 + i}", "organization_id": 1 + i % 2,
             "email": f"user{i}@bench.example", "slack_channel": None}
            for i in range(accounts)
        ]  # fmt: skip
        if rows:
            conn.execute(insert(subscribers), rows)
            conn.execute(
                insert(subscriptions),
                [{"account_id": r["account_id"], "product_code": CODE, "created_at": now}
                 for r in rows],
            )  # fmt: skip
    core.db.engine.dispose()


@contextmanager
def world(folder: Path, accounts: int, omis: int) -> Iterator[tuple[str, Path, RemoteFake]]:
    """(database URL, OSC config, fake Slack) with product 0001 and its subscribers."""
    fake = RemoteFake(TOKEN, [MANAGER, REQUESTER])
    try:
        with sandbox_process(folder, seller_omis(omis), copy_delay=0.2) as api_url:
            osc = write_osc_config(folder / "osc.json", api_url)
            url = f"sqlite:///{folder / 'memory.db'}"
            seed(url, folder, accounts)
            yield url, osc, fake
    finally:
        fake.stop()


def idle(process: OmiProcess, seconds: float = 2.0) -> tuple[float, float]:
    time.sleep(seconds)
    if process.popen.poll() is not None:
        raise BenchmarkError(f"the process exited {process.popen.returncode}:\n{process.output}")
    return rss_mb(process.popen.pid)


def requests_in_turn(client: SlackClient) -> list[Callable[[], Any]]:
    view = {
        "id": "VMEM",
        "callback_id": "version_form",
        "private_metadata": '{"mode": "publish", "product": "0001", "channel": "C1", "lang": "en"}',
    }
    return [
        lambda: client.slash_command("versions 0001", user_id=REQUESTER),
        lambda: client.slash_command("publish 0001", user_id=REQUESTER),
        lambda: client.block_suggestion("omi_select", "nginx-build-0", block_id="omi", view=view),
        lambda: client.slash_command("products", user_id=MANAGER),
        lambda: client.slash_command("help", user_id=REQUESTER),
        lambda: client.event({"type": "app_home_opened", "user": MANAGER, "tab": "home"}),
    ]


def settle(fake: RemoteFake, timeout: float = 120.0) -> None:
    """Waits until the work the requests started after their answers (views.open then
    views.update, views.publish of the App Home) has reached the fake Slack."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        now = sum(fake.count(m) for m in ("views.open", "views.update", "views.publish"))
        if now == last:
            return
        last = now
        time.sleep(1.0)
    raise BenchmarkError(f"the bot's work after the requests did not end within {timeout:.0f} s")


def measure_serve(
    folder: Path, url: str, osc: Path, fake: RemoteFake, count: int
) -> dict[str, tuple[float, float]]:
    port = free_port()
    env = omi_env(
        url, osc, folder,
        SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=fake.url,
        PORT=str(port), OMI_DRIFT_INTERVAL_SECONDS="0",
    )  # fmt: skip
    process = start_omi(["serve", "--host", "127.0.0.1"], env, folder, "serve")
    try:
        base = f"http://127.0.0.1:{port}"
        process.wait_http(base + "/healthz", timeout=120)
        figures = {"idle": idle(process)}
        client = SlackClient(base, SECRET, response_urls=fake.response_url)
        kinds = requests_in_turn(client)
        failed = 0

        def one(i: int) -> None:
            nonlocal failed
            if kinds[i % len(kinds)]().status_code != 200:
                failed += 1

        with ThreadPoolExecutor(10) as pool:
            list(pool.map(one, range(count)))
        if failed:
            raise BenchmarkError(f"{failed} of {count} requests were not answered 200")
        settle(fake)
        figures["after"] = idle(process)
        return figures
    finally:
        process.terminate(timeout=60)


def measure_worker(
    folder: Path, url: str, osc: Path, accounts: int, **extra: str
) -> dict[str, tuple[float, float]]:
    env = omi_env(url, osc, folder, OMI_DRIFT_INTERVAL_SECONDS="0", **extra)
    process = start_omi(["worker"], env, folder, "worker")
    try:
        process.wait_log("started", timeout=120)
        figures = {"idle": idle(process)}
        core = bootstrap(Settings(database_url=url, maildir=str(folder / "mail")))
        with core.uow() as uow:
            request = Request(
                kind=RequestKind.PUBLISH,
                product_code=CODE,
                requested_by=REQUESTER,
                at=core.clock(),
                form=VersionForm(omi="ami-5e11e002", software_version="1.26", release_note="n"),
            )
            uow.requests.add(request)
            uow.commit()
        os.environ["OSC_CONFIG_FILE"] = str(osc)
        core = bootstrap(
            Settings(
                database_url=url,
                maildir=str(folder / "mail"),
                seller_profile="seller",
                distribution_profile="distribution",
            )
        )
        decision = services.approve(core, int(request.id or 0), by=Actor.slack_user(MANAGER))
        version_id = decision.versions[0].id
        started = time.monotonic()
        deadline = started + 600
        while True:
            with core.uow() as uow:
                version = uow.versions.get(version_id)
                status = version.status if version else None
                pending = uow.outbox.list(channel="email", state=OutboxState.PENDING, limit=1)
            if status is Status.PUBLISHED and not pending:
                break
            if time.monotonic() > deadline:
                raise BenchmarkError(f"the worker did not publish {version_id} within 600 s")
            time.sleep(0.2)
        core.db.engine.dispose()
        progress(
            f"  the worker published to {accounts:,} subscribers in "
            f"{time.monotonic() - started:.0f} s"
        )
        figures["after"] = idle(process)
        return figures
    finally:
        process.terminate(timeout=60)


def libraries_rss() -> float:
    done = subprocess.run(
        [sys.executable, "-c", f"{LIBRARIES}; print(open('/proc/self/status').read())"],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"^VmRSS:\s+(\d+) kB", done.stdout, re.MULTILINE)
    assert found is not None
    return int(found.group(1)) / 1024


def help_time() -> tuple[float, list[str]]:
    """Median seconds of `omi-bot --help`, and the heaviest imports importtime shows."""
    command = [sys.executable, "-c", "from cli.main import main; main()", "--help"]
    taken = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        taken.append(time.perf_counter() - start)
    traced = subprocess.run(
        [sys.executable, "-X", "importtime", *command[1:]], capture_output=True, text=True
    ).stderr
    heaviest = []
    for line in traced.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            if not name.startswith("  "):  # top-level imports only: cumulative figures
                heaviest.append((int(parts[1]), name.strip()))
    heaviest.sort(reverse=True)
    return statistics.median(taken), [f"{name} {us / 1000:.0f} ms" for us, name in heaviest[:4]]


def collect(args: argparse.Namespace) -> list[Table]:
    table = Table(
        f"Memory (RSS) of real processes on SQLite, {args.subscribers:,} subscribers, "
        f"{args.omis:,} more OMIs; start-up of omi-bot --help"
    )
    base = libraries_rss()
    with tempfile.TemporaryDirectory(prefix="omi-bot-bench-") as tmp:
        folder = Path(tmp)
        with world(folder, args.subscribers, args.omis) as (url, osc, fake):
            serve = measure_serve(folder, url, osc, fake, args.requests)
            worker = measure_worker(folder, url, osc, args.subscribers)
    with tempfile.TemporaryDirectory(prefix="omi-bot-bench-") as tmp:
        folder = Path(tmp)
        with world(folder, args.subscribers, args.omis) as (url, osc, _):
            cold = measure_worker(
                folder, url, osc, args.subscribers, OMI_CACHE_DIR=str(folder / "empty-cache")
            )
    first = {"after": cold["after"]}  # idle, it has not parsed yet: the same as `worker`
    for label, figures, target, after in (
        ("omi-bot serve", serve, SERVE_TARGET_MB, f"after {args.requests:,} requests"),
        ("omi-bot worker", worker, WORKER_TARGET_MB, "after a publication"),
        ("omi-bot worker, first start after an install (parses the API spec)", first,
         WORKER_TARGET_MB, "after a publication"),
    ):  # fmt: skip
        for key, when in (("idle", "idle after start"), ("after", after)):
            if key not in figures:
                continue
            rss, peak = figures[key]
            table.add(
                Row(
                    f"{label}: RSS {when} (peak {peak:.0f} MB)",
                    f"{rss:.0f} MB",
                    f"{base:.0f} MB",
                    f"{rss / base:.2f}x",
                    f"<= {target:.0f} MB",
                    rss <= target,
                )
            )
    took, heaviest = help_time()
    table.add(
        Row(
            "omi-bot --help: wall time (median of 5)",
            f"{took:.2f} s",
            "",
            "",
            f"<= {HELP_TARGET_S} s",
            took <= HELP_TARGET_S,
        )
    )
    table.note(f"baseline: a Python process that only runs `{LIBRARIES}`")
    table.note("omi-bot --help, heaviest imports (python -X importtime): " + ", ".join(heaviest))
    return [table]


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.memory",
        description=(
            "Prints the RSS of omi-bot serve and omi-bot worker, real processes, idle and after "
            "work, next to the libraries alone, and the start-up time of omi-bot --help."
        ),
    )
    parser.add_argument("--requests", type=positive, default=1000, metavar="N")
    parser.add_argument("--subscribers", type=int, default=5000, metavar="N")
    parser.add_argument("--omis", type=int, default=1000, metavar="N")
    add_output_options(parser)
    args = parser.parse_args(argv)
    if args.small:
        args.requests, args.subscribers, args.omis = 60, 20, 20
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(parse, collect, argv)


if __name__ == "__main__":
    sys.exit(main())

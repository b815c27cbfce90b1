"""Benchmark: how fast the bot acknowledges Slack, under load, next to a bare Bolt app.

Run from the repository root:

    .venv/bin/python -m benchmarks.slack_ack [--concurrency 50] [--rounds 6]

Two apps are served the same way in the same run (`bot.server.start_in_thread`, waitress on
loopback), each with a local fake of the Slack Web API behind it:

- omi-bot: the real listeners (`bot.runtime.install` -> `bot.listeners.register`) on a SQLite
  database with a product and a pending request, and the OUTSCALE sandbox behind the core;
- baseline: a bare Bolt app whose `/omi` and Approve listeners only call `ack()`.

For `/omi publish 0001` and for an Approve click, `--concurrency` signed requests are sent at once
(`tests.slackfake.signing.SlackClient`), `--rounds` times; the figure is the time until the
HTTP answer (Slack's 3-second acknowledgement), with p50 / p99 and the ratio to the baseline.
What the listeners do after acknowledging (views.open, database, cloud) runs in Bolt's worker
threads and is not part of the figure, but it shares the process and the CPU with it.
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import requests
from slack_bolt import Ack, App

from bot.app import BotSettings, create_app
from bot.server import start_in_thread
from commands import services
from commands.bootstrap import Core, bootstrap
from commands.config import Settings
from commands.model import Request, RequestKind, VersionForm
from commands.sandbox import Sandbox, SandboxServer
from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import SlackClient

TOKEN = "xoxb-bench"
SECRET = "bench-signing-secret"
APPROVE_ACTION = "approve_request"  # bot.views.APPROVE_ACTION, kept here for the baseline
REQUESTER, MANAGER = "UDEV", "URM1"

Send = Callable[[SlackClient], requests.Response]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = max(0, math.ceil(p / 100 * len(ordered)) - 1)
    return ordered[index]


@contextmanager
def omi_core(folder: Path) -> Iterator[tuple[Core, int]]:
    """A core on a fresh SQLite file and the sandbox, with product 0001 and a pending request."""
    import os

    from tests.conftest import write_osc_config

    sandbox = SandboxServer(Sandbox.demo()).start()
    os.environ["OSC_CONFIG_FILE"] = str(write_osc_config(folder / "osc.json", sandbox.url))
    settings = Settings(
        database_url=f"sqlite:///{folder / 'bench.db'}",
        maildir=str(folder / "mail"),
        seller_profile="seller",
        distribution_profile="distribution",
    )
    core = bootstrap(settings)
    services.save_product(
        core,
        code="0001",
        name="Nginx on Debian",
        seller_account_id="111111111111",
        pricing="hourly",
        release_managers=[MANAGER],
        approval_channel="CREL",
    )
    with core.uow() as uow:
        request = Request(
            kind=RequestKind.PUBLISH,
            product_code="0001",
            requested_by=REQUESTER,
            at=core.clock(),
            form=VersionForm(omi="ami-5e11e002", software_version="1.26", release_note="New"),
        )
        uow.requests.add(request)
        uow.commit()
        request_id = request.id
    try:
        yield core, request_id
    finally:
        core.db.engine.dispose()
        sandbox.stop()


def bare_register(app: App) -> None:
    def just_ack(ack: Ack) -> None:
        ack()

    app.command("/omi")(just_ack)
    app.action(APPROVE_ACTION)(just_ack)


def measure(client: SlackClient, send: Send, concurrency: int, rounds: int) -> list[float]:
    """Seconds until each answer, `concurrency` requests released together per round."""
    times: list[float] = []
    lock = threading.Lock()
    with ThreadPoolExecutor(concurrency) as pool:
        for _ in range(rounds):
            barrier = threading.Barrier(concurrency)

            def one(barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                started = time.perf_counter()
                answer = send(client)
                took = time.perf_counter() - started
                if answer.status_code != 200:
                    raise RuntimeError(f"answered {answer.status_code}: {answer.text[:200]}")
                with lock:
                    times.append(took)

            for future in [pool.submit(one) for _ in range(concurrency)]:
                future.result()
            time.sleep(0.3)  # let the listeners' background work drain between rounds
    return times


def run(concurrency: int, rounds: int) -> int:
    logging.basicConfig(level=logging.ERROR)
    try:
        from bot.runtime import install
    except ImportError:
        print("bot.runtime is not available yet: the omi-bot app cannot be built with its")
        print("listeners, so only the baseline can be measured. Nothing to compare; stopping.")
        return 1
    with tempfile.TemporaryDirectory() as tmp, FakeSlackAPI(token=TOKEN) as fake:
        fake.set_user(MANAGER, locale="en-US")
        settings = BotSettings(bot_token=TOKEN, signing_secret=SECRET, api_url=fake.url, port=0)
        with omi_core(Path(tmp)) as (core, request_id):
            publish: Send = lambda c: c.slash_command("publish 0001", user_id=REQUESTER)  # noqa: E731
            approve: Send = lambda c: c.block_action(  # noqa: E731
                APPROVE_ACTION, str(request_id), user_id=MANAGER, channel_id="CREL"
            )
            apps = {
                "omi-bot": create_app(settings, lambda app: install(app, core)),
                "baseline": create_app(settings, bare_register),
            }
            servers = {name: start_in_thread(app, lambda: True) for name, app in apps.items()}
            try:
                clients = {
                    name: SlackClient(s.url, SECRET, response_urls=fake.response_url)
                    for name, s in servers.items()
                }
                # Warm both (imports, first connections) before measuring.
                for client in clients.values():
                    measure(client, publish, 5, 1)
                    measure(client, approve, 5, 1)
                results: dict[tuple[str, str], list[float]] = {}
                for label, send in (("/omi publish", publish), ("Approve click", approve)):
                    # Interleave the apps round by round so neither gets a quieter machine.
                    for _ in range(rounds):
                        for name, client in clients.items():
                            results.setdefault((label, name), []).extend(
                                measure(client, send, concurrency, 1)
                            )
            finally:
                for server in servers.values():
                    server.stop()
    n = concurrency * rounds
    print(
        f"Acknowledgement time, {concurrency} concurrent signed requests x {rounds} rounds "
        f"({n} per figure), waitress on loopback, fake Slack Web API behind"
    )
    print(f"{'request':<15} {'app':<9} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for label in ("/omi publish", "Approve click"):
        figures = {}
        for name in ("omi-bot", "baseline"):
            values = results[(label, name)]
            figures[name] = (percentile(values, 50), percentile(values, 99))
            print(
                f"{label:<15} {name:<9} {figures[name][0] * 1000:8.1f} "
                f"{figures[name][1] * 1000:8.1f} {statistics.fmean(values) * 1000:8.1f}"
            )
        p50 = figures["omi-bot"][0] / figures["baseline"][0]
        p99 = figures["omi-bot"][1] / figures["baseline"][1]
        print(f"{label:<15} ratio omi-bot/baseline: p50 x{p50:.2f}, p99 x{p99:.2f}")
    worst = max(max(v) for v in results.values())
    print(f"slowest answer of the run: {worst * 1000:.0f} ms (Slack gives up after 3000 ms)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.rounds < 1:
        print("--concurrency and --rounds must be at least 1", file=sys.stderr)
        return 2
    return run(args.concurrency, args.rounds)


if __name__ == "__main__":
    sys.exit(main())

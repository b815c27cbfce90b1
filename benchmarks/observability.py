"""Benchmark: what metrics and JSON logs cost the acknowledgement of a Slack request.

Run from the repository root:

    .venv/bin/python -m benchmarks.observability [--concurrency 20] [--rounds 4] [--omis 200]
        [--scrape-every 5]

The same omi-bot app (the real listeners on a SQLite database, the OUTSCALE sandbox and the
fake Slack Web API each in a process of their own, as in benchmarks/slack_ack.py) is served
twice in the same run, both with waitress on loopback:

- on: every request counted and timed (bot/observe.py), the process logging at INFO as JSON
  (OMI_LOG_FORMAT=json, with the redaction filter) to a file, and /metrics scraped every
  `--scrape-every` seconds while it is measured (5 by default, three times Prometheus's
  default interval; a scrape renders every series, about 10 ms of the interpreter here);
- off: the same listeners without bot/observe.py, logging at WARNING, nobody scraping.

Rounds alternate between the two so neither gets a quieter machine. For `/omi publish` and an
Approve click it prints the time until the HTTP answer (Slack's acknowledgement), p50 and p99,
and the ratio on/off; target: at most x1.05 at p50 and p99. It also prints the process's CPU
time per request in each (the answer, the work after it and the benchmark's own client), the
steadier figure of what observing costs. On a shared machine these figures
are noisy: a ratio a few percent over the target from one run to the next is within the noise;
run it twice before reading anything into it.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from benchmarks.slack_ack import (
    APPROVE_ACTION,
    MANAGER,
    REQUESTER,
    SECRET,
    THREADS,
    TOKEN,
    RemoteFake,
    Send,
    measure,
    omi_core,
    percentile,
)
from bot.app import BotSettings, create_app
from bot.runtime import install
from bot.server import start_in_thread
from commands import logs, metrics
from commands.lifecycle import settle_heap
from tests.slackfake.signing import SlackClient

TARGET = 1.05


class Scraper:
    """GET /metrics every `every` seconds while switched on, as Prometheus would."""

    def __init__(self, url: str, every: float = 1.0) -> None:
        self.url = url
        self.every = every
        self.on = threading.Event()
        self._stop = threading.Event()
        self.scrapes = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.on.is_set():
                requests.get(self.url, timeout=10).raise_for_status()
                self.scrapes += 1
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def run(concurrency: int, rounds: int, omis: int, scrape_every: float) -> int:
    fake = RemoteFake(TOKEN, [MANAGER])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        log_file = folder / "omi-bot.log"
        handler = logs.configure(verbose=False, environ={"OMI_LOG_FORMAT": "json"}, alongside=True)
        assert handler is not None
        handler.setStream(log_file.open("a"))
        root = logging.getLogger()
        settings = BotSettings(bot_token=TOKEN, signing_secret=SECRET, api_url=fake.url, port=0)
        with omi_core(folder, omis) as (core, request_id):
            publish: Send = lambda c: c.slash_command("publish 0001", user_id=REQUESTER)  # noqa: E731
            approve: Send = lambda c: c.block_action(  # noqa: E731
                APPROVE_ACTION, str(request_id), user_id=MANAGER, channel_id="CREL"
            )
            apps = {
                "on": create_app(settings, lambda app: install(app, core, observed=True)),
                "off": create_app(settings, lambda app: install(app, core, observed=False)),
            }
            exposition = metrics.Exposition(core)
            settle_heap()  # as `omi-bot serve` does once started
            servers = {
                "on": start_in_thread(
                    apps["on"], lambda: True, threads=THREADS, metrics=exposition
                ),
                "off": start_in_thread(apps["off"], lambda: True, threads=THREADS),
            }
            scraper = Scraper(servers["on"].url + "/metrics", scrape_every)
            results: dict[str, dict[str, list[float]]] = {}
            # The process's CPU time over each round, its work after the answers included.
            cpu: dict[str, dict[str, float]] = {}
            try:
                clients = {
                    name: SlackClient(s.url, SECRET, response_urls=fake.response_url)
                    for name, s in servers.items()
                }
                for name in ("on", "off"):  # warm both: imports, connections, the OMI list
                    for send in (publish, approve):
                        measure(clients[name], send, 5, "warm-up", (fake, "views.update"))
                for label, send in (("/omi publish", publish), ("Approve click", approve)):
                    for turn in range(rounds):
                        # Each goes first every other round: the first of a pair may meet
                        # what the machine did just before.
                        for name in ("on", "off") if turn % 2 == 0 else ("off", "on"):
                            # Between rounds nothing runs: the previous round's work after
                            # its answers is over (measure waits for its last Web API call).
                            observed = name == "on"
                            root.setLevel(logging.INFO if observed else logging.WARNING)
                            logging.getLogger("omi_bot").setLevel(
                                logging.INFO if observed else logging.WARNING
                            )
                            if observed:
                                scraper.on.set()
                            else:
                                scraper.on.clear()
                            cpu_before = time.process_time()
                            results.setdefault(label, {}).setdefault(name, []).extend(
                                measure(
                                    clients[name], send, concurrency, f"{label}/{name}",
                                    (fake, "views.update"),
                                )
                            )  # fmt: skip
                            cpu.setdefault(label, {}).setdefault(name, 0.0)
                            cpu[label][name] += time.process_time() - cpu_before
            finally:
                scraper.stop()
                for server in servers.values():
                    server.stop()
                fake.stop()
                root.removeHandler(handler)
        lines = len(log_file.read_text().splitlines())
    n = concurrency * rounds
    print(
        f"Time to answer Slack with metrics and JSON logs on vs off, {concurrency} concurrent "
        f"signed requests x {rounds} rounds ({n} per figure); {scraper.scrapes} scrapes of "
        f"/metrics and {lines} JSON log lines while on"
    )
    print(f"{'request':<16} {'':<4} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    met = True
    for label, by_name in results.items():
        figures = {}
        for name in ("on", "off"):
            values = by_name[name]
            figures[name] = (percentile(values, 50), percentile(values, 99))
            print(
                f"{label:<16} {name:<4} {figures[name][0] * 1000:8.1f} "
                f"{figures[name][1] * 1000:8.1f} {statistics.fmean(values) * 1000:8.1f}"
            )
        p50 = figures["on"][0] / figures["off"][0]
        p99 = figures["on"][1] / figures["off"][1]
        ok = p50 <= TARGET and p99 <= TARGET
        met = met and ok
        print(
            f"{label:<16} ratio on/off: p50 x{p50:.3f}, p99 x{p99:.3f}; "
            f"target <= x{TARGET} at p50 and p99: {'met' if ok else 'NOT met'}"
        )
        per = {name: cpu[label][name] / len(by_name[name]) * 1000 for name in ("on", "off")}
        print(
            f"{label:<16} CPU per request (answer, work after it, the benchmark's own client"
            f" and, when on, the scrapes): on {per['on']:.2f} ms, off {per['off']:.2f} ms,"
            f" x{per['on'] / per['off']:.3f}"
        )
    print("target met" if met else "target NOT met (shared machine: run again before concluding)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--omis", type=int, default=200)
    parser.add_argument("--scrape-every", type=float, default=5.0)
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.rounds < 1 or args.omis < 0 or args.scrape_every <= 0:
        print(
            "--concurrency and --rounds must be at least 1, --omis at least 0, "
            "--scrape-every above 0",
            file=sys.stderr,
        )
        return 2
    return run(args.concurrency, args.rounds, args.omis, args.scrape_every)


if __name__ == "__main__":
    sys.exit(main())

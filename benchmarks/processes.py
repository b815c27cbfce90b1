"""What the benchmarks run beside omi-bot, each in a process of its own as it is in production
(OUTSCALE, Slack and the mail server never share the bot's interpreter): the OUTSCALE sandbox,
the fake Slack Web API and an SMTP server."""

from __future__ import annotations

import json
import multiprocessing
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from benchmarks.common import BenchmarkError
from commands.sandbox import DEMO_ACCOUNTS
from commands.sandbox.demo import DEMO_IMAGES


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def sandbox_process(
    folder: Path, extra_images: Sequence[dict[str, Any]] = (), copy_delay: float = 0.5
) -> Iterator[str]:
    """`omi-bot sandbox` with the demo accounts and OMIs plus `extra_images`. Yields its API
    URL."""
    accounts = folder / "accounts.json"
    accounts.write_text(
        json.dumps({"accounts": DEMO_ACCOUNTS, "images": [*DEMO_IMAGES, *extra_images]})
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", "from cli.main import main; main()", "sandbox",
         "--port", str(port), "--accounts", str(accounts), "--copy-delay", str(copy_delay)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # its access log
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise BenchmarkError("the sandbox did not start") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/api/v1"
    finally:
        process.terminate()
        process.wait(10)


class RemoteFake:
    """The fake Slack Web API (tests.slackfake) in a process of its own. The parent asks it over
    a pipe how many calls of a method arrived, and when the views.open of given triggers did."""

    def __init__(self, token: str, users: Sequence[str] = ()) -> None:
        self._pipe, child = multiprocessing.Pipe()
        self._process = multiprocessing.Process(
            target=_serve_fake, args=(child, token, list(users)), daemon=True
        )
        self._process.start()
        self.url, root = self._pipe.recv()
        self.response_url = lambda name: f"{root}/response/{name}"

    def opened(self, since: int, count: int, timeout: float) -> list[tuple[str, float]]:
        """(trigger_id, time received) of views.open calls after the first `since`."""
        self._pipe.send((since, count, timeout))
        return self._pipe.recv()  # type: ignore[no-any-return]

    def count(self, method: str = "views.open") -> int:
        self._pipe.send(("count", method))
        return self._pipe.recv()  # type: ignore[no-any-return]

    def channels(self, method: str = "chat.postMessage") -> Counter[str]:
        """How many calls of `method` each channel got."""
        self._pipe.send(("channels", method))
        return self._pipe.recv()  # type: ignore[no-any-return]

    def reach(self, method: str, count: int, timeout: float) -> None:
        """Wait until `method` was called `count` times in all."""
        self._pipe.send(("reach", method, count, timeout))
        self._pipe.recv()

    def stop(self) -> None:
        self._pipe.send("stop")
        self._process.join(10)


def _serve_fake(pipe: Any, token: str, users: list[str]) -> None:
    from tests.slackfake import FakeSlackAPI

    with FakeSlackAPI(token=token) as fake:
        for user in users:
            fake.set_user(user, locale="en-US")
        pipe.send((fake.url, fake.root))
        while True:
            asked = pipe.recv()
            if asked == "stop":
                return
            if asked[0] == "count":
                pipe.send(len(fake.calls_to(asked[1])))
                continue
            if asked[0] == "channels":
                pipe.send(Counter(str(c.params.get("channel")) for c in fake.calls_to(asked[1])))
                continue
            if asked[0] == "reach":
                try:
                    fake.wait_for(asked[1], asked[2], timeout=asked[3])
                except AssertionError:
                    pass
                pipe.send(None)
                continue
            since, count, timeout = asked
            try:
                fake.wait_for("views.open", since + count, timeout=timeout)
            except AssertionError:
                pass
            calls = fake.calls_to("views.open")[since:]
            pipe.send([(str(c.params.get("trigger_id")), c.at) for c in calls])


# -- the SMTP server ----------------------------------------------------------------------------


def _serve_smtp(conn: Connection) -> None:
    from tests.notifications.smtp_server import SmtpTestServer

    with SmtpTestServer() as server:
        conn.send(server.url)
        while conn.recv() == "count":
            conn.send(Counter(r.lower() for m in server.messages for r in m.rcpt_tos))


@dataclass
class SmtpProcess:
    url: str
    conn: Connection

    def received(self) -> Counter[str]:
        """How many mails each recipient got."""
        self.conn.send("count")
        counts: Counter[str] = self.conn.recv()
        return counts


@contextmanager
def smtp_process() -> Iterator[SmtpProcess]:
    """SmtpTestServer (aiosmtpd) in a process of its own."""
    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.Process(target=_serve_smtp, args=(theirs,), daemon=True)
    process.start()
    try:
        if not ours.poll(30):
            raise BenchmarkError("the SMTP test server did not start within 30 s")
        yield SmtpProcess(ours.recv(), ours)
    finally:
        ours.send("stop")
        process.join(10)
        if process.is_alive():
            process.kill()

"""What the tests of requests from a pipeline share: the CLI in-process, the CLI as a real
process (a pipeline's step, its stdout and stderr apart), and a worker that also posts the
outbox's Slack messages to the fake Web API, as `omi-bot serve`'s does."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from click.testing import Result
from sqlalchemy import func, select

from commands.bootstrap import Core
from commands.model import Request
from commands.notifications.slack import Pacer, deliver_slack, slack_client
from storage.orm import jobs, outbox, requests, versions
from tests.conftest import OMI_1
from tests.processes import interruptible
from tests.slackfake import FakeSlackAPI

Cli = Callable[..., Result]


def post_queued(core: Core, fake_slack: FakeSlackAPI) -> int:
    """What a worker does with the outbox's Slack messages."""
    client = slack_client(str(fake_slack.expected_token), fake_slack.url)
    return deliver_slack(core, "test-worker", client, pacer=Pacer(timedelta(0)))


def counts(core: Core) -> dict[str, int]:
    """Rows of every table a request, its message or a publication writes."""
    with core.db.engine.connect() as conn:
        return {
            table.name: conn.scalar(select(func.count()).select_from(table)) or 0
            for table in (requests, outbox, versions, jobs)
        }


def request_buttons(params: dict[str, Any]) -> list[dict[str, Any]]:
    return next(b for b in params["blocks"] if b["type"] == "actions")["elements"]


class Step:
    """`omi-bot …` as a pipeline runs it, its stdout and stderr apart."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-c", "from cli.main import main; main()", *args],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=interruptible,
        )

    def finish(self, timeout: float = 180) -> tuple[int, str, str]:
        try:
            out, err = self.popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            out, err = self.popen.communicate()
            raise AssertionError(f"still running after {timeout}s: {err.decode()}") from None
        return self.popen.returncode, out.decode(), err.decode()


def asked(core: Core, running: Step, count: int = 1, timeout: float = 180) -> Request:
    """The request the step wrote, once a worker has posted it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with core.uow() as uow:
            pending = uow.requests.pending()
        if len(pending) >= count and pending[-1].surface.get("ts"):
            return pending[-1]
        if running.popen.poll() is not None:
            code, out, err = running.finish()
            raise AssertionError(f"the step exited {code} first: {out} {err}")
        time.sleep(0.05)
    raise AssertionError(f"the request was not posted: {pending}")


def pending(core: Core) -> list[Request]:
    with core.uow() as uow:
        return uow.requests.pending()


REQUEST = ("versions", "request", "0001", "--omi", OMI_1, "--release-note", "From CI")

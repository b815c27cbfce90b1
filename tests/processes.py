"""omi-bot's long-running commands (`serve`, `worker`) as real processes, for tests that are
about processes: start-up, SIGTERM, takeover. Their logs go to a file the test can read."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
# One cache folder (the parsed OUTSCALE API spec) for the processes of a test run, as for the
# processes of one installation: the first one parses, the others read what it kept.
CACHE_DIR = Path(tempfile.mkdtemp(prefix="omi-bot-test-cache-"))
atexit.register(shutil.rmtree, CACHE_DIR, ignore_errors=True)


def interruptible() -> None:
    """Run in a child before it starts (Popen's preexec_fn): Ctrl-C reaches it as from a
    terminal even when the tests run in the background, where a shell starts them with SIGINT
    ignored and Python then leaves it ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def omi_env(
    database_url: str, osc_config: Path, tmp_path: Path, **extra: str
) -> dict[str, str]:
    """The environment of an omi-bot process on the test's database and sandbox."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OMI_", "SLACK_", "OSC_"))
    }
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "OMI_DATABASE_URL": database_url,
            "OSC_CONFIG_FILE": str(osc_config),
            "OMI_SELLER_PROFILE": "seller",
            "OMI_DISTRIBUTION_PROFILE": "distribution",
            "OMI_MAILDIR": str(tmp_path / "mail"),
            "OMI_COPY_POLL_SECONDS": "0.05",
            "OMI_WORKER_POLL_SECONDS": "0.1",
            "OMI_OSC_RATE_LIMIT": "1000",
            "OMI_OSC_RETRY_BACKOFF": "0.01",
            "OMI_RETRY_BASE_SECONDS": "0.05",
            "OMI_CACHE_DIR": str(CACHE_DIR),
        }
    )
    env.update(extra)
    return env


@dataclass
class OmiProcess:
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.popen.poll() is not None:
                code = self.popen.returncode
                raise AssertionError(f"exited {code} before {text!r}:\n{self.output}")
            if time.monotonic() >= deadline:
                raise AssertionError(f"{text!r} not logged within {timeout}s:\n{self.output}")
            time.sleep(0.05)

    def wait_http(self, url: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.popen.poll() is not None:
                raise AssertionError(f"exited {self.popen.returncode}:\n{self.output}")
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if time.monotonic() >= deadline:
                raise AssertionError(f"{url} did not answer within {timeout}s:\n{self.output}")
            time.sleep(0.1)

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM, then the exit code (the process is killed, and the test fails, if it
        does not stop by itself within `timeout`)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float = 60.0) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)
            raise AssertionError(f"did not stop within {timeout}s:\n{self.output}") from None

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)


def start_omi(args: list[str], env: dict[str, str], cwd: Path, name: str = "omi") -> OmiProcess:
    log = cwd / f"{name}-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-c", "from cli.main import main; main()", *args],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return OmiProcess(popen, log)

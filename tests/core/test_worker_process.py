"""`omi-bot worker` as a real process, killed (SIGKILL) in the middle of a publication."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from commands import services
from commands.bootstrap import Core
from commands.model import Status, VersionForm
from commands.sandbox import SandboxServer
from tests.conftest import DISTRIBUTION, OMI_1


def start_worker(database_url: str, osc_config: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OMI_DATABASE_URL": database_url,
        "OSC_CONFIG_FILE": str(osc_config),
        "OMI_SELLER_PROFILE": "seller",
        "OMI_DISTRIBUTION_PROFILE": "distribution",
        "OMI_MAILDIR": str(tmp_path / "mail"),
        "OMI_JOB_LEASE_SECONDS": "1",
        "OMI_COPY_POLL_SECONDS": "0.05",
        "OMI_WORKER_POLL_SECONDS": "0.1",
        "OMI_OSC_RATE_LIMIT": "1000",
        "OMI_OSC_RETRY_BACKOFF": "0.01",
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from cli.main import main; main()", "worker"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_killed_worker_is_taken_over_without_a_second_copy(
    core: Core,
    subscribers: list[str],
    sandbox: SandboxServer,
    database_url: str,
    osc_config: Path,
    tmp_path: Path,
) -> None:
    cloud = sandbox.sandbox
    version = services.publish(
        core, "0001", VersionForm(omi=OMI_1, release_note="n"), requested_by="U1"
    )
    # The copy is made, then the worker is stopped dead before it can tag or record it.
    cloud.hold("CreateImage", "after")
    first = start_worker(database_url, osc_config, tmp_path)
    try:
        assert cloud.wait_held("CreateImage", 1, timeout=60), "the worker never copied"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        cloud.release()
        if first.poll() is None:
            first.kill()
    assert first.returncode == -signal.SIGKILL
    with core.uow() as uow:
        assert uow.versions.get(version.id).copy_id is None  # the DB never heard of the copy

    second = start_worker(database_url, osc_config, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if services.show_version(core, version.id).version.status is not Status.PUBLISHING:
                break
            time.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(10)
        except subprocess.TimeoutExpired:
            second.kill()
    final = services.show_version(core, version.id).version
    assert final.status is Status.PUBLISHED, second.stderr.read().decode() if second.stderr else ""
    copies = [
        i
        for i in cloud.images.values()
        if i["AccountId"] == DISTRIBUTION and version.id in i["ImageName"]
    ]
    assert [c["ImageId"] for c in copies] == [final.copy_id]
    assert len(cloud.calls_to("CreateImage")) == 1
    assert sorted(copies[0]["PermissionsToLaunch"]["AccountIds"]) == sorted(subscribers)

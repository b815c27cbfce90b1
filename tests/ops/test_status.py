"""`omi-bot status`: the jobs queued, running and failed (with their error), the outbox's
depth by channel and its failed mails, and each worker's last heartbeat."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import main
from commands import health
from commands.bootstrap import Core
from commands.model import Job, OutboxItem, OutboxState
from commands.worker import Worker


def _mail(core: Core, key: str, *, channel: str = "email") -> OutboxItem:
    return OutboxItem(
        channel=channel,
        key=key,
        event="published",
        product_code="0001",
        recipient="ops@acme.example" if channel == "email" else "CACME",
        language="en",
        payload={},
        at=core.clock() - timedelta(minutes=5),
    )


@pytest.fixture
def busy(core: Core, product: str) -> dict[str, object]:
    """A queue with one job of each state, mails queued and failed, a Slack post queued, and
    two workers: one beating, one that stopped."""
    at = core.clock()
    with core.uow() as uow:
        uow.jobs.add(Job("no-such-step", at=at, key="broken"))
        uow.jobs.add(Job("copy", at=at, key="later", run_at=at + timedelta(hours=1)))
        uow.jobs.add(Job("share", at=at, key="claimed"))
        uow.outbox.add(_mail(core, "m1"))
        uow.outbox.add(_mail(core, "m2"))
        failed = _mail(core, "m3")
        uow.outbox.add(failed)
        uow.outbox.add(_mail(core, "s1", channel="slack"))
        uow.commit()
        failed_id = failed.id
    with core.uow() as uow:
        item = uow.outbox.get(failed_id)
        assert item is not None
        item.state = OutboxState.FAILED
        uow.commit()
    worker = Worker(core, name="host-a:1", deliverers=[])
    assert worker.run_one()  # the broken job fails for good: its kind is unknown
    with core.uow() as uow:
        running = uow.jobs.claim("host-b:2", core.clock(), timedelta(minutes=2))
        uow.commit()
    assert running is not None and running.key == "claimed"
    worker.beat()
    gone = Worker(core, name="host-c:3", deliverers=[], role="serve")
    gone.beat()
    gone.said_goodbye()
    return {"running": running.id}


@pytest.fixture
def status_cli(database_url: str, osc_config: Path, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"OMI_DATABASE_URL": database_url, "OMI_MAILDIR": str(tmp_path / "mail")}

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, ["status", *args], env=env, catch_exceptions=False)

    return run


def test_status_tells_jobs_outbox_and_workers(busy, status_cli) -> None:
    result = status_cli()
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Jobs: 1 queued, 1 running, 1 failed" in out
    running = out.split("Running jobs")[1].split("Failed jobs")[0]
    assert "share" in running and "host-b:2" in running
    failed = out.split("Failed jobs")[1].split("Outbox")[0]
    assert "no-such-step" in failed and "unknown job kind 'no-such-step'" in failed
    outbox = out.split("Outbox")[1].split("Workers")[0]
    email = next(line for line in outbox.splitlines() if line.startswith("email"))
    assert email.split()[:2] == ["email", "2"] and email.split()[-1] == "1"
    assert "5min" in email  # the oldest queued mail's age
    slack = next(line for line in outbox.splitlines() if line.startswith("slack"))
    assert slack.split()[:2] == ["slack", "1"]
    assert "Failed mails: 1" in out
    workers = out.split("Workers")[1]
    line_a = next(line for line in workers.splitlines() if line.startswith("host-a:1"))
    assert line_a.split()[1] == "worker" and line_a.endswith("alive")
    line_c = next(line for line in workers.splitlines() if line.startswith("host-c:3"))
    assert line_c.split()[1] == "serve" and line_c.endswith("stopped")


def test_status_json(busy, status_cli) -> None:
    result = status_cli("--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["jobs"] == {"pending": 1, "running": 1, "failed": 1}
    assert {"kind": "copy", "state": "pending", "count": 1} in body["jobs_by_kind"]
    (running,) = body["running"]
    assert (running["id"], running["worker"], running["attempts"]) == (
        busy["running"], "host-b:2", 1,
    )
    (failed,) = body["failed"]
    assert failed["kind"] == "no-such-step"
    assert failed["error"] == "unknown job kind 'no-such-step'"
    assert body["outbox"]["email"]["queued"] == 2
    assert body["outbox"]["email"]["failed"] == 1
    assert 290 <= body["outbox"]["email"]["oldest_queued_seconds"] < 3600
    assert body["outbox"]["slack"]["queued"] == 1
    assert body["failed_mails"] == 1
    workers = {w["worker"]: w for w in body["workers"]}
    assert workers["host-a:1"]["alive"] is True and workers["host-a:1"]["role"] == "worker"
    assert workers["host-c:3"]["alive"] is False and workers["host-c:3"]["stopped_at"]


def test_a_silent_worker_is_not_alive(core: Core) -> None:
    Worker(core, name="quiet:1", deliverers=[]).beat()
    later = core.clock() + timedelta(seconds=health.HEARTBEAT_SECONDS * health.STALE_AFTER + 1)
    picture = health.snapshot(core)
    (beat,) = picture.workers
    assert picture.alive(beat)
    stale = health.Snapshot(
        at=later, jobs={}, running=[], failed=[], outbox={}, workers=picture.workers
    )
    assert not stale.alive(beat)


def test_status_with_an_empty_queue(core: Core, status_cli) -> None:
    result = status_cli()
    assert result.exit_code == 0, result.output
    assert "Jobs: 0 queued, 0 running, 0 failed" in result.output
    assert "no worker has reported yet" in result.output
    assert "Running jobs" not in result.output and "Failed jobs" not in result.output

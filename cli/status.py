"""`omi-bot status`: how the queue is doing, for a person (or, with --json, a script)."""

from __future__ import annotations

import json
from typing import Any

import click

from cli.common import Ctx, pass_ctx, reported, table, when


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.0f}s"
    if value < 7200:
        return f"{value / 60:.0f}min"
    return f"{value / 3600:.1f}h"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of tables.")
@pass_ctx
@reported
def status(ctx: Ctx, as_json: bool) -> None:
    """Jobs queued, running and failed, the outbox, the workers' last heartbeats."""
    from commands.health import snapshot
    from commands.model import JobState

    picture = snapshot(ctx.core)
    at = picture.at

    def ago(moment: Any) -> float | None:
        return None if moment is None else max(0.0, (at - moment).total_seconds())

    if as_json:
        body = {
            "at": at.isoformat(),
            "jobs": {
                state.value: picture.count(state)
                for state in (JobState.PENDING, JobState.RUNNING, JobState.FAILED)
            },
            "jobs_by_kind": [
                {"kind": kind, "state": state, "count": n}
                for (kind, state), n in sorted(picture.jobs.items())
            ],
            "running": [
                {
                    "id": j.id,
                    "kind": j.kind,
                    "version_id": j.version_id,
                    "worker": j.worker,
                    "attempts": j.attempts,
                    "lease_until": j.lease_until.isoformat() if j.lease_until else None,
                }
                for j in picture.running
            ],
            "failed": [
                {
                    "id": j.id,
                    "kind": j.kind,
                    "version_id": j.version_id,
                    "attempts": j.attempts,
                    "error": j.last_error,
                    "finished_at": j.finished_at.isoformat() if j.finished_at else None,
                }
                for j in picture.failed
            ],
            "outbox": {
                channel: {
                    "queued": c.queued,
                    "oldest_queued_seconds": ago(c.oldest_queued_at),
                    "failed": c.failed,
                }
                for channel, c in picture.outbox.items()
            },
            "failed_mails": picture.outbox["email"].failed,
            "workers": [
                {
                    "worker": w.worker,
                    "role": w.role,
                    "started_at": w.started_at.isoformat(),
                    "last_heartbeat": w.beat_at.isoformat(),
                    "seconds_since_heartbeat": ago(w.beat_at),
                    "alive": picture.alive(w),
                    "stopped_at": w.stopped_at.isoformat() if w.stopped_at else None,
                }
                for w in picture.workers
            ],
        }
        click.echo(json.dumps(body, indent=2))
        return

    click.echo(
        f"Jobs: {picture.count(JobState.PENDING)} queued, {picture.count(JobState.RUNNING)} "
        f"running, {picture.count(JobState.FAILED)} failed"
    )
    if picture.running:
        click.echo("\nRunning jobs")
        table(
            ("job", "kind", "version", "worker", "attempt", "lease until"),
            [
                (str(j.id), j.kind, j.version_id or "-", j.worker or "-", str(j.attempts),
                 when(j.lease_until))
                for j in picture.running
            ],
        )  # fmt: skip
    if picture.failed:
        click.echo("\nFailed jobs (newest first)")
        table(
            ("job", "kind", "version", "attempts", "error"),
            [
                (str(j.id), j.kind, j.version_id or "-", str(j.attempts),
                 (j.last_error or "-").replace("\n", " "))
                for j in picture.failed
            ],
        )  # fmt: skip
    click.echo("\nOutbox")
    table(
        ("channel", "queued", "oldest queued", "failed"),
        [
            (channel, str(c.queued), _seconds(ago(c.oldest_queued_at)), str(c.failed))
            for channel, c in picture.outbox.items()
        ],
    )
    click.echo(f"Failed mails: {picture.outbox['email'].failed} (omi-bot mail list --failed)")
    click.echo("\nWorkers")
    if not picture.workers:
        click.echo("no worker has reported yet")
        return
    table(
        ("worker", "role", "last heartbeat", "ago", "state"),
        [
            (w.worker, w.role, when(w.beat_at), _seconds(ago(w.beat_at)),
             "stopped" if w.stopped_at else ("alive" if picture.alive(w) else "silent"))
            for w in picture.workers
        ],
    )  # fmt: skip

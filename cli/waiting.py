"""`--wait-decision`: a pipeline's step stays until a release manager decides its request and
the worker has done what was decided, then exits with what happened:

0 done (published, unpublished, or an unpublication scheduled), 4 rejected (the reason on
stderr), 5 failed (the rules refused it at approval, or the cloud work failed), 6 timed out
(the request or the work stays as it is), 130 interrupted (the same).

It only reads the database: the request is posted, and the work done, by a worker
(`omi-bot serve` or `omi-bot worker`)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, NoReturn

import click

from commands import services
from commands.bootstrap import Core
from commands.model import Request, RequestKind, RequestState, Status, Version

DONE, REJECTED, FAILED, TIMED_OUT, INTERRUPTED = 0, 4, 5, 6, 130


def request_json(request: Request) -> dict[str, Any]:
    return {
        "id": request.id,
        "kind": request.kind.value,
        "product_code": request.product_code,
        "version_id": request.version_id,
        "unpublish_on": request.unpublish_on.isoformat() if request.unpublish_on else None,
        "form": request.form or None,
        "requested_by": request.requested_by,
        "idempotency_key": request.idempotency_key,
        "state": request.state.value,
        "created_at": request.created_at.isoformat(),
    }


def decision_json(request: Request) -> dict[str, Any] | None:
    if request.state is RequestState.PENDING:
        return None
    return {
        "state": request.state.value,
        "decided_by": request.decided_by,
        "decided_at": request.decided_at.isoformat() if request.decided_at else None,
        "reason": request.reason,
    }


def wait_decision(core: Core, request_id: int, timeout: float, *, as_json: bool) -> NoReturn:
    deadline = time.monotonic() + timeout
    poll = max(min(core.settings.worker_poll_seconds, 2.0), 0.05)
    click.echo(
        f"Waiting for a release manager's decision on request {request_id} (up to "
        f"{timeout:g} s; Ctrl-C leaves the request as it is).",
        err=True,
    )
    request = services.get_request(core, request_id)
    while request.state is RequestState.PENDING:
        if time.monotonic() >= deadline:
            _end(
                TIMED_OUT,
                f"request {request_id} is still waiting for a decision after {timeout:g} s; "
                "it stays pending.",
                request,
                [],
                as_json,
            )
        time.sleep(poll)
        request = services.get_request(core, request_id)
    if request.state is RequestState.REJECTED:
        _end(
            REJECTED,
            f"request {request_id} was rejected by {request.decided_by}: {request.reason}",
            request,
            [],
            as_json,
        )
    if request.state is RequestState.FAILED:
        _end(
            FAILED,
            f"request {request_id} could not be carried out: {request.reason}",
            request,
            [],
            as_json,
        )
    _carried_out(core, request, deadline, poll, timeout, as_json)


def interrupted(core: Core, request_id: int) -> NoReturn:
    """Ctrl-C: the request stays as it is, whatever it is, and the pipeline is told which."""
    request = services.get_request(core, request_id)
    if request.state is RequestState.PENDING:
        said = (
            f"interrupted: request {request_id} is still pending; a release manager can "
            "still decide it. Run the same command again to wait for it."
        )
    else:
        said = (
            f"interrupted: request {request_id} is {request.state.value}; "
            "the worker goes on with what was decided."
        )
    click.echo(f"omi-bot: {said}", err=True)
    sys.exit(INTERRUPTED)


def _carried_out(
    core: Core, request: Request, deadline: float, poll: float, timeout: float, as_json: bool
) -> NoReturn:
    """An approved request: a scheduled unpublication is done once approved; otherwise the
    worker's jobs for its versions are waited for."""
    by = request.decided_by
    if request.kind is not RequestKind.PUBLISH and request.unpublish_on is not None:
        day = request.unpublish_on.isoformat()
        _end(
            DONE,
            f"Request {request.id} was approved by {by}: unpublication scheduled on {day}.",
            request,
            _targets(core, request),
            as_json,
        )
    targets = _targets(core, request)
    while not all(services.is_settled(core, v.id) for v in targets):
        if time.monotonic() >= deadline:
            _end(
                TIMED_OUT,
                f"request {request.id} was approved by {by}, but the work on it was not done "
                f"after {timeout:g} s; a running worker will finish it.",
                request,
                _reread(core, targets),
                as_json,
            )
        time.sleep(poll)
    done = _reread(core, targets)
    wanted = Status.PUBLISHED if request.kind is RequestKind.PUBLISH else Status.UNPUBLISHED
    failed = [v for v in done if v.status is not wanted]
    if failed:
        v = failed[0]
        _end(
            FAILED,
            f"version {v.id} is {v.status.value}: {v.failure or 'the work did not succeed'}",
            request,
            done,
            as_json,
        )
    if request.kind is RequestKind.PUBLISH:
        v = done[0]
        said = (
            f"Request {request.id} was approved by {by}: version {v.id} is published "
            f"(OMI copy {v.copy_id})."
        )
    else:
        ids = ", ".join(v.id for v in done) or "nothing left"
        said = f"Request {request.id} was approved by {by}: unpublished {ids}."
    _end(DONE, said, request, done, as_json)


def _targets(core: Core, request: Request) -> list[Version]:
    if request.version_id:
        return [services.show_version(core, request.version_id).version]
    if request.kind is not RequestKind.UNPUBLISH_PRODUCT:
        return []
    # The whole product: the versions its approval unpublished (or will, on the date).
    table = services.versions_table(core, request.product_code)
    decided = request.decided_at
    return [
        v
        for v in table.rows
        if v.status is Status.PUBLISHED
        or (v.unpublished_at is not None and decided is not None and v.unpublished_at >= decided)
    ]


def _reread(core: Core, versions: list[Version]) -> list[Version]:
    return [services.show_version(core, v.id).version for v in versions]


def _end(
    code: int, said: str, request: Request, versions: list[Version], as_json: bool
) -> NoReturn:
    if as_json:
        from cli.versions import version_json

        shown = [version_json(v) for v in versions]
        click.echo(
            json.dumps(
                {
                    "request": request_json(request),
                    "decision": decision_json(request),
                    "version": shown[0] if len(shown) == 1 else None,
                    "versions": shown,
                    "exit_code": code,
                },
                indent=2,
            )
        )
    if code == DONE:
        click.echo(said, err=as_json)
    else:
        click.echo(f"omi-bot: {said}", err=True)
    sys.exit(code)

"""Unpublication requests from a pipeline: `versions request-unpublish` and `products
request-unpublish` under the rules of the date form (R7, R9, the notice period, `--on`),
decided in Slack; `--wait-decision` ends once the copy is deleted or the date is set."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

from commands import services
from commands.bootstrap import Core
from commands.model import RequestKind, RequestState, Status, VersionForm
from commands.sandbox import SandboxServer
from commands.worker import Worker
from tests.bot.flows import approval_posts, approve
from tests.bot.pipeline import Cli, Step, asked, counts, post_queued
from tests.conftest import OMI_1, OMI_2
from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import SlackClient


def two_published(core: Core, drain: Callable[..., None]) -> list[str]:
    for omi in (OMI_1, OMI_2):
        services.publish(core, "0001", VersionForm(omi=omi, release_note=omi), requested_by="o")
    drain()
    return [v.id for v in services.versions_table(core, "0001").rows]


def test_a_version_unpublished_at_once_once_approved_exits_0(
    step: Callable[..., Step],
    slack: SlackClient,
    fake_slack: FakeSlackAPI,
    core: Core,
    sandbox: SandboxServer,
    drain: Callable[..., None],
    worker: Worker,
) -> None:
    newest, oldest = two_published(core, drain)
    copy = services.show_version(core, oldest).version.copy_id
    running = step("versions", "request-unpublish", oldest, "--wait-decision", "--json")
    request = asked(core, running)
    assert request.kind is RequestKind.UNPUBLISH and request.version_id == oldest
    assert request.unpublish_on is None
    approve(slack, fake_slack, request.id)
    code, out, err = running.finish()
    assert code == 0, err
    shown = json.loads(out)
    assert shown["decision"]["state"] == "approved"
    assert shown["version"]["id"] == oldest and shown["version"]["status"] == "unpublished"
    assert sandbox.sandbox.image(str(copy)) is None  # its copy is deleted
    assert services.show_version(core, newest).version.status is Status.PUBLISHED


def test_the_only_published_version_is_refused_at_once(
    cli: Cli, core: Core, product: str, drain: Callable[..., None]
) -> None:
    services.publish(core, "0001", VersionForm(omi=OMI_1, release_note="n"), requested_by="o")
    drain()
    (only,) = [v.id for v in services.versions_table(core, "0001").rows]
    before = counts(core)
    refused = cli("versions", "request-unpublish", only)
    assert refused.exit_code == 2
    assert "only published version" in refused.stderr
    assert counts(core) == before


def test_a_product_unpublished_on_a_date_respects_the_notice_period(
    cli: Cli,
    step: Callable[..., Step],
    slack: SlackClient,
    fake_slack: FakeSlackAPI,
    core: Core,
    drain: Callable[..., None],
    worker: Worker,
) -> None:
    two_published(core, drain)
    services.set_product(core, "0001", notice_days=14)
    before = counts(core)
    now = cli("products", "request-unpublish", "0001")
    assert now.exit_code == 2 and "notice" in now.stderr
    soon = (services.today(core) + timedelta(days=13)).isoformat()
    too_soon = cli("products", "request-unpublish", "0001", "--on", soon)
    assert too_soon.exit_code == 2, too_soon.stderr
    assert counts(core) == before

    day = (services.today(core) + timedelta(days=20)).isoformat()
    running = step("products", "request-unpublish", "0001", "--on", day, "--wait-decision")
    request = asked(core, running)
    assert request.kind is RequestKind.UNPUBLISH_PRODUCT
    assert request.unpublish_on is not None and request.unpublish_on.isoformat() == day
    assert day in json.dumps(approval_posts(fake_slack)[-1].params["blocks"])
    approve(slack, fake_slack, request.id)
    code, out, err = running.finish()
    assert code == 0, err
    assert f"unpublication scheduled on {day}" in out
    table = services.versions_table(core, "0001")
    assert {table.schedule_of(v).unpublish_on.isoformat() for v in table.rows} == {day}  # type: ignore[union-attr]
    assert all(v.status is Status.PUBLISHED for v in table.rows)  # until the date

    again = cli("products", "request-unpublish", "0001", "--on", day)
    assert again.exit_code == 0 and f"Request {request.id} (approved)" in again.stderr
    assert counts(core)["requests"] == 1


def test_a_rerun_of_an_unpublish_request_returns_it(
    cli: Cli, core: Core, product: str, drain: Callable[..., None], fake_slack: FakeSlackAPI
) -> None:
    _, oldest = two_published(core, drain)
    first = cli("versions", "request-unpublish", oldest, "--requested-by", "ci", "--json")
    assert first.exit_code == 0, first.stderr
    second = cli("versions", "request-unpublish", oldest, "--requested-by", "ci", "--json")
    assert second.exit_code == 0, second.stderr
    assert json.loads(first.stdout)["request"]["id"] == json.loads(second.stdout)["request"]["id"]
    with core.uow() as uow:
        (request,) = uow.requests.pending()
    assert request.state is RequestState.PENDING and request.requested_by == "cli:ci"
    assert post_queued(core, fake_slack) == 1  # one message for the one request

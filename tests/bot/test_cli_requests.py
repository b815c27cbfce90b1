"""Requests from a pipeline: `omi-bot versions request` writes the request the Version form
writes, a worker posts it to the approval channel with *Approve* and *Reject*, and a release
manager decides it in Slack (signed requests against the fake Web API)."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.requests import request_message
from commands import services
from commands.bootstrap import Core
from commands.errors import FormErrors
from commands.model import Actor, Request, RequestKind, RequestState, Status, VersionForm
from commands.sandbox import SandboxServer
from commands.worker import Worker
from tests.bot.flows import approval_posts, approve, opened_by_click, submit_then, texts
from tests.bot.pipeline import (
    REQUEST,
    Cli,
    Step,
    asked,
    counts,
    pending,
    post_queued,
    request_buttons,
)
from tests.conftest import OMI_1, OMI_2, OMI_NO_CODE, SUB_A, SUB_B
from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import SlackClient


def test_a_cli_request_is_posted_for_approval_and_approved_in_slack(
    cli: Cli,
    slack: SlackClient,
    fake_slack: FakeSlackAPI,
    core: Core,
    subscribers: list[str],
    sandbox: SandboxServer,
    drain: Callable[..., None],
) -> None:
    result = cli(
        "versions",
        "request",
        "0001",
        "--omi",
        OMI_1,
        "--release-note",
        "Nginx 1.24 <!channel>",
        "--software-version",
        "1.24",
        "--requested-by",
        "gitlab-ci <@UADMIN> job 42",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    asked = json.loads(result.stdout)["request"]
    assert asked["state"] == "pending" and asked["kind"] == "publish"
    assert asked["requested_by"] == "cli:gitlab-ci <@UADMIN> job 42"
    request = services.get_request(core, asked["id"])
    assert request.kind is RequestKind.PUBLISH
    assert request.version_form().omi == OMI_1  # the same request the Version form writes
    assert request.version_form().release_note == "Nginx 1.24 <!channel>"
    assert fake_slack.calls_to("chat.postMessage") == []  # a worker posts it

    assert post_queued(core, fake_slack) == 1
    (post,) = approval_posts(fake_slack)
    buttons = request_buttons(post.params)
    assert {"approve_request", "reject_request"} <= {b["action_id"] for b in buttons}
    assert {b["value"] for b in buttons} == {str(request.id)}
    # The very message the bot posts for a request asked in Slack.
    assert post.params["blocks"] == request_message(core, request, "en")[1]
    shown = json.dumps(post.params["blocks"])
    # The origin is shown as text: neither a mention nor a broadcast.
    assert "cli:gitlab-ci &lt;@UADMIN&gt; job 42" in shown
    assert "<@UADMIN>" not in shown and "<!channel>" not in shown
    assert "2 subscriber account(s)" in shown
    surface = services.get_request(core, request.id).surface
    assert [surface["channel"], surface["ts"]] == [post.params["channel"], surface["ts"]]

    _, outcome = approve(slack, fake_slack, request.id)
    assert "is being published" in texts(outcome)
    update = fake_slack.wait_for("chat.update")[0].params
    assert update["channel"] == "CREL" and update["ts"] == surface["ts"]
    assert "Approved by <@URM1>" in json.dumps(update["blocks"])

    drain()
    decided = services.get_request(core, request.id)
    assert decided.state is RequestState.APPROVED and decided.decided_by == "URM1"
    version = services.show_version(core, str(decided.version_id)).version
    assert version.status is Status.PUBLISHED
    assert version.requested_by == "cli:gitlab-ci <@UADMIN> job 42"
    assert version.approved_by == "URM1"
    image = sandbox.sandbox.image(str(version.copy_id))
    assert image is not None
    assert sorted(image["PermissionsToLaunch"]["AccountIds"]) == sorted([SUB_A, SUB_B])
    # Progress goes to the request's thread; nobody in Slack is the requester to tell.
    post_queued(core, fake_slack)
    progress = approval_posts(fake_slack)[1:]
    assert len(progress) == 3  # copied, sharing, published
    assert all(p.params.get("thread_ts") == surface["ts"] for p in progress)
    assert fake_slack.calls_to("conversations.open") == []
    # Nor told by direct message: the bot has no Slack user to tell "approved".
    channels = {c.params["channel"] for c in fake_slack.calls_to("chat.postMessage")}
    assert channels == {"CREL", "CACME", "CGLOBEX"}


def test_a_refused_request_writes_nothing(cli: Cli, core: Core, product: str) -> None:
    before = counts(core)
    for args, said in (
        (("--omi", OMI_1, "--release-note", "   "), "A release note is required."),
        (("--omi", OMI_1, "--release-note", "x" * 3001), "3000 at most"),
        (("--omi", OMI_NO_CODE, "--release-note", "x"), "(R2)"),
        (("--omi", OMI_1, "--release-note", "x", "--requested-by", "a\nb"), "one line"),
        (("--omi", OMI_1, "--release-note", "x", "--requested-by", "r" * 61), "60 at most"),
    ):
        result = cli("versions", "request", "0001", *args)
        assert result.exit_code == 2, (args, result.output)
        assert said in result.stderr and "Traceback" not in result.stderr
    assert counts(core) == before


# -- waiting for the decision, as a pipeline's step does: a real process ------------------------


def test_approved_in_slack_the_step_exits_0_once_the_copy_is_shared(
    step: Callable[..., Step],
    slack: SlackClient,
    fake_slack: FakeSlackAPI,
    core: Core,
    subscribers: list[str],
    sandbox: SandboxServer,
    worker: Worker,
) -> None:
    running = step(*REQUEST, "--requested-by", "ci@runner", "--wait-decision", "--json")
    request = asked(core, running)
    _, outcome = approve(slack, fake_slack, request.id)
    assert "is being published" in texts(outcome)
    code, out, err = running.finish()
    assert code == 0, err
    shown = json.loads(out)
    assert (
        shown["request"]["id"] == request.id and shown["request"]["requested_by"] == "cli:ci@runner"
    )
    assert shown["decision"]["state"] == "approved" and shown["decision"]["decided_by"] == "URM1"
    assert shown["version"]["status"] == "published" and shown["version"]["omi_id"] == OMI_1
    image = sandbox.sandbox.image(shown["version"]["omi_copy_id"])
    assert image is not None
    assert sorted(image["PermissionsToLaunch"]["AccountIds"]) == sorted([SUB_A, SUB_B])
    assert "is published" in err


def test_rejected_in_slack_exits_4_with_the_reason(
    step: Callable[..., Step],
    slack: SlackClient,
    fake_slack: FakeSlackAPI,
    core: Core,
    product: str,
    worker: Worker,
) -> None:
    running = step(*REQUEST, "--wait-decision")
    request = asked(core, running)
    reason_form = opened_by_click(slack, fake_slack, "reject_request", request.id, "URM2")
    submit_then(slack, fake_slack, reason_form, "URM2", reason="Release note too vague")
    code, _out, err = running.finish()
    assert code == 4, err
    assert f"request {request.id} was rejected by URM2: Release note too vague" in err
    assert services.get_request(core, request.id).state is RequestState.REJECTED


def test_a_publication_that_fails_exits_5(
    step: Callable[..., Step],
    slack: SlackClient,
    fake_slack: FakeSlackAPI,
    core: Core,
    product: str,
    sandbox: SandboxServer,
    worker: Worker,
) -> None:
    sandbox.sandbox.fail_copies(True)
    running = step(*REQUEST, "--wait-decision", "--json")
    request = asked(core, running)
    approve(slack, fake_slack, request.id)
    code, out, err = running.finish()
    assert code == 5, err
    assert json.loads(out)["version"]["status"] == "failed"
    assert "is failed" in err


def test_no_decision_in_time_exits_6_and_the_request_stays_pending(
    step: Callable[..., Step], core: Core, product: str
) -> None:
    code, _out, err = step(*REQUEST, "--wait-decision", "--timeout", "0.5").finish()
    assert code == 6, err
    (request,) = [r for r in pending(core)]
    assert f"request {request.id} is still waiting for a decision after 0.5 s" in err


def test_ctrl_c_leaves_the_request_pending_and_says_so(
    step: Callable[..., Step], core: Core, product: str
) -> None:
    running = step(*REQUEST, "--wait-decision")
    deadline = time.monotonic() + 180
    while not pending(core) and time.monotonic() < deadline:
        time.sleep(0.05)
    (request,) = pending(core)
    running.popen.send_signal(signal.SIGINT)
    code, _, err = running.finish()
    assert code == 130, err
    assert f"request {request.id} is still pending" in err and "Traceback" not in err
    assert services.get_request(core, request.id).state is RequestState.PENDING


# -- asking again, refusing, the direct publication ----------------------------------------------


def test_a_rerun_returns_the_request_asked_before(
    cli: Cli, core: Core, product: str, drain: Callable[..., None]
) -> None:
    first = cli(*REQUEST, "--json")
    assert first.exit_code == 0, first.stderr
    again = cli(*REQUEST, "--release-note", "From CI, run 2", "--json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["request"]["id"] == json.loads(first.stdout)["request"]["id"]
    assert "was asked before with the idempotency key 'publish:0001:ami-5e11e001'" in again.stderr
    assert counts(core)["requests"] == 1
    assert counts(core)["outbox"] == 1  # one message to the approval channel
    other = cli(*REQUEST[:4], OMI_2, "--release-note", "x", "--idempotency-key", "build-77")
    assert other.exit_code == 0, other.stderr
    assert counts(core)["requests"] == 2
    # Once approved and published, a re-run still finds its request (its OMI is used now).
    first_id = json.loads(first.stdout)["request"]["id"]
    services.approve(core, first_id, by=Actor.slack_user("URM1"))
    drain()
    done = cli(*REQUEST, "--wait-decision", "--json")
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["version"]["status"] == "published"
    assert counts(core)["requests"] == 2
    reused = cli("products", "request-unpublish", "0001", "--idempotency-key", "build-77")
    assert reused.exit_code == 2 and "give another key" in reused.stderr


def test_two_runs_at_once_make_one_request(core: Core, product: str) -> None:
    """The second of two runs that both found no request with the key writes after the first
    committed: the key is unique, so it gets the first run's request back."""
    form = VersionForm(omi=OMI_1, release_note="n")
    first = services.request_publication(
        core, "0001", form, requested_by="cli:a", idempotency_key="k1"
    )
    with core.uow() as uow:
        late = Request(
            kind=RequestKind.PUBLISH,
            product_code="0001",
            requested_by="cli:b",
            at=core.clock(),
            form=form,
            idempotency_key="k1",
        )
        got = uow.requests.add_once(late)
        uow.commit()
    assert got.id == first.id and got.requested_by == "cli:a"
    assert counts(core)["requests"] == 1


def test_direct_publication_needs_no_approval_and_the_installation_s_consent(
    cli: Cli, core: Core, product: str
) -> None:
    before = counts(core)
    for args, env in (
        (("--no-approval",), {}),
        ((), {"OMI_ALLOW_DIRECT": "1"}),
        ((), {}),
        (("--no-approval",), {"OMI_ALLOW_DIRECT": "yes"}),
    ):
        result = cli(
            "versions", "publish", *args, "0001", "--omi", OMI_1, "--release-note", "x", **env
        )
        assert result.exit_code == 2, (args, env)
        assert "OMI_ALLOW_DIRECT=1" in result.stderr and "versions request" in result.stderr
    assert counts(core) == before
    allowed = cli(
        "versions",
        "publish",
        "--no-approval",
        "0001",
        "--omi",
        OMI_1,
        "--release-note",
        "x",
        OMI_ALLOW_DIRECT="1",
    )
    assert allowed.exit_code == 0, allowed.stderr
    assert counts(core)["versions"] == 1


def test_the_form_from_a_file_with_options_overriding_it(
    cli: Cli, core: Core, product: str, tmp_path: Path
) -> None:
    toml = tmp_path / "release.toml"
    toml.write_text(
        'omi = "ami-5e11e002"\nsoftware_version = "1.26"\nsoftware_base = ["nginx 1.26"]\n'
        'release_note = """HTTP/3.\nSecurity fixes."""\n'
    )
    result = cli("versions", "request", "0001", "--form", str(toml), "--omi", OMI_1, "--json")
    assert result.exit_code == 0, result.stderr
    form = json.loads(result.stdout)["request"]["form"]
    assert form["omi"] == OMI_1  # the option wins over the file
    assert form["software_version"] == "1.26" and form["software_base"] == ["nginx 1.26"]
    assert form["release_note"] == "HTTP/3.\nSecurity fixes."
    as_json = tmp_path / "release.json"
    as_json.write_text(json.dumps({"omi": OMI_2, "release_note": "From JSON"}))
    result = cli("versions", "request", "0001", "--form", str(as_json), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["request"]["form"]["release_note"] == "From JSON"


def test_bad_form_files_and_bad_notes_are_refused_with_nothing_written(
    cli: Cli, core: Core, product: str, tmp_path: Path
) -> None:
    files = {
        "latin1.toml": (b'omi = "ami-5e11e001"\nrelease_note = "caf\xe9"\n', "not valid UTF-8"),
        "broken.toml": (b'omi = "ami-5e11e001\n', "not valid TOML"),
        "broken.json": (b'{"omi": ', "not valid JSON"),
        "extra.toml": (b'omi = "a"\nrelease_note = "n"\nprice = "1"\n', "price"),
        "list.json": (b'["omi"]', "a table of the Version form's fields"),
        "typed.toml": (b"omi = 5\n", "omi must be text"),
        "base.toml": (b'omi = "a"\nsoftware_base = "nginx"\n', "software_base must be a list"),
        "empty.toml": (b'omi = "ami-5e11e001"\nrelease_note = "  "\n', "release note is required"),
        "long.json": (
            json.dumps({"omi": OMI_1, "release_note": "x" * 3001}).encode(),
            "3000 at most",
        ),
    }
    before = counts(core)
    for name, (content, said) in files.items():
        path = tmp_path / name
        path.write_bytes(content)
        result = cli("versions", "request", "0001", "--form", str(path))
        assert result.exit_code == 2, (name, result.output)
        assert said in result.stderr, (name, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    missing = cli("versions", "request", "0001", "--form", str(tmp_path / "nope.toml"))
    assert missing.exit_code == 2 and "cannot be read" in missing.stderr
    # Bytes that are not UTF-8 on a command line reach Python as lone surrogates.
    # (refused before any verb runs, or by the Version form: either way nothing is written)
    for note, said in (("caf\udce9", "utf-8"), ("", "release note is required")):
        result = cli("versions", "request", "0001", "--omi", OMI_1, "--release-note", note)
        assert result.exit_code == 2 and said in result.stderr.lower(), result.stderr
    no_omi = cli("versions", "request", "0001", "--release-note", "n")
    assert no_omi.exit_code == 2 and "--omi" in no_omi.stderr
    assert counts(core) == before


def test_the_version_form_refuses_text_that_is_not_utf8() -> None:
    """What JSON escapes (a Slack payload) or a file can carry reaches the form as surrogates."""
    with pytest.raises(FormErrors) as refused:
        VersionForm(omi=OMI_1, release_note="caf\udce9", software_base=("a\udc80",)).cleaned()
    assert refused.value.fields == {
        "release_note": "Release note is not valid UTF-8 text.",
        "software_base": "The software base is not valid UTF-8 text.",
    }

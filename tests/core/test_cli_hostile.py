"""Every `omi-bot` verb given missing, malformed and oversized arguments: a usage error or one
short line on stderr, never a traceback, and nothing changed in the database or the cloud.

The verbs are found by walking the command tree, so a verb added later is covered without
being listed here; each of its parameters is made hostile in turn while the others keep a value
that works, so the hostile one is the one being judged."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from cli.main import main
from commands import services
from commands.bootstrap import Core
from commands.model import VersionForm
from commands.sandbox import SandboxServer
from storage.orm import metadata
from tests.conftest import OMI_1, SELLER, SUB_A

# Verbs that run until stopped, or whose work is the network rather than the database.
LONG_RUNNING = {("serve",), ("worker",), ("sandbox",), ("db", "upgrade"), ("mail", "send")}

HOSTILE: dict[str, str] = {
    "empty": "",
    "blank": "   ",
    "nul_and_newlines": "a\x00b\r\nBcc: victim@example.com",
    "oversized": "x" * 100_000,
    "invalid_utf8": "caf\udce9",  # what a shell passes for bytes that are not UTF-8
    "mentions": "<!channel> <@U123> <https://evil.example|click>",
    "sql": "0001'; DROP TABLE versions; --",
    "negative": "-1",
}
# Refusals name what was wrong; a refusal that echoes 100,000 characters back is no message.
MAX_ERROR_LINE = 400


def leaves(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        if isinstance(command, click.Group):
            yield from leaves(command, (*path, name))
        elif (*path, name) not in LONG_RUNNING:
            yield (*path, name), command


VERBS = dict(leaves(main))


@pytest.fixture
def world(core: Core, product: str, drain: Callable[..., None], tmp_path: Path) -> dict[str, str]:
    """A product with a published version, an organization and a subscriber: the values that
    work for each parameter name."""
    services.save_organization(core, name="Acme", language="fr", admin_emails=["a@acme.example"])
    services.save_subscriber(core, account_id=SUB_A, organization="Acme", email="ops@acme.example")
    form = VersionForm(omi=OMI_1, release_note="note", software_version="1.24")
    version_id = services.publish(core, product, form, requested_by="U1").id
    drain()
    catalog = tmp_path / "catalog.toml"
    catalog.write_text("")
    return {
        "product_code": product,
        "code": product,
        "version_id": version_id,
        "omi": OMI_1,
        "release_note": "a note",
        "name": "Acme",
        "language": "en",
        "admins": "a@acme.example",
        "seller_account_id": SELLER,
        "pricing": "hourly",
        "account_id": SUB_A,
        "organization": "Acme",
        "email": "ops@acme.example",
        "mail_id": "1",
        "file": str(catalog),
    }


@pytest.fixture
def run(database_url: str, osc_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    env = {
        "OMI_DATABASE_URL": database_url,
        "OMI_SELLER_PROFILE": "seller",
        "OMI_DISTRIBUTION_PROFILE": "distribution",
        "OMI_MAILDIR": str(tmp_path / "mail"),
        "OMI_OSC_MAX_RETRIES": "0",
        "OMI_DEBUG": "",
    }
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args), env=env, catch_exceptions=True)

    return invoke


def snapshot(core: Core, sandbox: SandboxServer) -> str:
    """Every table's rows and the cloud's images: what a refused command must leave as it was."""
    with core.db.engine.connect() as conn:
        tables = {
            table.name: sorted(map(repr, conn.execute(select(table)).all()))
            for table in metadata.sorted_tables
        }
    return json.dumps({"tables": tables, "images": sandbox.sandbox.images}, default=str)


def takes_value(param: click.Parameter) -> bool:
    return not (isinstance(param, click.Option) and (param.is_flag or param.name == "help"))


def arguments(
    command: click.Command, values: dict[str, str], hostile: tuple[str, str] | None = None
) -> list[str]:
    """The command line with a value for every parameter that takes one and that this test
    knows a working value for (or that is required): `hostile` names the one parameter given
    a hostile value instead."""
    args: list[str] = []
    for param in filter(takes_value, command.params):
        name = param.name or ""
        value = hostile[1] if hostile and hostile[0] == name else values.get(name)
        if value is None:
            if not param.required:
                continue
            value = name
        if isinstance(param, click.Argument):
            args.append(value)
        else:
            args.extend([max(param.opts, key=len), value])
    return args


def misjudged(result: Result) -> str | None:
    """What is wrong with how the command answered, if anything: a traceback, an exit code
    other than success (0), refusal (2) or drift found (3), or a refusal that is not one short
    line (click's usage errors end with theirs)."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"raised {result.exception!r}"[:300]
    if "Traceback" in result.output or "Traceback" in result.stderr:
        return "printed a traceback"
    if result.exit_code not in (0, 2, 3):
        # 1 is for a cloud or database that failed, which a hostile value must not pass for.
        return f"exit code {result.exit_code}: {result.stderr.strip()[:200]!r}"
    if result.exit_code != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        if not lines:
            return "refused without saying why"
        if not lines[-1].startswith(("omi-bot: ", "Error: ")):
            return f"refusal not one line: {lines[-1][:200]!r}"
        if len(lines[-1]) > MAX_ERROR_LINE:
            return f"refusal of {len(lines[-1])} characters: {lines[-1][:200]!r}…"
    return None


REQUIRING = [path for path, command in VERBS.items() if any(p.required for p in command.params)]
TAKING_VALUES = [path for path, command in VERBS.items() if any(map(takes_value, command.params))]


def test_the_tree_walk_finds_the_verbs() -> None:
    # A walk that found nothing would make the tests below pass by testing nothing.
    assert {("versions", "publish"), ("catalog", "apply"), ("subscribers", "add")} <= set(VERBS)
    assert len(REQUIRING) >= 15 and len(TAKING_VALUES) >= len(REQUIRING)


@pytest.mark.parametrize("path", [pytest.param(p, id=" ".join(p)) for p in REQUIRING])
def test_a_verb_missing_its_arguments_is_a_usage_error_and_changes_nothing(
    path: tuple[str, ...],
    run: Callable[..., Result],
    world: dict[str, str],
    core: Core,
    sandbox: SandboxServer,
) -> None:
    before = snapshot(core, sandbox)
    result = run(*path)
    assert misjudged(result) is None, misjudged(result)
    assert result.exit_code == 2
    assert snapshot(core, sandbox) == before


@pytest.mark.parametrize("path", [pytest.param(p, id=" ".join(p)) for p in TAKING_VALUES])
def test_every_hostile_argument_is_refused_in_one_line_and_changes_nothing(
    path: tuple[str, ...],
    run: Callable[..., Result],
    world: dict[str, str],
    core: Core,
    sandbox: SandboxServer,
) -> None:
    """Each parameter in turn gets each hostile value. A refusal must leave everything as it
    was; an acceptance is judged by the verb's own tests (text is stored as written)."""
    command, wrong = VERBS[path], []
    for param in filter(takes_value, command.params):
        for kind, value in HOSTILE.items():
            before = snapshot(core, sandbox)
            result = run(*path, *arguments(command, world, (param.name or "", value)))
            problem = misjudged(result)
            if problem is None and result.exit_code != 0 and snapshot(core, sandbox) != before:
                problem = "refused, yet changed something"
            if problem:
                wrong.append(f"--{param.name}={kind}: {problem}")
    assert not wrong, "\n".join(wrong)


def test_a_refusal_names_the_start_of_a_pasted_value_and_cuts_it_visibly(
    run: Callable[..., Result], world: dict[str, str]
) -> None:
    result = run("versions", "list", "A" * 100_000)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "omi-bot: There is no product with product code '" + "A" * 60 + "…'."
    )


def test_bytes_that_are_not_utf8_are_refused_before_any_verb_runs(
    run: Callable[..., Result], world: dict[str, str], core: Core, sandbox: SandboxServer
) -> None:
    before = snapshot(core, sandbox)
    result = run("organizations", "add", "caf\udce9", "--language", "fr", "--admin", "a@b.example")
    assert result.exit_code == 2
    assert result.stderr.strip().endswith(
        "Error: 'caf\ufffd' is not UTF-8 text; omi-bot takes its arguments in UTF-8."
    )
    assert snapshot(core, sandbox) == before


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--release-manager", "@alice", "'@alice' is not a Slack user ID"),
        ("--release-manager-group", "release-managers", "is not a Slack user group ID"),
        ("--approval-channel", "#releases", "is not a Slack channel ID"),
        ("--name", "n" * 201, "A product name is 200 characters at most."),
        ("--name", "\x07 \r\n", "A product needs a name."),
    ],
)
def test_a_product_is_described_with_slack_ids_and_a_name_that_fits_as_the_catalog_requires(
    run: Callable[..., Result],
    world: dict[str, str],
    core: Core,
    sandbox: SandboxServer,
    option: str,
    value: str,
    message: str,
) -> None:
    before = snapshot(core, sandbox)
    args = {"--name": "Nginx", "--seller": SELLER, "--pricing": "hourly", option: value}
    result = run("products", "add", "0001", *[part for pair in args.items() for part in pair])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert snapshot(core, sandbox) == before


def test_a_nul_in_an_argument_is_refused_before_any_verb_runs(
    run: Callable[..., Result], world: dict[str, str], core: Core, sandbox: SandboxServer
) -> None:
    before = snapshot(core, sandbox)
    result = run("versions", "modify", world["version_id"], "--release-note", "a\x00b")
    assert result.exit_code == 2
    assert result.stderr.strip().endswith("Error: 'a\\x00b' contains a NUL character.")
    assert snapshot(core, sandbox) == before

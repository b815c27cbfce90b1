"""The `omi-bot` CLI: the operations, its output, and its exit codes (0, 2 user error, 1 cloud
or infrastructure), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner, Result

from cli.main import main
from commands.sandbox import SandboxServer
from storage.db import make_engine
from storage.orm import metadata
from tests.conftest import OMI_1, OMI_NO_CODE, SELLER


@pytest.fixture
def cli(database_url: str, osc_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    env = {
        "OMI_DATABASE_URL": database_url,
        "OMI_SELLER_PROFILE": "seller",
        "OMI_DISTRIBUTION_PROFILE": "distribution",
        "OMI_MAILDIR": str(tmp_path / "mail"),
        "OMI_COPY_POLL_SECONDS": "0.05",
        "OMI_WORKER_POLL_SECONDS": "0.05",
        "OMI_RETRY_BASE_SECONDS": "0.05",
        "OMI_OSC_RATE_LIMIT": "1000",
        "OMI_OSC_MAX_RETRIES": "1",
        "OMI_OSC_RETRY_BACKOFF": "0.01",
        "OMI_DEBUG": "",
    }
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    code = run(
        "products",
        "add",
        "0001",
        "--name",
        "Nginx on Debian",
        "--seller",
        SELLER,
        "--pricing",
        "hourly",
    )
    assert code.exit_code == 0, code.stderr
    return run


def one_line_error(result: Result) -> str:
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("omi-bot: ")
    return lines[0]


def test_publish_wait_list_show_unpublish(cli) -> None:
    first = cli(
        "versions",
        "publish",
        "0001",
        "--omi",
        OMI_1,
        "--release-note",
        "first",
        "--software-version",
        "1.24",
        "--os",
        "Debian 12",
        "--software-base",
        "nginx",
        "--wait",
    )
    assert first.exit_code == 0, first.stderr
    assert "published, OMI copy ami-" in first.output
    second = cli(
        "versions",
        "publish",
        "0001",
        "--omi",
        "debian-12-nginx-1.26",
        "--release-note",
        "second",
        "--wait",
    )
    assert second.exit_code == 0, second.stderr

    listed = cli("versions", "list", "0001", "--json")
    data = json.loads(listed.output)
    assert data["product_code"] == "0001"
    rows = data["versions"]
    assert [r["software_version"] for r in rows] == ["1.24", "1.24"]  # R3 carried it over
    assert rows[0]["operating_system"] == "Debian 12"
    assert all(r["status"] == "published" and r["omi_copy_id"] for r in rows)
    assert data["last_available_version"] == rows[0]["id"]

    text = cli("versions", "list", "0001").output
    assert "product code 0001" in text
    for column in ("ID", "SOFTWARE VERSION", "MODIFIED", "STATUS", "OMI", "OMI COPY"):
        assert column in text

    gone = cli("versions", "unpublish", rows[1]["id"], "--wait")
    assert gone.exit_code == 0, gone.stderr
    shown = cli("versions", "show", rows[1]["id"], "--json")
    assert json.loads(shown.output)["status"] == "unpublished"

    products = json.loads(cli("products", "list", "--json").output)
    assert products[0]["last_available_version"] == rows[0]["id"]


def test_modify_changes_only_what_is_given(cli) -> None:
    cli(
        "versions",
        "publish",
        "0001",
        "--omi",
        OMI_1,
        "--release-note",
        "first",
        "--software-version",
        "1.24",
        "--wait",
    )
    vid = json.loads(cli("versions", "list", "0001", "--json").output)["versions"][0]["id"]
    result = cli("versions", "modify", vid, "--instructions", "ssh as outscale")
    assert result.exit_code == 0, result.stderr
    assert "instructions" in result.output
    shown = json.loads(cli("versions", "show", vid, "--json").output)
    assert shown["instructions"] == "ssh as outscale"
    assert shown["release_note"] == "first" and shown["software_version"] == "1.24"
    refused = cli("versions", "modify", vid, "--omi", "ami-5e11e002")
    assert refused.exit_code == 2
    assert "cannot change" in one_line_error(refused)


@pytest.mark.parametrize(
    "args, expected",
    [
        (("versions", "list", "nope"), "no product with product code 'nope'"),
        (("versions", "show", "ver-0000000000"), "no version"),
        (("versions", "publish", "0001", "--omi", OMI_NO_CODE, "--release-note", "x"), "R2"),
        (
            ("versions", "publish", "0001", "--omi", OMI_1, "--release-note", " "),
            "release note is required",
        ),
        (
            ("products", "add", "0009", "--name", "x", "--seller", "12", "--pricing", "free"),
            "not an OUTSCALE account ID",
        ),
    ],
)
def test_user_errors_exit_2_with_one_line_and_change_nothing(cli, args, expected) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    assert expected in one_line_error(result)
    assert json.loads(cli("versions", "list", "0001", "--json").output)["versions"] == []


def test_r7_refusal_exit_2(cli) -> None:
    cli("versions", "publish", "0001", "--omi", OMI_1, "--release-note", "only", "--wait")
    vid = json.loads(cli("versions", "list", "0001", "--json").output)["versions"][0]["id"]
    result = cli("versions", "unpublish", vid)
    assert result.exit_code == 2
    assert "only published version" in one_line_error(result)


def test_cloud_down_exits_1(cli, sandbox: SandboxServer) -> None:
    sandbox.stop()
    result = cli("omis", "list", "0001")
    assert result.exit_code == 1
    assert "could not be reached" in one_line_error(result)


def test_database_down_exits_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["versions", "list", "0001"],
        env={"OMI_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"},
    )
    assert result.exit_code == 1
    assert "database could not be used" in one_line_error(result)


def test_no_osc_credentials_is_a_clear_message(
    cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    monkeypatch.setenv("OSC_CONFIG_FILE", str(empty))
    result = cli("omis", "list", "0001")
    assert result.exit_code == 1
    assert "profile 'seller' could not be loaded" in one_line_error(result)


def test_migrations_match_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []

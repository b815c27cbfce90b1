"""The `omi-bot` CLI: the operations, its output, and its exit codes (0, 2 user error, 1 cloud
or infrastructure), never a traceback."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
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
        "OMI_ALLOW_DIRECT": "1",
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
        "--notice-days",
        "0",  # unpublishing at once needs a product without a notice period
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
        "--no-approval",
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
        "--no-approval",
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
        "--no-approval",
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
        (
            (
                "versions",
                "publish",
                "--no-approval",
                "0001",
                "--omi",
                OMI_NO_CODE,
                "--release-note",
                "x",
            ),
            "R2",
        ),
        (
            ("versions", "publish", "--no-approval", "0001", "--omi", OMI_1, "--release-note", " "),
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
    cli(
        "versions",
        "publish",
        "--no-approval",
        "0001",
        "--omi",
        OMI_1,
        "--release-note",
        "only",
        "--wait",
    )
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


def test_unpublish_on_a_date_shows_in_the_table_and_is_cancelled(cli) -> None:
    for omi in (OMI_1, "debian-12-nginx-1.26"):
        done = cli(
            "versions",
            "publish",
            "--no-approval",
            "0001",
            "--omi",
            omi,
            "--release-note",
            "n",
            "--wait",
        )
        assert done.exit_code == 0, done.stderr
    set_notice = cli("products", "set", "0001", "--notice-days", "14", "--reminder-days", "3")
    assert set_notice.exit_code == 0, set_notice.stderr
    assert "14 days' notice, reminders 3 day(s) before" in set_notice.output
    vid = json.loads(cli("versions", "list", "0001", "--json").output)["versions"][1]["id"]

    now = cli("versions", "unpublish", vid)
    assert now.exit_code == 2 and "14 days' notice" in one_line_error(now)
    bad = cli("versions", "unpublish", vid, "--on", "next week")
    assert bad.exit_code == 2 and "YYYY-MM-DD" in one_line_error(bad)
    today = datetime.now(UTC).date()
    soon = cli("versions", "unpublish", vid, "--on", (today + timedelta(days=13)).isoformat())
    assert soon.exit_code == 2 and "too soon" in one_line_error(soon)
    day = (today + timedelta(days=14)).isoformat()
    scheduled = cli("versions", "unpublish", vid, "--on", day)
    assert scheduled.exit_code == 0, scheduled.stderr
    assert f"will be unpublished on {day}" in scheduled.output

    text = cli("versions", "list", "0001").output
    assert f"published, unpublish on {day}" in text
    row = json.loads(cli("versions", "list", "0001", "--json").output)["versions"][1]
    assert row["status"] == "published" and row["unpublish_on"] == day
    assert row["schedule"]["state"] == "scheduled" and row["schedule"]["reminder_days"] == [3]
    shown = json.loads(cli("versions", "show", vid, "--json").output)
    assert shown["schedule"]["label"] == f"unpublish on {day}"

    cancelled = cli("versions", "cancel-unpublish", vid)
    assert cancelled.exit_code == 0, cancelled.stderr
    assert json.loads(cli("versions", "show", vid, "--json").output)["unpublish_on"] is None
    again = cli("versions", "cancel-unpublish", vid)
    assert again.exit_code == 2 and "No unpublication of version" in one_line_error(again)

    product_day = (today + timedelta(days=20)).isoformat()
    whole = cli("products", "unpublish", "0001", "--on", product_day)
    assert whole.exit_code == 0, whole.stderr
    rows = json.loads(cli("versions", "list", "0001", "--json").output)["versions"]
    assert {r["unpublish_on"] for r in rows} == {product_day}
    assert all(r["schedule"]["whole_product"] for r in rows)
    assert cli("products", "cancel-unpublish", "0001").exit_code == 0
    keep = cli("products", "set", "0001", "--keep-published", "3", "--reminder-days", "none")
    assert "reminders none day(s) before, keeps 3 published version(s)" in keep.output


def test_drift_check_exits_3_on_drift_and_repair_waits(cli, sandbox: SandboxServer) -> None:
    assert (
        cli(
            "versions",
            "publish",
            "--no-approval",
            "0001",
            "--omi",
            OMI_1,
            "--release-note",
            "n",
            "--wait",
        ).exit_code
        == 0
    )
    clean = cli("drift", "check")
    assert clean.exit_code == 0, clean.stderr
    assert "No drift: the cloud matches the Versions table (0001)." in clean.output
    row = json.loads(cli("versions", "list", "0001", "--json").output)["versions"][0]
    sandbox.sandbox.edit_image(row["omi_copy_id"], product_codes=[])
    found = cli("drift", "check", "0001")
    assert found.exit_code == 3
    assert "product_code (new)" in found.output and row["id"] in found.output
    listed = cli("drift", "check", "0001", "--json")
    assert listed.exit_code == 3
    (finding,) = json.loads(listed.output)
    assert finding["kind"] == "product_code" and finding["new"] is False
    fixed = cli("drift", "repair", "0001", "--wait")
    assert fixed.exit_code == 0, fixed.stderr
    assert "Queued 1 repair(s) on product 0001." in fixed.output and "Repaired." in fixed.output
    assert cli("drift", "check", "0001").exit_code == 0
    unknown = cli("drift", "check", "0404")
    assert unknown.exit_code == 2 and "no product" in one_line_error(unknown)
    assert "drift" in cli("--help").output

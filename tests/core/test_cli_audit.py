"""`omi-bot audit list` and the History of `versions show`: what the CLI's own operations leave
on record, filtered and formatted."""

from __future__ import annotations

import csv
import io
import json

from tests.conftest import OMI_1, OMI_2
from tests.core.test_cli import cli, one_line_error  # noqa: F401  (the fixture)


def _last_id(cli) -> str:  # noqa: F811
    listed = json.loads(cli("versions", "list", "0001", "--json").output)
    rows = listed["versions"] if isinstance(listed, dict) else listed
    return str(rows[0]["id"])


def events(cli, *args: str) -> list[dict]:  # noqa: F811
    done = cli("audit", "list", "--json", *args)
    assert done.exit_code == 0, done.stderr
    return [json.loads(line) for line in done.output.splitlines()]


def test_the_cli_leaves_its_operations_on_record(cli) -> None:  # noqa: F811
    first = _published(cli, OMI_1)
    second = _published(cli, OMI_2)
    assert cli("versions", "modify", first, "--release-note", "better").exit_code == 0
    assert cli("versions", "unpublish", first, "--wait").exit_code == 0
    mine = events(cli, "--version", first)
    assert [e["kind"] for e in mine] == [
        "version.publishing",
        "version.published",
        "version.modified",
        "version.unpublished",
        "copy.deleted",
    ]
    decided = [mine[i] for i in (0, 2, 3)]
    assert {e["source"] for e in decided} == {"cli"}
    assert all(e["actor_id"].startswith("cli:") for e in decided)
    assert {mine[i]["source"] for i in (1, 4)} == {"system"}  # the worker's outcomes
    assert mine[2]["detail"]["changes"] == {"release_note": ["note", "better"]}
    assert mine[2]["summary"] == "release_note: note → better"
    everything = events(cli, "--product", "0001")
    assert {e["version_id"] for e in everything} == {first, second}
    assert events(cli, "--product", "0002") == []
    assert events(cli, "--since", "2999-01-01") == []
    assert len(events(cli, "--since", everything[0]["at"][:10])) == len(everything)
    assert [e["id"] for e in events(cli, "--limit", "2")] == [e["id"] for e in everything[-2:]]


def _published(cli, omi: str) -> str:  # noqa: F811
    done = cli(
        "versions", "publish", "--no-approval", "0001", "--omi", omi, "--release-note", "note",
        "--wait",
    )
    assert done.exit_code == 0, done.stderr
    return _last_id(cli)


def test_table_and_csv(cli) -> None:  # noqa: F811
    vid = _published(cli, OMI_1)
    shown = cli("audit", "list")
    assert shown.exit_code == 0
    header, *rows = shown.output.splitlines()
    assert header.split()[:4] == ["ID", "WHEN", "KIND", "PRODUCT"]
    assert len(rows) == 2 and "version.publishing" in rows[0] and vid in rows[0]
    done = cli("audit", "list", "--csv", "--version", vid)
    parsed = list(csv.DictReader(io.StringIO(done.output)))
    assert [r["kind"] for r in parsed] == ["version.publishing", "version.published"]
    assert json.loads(parsed[0]["detail"])["omi"] == OMI_1
    assert parsed[0]["source"] == "cli"


def test_bad_input_is_one_line_and_exit_2(cli) -> None:  # noqa: F811
    bad = cli("audit", "list", "--since", "yesterday")
    assert bad.exit_code == 2 and "YYYY-MM-DD" in one_line_error(bad)
    both = cli("audit", "list", "--json", "--csv")
    assert both.exit_code == 2 and "one of --json and --csv" in one_line_error(both)
    assert cli("audit", "list").output.strip() == "No events."


def test_versions_show_has_the_history(cli) -> None:  # noqa: F811
    vid = _published(cli, OMI_1)
    assert cli("versions", "modify", vid, "--software-version", "9.9").exit_code == 0
    shown = cli("versions", "show", vid)
    assert shown.exit_code == 0
    history = shown.output.split("History:\n", 1)[1]
    lines = history.splitlines()
    assert "version.publishing" in lines[0] and "cli:" in lines[0]
    assert "version.published" in lines[1]
    assert "software_version: - → 9.9" in lines[2]
    data = json.loads(cli("versions", "show", vid, "--json").output)
    assert [e["kind"] for e in data["history"]] == [
        "version.publishing",
        "version.published",
        "version.modified",
    ]

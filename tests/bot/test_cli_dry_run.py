"""`omi-bot versions request … --dry-run`: every rule and the OMI in the cloud checked, the
preview printed, nothing written: no row in any table, no call that changes the cloud."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from commands import services
from commands.bootstrap import Core
from commands.model import Actor, VersionForm
from commands.preview import preview_publication
from commands.sandbox import SandboxServer
from storage.orm import metadata
from tests.bot.pipeline import Cli
from tests.conftest import OMI_1, OMI_2, OMI_NO_CODE

Drain = Callable[..., None]


def row_counts(core: Core) -> dict[str, int]:
    with core.db.engine.connect() as conn:
        return {
            table.name: int(conn.scalar(select(func.count()).select_from(table)) or 0)
            for table in metadata.sorted_tables
        }


def cloud_writes(sandbox: SandboxServer) -> list[str]:
    return [action for _, action, _ in sandbox.sandbox.calls if not action.startswith("Read")]


def test_a_dry_run_prints_the_preview_and_writes_nothing(
    cli: Cli, core: Core, subscribers: list[str], drain: Drain, sandbox: SandboxServer
) -> None:
    services.publish(
        core, "0001", VersionForm(omi=OMI_1, release_note="v1", software_version="1.24"),
        requested_by="UDEV",
    )  # fmt: skip
    drain()
    counts, writes, calls = row_counts(core), cloud_writes(sandbox), len(sandbox.sandbox.calls)
    result = cli(
        "versions", "request", "0001", "--omi", "debian-12-nginx-1.26",
        "--release-note", "Faster", "--requested-by", "ci", "--dry-run",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    preview = preview_publication(
        core, "0001", VersionForm(omi=OMI_2, release_note="Faster"), requested_by="cli:ci"
    )
    for lang in ("en", "fr"):
        mail = preview.notices[lang].mail
        assert f"Subject: {mail.subject}\n\n{mail.text.rstrip()}\n" in result.stdout
    assert f"Copy {OMI_2} (debian-12-nginx-1.26) from the seller account" in result.stdout
    assert "nothing was asked or written" in result.stderr
    assert len(sandbox.sandbox.calls) > calls  # the OMI was asked of the cloud (R2)
    assert row_counts(core) == counts and cloud_writes(sandbox) == writes


def test_a_dry_run_that_breaks_a_rule_says_which_and_exits_non_zero(
    cli: Cli, core: Core, subscribers: list[str], drain: Drain, sandbox: SandboxServer
) -> None:
    services.publish(core, "0001", VersionForm(omi=OMI_1, release_note="v1"), requested_by="U")
    drain()
    counts, writes = row_counts(core), cloud_writes(sandbox)
    for omi, said in (
        (OMI_NO_CODE, "(R2)"),
        (OMI_1, "(R5)"),
    ):
        result = cli(
            "versions", "request", "0001", "--omi", omi, "--release-note", "x", "--dry-run"
        )
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and said in lines[0] and "Traceback" not in result.output
        assert "Mail (en)" not in result.stdout
    assert row_counts(core) == counts and cloud_writes(sandbox) == writes
    assert services.awaiting_approval(core, Actor.slack_user("URM1")) == []

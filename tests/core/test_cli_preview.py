"""`omi-bot versions preview REQUEST_ID`: the preview in a terminal, the same as in Slack."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import main
from commands import services
from commands.bootstrap import Core
from commands.model import Actor, VersionForm
from commands.preview import preview_request
from tests.conftest import OMI_1, OMI_2, SUB_A

Drain = Callable[..., None]


@pytest.fixture
def cli(
    database_url: str, osc_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    env = {
        "OMI_DATABASE_URL": database_url,
        "OMI_SELLER_PROFILE": "seller",
        "OMI_DISTRIBUTION_PROFILE": "distribution",
        "OMI_MAILDIR": str(tmp_path / "mail"),
        "OMI_OSC_RATE_LIMIT": "1000",
        "OMI_OSC_MAX_RETRIES": "1",
        "OMI_OSC_RETRY_BACKOFF": "0.01",
        "OMI_SHARE_BATCH_SIZE": "1",
        "OMI_DEBUG": "",
    }
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    return run


@pytest.fixture
def request_id(core: Core, subscribers: list[str], drain: Drain) -> int:
    services.publish(
        core, "0001", VersionForm(omi=OMI_1, release_note="v1", software_version="1.24"),
        requested_by="UDEV",
    )  # fmt: skip
    drain()
    form = VersionForm(omi=OMI_2, software_version="1.26", release_note="Faster\nand safer")
    return services.request_publication(core, "0001", form, requested_by="UDEV").id


def test_the_preview_prints_the_mails_as_rendered_in_each_language(
    cli: Callable[..., Result], core: Core, request_id: int
) -> None:
    shown = cli("versions", "preview", str(request_id))
    assert shown.exit_code == 0, shown.stderr
    out = shown.output
    preview = preview_request(core, request_id, by=Actor.cli_operator("cli:test"))
    for lang in ("en", "fr"):
        mail = preview.notices[lang].mail
        assert f"Subject: {mail.subject}\n\n{mail.text.rstrip()}\n" in out
        assert f"Slack announcement ({lang}), to 1 channel(s)" in out
    assert "Software version: 1.24 -> 1.26" in out
    # OMI_SHARE_BATCH_SIZE=1: two subscriber accounts, two calls.
    assert "Share the copy with 2 subscriber account(s) in 2 UpdateImage call(s)" in out
    assert "Acme (fr): 1 account(s), 2 address(es), 1 channel(s)" in out
    assert SUB_A not in out  # the list is on demand

    french = cli("versions", "preview", str(request_id), "--lang", "fr", "--recipients")
    assert french.exit_code == 0, french.stderr
    assert "Mail (fr)" in french.output and "Mail (en)" not in french.output
    assert f"accounts: {SUB_A}" in french.output
    assert "mail:     admin@acme.example, ops@acme.example" in french.output


def one_line_error(result: Result) -> str:
    assert "Traceback" not in result.output + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_preview_of_what_cannot_be_previewed_is_one_line(
    cli: Callable[..., Result], core: Core, request_id: int
) -> None:
    missing = cli("versions", "preview", "999")
    assert missing.exit_code == 2
    assert one_line_error(missing) == "omi-bot: There is no request 999."
    services.reject(core, request_id, by=Actor.slack_user("URM1"), reason="no")
    decided = cli("versions", "preview", str(request_id))
    assert decided.exit_code == 2
    assert "was already rejected" in one_line_error(decided)
    bad = cli("versions", "preview", str(request_id), "--lang", "de")
    assert bad.exit_code == 2 and "Traceback" not in bad.output

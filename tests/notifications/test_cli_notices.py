"""`omi-bot mail`, `organizations`, `subscribers` and `catalog`: output, exit codes (0, and 2
for bad input with one line on stderr and nothing changed), never a traceback."""

from __future__ import annotations

import json
import mailbox
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import main
from commands import services
from commands.bootstrap import Core
from commands.model import OutboxState, VersionForm
from commands.sandbox import SandboxServer
from tests.conftest import OMI_1, SUB_A, SUB_B, SUB_C
from tests.notifications.smtp_server import SmtpTestServer

Drain = Callable[..., None]
Cli = Callable[..., Result]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "catalog.toml"


@pytest.fixture
def env(database_url: str, osc_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # no stray .env is read; the default Maildir lands here
    for name in ("OMI_SMTP_URL", "OMI_MAIL_FROM", "OMI_MAILDIR"):
        monkeypatch.delenv(name, raising=False)
    return {
        "OMI_DATABASE_URL": database_url,
        "OMI_SELLER_PROFILE": "seller",
        "OMI_DISTRIBUTION_PROFILE": "distribution",
        "OMI_RETRY_BASE_SECONDS": "0.05",
        "OMI_DEBUG": "",
    }


@pytest.fixture
def cli(env: dict[str, str]) -> Cli:
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    return run


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.stderr
    return result.output


def one_line_error(result: Result) -> str:
    assert result.exit_code == 2, (result.output, result.stderr)
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("omi-bot: ")
    return lines[0]


def published(core: Core, drain: Drain) -> str:
    form = VersionForm(omi=OMI_1, release_note="note", software_version="1.24")
    vid = services.publish(core, "0001", form, requested_by="U1").id
    drain()
    return vid


# -- organizations and subscribers ---------------------------------------------------------


def test_organizations_add_update_and_list(cli: Cli) -> None:
    out = ok(cli("organizations", "add", "Acme", "--language", "fr", "--admin", "a@acme.example"))
    assert "Added organization Acme (fr)" in out
    out = ok(
        cli(
            "organizations", "add", "Acme", "--language", "FR",
            "--admin", "a@acme.example", "--admin", "b@acme.example",
        )
    )  # fmt: skip
    assert "Updated organization Acme (fr)" in out
    listed = json.loads(ok(cli("organizations", "list", "--json")))
    assert listed == [
        {"name": "Acme", "language": "fr", "admins": ["a@acme.example", "b@acme.example"]}
    ]
    assert "a@acme.example, b@acme.example" in ok(cli("organizations", "list"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--language", "de", "--admin", "a@x.example"], "'en' or 'fr', not 'de'"),
        (["--language", "en", "--admin", "not an address"], "is not an email address"),
    ],
)
def test_organizations_bad_input_changes_nothing(cli: Cli, args: list[str], message: str) -> None:
    assert message in one_line_error(cli("organizations", "add", "Acme", *args))
    assert ok(cli("organizations", "list")).strip() == "No organization."


def test_subscribers_add_list_subscribe_unsubscribe_remove(cli: Cli, product: str) -> None:
    ok(cli("organizations", "add", "Acme", "--language", "fr", "--admin", "a@acme.example"))
    out = ok(
        cli(
            "subscribers", "add", SUB_A, "--organization", "Acme", "--email", "ops@acme.example",
            "--slack-channel", "CACME", "--product", "0001",
        )
    )  # fmt: skip
    assert f"Added subscriber {SUB_A} (Acme, ops@acme.example); subscribed to 0001." in out
    listed = json.loads(ok(cli("subscribers", "list", "--product", "0001", "--json")))
    assert listed == [
        {
            "account_id": SUB_A,
            "organization": "Acme",
            "email": "ops@acme.example",
            "slack_channel": "CACME",
            "products": ["0001"],
        }
    ]
    assert "already subscribed" in ok(cli("subscribers", "subscribe", SUB_A, "0001"))
    assert f"Unsubscribed {SUB_A} from product 0001." in ok(
        cli("subscribers", "unsubscribe", SUB_A, "0001")
    )
    assert ok(cli("subscribers", "list", "--product", "0001")).strip() == "No subscriber."
    assert f"Subscribed {SUB_A} to product 0001." in ok(
        cli("subscribers", "subscribe", SUB_A, "0001")
    )
    assert f"Removed subscriber {SUB_A}; unsubscribed from 0001." in ok(
        cli("subscribers", "remove", SUB_A)
    )
    assert ok(cli("subscribers", "list")).strip() == "No subscriber."
    assert "no subscriber" in one_line_error(cli("subscribers", "remove", SUB_A))
    assert "no subscriber" in one_line_error(cli("subscribers", "unsubscribe", SUB_A, "0001"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--organization", "Nope", "--email", "a@b.example"], "no organization 'Nope'"),
        (["--organization", "Acme", "--email", "nope"], "is not an email address"),
        (
            ["--organization", "Acme", "--email", "a@b.example", "--product", "9999"],
            "no product with product code '9999'",
        ),
        (
            ["--organization", "Acme", "--email", "a@b.example", "--slack-channel", "#general"],
            "not a Slack channel ID",
        ),
    ],
)
def test_subscribers_bad_input_changes_nothing(
    cli: Cli, product: str, args: list[str], message: str
) -> None:
    ok(cli("organizations", "add", "Acme", "--language", "fr", "--admin", "a@acme.example"))
    assert message in one_line_error(cli("subscribers", "add", SUB_A, *args))
    assert ok(cli("subscribers", "list")).strip() == "No subscriber."


def test_a_subscriber_added_to_a_product_can_launch_its_published_copies(
    cli: Cli, core: Core, product: str, drain: Drain, sandbox: SandboxServer
) -> None:
    vid = published(core, drain)
    copy_id = str(services.show_version(core, vid).version.copy_id)
    ok(cli("organizations", "add", "Acme", "--language", "fr", "--admin", "a@acme.example"))
    ok(
        cli(
            "subscribers", "add", SUB_C, "--organization", "Acme",
            "--email", "c@acme.example", "--product", "0001",
        )
    )  # fmt: skip
    drain()
    image = sandbox.sandbox.image(copy_id)
    assert image is not None and SUB_C in image["PermissionsToLaunch"]["AccountIds"]
    ok(cli("subscribers", "remove", SUB_C))
    drain()
    image = sandbox.sandbox.image(copy_id)
    assert image is not None and SUB_C not in image["PermissionsToLaunch"]["AccountIds"]


# -- mail ---------------------------------------------------------------------------------------


def test_mail_send_list_retry_and_versions_show(
    cli: Cli,
    env: dict[str, str],
    core: Core,
    subscribers: list[str],
    drain: Drain,
    smtp_server: SmtpTestServer,
) -> None:
    vid = published(core, drain)
    assert ok(cli("mail", "list", "--failed")).strip() == "No failed mail."
    env["OMI_SMTP_URL"] = smtp_server.url
    env["OMI_MAIL_FROM"] = "Marketplace <noreply@market.example>"
    smtp_server.refuse_recipient("it@globex.example", 550)
    assert ok(cli("mail", "send")).strip() == "3 sent, 0 to retry later, 1 failed."
    assert {m.message["From"] for m in smtp_server.messages} == {
        "Marketplace <noreply@market.example>"
    }
    assert re.search(r"^Mails +3 sent, 1 failed, 0 queued$", ok(cli("versions", "show", vid)), re.M)

    # The Message-IDs belong to the sender's domain, as the mails list them.
    assert {m.message["Message-ID"].split("@")[1] for m in smtp_server.messages} == {
        "market.example>"
    }
    failed = json.loads(ok(cli("mail", "list", "--failed", "--json")))
    assert [m["recipient"] for m in failed] == ["it@globex.example"]
    assert failed[0]["message_id"].endswith("@market.example>")
    assert failed[0]["state"] == "failed" and "550" in failed[0]["last_error"]
    table = ok(cli("mail", "list"))
    assert table.count("\n") == 5 and "550 5.1.1" in table  # header and four mails
    every = json.loads(ok(cli("mail", "list", "--json")))
    assert sorted(m["state"] for m in every) == ["failed", "sent", "sent", "sent"]

    mail_id = str(failed[0]["id"])
    assert "will be sent again" in ok(cli("mail", "retry", mail_id))
    assert "only a failed mail" in one_line_error(cli("mail", "retry", mail_id))
    with SmtpTestServer() as fixed:  # the recipient exists now
        env["OMI_SMTP_URL"] = fixed.url
        assert ok(cli("mail", "send")).strip() == "1 sent, 0 to retry later, 0 failed."
        assert [m.rcpt_tos for m in fixed.messages] == [("it@globex.example",)]
    assert ok(cli("mail", "send")).strip() == "No mail is due."
    assert ok(cli("mail", "list", "--failed")).strip() == "No failed mail."
    assert re.search(r"^Mails +4 sent, 0 failed, 0 queued$", ok(cli("versions", "show", vid)), re.M)


@pytest.mark.parametrize(("mail_id", "message"), [("999", "no mail 999"), ("abc", "not a mail ID")])
def test_mail_retry_of_an_unknown_mail(cli: Cli, mail_id: str, message: str) -> None:
    assert message in one_line_error(cli("mail", "retry", mail_id))


def test_mail_goes_to_the_maildir_without_smtp_url(
    cli: Cli, core: Core, subscribers: list[str], drain: Drain, tmp_path: Path
) -> None:
    published(core, drain)
    assert ok(cli("mail", "send")).strip() == "4 sent, 0 to retry later, 0 failed."
    box = mailbox.Maildir(tmp_path / "mail", create=False)  # ./mail, the documented default
    assert len(box) == 4
    assert {str(m["From"]) for m in box} == {"omi-bot <omi-bot@localhost>"}


def test_mail_send_with_a_bad_smtp_url_says_so_and_keeps_the_mails(
    cli: Cli, env: dict[str, str], core: Core, subscribers: list[str], drain: Drain
) -> None:
    published(core, drain)
    env["OMI_SMTP_URL"] = "smtp://me:s3cret@mail.example:nope"
    line = one_line_error(cli("mail", "send"))
    assert "OMI_SMTP_URL" in line and "s3cret" not in line
    with core.uow() as uow:
        assert {i.state for i in uow.outbox.list(channel="email")} == {OutboxState.PENDING}


# -- catalog ------------------------------------------------------------------------------------


def test_the_example_catalog_applies_once(cli: Cli, tmp_path: Path) -> None:
    first = ok(cli("catalog", "apply", str(EXAMPLE)))
    assert "added product 0001 (Nginx on Debian)" in first
    assert "added product 0002 (PostgreSQL on Rocky)" in first
    assert "added organization Acme (fr)" in first
    assert f"subscribed {SUB_A} to product 0002" in first
    assert ok(cli("catalog", "apply", str(EXAMPLE))).strip() == "Nothing to change."
    subs = json.loads(ok(cli("subscribers", "list", "--json")))
    assert {s["account_id"]: s["products"] for s in subs} == {
        SUB_A: ["0001", "0002"],
        SUB_B: ["0001"],
    }
    orgs = {
        o["name"]: o["language"] for o in json.loads(ok(cli("organizations", "list", "--json")))
    }
    assert orgs == {"Acme": "fr", "Globex": "en"}

    changed = tmp_path / "changed.toml"
    changed.write_text(
        EXAMPLE.read_text()
        .replace('language = "fr"', 'language = "en"')
        .replace('name = "PostgreSQL on Rocky"', 'name = "PostgreSQL 16 on Rocky"')
    )
    out = ok(cli("catalog", "apply", str(changed)))
    assert out.splitlines() == [
        "updated product 0002: name",
        "updated organization Acme: language",
        "2 change(s).",
    ]
    assert ok(cli("catalog", "apply", str(changed))).strip() == "Nothing to change."


BAD_CATALOGS = {
    "not TOML": ("[[products]\n", "is not valid TOML"),
    "unknown section": ("[[product]]\ncode = '1'\n", "unknown section 'product'"),
    "unknown key": (
        "[[organizations]]\nname='A'\nlanguage='en'\nadmins=['a@a.example']\nadmin='x'\n",
        "organizations[2]: unknown key 'admin'",
    ),
    "bad pricing": (
        "[[products]]\ncode='0009'\nname='X'\nseller_account_id='111111111111'\npricing='cheap'\n",
        "products[1] (0009): pricing must be one of",
    ),
    "bad language": (
        "[[organizations]]\nname='A'\nlanguage='de'\nadmins=['a@a.example']\n",
        "organizations[2] (A): language is 'en' or 'fr', not 'de'",
    ),
    "bad email": (
        "[[organizations]]\nname='A'\nlanguage='en'\nadmins=['nobody']\n",
        "organizations[2] (A): 'nobody' is not an email address",
    ),
    "unknown organization": (
        "[[subscribers]]\naccount_id='333333333333'\norganization='Nope'\nemail='a@a.example'\n",
        "subscriber 333333333333: there is no organization 'Nope'",
    ),
    "unknown product": (
        "[[organizations]]\nname='A'\nlanguage='en'\nadmins=['a@a.example']\n"
        "[[subscribers]]\naccount_id='333333333333'\norganization='A'\nemail='a@a.example'\n"
        "products=['0404']\n",
        "there is no product '0404'",
    ),
    "twice": (
        "[[organizations]]\nname='A'\nlanguage='en'\nadmins=['a@a.example']\n" * 2,
        "organizations: 'A' is listed twice",
    ),
    "bad account": (
        "[[subscribers]]\naccount_id='42'\norganization='A'\nemail='a@a.example'\n",
        "'42' is not an OUTSCALE account ID",
    ),
    "wrong type": ("[[products]]\ncode=1\n", "products[1]: 'code' must be a string"),
    "bad notice": (
        "[[products]]\ncode='0009'\nname='X'\nseller_account_id='111111111111'\npricing='free'\n"
        "notice_days=-1\n",
        "products[1] (0009): The notice period is 0 to 365 days, not -1.",
    ),
    "notice not a number": (
        "[[products]]\ncode='0009'\nname='X'\nseller_account_id='111111111111'\npricing='free'\n"
        "notice_days='30'\n",
        "products[1]: 'notice_days' must be a whole number",
    ),
    "bad reminders": (
        "[[products]]\ncode='0009'\nname='X'\nseller_account_id='111111111111'\npricing='free'\n"
        "reminder_days=[7, 0]\n",
        "Reminders are sent 1 to 365 days before the date.",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CATALOGS))
def test_a_bad_catalog_is_one_line_naming_the_file_and_changes_nothing(
    cli: Cli, tmp_path: Path, case: str
) -> None:
    # A valid start: a bad entry later in the file must not leave the first ones applied.
    content, message = BAD_CATALOGS[case]
    path = tmp_path / "bad.toml"
    path.write_text(
        "[[organizations]]\nname='First'\nlanguage='en'\nadmins=['f@first.example']\n" + content
    )
    if case == "not TOML":
        path.write_text(content)
    line = one_line_error(cli("catalog", "apply", str(path)))
    assert line.startswith(f"omi-bot: {path}: "), line
    assert message in line
    assert ok(cli("organizations", "list")).strip() == "No organization."


def test_a_catalog_that_does_not_exist(cli: Cli, tmp_path: Path) -> None:
    line = one_line_error(cli("catalog", "apply", str(tmp_path / "nope.toml")))
    assert "nope.toml: cannot be read" in line


def test_a_catalog_cannot_move_a_product_with_versions_to_another_seller(
    cli: Cli, core: Core, subscribers: list[str], drain: Drain, tmp_path: Path
) -> None:
    published(core, drain)
    path = tmp_path / "moved.toml"
    shutil.copy(EXAMPLE, path)
    path.write_text(path.read_text().replace('"111111111111"', '"999999999999"', 1))
    line = one_line_error(cli("catalog", "apply", str(path)))
    assert "seller account cannot change" in line
    assert "Acme" in ok(cli("organizations", "list"))  # the fixture's, untouched
    assert "Globex" in ok(cli("organizations", "list"))
    assert "PostgreSQL" not in ok(cli("products", "list"))


def test_the_catalog_sets_notice_reminders_and_retention(cli: Cli, tmp_path: Path) -> None:
    ok(cli("catalog", "apply", str(EXAMPLE)))
    shown = ok(cli("products", "set", "0002"))
    assert "30 days' notice, reminders 7, 1 day(s) before, keeps 3 published" in shown
    assert "0 days' notice" in ok(cli("products", "set", "0001"))
    changed = tmp_path / "changed.toml"
    changed.write_text(
        EXAMPLE.read_text()
        .replace("notice_days = 30", "notice_days = 45")
        .replace("keep_published = 3", "keep_published = 0")
    )
    out = ok(cli("catalog", "apply", str(changed)))
    assert out.splitlines()[0] == "updated product 0002: notice_days, keep_published"
    assert "45 days' notice" in ok(cli("products", "set", "0002"))
    assert "keeps every published version" in ok(cli("products", "set", "0002"))
    assert ok(cli("catalog", "apply", str(changed))).strip() == "Nothing to change."

"""The deployment files in deploy/: the compose file sets only variables omi-bot reads and every
one it needs, with secrets left to the environment; the Dockerfile passes hadolint; the systemd
units pass `systemd-analyze verify`. Containers are not built here (no container engine on the
test machines): docs/operations.md says what was not run."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import osc_sdk_python.credentials
import pytest
import yaml
from click.testing import CliRunner

from cli.main import main
from commands.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# Names passed to env.get / environ.get / os.getenv / _float(env, ...) / required(...).
READ = re.compile(r"(?:\.get|getenv|_float|required)\(\s*(?:env,\s*)?\"([A-Z][A-Z0-9_]+)\"")
SECRETS = {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "OMI_SMTP_URL"}
OMI_SERVICES = ("migrate", "bot", "worker")


def variables_read() -> set[str]:
    """Every environment variable omi-bot's code reads, and those osc-sdk-python reads."""
    sources = [p for d in ("bot", "cli", "commands", "storage") for p in (ROOT / d).rglob("*.py")]
    sources.append(Path(osc_sdk_python.credentials.__file__))
    return {name for path in sources for name in READ.findall(path.read_text())}


def required_by_serve() -> set[str]:
    return set(re.findall(r'required\("([A-Z_]+)"\)', (ROOT / "bot" / "app.py").read_text()))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_the_scan_finds_what_the_code_reads() -> None:
    read = variables_read()
    assert {"OMI_DATABASE_URL", "OMI_SHUTDOWN_SECONDS", "SLACK_BOT_TOKEN", "PORT"} <= read
    assert {"OSC_CONFIG_FILE", "OMI_DRIFT_INTERVAL_SECONDS"} <= read
    assert required_by_serve() == {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"}


def test_compose_sets_only_what_omi_bot_reads_and_all_it_needs(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"db", "migrate", "bot", "worker"}
    read = variables_read()
    for name in OMI_SERVICES:
        env = services[name]["environment"]
        unknown = set(env) - read
        assert not unknown, f"{name} sets variables omi-bot never reads: {unknown}"
        # Every process on the one PostgreSQL database, never a SQLite file of its own.
        assert env["OMI_DATABASE_URL"].startswith("postgresql+psycopg://"), name
    assert required_by_serve() <= set(services["bot"]["environment"])
    assert "SLACK_BOT_TOKEN" in services["worker"]["environment"]  # announcements
    assert services["bot"]["environment"]["OSC_CONFIG_FILE"] == "/etc/omi-bot/osc-config.json"


def test_compose_keeps_secrets_in_the_environment(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        for name, value in (service.get("environment") or {}).items():
            if name in SECRETS or "PASSWORD" in name:
                assert re.fullmatch(r"\$\{[A-Z_]+(:[?-][^}]*)?\}", str(value)), (name, value)
            if name == "OMI_DATABASE_URL":
                assert "${POSTGRES_PASSWORD}" in value
    example = (DEPLOY / "example.env").read_text()
    listed = set(re.findall(r"^([A-Z_]+)=", example, re.M))
    demanded = set(re.findall(r"\$\{([A-Z_]+):\?", (DEPLOY / "compose.yaml").read_text()))
    assert demanded <= listed
    assert not re.search(r"^(POSTGRES_PASSWORD|SLACK_[A-Z_]+)=\S", example, re.M)


def test_compose_runs_the_migrations_first_and_stops_in_time(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert CliRunner().invoke(main, ["db", "upgrade", "--help"]).exit_code == 0
    for name in ("bot", "worker"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}
        }
        grace = int(str(services[name]["stop_grace_period"]).rstrip("s"))
        assert grace > Settings.shutdown_seconds
    assert services["bot"]["command"][0] == "serve"
    assert services["worker"]["command"] == ["worker"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"


def test_dockerfile_passes_hadolint_and_runs_serve_as_non_root() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    linted = subprocess.run(
        [str(hadolint), "--no-color", str(DEPLOY / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert linted.returncode == 0 and linted.stdout == "", linted.stdout + linted.stderr
    text = (DEPLOY / "Dockerfile").read_text()
    (user,) = re.findall(r"^USER (\S+)$", text, re.M)
    assert user.split(":")[0] not in ("0", "root")
    assert re.search(r'^ENTRYPOINT \["omi-bot"\]$', text, re.M)
    assert re.search(r'^CMD \["serve"\]$', text, re.M)
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", text, re.M)
    assert re.findall(r"^FROM (\S+)", text, re.M) == ["python:3.12-slim", "python:3.12-slim"]
    # Every package pyproject.toml ships is copied into the build.
    for package in ("bot", "cli", "commands", "storage"):
        assert re.search(rf"^COPY {package} {package}$", text, re.M), package


@pytest.mark.parametrize("unit", ["omi-bot.service", "omi-bot-worker.service"])
def test_systemd_unit_verifies(unit: str, tmp_path: Path) -> None:
    text = (DEPLOY / unit).read_text()
    verb = "serve" if unit == "omi-bot.service" else "worker"
    assert re.search(rf"^ExecStart=/opt/omi-bot/\.venv/bin/omi-bot {verb}$", text, re.M)
    assert re.search(r"^ExecStartPre=/opt/omi-bot/\.venv/bin/omi-bot db upgrade$", text, re.M)
    (stop,) = re.findall(r"^TimeoutStopSec=(\d+)$", text, re.M)
    assert int(stop) > Settings.shutdown_seconds
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    # verify checks that the commands exist: point them at this checkout's omi-bot.
    local = tmp_path / unit
    local.write_text(
        text.replace("/opt/omi-bot/.venv/bin/omi-bot", str(Path(sys.executable).parent / "omi-bot"))
    )
    checked = subprocess.run(
        [analyze, "verify", str(local)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0 and checked.stderr == "", checked.stderr

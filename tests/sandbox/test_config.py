"""Loading accounts files, the demo set, and the ``main`` entry point of ``omi-bot sandbox``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from osc_sdk_python import Gateway

from commands.sandbox import DEMO_ACCOUNTS, Sandbox, SandboxConfigError, SandboxServer, demo
from tests.processes import interruptible
from tests.sandbox._support import Client

ROOT = Path(__file__).resolve().parents[2]

ACCOUNT = {
    "account_id": "123456789012",
    "access_key": "FILEACCESSKEY0000001",
    "secret_key": "file-secret",
    "email": "ops@example.com",
}
IMAGE = {
    "account_id": "123456789012",
    "image_id": "ami-1234abcd",
    "image_name": "my-omi-1.0",
    "product_codes": ["0042"],
    "global_permission": False,
    "state": "available",
}


def write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "accounts.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_from_file_serves_its_accounts_and_images(
    tmp_path: Path, gateway: Gateway, osc_config: Path
) -> None:
    path = write(tmp_path, {"accounts": [ACCOUNT], "images": [IMAGE]})
    with SandboxServer(Sandbox.from_file(path, copy_delay=0.1)) as server:
        client = Client(gateway, server.url, ACCOUNT)
        (image,) = client.ReadImages()["Images"]
        assert (image["ImageId"], image["ImageName"], image["ProductCodes"]) == (
            "ami-1234abcd",
            "my-omi-1.0",
            ["0042"],
        )
        assert client.ReadAccounts()["Accounts"][0]["Email"] == "ops@example.com"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{oops", "not valid JSON"),
        ({"images": []}, '"accounts" list'),
        ({"accounts": [{**ACCOUNT, "account_id": "42"}]}, "12 digits"),
        ({"accounts": [{**ACCOUNT, "secret_key": ""}]}, "secret_key"),
        ({"accounts": [ACCOUNT, ACCOUNT]}, "duplicate account_id"),
        ({"accounts": [ACCOUNT], "images": [{**IMAGE, "image_id": "img-1"}]}, "image_id"),
        ({"accounts": [ACCOUNT], "images": [{**IMAGE, "state": "gone"}]}, "state"),
        (
            {"accounts": [ACCOUNT], "images": [IMAGE, {**IMAGE, "image_id": "ami-1234abce"}]},
            "named",
        ),
        ({"accounts": [ACCOUNT], "images": [{**IMAGE, "product_codes": "0042"}]}, "product_codes"),
    ],
)
def test_bad_accounts_file_says_what_is_wrong(tmp_path: Path, content: Any, message: str) -> None:
    with pytest.raises(SandboxConfigError, match=message):
        Sandbox.from_file(write(tmp_path, content))


def test_missing_accounts_file(tmp_path: Path) -> None:
    with pytest.raises(SandboxConfigError, match="cannot read"):
        Sandbox.from_file(tmp_path / "nope.json")


def test_demo_table_in_the_docstring_matches_the_demo_accounts() -> None:
    doc = demo.__doc__ or ""
    for account in DEMO_ACCOUNTS:
        row = next(line for line in doc.splitlines() if account["account_id"] in line)
        assert account["access_key"] in row
        assert account["secret_key"] in row
        assert account["email"].split("@")[0] + "@" in doc
    for image in demo.DEMO_IMAGES:
        row = next(line for line in doc.splitlines() if image["image_id"] in line)
        assert image["image_name"] in row
        assert image["account_id"] in row
        assert (", ".join(image["product_codes"]) or "(none)") in row


def run_main(*args: str) -> subprocess.Popen[str]:
    code = (
        "import sys; from commands.sandbox import main; "
        "main(sys.argv[1], int(sys.argv[2]), sys.argv[3] or None, 0.1)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )


def banner_of(process: subprocess.Popen[str]) -> str:
    """Read the startup banner, which ends with the Ctrl-C hint."""
    assert process.stdout is not None
    lines = []
    while not lines or not lines[-1].startswith("Ctrl-C"):
        line = process.stdout.readline()
        assert line, "the sandbox exited before printing its banner"
        lines.append(line)
    return "".join(lines)


def test_main_prints_where_it_listens_and_stops_on_ctrl_c() -> None:
    process = run_main("127.0.0.1", "0", "")
    banner = banner_of(process)
    assert banner.startswith("OUTSCALE sandbox listening on http://127.0.0.1:")
    assert "/api/v1" in banner.splitlines()[0]
    assert "export OSC_ENDPOINT_API=http://127.0.0.1:" in banner
    assert "SELLERACCESSKEY0001" in banner
    assert "seller-secret-key-demo" in banner  # documented demo secrets only
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "stopped" in out
    assert "Traceback" not in err


def test_main_with_bad_accounts_file_exits_with_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, {"accounts": [{**ACCOUNT, "account_id": "x"}]})
    process = run_main("127.0.0.1", "0", str(path))
    out, err = process.communicate(timeout=20)
    assert process.returncode == 2
    assert out == ""
    assert err.count("\n") == 1 and "12 digits" in err


def test_main_never_prints_secrets_from_an_accounts_file(tmp_path: Path) -> None:
    path = write(tmp_path, {"accounts": [ACCOUNT]})
    process = run_main("127.0.0.1", "0", str(path))
    banner = banner_of(process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    assert "FILEACCESSKEY0000001" in banner
    assert "file-secret" not in banner + out + err

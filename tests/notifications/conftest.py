from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.notifications.smtp_server import SmtpTestServer, make_self_signed_cert


@pytest.fixture
def smtp_server() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(cert.pem, key.pem), self-signed for 127.0.0.1, made once per test session."""
    files = make_self_signed_cert(tmp_path_factory.mktemp("tls"))
    if files is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    return files

"""Fixtures: one sandbox server and one osc-sdk-python Gateway for the whole session.

Every test starts from the demo state (``Sandbox.reset``) with a short copy delay.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from osc_sdk_python import Gateway
from osc_sdk_python.credentials import Endpoint

from commands.sandbox import Sandbox, SandboxServer
from tests.sandbox._support import DISTRIBUTION, REGION, SELLER, SUB_A, SUB_B, Client

COPY_DELAY = 0.05


@pytest.fixture(scope="session")
def osc_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # Keep the developer's OSC_* variables and ~/.osc/config.json (which could switch the SDK
    # to login/password auth or another endpoint) out of the tests.
    path = tmp_path_factory.mktemp("osc") / "config.json"
    path.write_text(json.dumps({"default": {}}))
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("OSC_")]:
            mp.delenv(name)
        mp.setenv("OSC_CONFIG_FILE", str(path))
        yield path


@pytest.fixture(scope="session")
def server(osc_config: Path) -> Iterator[SandboxServer]:
    srv = SandboxServer(Sandbox.demo(copy_delay=COPY_DELAY)).start()
    yield srv
    srv.stop()


@pytest.fixture
def sandbox(server: SandboxServer) -> Iterator[Sandbox]:
    server.sandbox.reset()
    server.sandbox.copy_delay = COPY_DELAY
    yield server.sandbox
    server.sandbox.release()


@pytest.fixture(scope="session")
def gateway(server: SandboxServer) -> Gateway:
    return Gateway(
        access_key=SELLER["access_key"],
        secret_key=SELLER["secret_key"],
        region=REGION,
        endpoints=Endpoint(api=server.url),
        # Fast retries so the 5xx/429 tests do not sleep for seconds; no client-side throttle.
        max_retries=3,
        retry_backoff_factor=0.01,
        retry_backoff_jitter=0.0,
        retry_backoff_max=0.05,
        limiter_max_requests=100_000,
    )


@pytest.fixture
def seller(gateway: Gateway, server: SandboxServer, sandbox: Sandbox) -> Client:
    return Client(gateway, server.url, SELLER)


@pytest.fixture
def distribution(gateway: Gateway, server: SandboxServer, sandbox: Sandbox) -> Client:
    return Client(gateway, server.url, DISTRIBUTION)


@pytest.fixture
def sub_a(gateway: Gateway, server: SandboxServer, sandbox: Sandbox) -> Client:
    return Client(gateway, server.url, SUB_A)


@pytest.fixture
def sub_b(gateway: Gateway, server: SandboxServer, sandbox: Sandbox) -> Client:
    return Client(gateway, server.url, SUB_B)

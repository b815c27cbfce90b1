"""The cloud the random operations run against: the demo accounts, and OMIs enough for many
versions of three products (a version needs an OMI of its own, R5)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from commands.sandbox import DEMO_ACCOUNTS, Sandbox, SandboxServer
from tests.conftest import SELLER

# pricing decides how copies are shared: with the subscriber accounts, or public (free, BYOL);
# notice days whether a version may be unpublished at once (0) or only on a date that far.
PRODUCTS = {"0001": "hourly", "0002": "free", "0003": "yearly"}
NOTICE_DAYS = {"0001": 0, "0002": 0, "0003": 3}
REMINDER_DAYS = [2, 1]
OMIS_PER_PRODUCT = 5


def omi_id(code: str, index: int) -> str:
    return f"ami-{code}{index:04x}"


IMAGES = [
    {
        "account_id": SELLER,
        "image_id": omi_id(code, index),
        "image_name": f"image-{code}-{index}",
        "product_codes": [code],
    }
    for code in PRODUCTS
    for index in range(OMIS_PER_PRODUCT)
] + [
    # Neither may be published: no product code; another account's public OMI.
    {"account_id": SELLER, "image_id": "ami-0000ffff", "image_name": "no-code"},
    {
        "account_id": "999999999999",
        "image_id": "ami-9999ffff",
        "image_name": "someone-else",
        "product_codes": ["0001"],
        "global_permission": True,
    },
]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    cloud = Sandbox(DEMO_ACCOUNTS, IMAGES, copy_delay=0)
    server = SandboxServer(cloud).start()
    yield server
    server.stop()

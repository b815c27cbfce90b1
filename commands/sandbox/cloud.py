"""The sandbox cloud's objects: accounts and OMIs as OUTSCALE shows them, and the names and
identifiers it accepts."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

REGION = "eu-west-2"
# Region names OUTSCALE serves (the spec's server enum): naming one of them is a valid but
# unsupported cross-Region copy; any other name does not exist.
KNOWN_REGIONS = frozenset(
    {"ap-northeast-1", "cloudgouv-eu-west-1", "eu-west-2", "us-east-2", "us-west-1"}
)
API_PREFIXES = ("/api/v1/", "/api/latest/")
IMAGE_STATES = ("pending", "available", "failed")
MAX_TAGS_PER_RESOURCE = 50

ACCOUNT_ID = re.compile(r"^\d{12}$")
IMAGE_ID = re.compile(r"^ami-[0-9a-f]{8}$")
IMAGE_NAME = re.compile(r"^[A-Za-z0-9_ ()/.\-]{3,128}$")

# Illustrative: the real list is longer and its descriptions may differ.
PRODUCT_TYPES: list[dict[str, str]] = [
    {"ProductTypeId": "0001", "Description": "Linux", "Vendor": "3DS OUTSCALE"},
    {"ProductTypeId": "0002", "Description": "Windows Server", "Vendor": "Microsoft"},
    {"ProductTypeId": "0003", "Description": "Windows Desktop", "Vendor": "Microsoft"},
]

HoldStage = Literal["before", "after"]


class SandboxConfigError(ValueError):
    """An accounts/images definition that cannot be loaded; the message says why."""


@dataclass
class Account:
    account_id: str
    access_key: str
    secret_key: str
    email: str
    extra: dict[str, Any] = field(default_factory=dict)

    def api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"AccountId": self.account_id, "Email": self.email}
        for key, api_key in (
            ("customer_id", "CustomerId"),
            ("company_name", "CompanyName"),
            ("first_name", "FirstName"),
            ("last_name", "LastName"),
            ("city", "City"),
            ("country", "Country"),
            ("zip_code", "ZipCode"),
        ):
            if key in self.extra:
                out[api_key] = str(self.extra[key])
        return out


@dataclass
class Image:
    image_id: str
    account_id: str
    name: str
    description: str
    product_codes: list[str]
    global_permission: bool
    permitted: list[str]
    tags: dict[str, str]
    created: dt.datetime
    state: str
    snapshot_id: str
    account_alias: str | None = None
    # For copies still pending: monotonic time at which they settle, and how.
    ready_at: float | None = None
    will_fail: bool = False
    state_message: str | None = None

    def settle(self, now: float) -> None:
        if self.state == "pending" and self.ready_at is not None and now >= self.ready_at:
            self.ready_at = None
            if self.will_fail:
                self.state = "failed"
                self.state_message = "Copy failed (sandbox fail_copies knob)."
            else:
                self.state = "available"

    def visible_to(self, account_id: str) -> bool:
        return (
            self.account_id == account_id or self.global_permission or account_id in self.permitted
        )

    def api(self, viewer: str | None) -> dict[str, Any]:
        """The ``Image`` object as ``viewer`` reads it (``None``: the owner's view)."""
        owner_view = viewer is None or viewer == self.account_id
        out: dict[str, Any] = {
            "AccountId": self.account_id,
            "Architecture": "x86_64",
            "BlockDeviceMappings": [
                {
                    "DeviceName": "/dev/sda1",
                    "Bsu": {
                        "DeleteOnVmDeletion": True,
                        "SnapshotId": self.snapshot_id,
                        "VolumeSize": 10,
                        "VolumeType": "standard",
                    },
                }
            ],
            "BootModes": ["legacy"],
            "CreationDate": self.created.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{self.created.microsecond // 1000:03d}Z",
            "Description": self.description,
            "FileLocation": f"{self.account_id}/{self.name}",
            "ImageId": self.image_id,
            "ImageName": self.name,
            "ImageType": "machine",
            "PermissionsToLaunch": {
                "GlobalPermission": self.global_permission,
                "AccountIds": list(self.permitted) if owner_view else [],
            },
            "ProductCodes": list(self.product_codes),
            "RootDeviceName": "/dev/sda1",
            "RootDeviceType": "bsu",
            "SecureBoot": False,
            "State": self.state,
            "StateComment": (
                {"StateCode": "Client.CopyFailed", "StateMessage": self.state_message}
                if self.state == "failed" and self.state_message
                else {}
            ),
            "Tags": ([{"Key": k, "Value": v} for k, v in self.tags.items()] if owner_view else []),
            "TpmMandatory": False,
        }
        if self.account_alias:
            out["AccountAlias"] = self.account_alias
        return out


def new_id(prefix: str, taken: Iterable[str] = ()) -> str:
    used = set(taken)
    while True:
        candidate = f"{prefix}-{secrets.token_hex(4)}"
        if candidate not in used:
            return candidate


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)

"""Helpers for driving the sandbox with osc-sdk-python (used by conftest and tests)."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import pytest
import requests
from osc_sdk_python import Gateway
from osc_sdk_python.authentication import Authentication
from osc_sdk_python.credentials import Endpoint, Profile

from commands.sandbox import DEMO_ACCOUNTS

REGION = "eu-west-2"
SELLER, DISTRIBUTION, SUB_A, SUB_B, SUB_C = DEMO_ACCOUNTS
SELLER_ID = SELLER["account_id"]
DISTRIBUTION_ID = DISTRIBUTION["account_id"]
SUB_A_ID = SUB_A["account_id"]
SUB_B_ID = SUB_B["account_id"]
SELLER_0001 = ["ami-5e11e001", "ami-5e11e002", "ami-5e11e003"]
SELLER_NO_CODE = "ami-5e11e004"
SELLER_0002 = "ami-5e11e005"
PUBLIC_IMAGE = "ami-0f5ca1e1"


class Client:
    """One identity on a shared ``Gateway``.

    Each ``Gateway()`` parses the SDK's 1 MB spec (seconds), so the suite builds one and
    switches credentials with the SDK's own ``update_profile`` before every call.
    """

    def __init__(self, gateway: Gateway, url: str, account: dict[str, Any]) -> None:
        self.gateway = gateway
        self.url = url
        self.account = account
        self.account_id: str = account["account_id"]

    def _use(self) -> None:
        self.gateway.update_profile(
            access_key=self.account["access_key"],
            secret_key=self.account["secret_key"],
            region=REGION,
            endpoints=Endpoint(api=self.url),
        )

    def call(self, action: str, **params: Any) -> dict[str, Any]:
        self._use()
        return getattr(self.gateway, action)(**params)

    def raw(self, action: str, **params: Any) -> dict[str, Any]:
        """Skip the SDK's client-side parameter checks, as a caller with a typo would."""
        self._use()
        return self.gateway.raw(action, **params)

    def error(self, action: str, *, raw: bool = False, **params: Any) -> tuple[int, dict]:
        """Call an action that must fail; return (HTTP status, error body)."""
        with pytest.raises(requests.HTTPError) as excinfo:
            (self.raw if raw else self.call)(action, **params)
        response = excinfo.value.response
        assert response.headers["Content-Type"].startswith("application/json")
        return response.status_code, response.json()

    def __getattr__(self, action: str) -> Any:
        if action[:1].isupper():
            return functools.partial(self.call, action)
        raise AttributeError(action)


def error_code(body: dict[str, Any]) -> tuple[str, str]:
    """(Code, Type) of the single error in an ``Errors`` body, which must be well formed."""
    assert set(body) == {"Errors", "ResponseContext"}
    assert body["ResponseContext"]["RequestId"]
    (entry,) = body["Errors"]
    assert entry["Details"]
    return entry["Code"], entry["Type"]


class _DatedAuthentication(Authentication):
    """The SDK's signer with a chosen clock, to produce correctly signed stale requests."""

    def __init__(self, *args: Any, when: dt.datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._when = when

    def build_dates(self) -> tuple[str, str]:
        return self._when.strftime("%Y%m%dT%H%M%SZ"), self._when.strftime("%Y%m%d")


def signed_headers(
    *,
    path: str,
    body: str,
    account: dict[str, Any],
    host: str = "127.0.0.1",
    region: str = REGION,
    when: dt.datetime | None = None,
    secret_key: str | None = None,
) -> dict[str, str]:
    """Headers exactly as osc-sdk-python's ``Authentication`` signs them."""
    profile = Profile(
        access_key=account["access_key"],
        secret_key=secret_key or account["secret_key"],
        region=region,
    )
    auth = _DatedAuthentication(profile, host, when=when or dt.datetime.now(dt.UTC))
    return auth.forge_headers_signed(path, body)


def post(base_url: str, path: str, data: bytes | str, headers: dict[str, str]) -> requests.Response:
    return requests.post(base_url + path, data=data, headers=headers, timeout=10)

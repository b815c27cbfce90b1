"""OSC4-HMAC-SHA256: what the SDK signs is accepted, anything else is a 401 Errors body."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
import requests

from commands.sandbox import Sandbox, SandboxServer
from tests.sandbox._support import (
    REGION,
    SELLER,
    SELLER_ID,
    Client,
    error_code,
    post,
    signed_headers,
)

PATH = "/api/v1/ReadAccounts"


def test_sdk_signature_is_accepted_and_identifies_the_account(
    seller: Client, distribution: Client, sandbox: Sandbox
) -> None:
    assert seller.ReadAccounts()["Accounts"][0]["AccountId"] == SELLER_ID
    assert distribution.ReadAccounts()["Accounts"][0]["AccountId"] == distribution.account_id
    assert [(a, action) for a, action, _ in sandbox.calls] == [
        (SELLER_ID, "ReadAccounts"),
        (distribution.account_id, "ReadAccounts"),
    ]


def test_wrong_secret_is_refused(seller: Client) -> None:
    seller.account = {**SELLER, "secret_key": "not-the-secret"}
    status, body = seller.error("ReadAccounts")
    assert status == 401
    assert error_code(body) == ("1", "AccessDenied")
    assert "signature does not match" in body["Errors"][0]["Details"]


def test_unknown_access_key_is_refused(seller: Client) -> None:
    seller.account = {**SELLER, "access_key": "NOSUCHACCESSKEY00000"}
    status, body = seller.error("ReadImages")
    assert status == 401
    assert error_code(body) == ("1", "AccessDenied")
    assert "NOSUCHACCESSKEY00000" in body["Errors"][0]["Details"]


def test_body_changed_after_signing_is_refused(server: SandboxServer, sandbox: Sandbox) -> None:
    signed_body = json.dumps({"Filters": {"ImageIds": ["ami-5e11e001"]}})
    headers = signed_headers(path="/api/v1/ReadImages", body=signed_body, account=SELLER)
    assert post(server.base_url, "/api/v1/ReadImages", signed_body, headers).status_code == 200

    tampered = signed_body.replace("ami-5e11e001", "ami-5e11e002")
    response = post(server.base_url, "/api/v1/ReadImages", tampered, headers)
    assert response.status_code == 401
    assert error_code(response.json()) == ("1", "AccessDenied")


def test_stale_date_is_refused_but_small_skew_is_tolerated(server: SandboxServer) -> None:
    now = dt.datetime.now(dt.UTC)
    for skew, expected in [
        (dt.timedelta(minutes=-14), 200),
        (dt.timedelta(minutes=14), 200),
        (dt.timedelta(minutes=-16), 401),
        (dt.timedelta(minutes=16), 401),
    ]:
        headers = signed_headers(path=PATH, body="{}", account=SELLER, when=now + skew)
        response = post(server.base_url, PATH, "{}", headers)
        assert response.status_code == expected, skew
    assert "15 minutes" in response.json()["Errors"][0]["Details"]


@pytest.mark.parametrize("missing", ["Authorization", "X-Osc-Date"])
def test_missing_header_is_refused(server: SandboxServer, missing: str) -> None:
    headers = signed_headers(path=PATH, body="{}", account=SELLER)
    del headers[missing]
    response = post(server.base_url, PATH, "{}", headers)
    assert response.status_code == 401
    assert error_code(response.json()) == ("1", "AccessDenied")


def test_host_is_signed_without_port(server: SandboxServer) -> None:
    # The SDK signs urllib3's host (no port); a signer that includes the port does not match.
    with_port = signed_headers(
        path=PATH, body="{}", account=SELLER, host=f"127.0.0.1:{server.port}"
    )
    assert post(server.base_url, PATH, "{}", with_port).status_code == 401
    other_host = signed_headers(path=PATH, body="{}", account=SELLER, host="api.example.com")
    assert post(server.base_url, PATH, "{}", other_host).status_code == 401


def test_scope_for_another_region_is_refused(server: SandboxServer) -> None:
    headers = signed_headers(path=PATH, body="{}", account=SELLER, region="us-east-2")
    response = post(server.base_url, PATH, "{}", headers)
    assert response.status_code == 401
    assert "us-east-2" in response.json()["Errors"][0]["Details"]


def test_login_password_auth_is_refused(server: SandboxServer) -> None:
    headers = signed_headers(path=PATH, body="{}", account=SELLER)
    headers["Authorization"] = "Basic " + base64.b64encode(b"seller@example.com:pw").decode()
    response = post(server.base_url, PATH, "{}", headers)
    assert response.status_code == 401
    assert error_code(response.json()) == ("9", "AuthFailure")


def test_public_action_needs_no_signature(server: SandboxServer, sandbox: Sandbox) -> None:
    # ReadProductTypes has "security: []" in the spec.
    response = requests.post(
        f"{server.url}/ReadProductTypes",
        data="{}",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200
    assert {"ProductTypeId": "0001", "Description": "Linux", "Vendor": "3DS OUTSCALE"} in (
        response.json()["ProductTypes"]
    )
    assert sandbox.calls == []


def test_osc_endpoint_api_environment_variable_points_the_sdk_at_the_sandbox(
    seller: Client, server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OSC_ENDPOINT_API", server.url)
    monkeypatch.setenv("OSC_REGION", REGION)
    monkeypatch.setenv("OSC_ACCESS_KEY", SELLER["access_key"])
    monkeypatch.setenv("OSC_SECRET_KEY", SELLER["secret_key"])
    seller.gateway.update_profile()  # standard configuration only: environment + config file
    assert seller.gateway.call.profile.get_endpoint("api") == server.url
    assert seller.gateway.ReadAccounts()["Accounts"][0]["AccountId"] == SELLER_ID

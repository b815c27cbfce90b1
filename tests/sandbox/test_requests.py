"""Request-level errors: unknown actions and parameters, bad bodies."""

from __future__ import annotations

import pytest

from commands.sandbox import Sandbox, SandboxServer
from tests.sandbox._support import SELLER, SELLER_ID, Client, error_code, post, signed_headers


def test_unknown_action(seller: Client) -> None:
    status, body = seller.error("ReadUnicorns", raw=True)
    assert (status, error_code(body)) == (400, ("8000", "OperationNotSupported"))
    assert "ReadUnicorns" in body["Errors"][0]["Details"]


def test_real_action_not_emulated_is_said_so(seller: Client, sandbox: Sandbox) -> None:
    status, body = seller.error("ReadVms")
    assert (status, error_code(body)) == (400, ("8000", "OperationNotSupported"))
    assert "not emulated" in body["Errors"][0]["Details"]


def test_unknown_parameter(seller: Client) -> None:
    status, body = seller.error("ReadImages", raw=True, Filter={"ImageIds": []})
    assert (status, error_code(body)) == (400, ("3001", "InvalidParameter"))
    assert "'Filter'" in body["Errors"][0]["Details"]


def test_wrong_type(seller: Client) -> None:
    status, body = seller.error("ReadImages", raw=True, ResultsPerPage="10")
    assert (status, error_code(body)) == (400, ("4108", "InvalidParameterValue"))
    status, body = seller.error("ReadImages", raw=True, ResultsPerPage=True)
    assert (status, error_code(body)) == (400, ("4108", "InvalidParameterValue"))
    status, body = seller.error(
        "ReadImages", raw=True, Filters={"PermissionsToLaunchGlobalPermission": "true"}
    )
    assert (status, error_code(body)) == (400, ("4108", "InvalidParameterValue"))


def test_missing_required_parameter(seller: Client) -> None:
    status, body = seller.error("DeleteImage", raw=True)
    assert (status, error_code(body)) == (400, ("7000", "MissingParameter"))
    assert "ImageId" in body["Errors"][0]["Details"]


def test_body_that_is_not_a_json_object(server: SandboxServer, sandbox: Sandbox) -> None:
    for body, code in [
        ("{not json", ("4047", "InvalidParameterValue")),
        ("[1, 2]", ("4108", "InvalidParameterValue")),
    ]:
        headers = signed_headers(path="/api/v1/ReadImages", body=body, account=SELLER)
        response = post(server.base_url, "/api/v1/ReadImages", body, headers)
        assert response.status_code == 400
        assert error_code(response.json()) == code
    # Authenticated calls are recorded even when their body is unusable.
    assert [(a, action) for a, action, _ in sandbox.calls] == [(SELLER_ID, "ReadImages")] * 2


def test_api_latest_path_is_served(server: SandboxServer) -> None:
    headers = signed_headers(path="/api/latest/ReadAccounts", body="{}", account=SELLER)
    response = post(server.base_url, "/api/latest/ReadAccounts", "{}", headers)
    assert response.status_code == 200
    assert response.json()["Accounts"][0]["AccountId"] == SELLER_ID


def test_every_answer_has_its_own_request_id(seller: Client) -> None:
    first = seller.ReadAccounts()["ResponseContext"]["RequestId"]
    second = seller.ReadAccounts()["ResponseContext"]["RequestId"]
    assert first != second
    assert len(first) == 36


def test_a_sandbox_bug_answers_500_with_an_errors_body(
    seller: Client, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    def broken(*_: object) -> dict:
        raise RuntimeError("boom")

    monkeypatch.setitem(Sandbox._ACTIONS, "ReadAccounts", broken)
    status, body = seller.error("ReadAccounts")
    assert (status, error_code(body)) == (500, ("0", "DefaultError"))
    assert "RuntimeError: boom" in capsys.readouterr().err


def test_clear_calls(seller: Client, sandbox: Sandbox) -> None:
    seller.ReadAccounts()
    assert len(sandbox.calls) == 1
    sandbox.clear_calls()
    assert sandbox.calls == []

"""Test knobs: injected failures, latency, held requests, HTTP control routes."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
import requests

from commands.sandbox import Sandbox, SandboxServer
from tests.sandbox._support import SELLER_0001, SELLER_ID, Client, error_code

SOURCE = SELLER_0001[0]


def http_json(url: str, payload: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_burst_of_503_is_absorbed_by_the_sdk_retries(seller: Client, sandbox: Sandbox) -> None:
    sandbox.fail_next(3, status=503)  # the suite's Gateway retries 3 times
    assert seller.ReadAccounts()["Accounts"][0]["AccountId"] == SELLER_ID
    assert sandbox.knobs()["fail_next"] == []
    # Failures are served before authentication: only the successful attempt is a call.
    assert sandbox.calls_to("ReadAccounts") == [(SELLER_ID, {})]


def test_429_is_retried_too(seller: Client, sandbox: Sandbox) -> None:
    sandbox.fail_next(2, status=429)
    assert seller.ReadImages(Filters={"ImageIds": [SOURCE]})["Images"][0]["ImageId"] == SOURCE


def test_more_failures_than_retries_reach_the_caller(seller: Client, sandbox: Sandbox) -> None:
    sandbox.fail_next(4, status=503)
    status, body = seller.error("ReadAccounts")
    assert status == 503
    assert error_code(body) == ("6", "AccessDenied")
    assert sandbox.calls == []


def test_client_errors_are_not_retried_and_not_injected_twice(
    seller: Client, sandbox: Sandbox
) -> None:
    sandbox.fail_next(1, status=400)
    status, _ = seller.error("ReadAccounts")
    assert status == 400
    assert seller.ReadAccounts()["Accounts"]


def test_latency_delays_every_request(seller: Client, sandbox: Sandbox) -> None:
    sandbox.latency = 0.3
    started = time.monotonic()
    seller.ReadAccounts()
    assert time.monotonic() - started >= 0.3


def run_in_thread(target: Any) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def runner() -> None:
        try:
            outcome["result"] = target()
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=runner, daemon=True)
    thread.start()
    return thread, outcome


def copy_call(seller: Client) -> Any:
    return lambda: seller.CreateImage(
        SourceImageId=SOURCE, SourceRegionName="eu-west-2", ImageName="held-copy"
    )


def copies(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [i for i in sandbox.images.values() if i["ImageName"] == "held-copy"]


def test_hold_before_blocks_the_action_until_released(seller: Client, sandbox: Sandbox) -> None:
    sandbox.hold("CreateImage")
    thread, outcome = run_in_thread(copy_call(seller))
    assert sandbox.wait_held("CreateImage")
    assert sandbox.held("CreateImage") == 1
    assert copies(sandbox) == []  # nothing happened yet
    assert thread.is_alive()

    sandbox.release("CreateImage")
    thread.join(timeout=5)
    assert outcome["result"]["Image"]["ImageName"] == "held-copy"
    assert len(copies(sandbox)) == 1
    assert sandbox.held("CreateImage") == 0


def test_hold_after_applies_the_action_but_withholds_the_answer(
    seller: Client, sandbox: Sandbox
) -> None:
    sandbox.hold("CreateImage", stage="after")
    thread, outcome = run_in_thread(copy_call(seller))
    assert sandbox.wait_held("CreateImage")
    assert len(copies(sandbox)) == 1  # the copy exists, its caller has not heard back
    assert outcome == {}
    sandbox.release()
    thread.join(timeout=5)
    assert outcome["result"]["Image"]["ImageId"] == copies(sandbox)[0]["ImageId"]


def test_hold_affects_only_its_action(seller: Client, sandbox: Sandbox) -> None:
    sandbox.hold("CreateImage")
    thread, _ = run_in_thread(copy_call(seller))
    assert sandbox.wait_held("CreateImage")
    assert seller.ReadAccounts()["Accounts"][0]["AccountId"] == SELLER_ID
    sandbox.release()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_wait_held_times_out_when_nothing_is_held(sandbox: Sandbox) -> None:
    sandbox.hold("DeleteImage")
    assert sandbox.wait_held("DeleteImage", timeout=0.05) is False


def test_knobs_over_http(server: SandboxServer, seller: Client, sandbox: Sandbox) -> None:
    status, knobs = http_json(
        f"{server.base_url}/_sandbox/knobs",
        {"latency": 0, "copy_delay": 30, "fail_copies": True, "fail_next": {"n": 1, "status": 500}},
    )
    assert status == 200
    assert knobs["copy_delay"] == 30
    assert knobs["fail_copies"] is True
    assert knobs["fail_next"] == [500]
    assert sandbox.copy_delay == 30

    status, knobs = http_json(f"{server.base_url}/_sandbox/knobs", {"hold": "DeleteImage"})
    assert knobs["holds"] == ["DeleteImage:before"]
    status, knobs = http_json(f"{server.base_url}/_sandbox/knobs", {"release": True})
    assert knobs["holds"] == []

    status, body = http_json(f"{server.base_url}/_sandbox/knobs", {"latencyy": 1})
    assert status == 400
    assert "latencyy" in body["error"]
    status, body = http_json(f"{server.base_url}/_sandbox/knobs", {"latency": -1})
    assert status == 400


def test_state_over_http_counts_calls_and_lists_images(
    server: SandboxServer, seller: Client, sandbox: Sandbox
) -> None:
    sandbox.copy_delay = 60
    seller.ReadImages()
    seller.ReadImages()
    copy_id = copy_call(seller)()["Image"]["ImageId"]
    status, state = http_json(f"{server.base_url}/_sandbox/state")
    assert status == 200
    assert state["calls"] == {"CreateImage": 1, "ReadImages": 2}
    assert {i["ImageId"]: i["State"] for i in state["images"]}[copy_id] == "pending"

    status, _ = http_json(f"{server.base_url}/_sandbox/knobs", {"finish_copies": True})
    assert status == 200
    assert sandbox.image(copy_id)["State"] == "available"
    http_json(f"{server.base_url}/_sandbox/knobs", {"reset": True})
    assert sandbox.image(copy_id) is None
    assert sandbox.calls == []


def test_reset_restores_the_initial_state(seller: Client, sandbox: Sandbox) -> None:
    seller.DeleteImage(ImageId=SOURCE)
    sandbox.fail_copies(True)
    sandbox.latency = 1
    sandbox.reset()
    assert sandbox.image(SOURCE)["State"] == "available"
    assert sandbox.knobs()["fail_copies"] is False
    assert sandbox.latency == 0


def test_non_post_methods_and_unknown_paths(server: SandboxServer, sandbox: Sandbox) -> None:
    response = requests.get(f"{server.url}/ReadImages", timeout=10)
    assert response.status_code == 405
    assert error_code(response.json()) == ("2", "AccessDenied")
    response = requests.post(f"{server.base_url}/nowhere", data="{}", timeout=10)
    assert response.status_code == 404
    assert response.json()["Errors"][0]["Details"]


@pytest.mark.parametrize("status", [200, 99, 600])
def test_fail_next_rejects_non_error_statuses(sandbox: Sandbox, status: int) -> None:
    with pytest.raises(ValueError, match="status"):
        sandbox.fail_next(1, status=status)

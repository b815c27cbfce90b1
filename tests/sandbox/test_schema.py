"""Every answer of every emulated action validates against the SDK's outscale.yaml."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from commands.sandbox import Sandbox
from commands.sandbox.spec import SPEC_PATH
from tests.sandbox._support import (
    PUBLIC_IMAGE,
    SELLER_0001,
    SUB_A_ID,
    Client,
    error_code,
)

IMAGE = SELLER_0001[0]


@cache
def components() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = yaml.load(SPEC_PATH.read_text(encoding="utf-8"), Loader=loader)
    return spec["components"]


@cache
def validator(schema_name: str) -> OAS30Validator:
    # The $ref resolves against this root document, which carries the spec's components.
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": components()}
    return OAS30Validator(root, format_checker=oas30_format_checker)


def assert_valid(schema_name: str, body: dict[str, Any]) -> None:
    problems = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator(schema_name).iter_errors(body)
    ]
    assert problems == [], f"{schema_name}: {problems}"


def test_validator_catches_a_bad_answer() -> None:
    # Guard against a validator that accepts anything (e.g. unresolved $ref).
    with pytest.raises(AssertionError):
        assert_valid("ReadImagesResponse", {"Images": [{"ImageId": 1}]})
    with pytest.raises(AssertionError):
        assert_valid("ErrorResponse", {"Errors": [{"Code": "1", "Extra": "x"}]})


Scenario = Callable[[Client, Client, Sandbox], list[tuple[str, dict[str, Any]]]]


def successes(seller: Client, sub_a: Client, sandbox: Sandbox) -> list[tuple[str, dict]]:
    sandbox.copy_delay = 60
    sandbox.fail_copies(True)
    failing = seller.CreateImage(
        SourceImageId=IMAGE, SourceRegionName="eu-west-2", ImageName="failing-copy"
    )
    sandbox.fail_copies(False)
    pending = seller.CreateImage(
        SourceImageId=IMAGE,
        SourceRegionName="eu-west-2",
        ImageName="pending-copy",
        ProductCodes=["0001"],
        Description="a copy",
    )
    sandbox.finish_copies()
    tags = seller.CreateTags(ResourceIds=[IMAGE], Tags=[{"Key": "k", "Value": "v"}])
    updated = seller.UpdateImage(
        ImageId=IMAGE,
        PermissionsToLaunch={"Additions": {"AccountIds": [SUB_A_ID], "GlobalPermission": False}},
        ProductCodes=["0001"],
        Description="shared",
    )
    answers = [
        ("CreateImage", failing),
        ("CreateImage", pending),
        ("CreateTags", tags),
        ("UpdateImage", updated),
        ("ReadImages", seller.ReadImages()),  # failed, available, tagged, public OMIs
        ("ReadImages", sub_a.ReadImages(Filters={"ImageIds": [IMAGE, PUBLIC_IMAGE]})),
        ("ReadImages", seller.ReadImages(ResultsPerPage=1)),
        ("ReadImages", seller.ReadImages(Filters={"ImageIds": ["ami-00000000"]})),
        ("DeleteTags", seller.DeleteTags(ResourceIds=[IMAGE], Tags=[{"Key": "k"}])),
        ("DeleteImage", seller.DeleteImage(ImageId=pending["Image"]["ImageId"])),
        ("ReadAccounts", seller.ReadAccounts()),
        ("ReadProductTypes", seller.ReadProductTypes()),
        ("ReadProductTypes", seller.ReadProductTypes(ResultsPerPage=1)),
        (
            "CreateImage",
            seller.raw(
                "CreateImage",
                SourceImageId=IMAGE,
                SourceRegionName="eu-west-2",
                ImageName="dry",
                DryRun=True,
            ),
        ),
    ]
    assert {action for action, _ in answers} == ACTIONS
    assert any(i["State"] == "failed" for i in answers[4][1]["Images"])
    return answers


ACTIONS = {
    "ReadImages",
    "CreateImage",
    "UpdateImage",
    "DeleteImage",
    "CreateTags",
    "DeleteTags",
    "ReadAccounts",
    "ReadProductTypes",
}


def test_every_success_answer_matches_its_response_schema(
    seller: Client, sub_a: Client, sandbox: Sandbox
) -> None:
    for action, body in successes(seller, sub_a, sandbox):
        assert body["ResponseContext"]["RequestId"]
        assert_valid(f"{action}Response", body)


def errors_of(seller: Client, sub_a: Client, sandbox: Sandbox) -> list[tuple[str, int, dict]]:
    tag = [{"Key": "k", "Value": "v"}]
    calls: list[tuple[str, bool, dict[str, Any]]] = [
        ("ReadImages", True, {"Filters": {"Nope": []}}),
        ("ReadImages", False, {"ResultsPerPage": 0}),
        ("CreateImage", False, {"SourceImageId": IMAGE, "SourceRegionName": "eu-west-2"}),
        (
            "CreateImage",
            False,
            {"SourceImageId": "ami-00000000", "SourceRegionName": "eu-west-2", "ImageName": "abc"},
        ),
        (
            "CreateImage",
            False,
            {
                "SourceImageId": IMAGE,
                "SourceRegionName": "eu-west-2",
                "ImageName": "debian-12-base",
            },
        ),
        ("UpdateImage", False, {"ImageId": IMAGE, "PermissionsToLaunch": {}}),
        ("UpdateImage", True, {}),
        ("DeleteImage", False, {"ImageId": PUBLIC_IMAGE}),
        ("DeleteImage", False, {"ImageId": "ami-00000000"}),
        ("CreateTags", False, {"ResourceIds": ["vol-12345678"], "Tags": tag}),
        ("DeleteTags", False, {"ResourceIds": [PUBLIC_IMAGE], "Tags": tag}),
        ("ReadAccounts", True, {"Unknown": 1}),
        ("ReadProductTypes", True, {"Filters": {"ProductTypeIds": "0001"}}),
        ("NoSuchAction", True, {}),
    ]
    out = []
    for action, raw, params in calls:
        status, body = seller.error(action, raw=raw, **params)
        out.append((action, status, body))
    # Authentication, injected and state errors.
    seller.account = {**seller.account, "secret_key": "wrong"}
    out.append(("ReadAccounts", *seller.error("ReadAccounts")))
    sandbox.fail_next(4, status=503)
    out.append(("ReadImages", *sub_a.error("ReadImages")))
    return out


def test_every_error_answer_matches_the_error_schema(
    seller: Client, sub_a: Client, sandbox: Sandbox
) -> None:
    answers = errors_of(seller, sub_a, sandbox)
    assert {action for action, _, _ in answers} >= ACTIONS
    for action, status, body in answers:
        assert status in {400, 401, 409, 503}, (action, status)
        error_code(body)
        assert_valid("ErrorResponse", body)

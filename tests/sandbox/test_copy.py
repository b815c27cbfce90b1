"""CreateImage as an OMI copy: pending then available (or failed), and every refusal."""

from __future__ import annotations

import time
from typing import Any

import pytest

from commands.sandbox import Sandbox
from tests.sandbox._support import (
    DISTRIBUTION_ID,
    PUBLIC_IMAGE,
    SELLER_0001,
    SELLER_ID,
    SELLER_NO_CODE,
    Client,
    error_code,
)

SOURCE = SELLER_0001[0]


def copy_of(client: Client, source: str = SOURCE, name: str = "copy-1", **extra: Any) -> dict:
    return client.CreateImage(
        SourceImageId=source, SourceRegionName="eu-west-2", ImageName=name, **extra
    )["Image"]


def wait_state(client: Client, image_id: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        (image,) = client.ReadImages(Filters={"ImageIds": [image_id]})["Images"]
        if image["State"] != "pending" or time.monotonic() > deadline:
            return image
        time.sleep(0.05)


def share_with(seller: Client, image_id: str, account_id: str) -> None:
    seller.UpdateImage(
        ImageId=image_id, PermissionsToLaunch={"Additions": {"AccountIds": [account_id]}}
    )


def test_copy_starts_pending_then_becomes_available(
    seller: Client, distribution: Client, sandbox: Sandbox
) -> None:
    share_with(seller, SOURCE, DISTRIBUTION_ID)
    image = copy_of(distribution, name="nginx-1.24-v1", Description="version 1")
    assert image["State"] == "pending"
    assert image["AccountId"] == DISTRIBUTION_ID
    assert image["ImageId"].startswith("ami-") and image["ImageId"] != SOURCE
    assert image["ProductCodes"] == ["0001"]  # copied from the source
    assert image["Description"] == "version 1"
    assert image["PermissionsToLaunch"] == {"GlobalPermission": False, "AccountIds": []}

    final = wait_state(distribution, image["ImageId"])
    assert final["State"] == "available"
    assert final["ImageName"] == "nginx-1.24-v1"
    assert sandbox.image(image["ImageId"])["State"] == "available"
    # The copy is the distribution account's, not visible to the seller.
    assert seller.ReadImages(Filters={"ImageIds": [image["ImageId"]]})["Images"] == []


def test_copy_stays_pending_for_copy_delay(seller: Client, sandbox: Sandbox) -> None:
    sandbox.copy_delay = 60
    image = copy_of(seller)
    time.sleep(0.1)
    assert wait_state(seller, image["ImageId"], timeout=0)["State"] == "pending"
    sandbox.finish_copies()
    assert wait_state(seller, image["ImageId"], timeout=0)["State"] == "available"


def test_given_product_codes_replace_the_source_ones(seller: Client) -> None:
    assert copy_of(seller, ProductCodes=["0001", "0002"])["ProductCodes"] == ["0001", "0002"]
    assert copy_of(seller, source=SELLER_NO_CODE, name="copy-2")["ProductCodes"] == []


def test_public_image_can_be_copied_by_anyone(distribution: Client) -> None:
    assert copy_of(distribution, source=PUBLIC_IMAGE)["ProductCodes"] == ["0001"]


def test_copy_of_an_image_the_caller_cannot_launch_is_refused(
    seller: Client, distribution: Client, sandbox: Sandbox
) -> None:
    status, body = distribution.error(
        "CreateImage", SourceImageId=SOURCE, SourceRegionName="eu-west-2", ImageName="copy-1"
    )
    assert status == 400
    assert error_code(body) == ("5023", "InvalidResource")
    assert SOURCE in body["Errors"][0]["Details"]
    assert [i for i in sandbox.images.values() if i["AccountId"] == DISTRIBUTION_ID] == []

    share_with(seller, SOURCE, DISTRIBUTION_ID)
    assert copy_of(distribution)["State"] == "pending"


def test_copy_of_an_unknown_image_is_5023(seller: Client) -> None:
    status, body = seller.error(
        "CreateImage", SourceImageId="ami-00000000", SourceRegionName="eu-west-2", ImageName="x-1"
    )
    assert (status, error_code(body)) == (400, ("5023", "InvalidResource"))


def test_failed_copies(seller: Client, sandbox: Sandbox) -> None:
    sandbox.fail_copies(True)
    failed = wait_state(seller, copy_of(seller, name="doomed")["ImageId"])
    assert failed["State"] == "failed"
    assert failed["StateComment"]["StateMessage"]
    assert failed["StateComment"]["StateCode"]

    sandbox.fail_copies(False)
    assert wait_state(seller, copy_of(seller, name="fine")["ImageId"])["State"] == "available"


def test_copy_of_a_pending_or_failed_image_is_refused(seller: Client, sandbox: Sandbox) -> None:
    sandbox.copy_delay = 60
    pending = copy_of(seller, name="still-copying")
    status, body = seller.error(
        "CreateImage",
        SourceImageId=pending["ImageId"],
        SourceRegionName="eu-west-2",
        ImageName="copy-of-copy",
    )
    assert status == 409
    assert error_code(body) == ("6001", "InvalidState")


def test_duplicate_name_in_the_same_account_is_a_conflict(
    seller: Client, distribution: Client
) -> None:
    copy_of(seller, name="release-1")
    status, body = seller.error(
        "CreateImage", SourceImageId=SOURCE, SourceRegionName="eu-west-2", ImageName="release-1"
    )
    assert status == 409
    assert error_code(body) == ("9000", "ResourceConflict")
    # An existing seller OMI name counts too; another account may reuse the name.
    status, _ = seller.error(
        "CreateImage",
        SourceImageId=SOURCE,
        SourceRegionName="eu-west-2",
        ImageName="debian-12-nginx-1.26",
    )
    assert status == 409
    assert copy_of(distribution, source=PUBLIC_IMAGE, name="release-1")["State"] == "pending"


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"SourceRegionName": "us-east-2"}, 400, ("4047", "InvalidParameterValue")),
        ({"SourceRegionName": "mars-north-1"}, 400, ("5043", "InvalidResource")),
        ({"ImageName": "x"}, 400, ("4026", "InvalidParameterValue")),
        ({"ImageName": "bad:name"}, 400, ("4026", "InvalidParameterValue")),
        ({"ImageName": None}, 400, ("7000", "MissingParameter")),
        ({"SourceRegionName": None}, 400, ("7000", "MissingParameter")),
        ({"SourceImageId": "vol-12345678"}, 400, ("4104", "InvalidParameterValue")),
        ({"SourceImageId": "ami-XYZ"}, 400, ("4105", "InvalidParameterValue")),
        ({"ProductCodes": "0001"}, 400, ("4108", "InvalidParameterValue")),
    ],
)
def test_bad_copy_parameters(
    seller: Client, sandbox: Sandbox, params: dict[str, Any], status: int, code: tuple[str, str]
) -> None:
    request = {"SourceImageId": SOURCE, "SourceRegionName": "eu-west-2", "ImageName": "copy-x"}
    request.update(params)
    request = {k: v for k, v in request.items() if v is not None}
    before = set(sandbox.images)
    got_status, body = seller.error("CreateImage", raw=True, **request)
    assert (got_status, error_code(body)) == (status, code)
    assert set(sandbox.images) == before


def test_creating_from_a_vm_or_registering_is_refused_clearly(seller: Client) -> None:
    status, body = seller.error("CreateImage", VmId="i-12345678", ImageName="from-vm")
    assert (status, error_code(body)) == (400, ("5063", "InvalidResource"))
    assert "sandbox" in body["Errors"][0]["Details"]
    status, body = seller.error(
        "CreateImage", ImageName="from-manifest", FileLocation="https://example.com/manifest"
    )
    assert status == 400
    assert "copy of an OMI" in body["Errors"][0]["Details"]


def test_dry_run_checks_without_copying(seller: Client, sandbox: Sandbox) -> None:
    # The SDK drops DryRun from its checked parameters: only raw() sends it.
    answer = seller.raw(
        "CreateImage",
        SourceImageId=SOURCE,
        SourceRegionName="eu-west-2",
        ImageName="dry",
        DryRun=True,
    )
    assert "Image" not in answer
    assert answer["ResponseContext"]["RequestId"]
    assert not [i for i in sandbox.images.values() if i["ImageName"] == "dry"]
    assert sandbox.calls_to("CreateImage") == [
        (
            SELLER_ID,
            {
                "SourceImageId": SOURCE,
                "SourceRegionName": "eu-west-2",
                "ImageName": "dry",
                "DryRun": True,
            },
        )
    ]

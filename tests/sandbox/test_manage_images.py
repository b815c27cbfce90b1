"""UpdateImage, DeleteImage, CreateTags, DeleteTags, ReadAccounts, ReadProductTypes."""

from __future__ import annotations

from typing import Any

import pytest

from commands.sandbox import Sandbox
from tests.sandbox._support import (
    DISTRIBUTION_ID,
    PUBLIC_IMAGE,
    SELLER_0001,
    SELLER_0002,
    SELLER_ID,
    SUB_A_ID,
    SUB_B_ID,
    Client,
    error_code,
)

IMAGE = SELLER_0001[0]


def permissions(client: Client, image_id: str = IMAGE) -> dict[str, Any]:
    (image,) = client.ReadImages(Filters={"ImageIds": [image_id]})["Images"]
    return image["PermissionsToLaunch"]


def update(client: Client, change: str, **permission: Any) -> dict[str, Any]:
    return client.UpdateImage(ImageId=IMAGE, PermissionsToLaunch={change: permission})["Image"]


def test_add_and_remove_account_permissions(seller: Client, sub_a: Client) -> None:
    image = update(seller, "Additions", AccountIds=[SUB_A_ID, SUB_B_ID])
    assert image["PermissionsToLaunch"]["AccountIds"] == [SUB_A_ID, SUB_B_ID]
    # Adding again is idempotent.
    update(seller, "Additions", AccountIds=[SUB_A_ID])
    assert permissions(seller)["AccountIds"] == [SUB_A_ID, SUB_B_ID]

    update(seller, "Removals", AccountIds=[SUB_A_ID, "666666666666"])
    assert permissions(seller) == {"GlobalPermission": False, "AccountIds": [SUB_B_ID]}
    assert sub_a.ReadImages(Filters={"ImageIds": [IMAGE]})["Images"] == []


def test_add_and_remove_global_permission(seller: Client, distribution: Client) -> None:
    update(seller, "Additions", GlobalPermission=True)
    assert permissions(seller)["GlobalPermission"] is True
    assert permissions(distribution)["GlobalPermission"] is True
    update(seller, "Removals", GlobalPermission=True)
    assert permissions(seller)["GlobalPermission"] is False
    assert distribution.ReadImages(Filters={"ImageIds": [IMAGE]})["Images"] == []


def test_update_product_codes_and_description(seller: Client) -> None:
    image = seller.UpdateImage(ImageId=IMAGE, ProductCodes=["0002"], Description="new text")
    assert image["Image"]["ProductCodes"] == ["0002"]
    assert image["Image"]["Description"] == "new text"
    answer = seller.ReadImages(Filters={"ProductCodes": ["0002"], "AccountIds": [SELLER_ID]})
    assert [i["ImageId"] for i in answer["Images"]] == [IMAGE, SELLER_0002]


def test_update_by_non_owner_is_refused(seller: Client, sub_a: Client) -> None:
    status, body = sub_a.error(
        "UpdateImage", ImageId=IMAGE, PermissionsToLaunch={"Additions": {"GlobalPermission": True}}
    )
    assert (status, error_code(body)) == (400, ("5023", "InvalidResource"))  # cannot see it

    update(seller, "Additions", AccountIds=[SUB_A_ID])
    status, body = sub_a.error(
        "UpdateImage", ImageId=IMAGE, PermissionsToLaunch={"Additions": {"GlobalPermission": True}}
    )
    assert (status, error_code(body)) == (401, ("4", "AccessDenied"))  # sees it, not its own
    assert permissions(seller)["GlobalPermission"] is False


@pytest.mark.parametrize(
    ("permission", "code"),
    [
        ({"Additions": {"AccountIds": ["12345"]}}, ("4047", "InvalidParameterValue")),
        ({"Additions": {"AccountIds": ["abcdefghijkl"]}}, ("4047", "InvalidParameterValue")),
        (
            {"Additions": {"AccountIds": [SUB_A_ID]}, "Removals": {"AccountIds": [SUB_B_ID]}},
            ("4046", "InvalidParameterValue"),
        ),
        ({}, ("4046", "InvalidParameterValue")),
        ({"Additions": {"AccountIds": SUB_A_ID}}, ("4108", "InvalidParameterValue")),
        ({"Additions": {"Accounts": [SUB_A_ID]}}, ("3001", "InvalidParameter")),
    ],
)
def test_bad_permission_changes_are_rejected(
    seller: Client, permission: dict[str, Any], code: tuple[str, str]
) -> None:
    status, body = seller.error("UpdateImage", ImageId=IMAGE, PermissionsToLaunch=permission)
    assert (status, error_code(body)) == (400, code)
    assert permissions(seller) == {"GlobalPermission": False, "AccountIds": []}


def test_sharing_waits_for_the_copy_to_be_available(seller: Client, sandbox: Sandbox) -> None:
    sandbox.copy_delay = 60
    copy_id = seller.CreateImage(
        SourceImageId=IMAGE, SourceRegionName="eu-west-2", ImageName="copy-1"
    )["Image"]["ImageId"]
    status, body = seller.error(
        "UpdateImage",
        ImageId=copy_id,
        PermissionsToLaunch={"Additions": {"AccountIds": [SUB_A_ID]}},
    )
    assert (status, error_code(body)) == (409, ("6001", "InvalidState"))
    sandbox.finish_copies()
    seller.UpdateImage(
        ImageId=copy_id, PermissionsToLaunch={"Additions": {"AccountIds": [SUB_A_ID]}}
    )
    assert permissions(seller, copy_id)["AccountIds"] == [SUB_A_ID]


def test_update_missing_image_id_is_missing_parameter(seller: Client) -> None:
    status, body = seller.error("UpdateImage", raw=True, Description="x")
    assert (status, error_code(body)) == (400, ("7000", "MissingParameter"))


def test_delete_image_by_owner(seller: Client, sandbox: Sandbox) -> None:
    answer = seller.DeleteImage(ImageId=IMAGE)
    assert set(answer) == {"ResponseContext"}
    assert sandbox.image(IMAGE) is None
    assert seller.ReadImages(Filters={"ImageIds": [IMAGE]})["Images"] == []
    status, body = seller.error("DeleteImage", ImageId=IMAGE)
    assert (status, error_code(body)) == (400, ("5023", "InvalidResource"))


def test_delete_image_by_non_owner_is_refused(
    seller: Client, distribution: Client, sandbox: Sandbox
) -> None:
    status, body = distribution.error("DeleteImage", ImageId=IMAGE)
    assert (status, error_code(body)) == (400, ("5023", "InvalidResource"))
    update(seller, "Additions", AccountIds=[DISTRIBUTION_ID])
    status, body = distribution.error("DeleteImage", ImageId=IMAGE)
    assert (status, error_code(body)) == (401, ("4", "AccessDenied"))
    status, body = distribution.error("DeleteImage", ImageId=PUBLIC_IMAGE)
    assert (status, error_code(body)) == (401, ("4", "AccessDenied"))
    assert sandbox.image(IMAGE) is not None
    assert sandbox.image(PUBLIC_IMAGE) is not None


@pytest.mark.parametrize(
    ("image_id", "status", "code"),
    [
        ("ami-00000000", 400, ("5023", "InvalidResource")),
        ("ami-zz", 400, ("4105", "InvalidParameterValue")),
        ("snap-12345678", 400, ("4104", "InvalidParameterValue")),
    ],
)
def test_delete_unknown_or_malformed_image(
    seller: Client, image_id: str, status: int, code: tuple[str, str]
) -> None:
    got, body = seller.error("DeleteImage", ImageId=image_id)
    assert (got, error_code(body)) == (status, code)


def tags(client: Client, image_id: str = IMAGE) -> list[dict[str, str]]:
    (image,) = client.ReadImages(Filters={"ImageIds": [image_id]})["Images"]
    return image["Tags"]


def test_create_tags_overwrites_values_and_delete_tags_matches_values(seller: Client) -> None:
    seller.CreateTags(
        ResourceIds=[IMAGE, SELLER_0002],
        Tags=[{"Key": "omi-bot", "Value": "v1"}, {"Key": "env", "Value": "prod"}],
    )
    seller.CreateTags(ResourceIds=[IMAGE], Tags=[{"Key": "omi-bot", "Value": "v2"}])
    assert tags(seller) == [{"Key": "omi-bot", "Value": "v2"}, {"Key": "env", "Value": "prod"}]
    assert tags(seller, SELLER_0002)[0] == {"Key": "omi-bot", "Value": "v1"}

    # A value that does not match deletes nothing; no value deletes whatever the value.
    seller.DeleteTags(ResourceIds=[IMAGE], Tags=[{"Key": "env", "Value": "dev"}])
    assert {"Key": "env", "Value": "prod"} in tags(seller)
    seller.DeleteTags(ResourceIds=[IMAGE], Tags=[{"Key": "env", "Value": "prod"}])
    seller.DeleteTags(ResourceIds=[IMAGE, SELLER_0002], Tags=[{"Key": "omi-bot"}])
    assert tags(seller) == []
    assert tags(seller, SELLER_0002) == [{"Key": "env", "Value": "prod"}]


def test_tags_on_someone_elses_or_unknown_resource_are_refused(
    seller: Client, distribution: Client
) -> None:
    tag = [{"Key": "k", "Value": "v"}]
    status, body = distribution.error("CreateTags", ResourceIds=[PUBLIC_IMAGE], Tags=tag)
    assert (status, error_code(body)) == (401, ("4", "AccessDenied"))
    status, body = distribution.error("CreateTags", ResourceIds=[IMAGE], Tags=tag)
    assert (status, error_code(body)) == (400, ("5023", "InvalidResource"))
    status, body = seller.error("CreateTags", ResourceIds=["vol-12345678"], Tags=tag)
    assert (status, error_code(body)) == (400, ("5044", "InvalidResource"))
    # All-or-nothing: one bad resource leaves the good one untagged.
    status, _ = seller.error("CreateTags", ResourceIds=[IMAGE, "ami-00000000"], Tags=tag)
    assert status == 400
    assert tags(seller) == []
    status, body = distribution.error("DeleteTags", ResourceIds=[PUBLIC_IMAGE], Tags=tag)
    assert (status, error_code(body)) == (401, ("4", "AccessDenied"))


def test_bad_tags_are_rejected(seller: Client) -> None:
    for tag_list, code in [
        ([{"Key": "", "Value": "v"}], ("4069", "InvalidParameterValue")),
        ([{"Key": "k", "Value": "v" * 256}], ("4071", "InvalidParameterValue")),
        ([{"Key": "k"}], ("7000", "MissingParameter")),
        ([], ("7000", "MissingParameter")),
        ([{"Key": "k", "Value": 1}], ("4108", "InvalidParameterValue")),
    ]:
        status, body = seller.error("CreateTags", ResourceIds=[IMAGE], Tags=tag_list)
        assert (status, error_code(body)) == (400, code), tag_list
    status, body = seller.error(
        "CreateTags", ResourceIds=[IMAGE], Tags=[{"Key": f"k{i}", "Value": ""} for i in range(51)]
    )
    assert (status, error_code(body)) == (400, ("10041", "TooManyResources"))


def test_read_accounts_returns_the_caller_only(seller: Client, sub_b: Client) -> None:
    assert seller.ReadAccounts()["Accounts"] == [
        {"AccountId": SELLER_ID, "Email": "seller@example.com"}
    ]
    assert sub_b.ReadAccounts()["Accounts"] == [
        {"AccountId": SUB_B_ID, "Email": "subscriber-b@example.com"}
    ]


def test_read_product_types(seller: Client) -> None:
    every = seller.ReadProductTypes()["ProductTypes"]
    assert {"0001", "0002"} <= {t["ProductTypeId"] for t in every}
    (linux,) = seller.ReadProductTypes(Filters={"ProductTypeIds": ["0001"]})["ProductTypes"]
    assert linux["Description"] == "Linux"
    page = seller.ReadProductTypes(ResultsPerPage=1)
    assert len(page["ProductTypes"]) == 1 and page["NextPageToken"]

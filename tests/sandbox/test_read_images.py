"""ReadImages: who sees which OMI, every filter, paging."""

from __future__ import annotations

from typing import Any

import pytest

from commands.sandbox import Sandbox, spec
from tests.sandbox._support import (
    PUBLIC_IMAGE,
    SELLER_0001,
    SELLER_0002,
    SELLER_ID,
    SELLER_NO_CODE,
    SUB_A_ID,
    SUB_B_ID,
    Client,
    error_code,
)

SELLER_ALL = [*SELLER_0001, SELLER_NO_CODE, SELLER_0002]


def ids(answer: dict[str, Any]) -> list[str]:
    return [image["ImageId"] for image in answer["Images"]]


def test_owner_sees_own_and_public_images_others_only_public(
    seller: Client, distribution: Client
) -> None:
    assert ids(seller.ReadImages()) == [*SELLER_ALL, PUBLIC_IMAGE]
    assert ids(distribution.ReadImages()) == [PUBLIC_IMAGE]


def test_launch_permission_makes_an_image_visible_to_that_account_only(
    seller: Client, sub_a: Client, sub_b: Client
) -> None:
    seller.UpdateImage(
        ImageId=SELLER_0001[0], PermissionsToLaunch={"Additions": {"AccountIds": [SUB_A_ID]}}
    )
    assert ids(sub_a.ReadImages()) == [SELLER_0001[0], PUBLIC_IMAGE]
    assert ids(sub_b.ReadImages()) == [PUBLIC_IMAGE]


def test_global_permission_makes_an_image_visible_to_all(seller: Client, sub_b: Client) -> None:
    seller.UpdateImage(
        ImageId=SELLER_0002, PermissionsToLaunch={"Additions": {"GlobalPermission": True}}
    )
    assert ids(sub_b.ReadImages()) == [SELLER_0002, PUBLIC_IMAGE]


def test_only_the_owner_reads_permissions_and_tags(seller: Client, sub_a: Client) -> None:
    image_id = SELLER_0001[0]
    seller.UpdateImage(
        ImageId=image_id, PermissionsToLaunch={"Additions": {"AccountIds": [SUB_A_ID, SUB_B_ID]}}
    )
    seller.CreateTags(ResourceIds=[image_id], Tags=[{"Key": "product", "Value": "nginx"}])

    (own,) = seller.ReadImages(Filters={"ImageIds": [image_id]})["Images"]
    assert own["PermissionsToLaunch"] == {
        "GlobalPermission": False,
        "AccountIds": [SUB_A_ID, SUB_B_ID],
    }
    assert own["Tags"] == [{"Key": "product", "Value": "nginx"}]
    (shared,) = sub_a.ReadImages(Filters={"ImageIds": [image_id]})["Images"]
    assert shared["PermissionsToLaunch"] == {"GlobalPermission": False, "AccountIds": []}
    assert shared["Tags"] == []
    assert shared["AccountId"] == SELLER_ID


def test_image_carries_the_fields_real_outscale_returns(seller: Client) -> None:
    (image,) = seller.ReadImages(Filters={"ImageIds": [SELLER_0001[0]]})["Images"]
    assert image["ImageName"] == "debian-12-nginx-1.24"
    assert image["State"] == "available"
    assert image["StateComment"] == {}
    assert image["ProductCodes"] == ["0001"]
    assert image["Architecture"] == "x86_64"
    assert image["ImageType"] == "machine"
    assert image["RootDeviceType"] == "bsu"
    assert image["RootDeviceName"] == "/dev/sda1"
    assert image["BlockDeviceMappings"][0]["Bsu"]["SnapshotId"].startswith("snap-")
    assert image["CreationDate"].endswith("Z")
    assert image["FileLocation"] == f"{SELLER_ID}/debian-12-nginx-1.24"
    (public,) = seller.ReadImages(Filters={"ImageIds": [PUBLIC_IMAGE]})["Images"]
    assert public["AccountAlias"] == "Outscale"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"ImageIds": [SELLER_0002, PUBLIC_IMAGE, "ami-00000000"]}, [SELLER_0002, PUBLIC_IMAGE]),
        ({"ImageNames": ["debian-12-nginx-1.26"]}, [SELLER_0001[1]]),
        ({"ImageNames": ["debian-12-*"]}, [*SELLER_0001[:2], SELLER_NO_CODE]),
        ({"AccountIds": [SELLER_ID]}, SELLER_ALL),
        ({"AccountIds": ["999999999999"]}, [PUBLIC_IMAGE]),
        ({"ProductCodes": ["0001"]}, [*SELLER_0001, PUBLIC_IMAGE]),
        ({"ProductCodes": ["0002"]}, [SELLER_0002]),
        ({"ProductCodes": ["0001"], "AccountIds": [SELLER_ID]}, SELLER_0001),
        ({"States": ["available"]}, [*SELLER_ALL, PUBLIC_IMAGE]),
        ({"States": ["pending", "failed"]}, []),
        ({"PermissionsToLaunchGlobalPermission": True}, [PUBLIC_IMAGE]),
        ({"PermissionsToLaunchGlobalPermission": False}, SELLER_ALL),
        ({"Descriptions": ["*nginx 1.26"]}, SELLER_0001[1:]),
        ({"AccountAliases": ["Outscale"]}, [PUBLIC_IMAGE]),
        ({"Architectures": ["i386"]}, []),
        ({"RootDeviceTypes": ["bsu"], "ImageIds": [SELLER_NO_CODE]}, [SELLER_NO_CODE]),
    ],
)
def test_filters(seller: Client, filters: dict[str, Any], expected: list[str]) -> None:
    assert ids(seller.ReadImages(Filters=filters)) == expected


def test_permission_filter(seller: Client) -> None:
    seller.UpdateImage(
        ImageId=SELLER_0001[1], PermissionsToLaunch={"Additions": {"AccountIds": [SUB_A_ID]}}
    )
    seller.UpdateImage(
        ImageId=SELLER_0001[2], PermissionsToLaunch={"Additions": {"AccountIds": [SUB_B_ID]}}
    )
    assert ids(seller.ReadImages(Filters={"PermissionsToLaunchAccountIds": [SUB_A_ID]})) == [
        SELLER_0001[1]
    ]
    both = seller.ReadImages(Filters={"PermissionsToLaunchAccountIds": [SUB_A_ID, SUB_B_ID]})
    assert ids(both) == SELLER_0001[1:]


def test_state_filter_sees_pending_copies(seller: Client, sandbox: Sandbox) -> None:
    sandbox.copy_delay = 60
    copy_id = seller.CreateImage(
        SourceImageId=SELLER_0001[0], SourceRegionName="eu-west-2", ImageName="pending-copy"
    )["Image"]["ImageId"]
    assert ids(seller.ReadImages(Filters={"States": ["pending"]})) == [copy_id]


def test_tag_filters(seller: Client) -> None:
    seller.CreateTags(
        ResourceIds=[SELLER_0001[0], SELLER_0001[1]], Tags=[{"Key": "product", "Value": "nginx"}]
    )
    seller.CreateTags(ResourceIds=[SELLER_0001[1]], Tags=[{"Key": "channel", "Value": "stable"}])
    seller.CreateTags(ResourceIds=[SELLER_0002], Tags=[{"Key": "product", "Value": "postgres"}])

    assert ids(seller.ReadImages(Filters={"TagKeys": ["channel"]})) == [SELLER_0001[1]]
    assert ids(seller.ReadImages(Filters={"TagKeys": ["product"]})) == [
        *SELLER_0001[:2],
        SELLER_0002,
    ]
    assert ids(seller.ReadImages(Filters={"TagValues": ["postgres"]})) == [SELLER_0002]
    assert ids(seller.ReadImages(Filters={"Tags": ["product=nginx"]})) == SELLER_0001[:2]
    assert (
        ids(seller.ReadImages(Filters={"Tags": ["product=nginx", "channel=stable"]}))
        == (SELLER_0001[:2])
    )
    assert ids(seller.ReadImages(Filters={"Tags": ["product=stable"]})) == []


def test_unknown_filter_and_wrong_type_are_rejected(seller: Client) -> None:
    status, body = seller.error("ReadImages", Filters={"ImageId": ["ami-5e11e001"]})
    assert status == 400
    assert error_code(body) == ("3001", "InvalidParameter")
    assert "Filters.ImageId" in body["Errors"][0]["Details"]

    status, body = seller.error("ReadImages", Filters={"ImageIds": "ami-5e11e001"})
    assert status == 400
    assert error_code(body) == ("4108", "InvalidParameterValue")
    assert "Filters.ImageIds" in body["Errors"][0]["Details"]


def test_paging_walks_every_image_once(seller: Client) -> None:
    seen: list[str] = []
    pages = 0
    token: str | None = None
    while True:
        params: dict[str, Any] = {"ResultsPerPage": 2}
        if token:
            params["NextPageToken"] = token
        answer = seller.ReadImages(**params)
        pages += 1
        assert len(answer["Images"]) <= 2
        seen += ids(answer)
        token = answer.get("NextPageToken")
        if not token:
            break
    assert pages == 3
    assert seen == [*SELLER_ALL, PUBLIC_IMAGE]


def test_paging_of_a_filtered_listing_and_exact_last_page(seller: Client) -> None:
    first = seller.ReadImages(Filters={"AccountIds": [SELLER_ID]}, ResultsPerPage=3)
    assert ids(first) == SELLER_0001
    last = seller.ReadImages(
        Filters={"AccountIds": [SELLER_ID]}, ResultsPerPage=3, NextPageToken=first["NextPageToken"]
    )
    assert ids(last) == [SELLER_NO_CODE, SELLER_0002]
    assert "NextPageToken" not in last
    whole = seller.ReadImages(ResultsPerPage=6)
    assert len(whole["Images"]) == 6
    assert "NextPageToken" not in whole


def test_bad_paging_parameters_are_rejected(seller: Client) -> None:
    token = seller.ReadImages(ResultsPerPage=1)["NextPageToken"]
    for params in [
        {"ResultsPerPage": 0},
        {"ResultsPerPage": 1001},
        {"NextPageToken": "not a token"},
        # A token continues only the listing it came from.
        {"NextPageToken": token, "Filters": {"ProductCodes": ["0001"]}},
    ]:
        status, body = seller.error("ReadImages", **params)
        assert status == 400, params
        assert error_code(body) == ("4047", "InvalidParameterValue"), params


def sample_value(schema: dict[str, Any]) -> Any:
    if schema.get("type") == "boolean":
        return True
    items = schema["items"]
    if "$ref" in items:  # BootMode, an enum
        return ["legacy"]
    return [1] if items["type"] == "integer" else ["x"]


def test_every_filter_of_the_spec_is_understood(seller: Client) -> None:
    properties = spec.schemas()["FiltersImage"]["properties"]
    assert len(properties) > 20
    for name, schema in properties.items():
        answer = seller.ReadImages(Filters={name: sample_value(schema)})
        assert isinstance(answer["Images"], list), name


def test_an_empty_filter_list_does_not_filter(seller: Client) -> None:
    assert ids(seller.ReadImages(Filters={"ImageIds": []})) == [*SELLER_ALL, PUBLIC_IMAGE]

"""The OMI actions of the sandbox API (ReadImages, CreateImage, UpdateImage, DeleteImage,
CreateTags, DeleteTags, ReadAccounts, ReadProductTypes) and the ReadImages filters. They run
with the sandbox's lock held."""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import json
import re
import time
from collections.abc import Callable
from typing import Any, ClassVar

from commands.sandbox import errors
from commands.sandbox.cloud import (
    ACCOUNT_ID,
    IMAGE_ID,
    IMAGE_NAME,
    KNOWN_REGIONS,
    MAX_TAGS_PER_RESOURCE,
    PRODUCT_TYPES,
    Account,
    Image,
    new_id,
    now,
)


class ImageActions:
    """The actions on the sandbox's accounts and OMIs; `Sandbox` holds the state and the lock."""

    _images: dict[str, Image]
    copy_delay: float
    _fail_copies: bool

    def _settle(self) -> None:
        now = time.monotonic()
        for image in self._images.values():
            image.settle(now)

    def _name_taken(self, account_id: str, name: str) -> bool:
        return any(i.account_id == account_id and i.name == name for i in self._images.values())

    def _visible_image(self, account: Account, image_id: str) -> Image:
        if not IMAGE_ID.match(image_id):
            if not image_id.startswith("ami-"):
                raise errors.invalid_id_prefix(image_id)
            raise errors.malformed_id(image_id)
        image = self._images.get(image_id)
        if image is None or not image.visible_to(account.account_id):
            raise errors.no_such_image(image_id)
        return image

    def _owned_image(self, account: Account, image_id: str, action: str) -> Image:
        image = self._visible_image(account, image_id)
        if image.account_id != account.account_id:
            raise errors.unauthorized_operation(
                f"{action} on '{image_id}' is refused: the OMI belongs to another account."
            )
        return image

    @staticmethod
    def _paginate(
        items: list[dict[str, Any]], params: dict[str, Any], fingerprint_of: Any
    ) -> tuple[list[dict[str, Any]], str | None]:
        # A token encodes the offset and a fingerprint of the filters: a token only continues
        # the listing it came from.
        fingerprint = hashlib.sha256(
            json.dumps(fingerprint_of, sort_keys=True).encode()
        ).hexdigest()[:16]
        offset = 0
        token = params.get("NextPageToken")
        if token is not None:
            try:
                decoded = json.loads(base64.b64decode(token, validate=True))
                offset = int(decoded["offset"])
                if decoded["filters"] != fingerprint or offset < 0:
                    raise ValueError
            except (binascii.Error, ValueError, KeyError, TypeError):
                raise errors.invalid_value(
                    "NextPageToken is not valid for this request (it must come from the previous "
                    "answer to the same request)."
                ) from None
        size = params.get("ResultsPerPage")
        if size is not None and not 1 <= size <= 1000:
            raise errors.invalid_value("ResultsPerPage must be between 1 and 1000.")
        if size is None:
            return items[offset:], None
        page = items[offset : offset + size]
        if offset + size >= len(items):
            return page, None
        next_token = base64.b64encode(
            json.dumps({"offset": offset + size, "filters": fingerprint}).encode()
        ).decode()
        return page, next_token

    # ------------------------------------------------------------------ actions (lock held)

    def _read_images(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        filters: dict[str, Any] = params.get("Filters", {})
        viewer = account.account_id
        views = [image.api(viewer) for image in self._images.values() if image.visible_to(viewer)]
        selected = [view for view in views if _matches(view, filters)]
        page, token = self._paginate(selected, params, filters)
        out: dict[str, Any] = {"Images": page}
        if token:
            out["NextPageToken"] = token
        return out

    def _create_image(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        if "VmId" in params:
            raise errors.no_such_vm(params["VmId"])
        registering = {"FileLocation", "BlockDeviceMappings", "RootDeviceName"} & params.keys()
        if registering:
            raise errors.invalid_parameter_set(
                "The sandbox supports only the copy of an OMI (SourceImageId + "
                f"SourceRegionName); {', '.join(sorted(registering))} (registering an OMI) is "
                "not emulated."
            )
        for required in ("SourceImageId", "SourceRegionName", "ImageName"):
            if required not in params:
                raise errors.missing_parameter(required)
        region = params["SourceRegionName"]
        if region != self.region:
            if region in KNOWN_REGIONS:
                raise errors.invalid_value(
                    f"SourceRegionName must be the Region of your account ({self.region}): "
                    "OMIs cannot be copied across Regions."
                )
            raise errors.no_such_region(region)
        name = params["ImageName"]
        if not IMAGE_NAME.match(name):
            raise errors.invalid_image_name(name)
        source = self._visible_image(account, params["SourceImageId"])
        if source.state != "available":
            raise errors.invalid_image_state(source.image_id, source.state, "available")
        if self._name_taken(account.account_id, name):
            raise errors.already_exists(
                f"An OMI named '{name}' already exists in account {account.account_id}."
            )
        codes = params.get("ProductCodes") or list(source.product_codes)
        if params.get("DryRun"):
            return {}
        image = Image(
            image_id=new_id("ami", self._images),
            account_id=account.account_id,
            name=name,
            description=params.get("Description", source.description),
            product_codes=list(dict.fromkeys(codes)),
            global_permission=False,
            permitted=[],
            tags={},
            created=now(),
            state="pending",
            snapshot_id=new_id("snap"),
            account_alias=account.extra.get("alias"),
            ready_at=time.monotonic() + max(0.0, self.copy_delay),
            will_fail=self._fail_copies,
        )
        self._images[image.image_id] = image
        return {"Image": image.api(None)}

    def _update_image(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        image = self._owned_image(account, params["ImageId"], "UpdateImage")
        permissions: dict[str, Any] | None = params.get("PermissionsToLaunch")
        if permissions is not None:
            if ("Additions" in permissions) == ("Removals" in permissions):
                raise errors.invalid_parameter_set(
                    "PermissionsToLaunch takes exactly one of Additions or Removals."
                )
            for change in permissions.values():
                for account_id in change.get("AccountIds", []):
                    if not ACCOUNT_ID.match(account_id):
                        raise errors.invalid_value(
                            f"'{account_id}' is not an account ID (12 digits)."
                        )
            if image.state != "available":
                raise errors.invalid_image_state(image.image_id, image.state, "available")
        if params.get("DryRun"):
            return {}
        if permissions is not None:
            additions = permissions.get("Additions", {})
            removals = permissions.get("Removals", {})
            # A set to look in: sharing with thousands of accounts a hundred at a time would
            # otherwise scan the list once per account.
            present = set(image.permitted)
            for account_id in additions.get("AccountIds", []):
                if account_id not in present:
                    present.add(account_id)
                    image.permitted.append(account_id)
            removed = set(removals.get("AccountIds", []))
            image.permitted = [a for a in image.permitted if a not in removed]
            if additions.get("GlobalPermission"):
                image.global_permission = True
            if removals.get("GlobalPermission"):
                image.global_permission = False
        if "ProductCodes" in params:
            image.product_codes = list(dict.fromkeys(params["ProductCodes"]))
        if "Description" in params:
            image.description = params["Description"]
        return {"Image": image.api(None)}

    def _delete_image(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        image = self._owned_image(account, params["ImageId"], "DeleteImage")
        if not params.get("DryRun"):
            del self._images[image.image_id]
        return {}

    def _tagged_images(self, account: Account, params: dict[str, Any], action: str) -> list[Image]:
        if not params["ResourceIds"]:
            raise errors.missing_parameter("ResourceIds")
        if not params["Tags"]:
            raise errors.missing_parameter("Tags")
        images: list[Image] = []
        for resource_id in params["ResourceIds"]:
            if not resource_id.startswith("ami-"):
                if re.match(r"^[a-z]+-[0-9a-f]{8}$", resource_id):
                    raise errors.no_such_resource(resource_id)
                raise errors.malformed_id(resource_id)
            images.append(self._owned_image(account, resource_id, action))
        for tag in params["Tags"]:
            if not 1 <= len(tag["Key"]) <= 255:
                raise errors.invalid_tag_key(tag["Key"])
            if len(tag.get("Value", "")) > 255:
                raise errors.invalid_tag_value(tag["Key"])
        return images

    def _create_tags(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        images = self._tagged_images(account, params, "CreateTags")
        new = {tag["Key"]: tag["Value"] for tag in params["Tags"]}
        for image in images:
            if len(image.tags.keys() | new.keys()) > MAX_TAGS_PER_RESOURCE:
                raise errors.too_many_tags(image.image_id, MAX_TAGS_PER_RESOURCE)
        if not params.get("DryRun"):
            for image in images:
                image.tags.update(new)
        return {}

    def _delete_tags(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        images = self._tagged_images(account, params, "DeleteTags")
        if not params.get("DryRun"):
            for image in images:
                for tag in params["Tags"]:
                    # Without a Value every value goes; with one, only that exact value.
                    if tag["Key"] in image.tags and (
                        "Value" not in tag or image.tags[tag["Key"]] == tag["Value"]
                    ):
                        del image.tags[tag["Key"]]
        return {}

    def _read_accounts(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        return {"Accounts": [account.api()]}

    def _read_product_types(
        self, account: Account | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        wanted = params.get("Filters", {}).get("ProductTypeIds")
        types = [dict(t) for t in PRODUCT_TYPES if wanted is None or t["ProductTypeId"] in wanted]
        page, token = self._paginate(types, params, params.get("Filters", {}))
        out: dict[str, Any] = {"ProductTypes": page}
        if token:
            out["NextPageToken"] = token
        return out

    _ACTIONS: ClassVar[dict[str, Callable[[ImageActions, Any, dict[str, Any]], dict[str, Any]]]] = {
        "ReadImages": _read_images,
        "CreateImage": _create_image,
        "UpdateImage": _update_image,
        "DeleteImage": _delete_image,
        "CreateTags": _create_tags,
        "DeleteTags": _delete_tags,
        "ReadAccounts": _read_accounts,
        "ReadProductTypes": _read_product_types,
    }
    # The spec reuses ResourceTag (Value required) for DeleteTags, whose documentation says
    # the value is optional.
    _OPTIONAL: ClassVar[dict[str, frozenset[str]]] = {"DeleteTags": frozenset({"Tags[].Value"})}


# ---------------------------------------------------------------------- ReadImages filters


def _any_name(patterns: list[str], value: str) -> bool:
    # The API documents wildcards in name filters (e.g. "Ubuntu*").
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


def _bdm(view: dict[str, Any], key: str) -> list[Any]:
    return [m["Bsu"][key] for m in view["BlockDeviceMappings"] if key in m.get("Bsu", {})]


_LIST_FILTERS: dict[str, Callable[[dict[str, Any], list[Any]], bool]] = {
    "AccountAliases": lambda v, w: v.get("AccountAlias") in w,
    "AccountIds": lambda v, w: v["AccountId"] in w,
    "Architectures": lambda v, w: v["Architecture"] in w,
    "BlockDeviceMappingDeviceNames": lambda v, w: any(
        m["DeviceName"] in w for m in v["BlockDeviceMappings"]
    ),
    "BlockDeviceMappingSnapshotIds": lambda v, w: any(s in w for s in _bdm(v, "SnapshotId")),
    "BlockDeviceMappingVolumeSizes": lambda v, w: any(s in w for s in _bdm(v, "VolumeSize")),
    "BlockDeviceMappingVolumeTypes": lambda v, w: any(s in w for s in _bdm(v, "VolumeType")),
    "BootModes": lambda v, w: any(m in w for m in v["BootModes"]),
    "Descriptions": lambda v, w: _any_name(w, v["Description"]),
    "FileLocations": lambda v, w: v["FileLocation"] in w,
    "Hypervisors": lambda v, w: "xen" in w,
    "ImageIds": lambda v, w: v["ImageId"] in w,
    "ImageNames": lambda v, w: _any_name(w, v["ImageName"]),
    "PermissionsToLaunchAccountIds": lambda v, w: any(
        a in w for a in v["PermissionsToLaunch"]["AccountIds"]
    ),
    "ProductCodeNames": lambda v, w: any(
        t["Description"] in w for t in PRODUCT_TYPES if t["ProductTypeId"] in v["ProductCodes"]
    ),
    "ProductCodes": lambda v, w: any(c in w for c in v["ProductCodes"]),
    "RootDeviceNames": lambda v, w: v["RootDeviceName"] in w,
    "RootDeviceTypes": lambda v, w: v["RootDeviceType"] in w,
    "States": lambda v, w: v["State"] in w,
    "TagKeys": lambda v, w: any(t["Key"] in w for t in v["Tags"]),
    "TagValues": lambda v, w: any(t["Value"] in w for t in v["Tags"]),
    "Tags": lambda v, w: any(f"{t['Key']}={t['Value']}" in w for t in v["Tags"]),
    "VirtualizationTypes": lambda v, w: "hvm" in w,
}
_BOOL_FILTERS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "BlockDeviceMappingDeleteOnVmDeletion": lambda v: any(_bdm(v, "DeleteOnVmDeletion")),
    "PermissionsToLaunchGlobalPermission": lambda v: v["PermissionsToLaunch"]["GlobalPermission"],
    "SecureBoot": lambda v: v["SecureBoot"],
    "TpmMandatory": lambda v: v["TpmMandatory"],
}


def _matches(view: dict[str, Any], filters: dict[str, Any]) -> bool:
    """Filters combine with AND; the values of one list filter combine with OR.

    An empty list does not filter, so ``"ImageIds": []`` lists every visible OMI: never pass
    an empty list to mean "none".
    """
    for name, wanted in filters.items():
        if name in _BOOL_FILTERS:
            if _BOOL_FILTERS[name](view) != wanted:
                return False
        elif wanted and not _LIST_FILTERS[name](view, wanted):
            return False
    return True

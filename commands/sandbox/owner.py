"""What an OMI's owner can do to it by hand, outside omi-bot (in the console, with another
tool): delete it, take its product code away, change who may launch it, remove its tags; and
what may happen to the cloud itself: an image turns `failed`, or comes back (a state restored
from a backup). Tests stage drift with these, in-process (``Sandbox.edit_image``,
``Sandbox.add_image``) or over HTTP (``POST /_sandbox/images``); none is an API action and
none is recorded in ``calls``."""

from __future__ import annotations

from typing import Any

from commands.sandbox.cloud import ACCOUNT_ID, IMAGE_STATES, Image

EDITS = frozenset(
    {
        "delete",
        "product_codes",
        "global_permission",
        "permitted_account_ids",
        "add_permitted",
        "remove_permitted",
        "remove_tags",
        "state",
    }
)


class OwnerEdits:
    """Mixed into `Sandbox`, which holds the images and the lock."""

    _images: dict[str, Image]
    _lock: Any
    _parse_image: Any
    _name_taken: Any

    def add_image(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Puts an image into the cloud, described as in an accounts file's "images" (with
        ``tags`` and ``permitted_account_ids``); returns its owner view."""
        with self._lock:
            image = self._parse_image(raw, 0)
            if image.image_id in self._images or self._name_taken(image.account_id, image.name):
                raise ValueError(f"an image {image.image_id} or named {image.name!r} exists")
            self._images[image.image_id] = image
            return dict(image.api(None))

    def edit_image(self, image_id: str, **changes: Any) -> dict[str, Any] | None:
        """Changes an image as its owner would; returns its owner view (None once deleted).
        Raises ValueError on an unknown image or change, changing nothing."""
        unknown = set(changes) - EDITS
        if unknown:
            raise ValueError(f"unknown image changes: {', '.join(sorted(unknown))}")
        with self._lock:
            image = self._images.get(image_id)
            if image is None:
                raise ValueError(f"no image {image_id}")
            accounts = [
                *changes.get("permitted_account_ids", []),
                *changes.get("add_permitted", []),
                *changes.get("remove_permitted", []),
            ]
            if any(not isinstance(a, str) or not ACCOUNT_ID.match(a) for a in accounts):
                raise ValueError("account IDs are 12 digits")
            if "state" in changes and changes["state"] not in IMAGE_STATES:
                raise ValueError(f"state is one of {', '.join(IMAGE_STATES)}")
            if changes.get("delete"):
                del self._images[image_id]
                return None
            if "product_codes" in changes:
                image.product_codes = [str(c) for c in changes["product_codes"]]
            if "global_permission" in changes:
                image.global_permission = bool(changes["global_permission"])
            if "permitted_account_ids" in changes:
                image.permitted = list(dict.fromkeys(changes["permitted_account_ids"]))
            for account in changes.get("add_permitted", []):
                if account not in image.permitted:
                    image.permitted.append(account)
            removed = set(changes.get("remove_permitted", []))
            image.permitted = [a for a in image.permitted if a not in removed]
            for key in changes.get("remove_tags", []):
                image.tags.pop(str(key), None)
            if "state" in changes:
                image.state = str(changes["state"])
                image.ready_at = None
            return image.api(None)

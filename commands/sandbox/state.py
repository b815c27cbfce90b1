"""In-memory OUTSCALE cloud state and the API actions the project uses.

``Sandbox.handle()`` is the whole API: it takes a raw HTTP request (method, path, headers,
body), checks the signature, validates the body against the spec and runs the action. The
HTTP server in ``server.py`` is only transport around it.

Behaviour chosen where the real API's is not documented errs on the strict side, so that code
passing here does not fail in production:

- ``ReadImages`` shows ``Tags`` and ``PermissionsToLaunch.AccountIds`` only to the OMI's owner
  (others see ``[]``), as launch permissions and tags are per-account data.
- ``UpdateImage`` refuses permission changes on an OMI that is not ``available`` (wait for a
  copy to finish before sharing it) and a request with both ``Additions`` and ``Removals``.
- ``CreateImage``, ``UpdateImage``, ``DeleteImage``, ``CreateTags`` and ``DeleteTags`` on an
  OMI the caller cannot see answer 5023, as if it did not exist; on one it can see but does
  not own they answer 401 ``AccessDenied``/4.
- ``ReadProductTypes`` needs no signature (``security: []`` in the spec), but a request that
  does carry one must carry a valid one.
- An empty list in a ``ReadImages`` filter does not filter.
- Whether a copy will fail (``fail_copies``) is decided when it is created; its state becomes
  final ``copy_delay`` seconds later, computed from the clock on each read (no threads).
- A bug in the sandbox answers 500 with an ``Errors`` body (and a traceback on stderr); the
  SDK retries 500, so such a bug shows up as slow, repeated failures.
"""

from __future__ import annotations

import base64
import binascii
import collections
import copy
import datetime as dt
import fnmatch
import hashlib
import json
import re
import secrets
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from commands.sandbox import errors, signature, spec
from commands.sandbox.demo import DEMO_ACCOUNTS, DEMO_IMAGES

REGION = "eu-west-2"
# Region names OUTSCALE serves (the spec's server enum): naming one of them is a valid but
# unsupported cross-Region copy; any other name does not exist.
KNOWN_REGIONS = frozenset(
    {"ap-northeast-1", "cloudgouv-eu-west-1", "eu-west-2", "us-east-2", "us-west-1"}
)
API_PREFIXES = ("/api/v1/", "/api/latest/")
IMAGE_STATES = ("pending", "available", "failed")
MAX_TAGS_PER_RESOURCE = 50

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_IMAGE_ID = re.compile(r"^ami-[0-9a-f]{8}$")
_IMAGE_NAME = re.compile(r"^[A-Za-z0-9_ ()/.\-]{3,128}$")

# Illustrative: the real list is longer and its descriptions may differ.
PRODUCT_TYPES: list[dict[str, str]] = [
    {"ProductTypeId": "0001", "Description": "Linux", "Vendor": "3DS OUTSCALE"},
    {"ProductTypeId": "0002", "Description": "Windows Server", "Vendor": "Microsoft"},
    {"ProductTypeId": "0003", "Description": "Windows Desktop", "Vendor": "Microsoft"},
]

HoldStage = Literal["before", "after"]


class SandboxConfigError(ValueError):
    """An accounts/images definition that cannot be loaded; the message says why."""


@dataclass
class Account:
    account_id: str
    access_key: str
    secret_key: str
    email: str
    extra: dict[str, Any] = field(default_factory=dict)

    def api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"AccountId": self.account_id, "Email": self.email}
        for key, api_key in (
            ("customer_id", "CustomerId"),
            ("company_name", "CompanyName"),
            ("first_name", "FirstName"),
            ("last_name", "LastName"),
            ("city", "City"),
            ("country", "Country"),
            ("zip_code", "ZipCode"),
        ):
            if key in self.extra:
                out[api_key] = str(self.extra[key])
        return out


@dataclass
class Image:
    image_id: str
    account_id: str
    name: str
    description: str
    product_codes: list[str]
    global_permission: bool
    permitted: list[str]
    tags: dict[str, str]
    created: dt.datetime
    state: str
    snapshot_id: str
    account_alias: str | None = None
    # For copies still pending: monotonic time at which they settle, and how.
    ready_at: float | None = None
    will_fail: bool = False
    state_message: str | None = None

    def settle(self, now: float) -> None:
        if self.state == "pending" and self.ready_at is not None and now >= self.ready_at:
            self.ready_at = None
            if self.will_fail:
                self.state = "failed"
                self.state_message = "Copy failed (sandbox fail_copies knob)."
            else:
                self.state = "available"

    def visible_to(self, account_id: str) -> bool:
        return (
            self.account_id == account_id or self.global_permission or account_id in self.permitted
        )

    def api(self, viewer: str | None) -> dict[str, Any]:
        """The ``Image`` object as ``viewer`` reads it (``None``: the owner's view)."""
        owner_view = viewer is None or viewer == self.account_id
        out: dict[str, Any] = {
            "AccountId": self.account_id,
            "Architecture": "x86_64",
            "BlockDeviceMappings": [
                {
                    "DeviceName": "/dev/sda1",
                    "Bsu": {
                        "DeleteOnVmDeletion": True,
                        "SnapshotId": self.snapshot_id,
                        "VolumeSize": 10,
                        "VolumeType": "standard",
                    },
                }
            ],
            "BootModes": ["legacy"],
            "CreationDate": self.created.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{self.created.microsecond // 1000:03d}Z",
            "Description": self.description,
            "FileLocation": f"{self.account_id}/{self.name}",
            "ImageId": self.image_id,
            "ImageName": self.name,
            "ImageType": "machine",
            "PermissionsToLaunch": {
                "GlobalPermission": self.global_permission,
                "AccountIds": list(self.permitted) if owner_view else [],
            },
            "ProductCodes": list(self.product_codes),
            "RootDeviceName": "/dev/sda1",
            "RootDeviceType": "bsu",
            "SecureBoot": False,
            "State": self.state,
            "StateComment": (
                {"StateCode": "Client.CopyFailed", "StateMessage": self.state_message}
                if self.state == "failed" and self.state_message
                else {}
            ),
            "Tags": ([{"Key": k, "Value": v} for k, v in self.tags.items()] if owner_view else []),
            "TpmMandatory": False,
        }
        if self.account_alias:
            out["AccountAlias"] = self.account_alias
        return out


def _new_id(prefix: str, taken: Iterable[str] = ()) -> str:
    used = set(taken)
    while True:
        candidate = f"{prefix}-{secrets.token_hex(4)}"
        if candidate not in used:
            return candidate


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Sandbox:
    """The in-memory cloud: accounts, OMIs, test knobs. Thread-safe.

    Knobs (also settable over HTTP at ``POST /_sandbox/knobs``):

    - ``latency``: seconds slept before answering every API request;
    - ``copy_delay``: seconds a new copy stays ``pending`` (read when a copy is created);
    - ``fail_next(n, status=503)``: the next ``n`` API requests answer ``status``;
    - ``fail_copies(True)``: new copies end ``failed`` instead of ``available``;
    - ``hold(action, stage="before")`` / ``release(action)``: requests for ``action`` block
      until released, either before the action runs (``"before"``: it has no effect yet) or
      after it ran but before the answer is sent (``"after"``: effect done, answer lost if the
      client dies); ``wait_held(action)`` waits until one is blocked.

    Introspection: ``calls`` (``(account_id, action, params)`` of every authenticated call),
    ``images`` (dict by id of owner views), ``image(id)``, ``calls_to(action)``.
    """

    region = REGION

    def __init__(
        self,
        accounts: list[dict[str, Any]],
        images: list[dict[str, Any]] | None = None,
        copy_delay: float = 2.0,
    ) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._initial_accounts = copy.deepcopy(accounts)
        self._initial_images = copy.deepcopy(images or [])
        self.latency = 0.0
        self.copy_delay = copy_delay
        self._accounts: dict[str, Account] = {}
        self._by_access_key: dict[str, Account] = {}
        self._images: dict[str, Image] = {}
        self._calls: list[tuple[str, str, dict[str, Any]]] = []
        self._failures: collections.deque[int] = collections.deque()
        self._fail_copies = False
        self._holds: dict[tuple[str, HoldStage], threading.Event] = {}
        self._waiting: collections.Counter[str] = collections.Counter()
        self._load(self._initial_accounts, self._initial_images)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_file(cls, path: str | Path, copy_delay: float = 2.0) -> Sandbox:
        """Load ``{"accounts": [...], "images": [...]}`` (DESIGN.md section 5)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise SandboxConfigError(f"cannot read accounts file {path}: {exc.strerror}") from exc
        except json.JSONDecodeError as exc:
            raise SandboxConfigError(f"accounts file {path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("accounts"), list):
            raise SandboxConfigError(
                f'accounts file {path} must be an object with an "accounts" list'
            )
        images = data.get("images", [])
        if not isinstance(images, list):
            raise SandboxConfigError(f'accounts file {path}: "images" must be a list')
        return cls(data["accounts"], images, copy_delay=copy_delay)

    @classmethod
    def demo(cls, copy_delay: float = 2.0) -> Sandbox:
        """The documented demo accounts and OMIs (see ``commands.sandbox.demo``)."""
        return cls(DEMO_ACCOUNTS, DEMO_IMAGES, copy_delay=copy_delay)

    def _load(self, accounts: list[dict[str, Any]], images: list[dict[str, Any]]) -> None:
        for index, raw in enumerate(accounts):
            account = self._parse_account(raw, index)
            if account.account_id in self._accounts:
                raise SandboxConfigError(f"accounts[{index}]: duplicate account_id")
            if account.access_key in self._by_access_key:
                raise SandboxConfigError(f"accounts[{index}]: duplicate access_key")
            self._accounts[account.account_id] = account
            self._by_access_key[account.access_key] = account
        for index, raw in enumerate(images):
            image = self._parse_image(raw, index)
            if image.image_id in self._images:
                raise SandboxConfigError(f"images[{index}]: duplicate image_id {image.image_id}")
            if self._name_taken(image.account_id, image.name):
                raise SandboxConfigError(
                    f"images[{index}]: account {image.account_id} already has an OMI named "
                    f"{image.name!r}"
                )
            self._images[image.image_id] = image

    @staticmethod
    def _parse_account(raw: Any, index: int) -> Account:
        where = f"accounts[{index}]"
        if not isinstance(raw, dict):
            raise SandboxConfigError(f"{where} must be an object")
        for key in ("account_id", "access_key", "secret_key", "email"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise SandboxConfigError(f"{where}: {key!r} must be a non-empty string")
        if not _ACCOUNT_ID.match(raw["account_id"]):
            raise SandboxConfigError(f"{where}: account_id must be 12 digits")
        extra = {
            k: v
            for k, v in raw.items()
            if k not in ("account_id", "access_key", "secret_key", "email")
        }
        return Account(raw["account_id"], raw["access_key"], raw["secret_key"], raw["email"], extra)

    @staticmethod
    def _parse_image(raw: Any, index: int) -> Image:
        where = f"images[{index}]"
        if not isinstance(raw, dict):
            raise SandboxConfigError(f"{where} must be an object")
        image_id = raw.get("image_id")
        if not isinstance(image_id, str) or not _IMAGE_ID.match(image_id):
            raise SandboxConfigError(f"{where}: image_id must look like ami-0123abcd")
        account_id = raw.get("account_id")
        if not isinstance(account_id, str) or not _ACCOUNT_ID.match(account_id):
            raise SandboxConfigError(f"{where}: account_id must be 12 digits")
        name = raw.get("image_name")
        if not isinstance(name, str) or not _IMAGE_NAME.match(name):
            raise SandboxConfigError(f"{where}: image_name is missing or not a valid OMI name")
        codes = raw.get("product_codes", [])
        if not isinstance(codes, list) or not all(isinstance(c, str) and c for c in codes):
            raise SandboxConfigError(f"{where}: product_codes must be a list of strings")
        state = raw.get("state", "available")
        if state not in IMAGE_STATES:
            raise SandboxConfigError(f"{where}: state must be one of {', '.join(IMAGE_STATES)}")
        permitted = raw.get("permitted_account_ids", [])
        if not isinstance(permitted, list) or not all(
            isinstance(a, str) and _ACCOUNT_ID.match(a) for a in permitted
        ):
            raise SandboxConfigError(f"{where}: permitted_account_ids must be 12-digit IDs")
        tags = raw.get("tags", {})
        if not isinstance(tags, dict):
            raise SandboxConfigError(f"{where}: tags must be an object of key: value")
        return Image(
            image_id=image_id,
            account_id=account_id,
            name=name,
            description=str(raw.get("description", "")),
            product_codes=list(codes),
            global_permission=bool(raw.get("global_permission", False)),
            permitted=list(dict.fromkeys(permitted)),
            tags={str(k): str(v) for k, v in tags.items()},
            created=_now(),
            state=state,
            snapshot_id=_new_id("snap"),
            account_alias=raw.get("account_alias"),
        )

    def reset(self) -> None:
        """Back to the state given at construction; knobs off, calls forgotten."""
        self.release()
        with self._lock:
            self._accounts.clear()
            self._by_access_key.clear()
            self._images.clear()
            self._calls.clear()
            self._failures.clear()
            self._fail_copies = False
            self.latency = 0.0
            self._load(self._initial_accounts, self._initial_images)

    # ------------------------------------------------------------------ knobs

    def fail_next(self, n: int, status: int = 503) -> None:
        """The next ``n`` API requests answer HTTP ``status`` with an ``Errors`` body."""
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        with self._lock:
            self._failures = collections.deque([status] * max(0, n))

    def fail_copies(self, enabled: bool = True) -> None:
        """Copies created from now on end ``failed`` instead of ``available``."""
        with self._lock:
            self._fail_copies = enabled

    def hold(self, action: str, stage: HoldStage = "before") -> None:
        if stage not in ("before", "after"):
            raise ValueError("stage must be 'before' or 'after'")
        with self._lock:
            self._holds.setdefault((action, stage), threading.Event())

    def release(self, action: str | None = None) -> None:
        """Let held requests for ``action`` (all actions when ``None``) go on."""
        with self._lock:
            for key in [k for k in self._holds if action is None or k[0] == action]:
                self._holds.pop(key).set()

    def held(self, action: str) -> int:
        """How many requests for ``action`` are blocked right now."""
        with self._lock:
            return self._waiting[action]

    def wait_held(self, action: str, count: int = 1, timeout: float = 5.0) -> bool:
        """Wait until ``count`` requests for ``action`` are blocked; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._waiting[action] >= count, timeout)

    def finish_copies(self) -> None:
        """Make every pending copy reach its final state now."""
        with self._lock:
            for image in self._images.values():
                if image.ready_at is not None:
                    image.ready_at = 0.0
            self._settle()

    def knobs(self) -> dict[str, Any]:
        with self._lock:
            return {
                "latency": self.latency,
                "copy_delay": self.copy_delay,
                "fail_next": list(self._failures),
                "fail_copies": self._fail_copies,
                "holds": sorted(f"{a}:{s}" for a, s in self._holds),
                "held": {a: n for a, n in self._waiting.items() if n},
            }

    # ------------------------------------------------------------------ introspection

    @property
    def calls(self) -> list[tuple[str, str, dict[str, Any]]]:
        """A copy: clear the record with ``clear_calls()``."""
        with self._lock:
            return list(self._calls)

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def calls_to(self, action: str) -> list[tuple[str, dict[str, Any]]]:
        """``(account_id, params)`` of the authenticated calls of ``action``."""
        with self._lock:
            return [(a, p) for a, name, p in self._calls if name == action]

    @property
    def images(self) -> dict[str, dict[str, Any]]:
        """Every OMI by id, as its owner reads it (``ReadImages`` shape)."""
        with self._lock:
            self._settle()
            return {i: image.api(None) for i, image in self._images.items()}

    def image(self, image_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._settle()
            image = self._images.get(image_id)
            return image.api(None) if image else None

    def state(self) -> dict[str, Any]:
        """What ``GET /_sandbox/state`` answers."""
        with self._lock:
            counts = collections.Counter(action for _, action, _ in self._calls)
            return {
                "region": self.region,
                "images": list(self.images.values()),
                "calls": dict(sorted(counts.items())),
                "knobs": self.knobs(),
            }

    @property
    def accounts(self) -> list[dict[str, Any]]:
        """The accounts as given (``account_id``, ``access_key``, ``secret_key``, ``email``...)."""
        with self._lock:
            return [
                {
                    **a.extra,
                    "account_id": a.account_id,
                    "access_key": a.access_key,
                    "secret_key": a.secret_key,
                    "email": a.email,
                }
                for a in self._accounts.values()
            ]

    def account(self, account_id: str) -> dict[str, Any] | None:
        with self._lock:
            account = self._accounts.get(account_id)
            return account.api() if account else None

    # ------------------------------------------------------------------ request entry point

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """Answer one raw API request: ``(HTTP status, JSON body)``."""
        request_id = str(uuid.uuid4())
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            return 200, self._handle(method, path, lowered, body, request_id)
        except errors.ApiError as exc:
            failure = exc
        except Exception:
            # A sandbox bug: answer like the API's internal errors instead of dropping the
            # connection, and leave the traceback where the developer will look.
            traceback.print_exc()
            failure = errors.internal_error()
        return failure.status, {
            "Errors": [failure.entry()],
            "ResponseContext": {"RequestId": request_id},
        }

    def _handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes, request_id: str
    ) -> dict[str, Any]:
        route = path.split("?", 1)[0]
        prefix = next((p for p in API_PREFIXES if route.startswith(p)), None)
        if prefix is None or "/" in route[len(prefix) :] or route == prefix:
            raise errors.not_found(route)
        action = route[len(prefix) :]
        if self.latency > 0:
            time.sleep(self.latency)
        with self._lock:
            injected = self._failures.popleft() if self._failures else None
        if injected is not None:
            raise errors.injected(injected)
        if method != "POST":
            raise errors.method_not_allowed(method)
        if not spec.has_action(action):
            raise errors.unknown_action(action)
        handler = self._ACTIONS.get(action)
        if handler is None:
            raise errors.not_emulated(action)

        account: Account | None = None
        if headers.get("authorization") or not spec.is_public(action):
            access_key = signature.verify(
                method=method,
                path=path,
                headers=headers,
                body=body,
                region=self.region,
                secret_for=self._secret_for,
            )
            with self._lock:
                account = self._by_access_key[access_key]
        try:
            params = self._parse_body(body)
        except errors.ApiError:
            self._record(account, action, {})
            raise
        self._record(account, action, params)

        self._maybe_hold(action, "before")
        spec.validate_request(action, params, optional=self._OPTIONAL.get(action, frozenset()))
        with self._lock:
            self._settle()
            result = handler(self, account, params)
        self._maybe_hold(action, "after")
        result["ResponseContext"] = {"RequestId": request_id}
        return result

    def _record(self, account: Account | None, action: str, params: dict[str, Any]) -> None:
        if account is not None:
            with self._lock:
                self._calls.append((account.account_id, action, copy.deepcopy(params)))

    def _secret_for(self, access_key: str) -> str | None:
        with self._lock:
            account = self._by_access_key.get(access_key)
            return account.secret_key if account else None

    @staticmethod
    def _parse_body(body: bytes) -> dict[str, Any]:
        if not body.strip():
            return {}
        try:
            params = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise errors.invalid_value("The request body is not valid JSON.") from None
        if not isinstance(params, dict):
            raise errors.wrong_type("body", "object")
        return params

    def _maybe_hold(self, action: str, stage: HoldStage) -> None:
        with self._changed:
            event = self._holds.get((action, stage))
            if event is None:
                return
            self._waiting[action] += 1
            self._changed.notify_all()
        try:
            event.wait()
        finally:
            with self._changed:
                self._waiting[action] -= 1
                self._changed.notify_all()

    # ------------------------------------------------------------------ helpers (lock held)

    def _settle(self) -> None:
        now = time.monotonic()
        for image in self._images.values():
            image.settle(now)

    def _name_taken(self, account_id: str, name: str) -> bool:
        return any(i.account_id == account_id and i.name == name for i in self._images.values())

    def _visible_image(self, account: Account, image_id: str) -> Image:
        if not _IMAGE_ID.match(image_id):
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
        if not _IMAGE_NAME.match(name):
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
            image_id=_new_id("ami", self._images),
            account_id=account.account_id,
            name=name,
            description=params.get("Description", source.description),
            product_codes=list(dict.fromkeys(codes)),
            global_permission=False,
            permitted=[],
            tags={},
            created=_now(),
            state="pending",
            snapshot_id=_new_id("snap"),
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
                    if not _ACCOUNT_ID.match(account_id):
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
            for account_id in additions.get("AccountIds", []):
                if account_id not in image.permitted:
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

    _ACTIONS: ClassVar[dict[str, Callable[[Sandbox, Any, dict[str, Any]], dict[str, Any]]]] = {
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

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

import collections
import copy
import json
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from commands.sandbox import errors, signature, spec
from commands.sandbox.actions import ImageActions
from commands.sandbox.cloud import (
    ACCOUNT_ID,
    API_PREFIXES,
    IMAGE_ID,
    IMAGE_NAME,
    IMAGE_STATES,
    REGION,
    Account,
    HoldStage,
    Image,
    SandboxConfigError,
    new_id,
    now,
)
from commands.sandbox.demo import DEMO_ACCOUNTS, DEMO_IMAGES
from commands.sandbox.owner import OwnerEdits


class Sandbox(ImageActions, OwnerEdits):
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

    Owner edits (``edit_image``, also ``POST /_sandbox/images``): change an image as its owner
    would by hand, to stage drift (see ``commands.sandbox.owner``).

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
        if not ACCOUNT_ID.match(raw["account_id"]):
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
        if not isinstance(image_id, str) or not IMAGE_ID.match(image_id):
            raise SandboxConfigError(f"{where}: image_id must look like ami-0123abcd")
        account_id = raw.get("account_id")
        if not isinstance(account_id, str) or not ACCOUNT_ID.match(account_id):
            raise SandboxConfigError(f"{where}: account_id must be 12 digits")
        name = raw.get("image_name")
        if not isinstance(name, str) or not IMAGE_NAME.match(name):
            raise SandboxConfigError(f"{where}: image_name is missing or not a valid OMI name")
        codes = raw.get("product_codes", [])
        if not isinstance(codes, list) or not all(isinstance(c, str) and c for c in codes):
            raise SandboxConfigError(f"{where}: product_codes must be a list of strings")
        state = raw.get("state", "available")
        if state not in IMAGE_STATES:
            raise SandboxConfigError(f"{where}: state must be one of {', '.join(IMAGE_STATES)}")
        permitted = raw.get("permitted_account_ids", [])
        if not isinstance(permitted, list) or not all(
            isinstance(a, str) and ACCOUNT_ID.match(a) for a in permitted
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
            created=now(),
            state=state,
            snapshot_id=new_id("snap"),
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

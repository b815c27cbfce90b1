"""The OUTSCALE API, through osc-sdk-python's Gateway.

Two identities: the seller's account owns the source OMIs, the distribution account owns the
OMI copies and shares them; both may be one account. Profiles and credentials are read the
standard osc-sdk-python way (~/.osc/config.json or OSC_CONFIG_FILE, OSC_* variables,
OSC_ENDPOINT_API). Every refusal becomes a CloudError of one sentence with the OUTSCALE code."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from osc_sdk_python import Gateway
from osc_sdk_python.version import get_version as sdk_version
from requests.adapters import HTTPAdapter

from commands import metrics
from commands.errors import CloudError
from commands.model import VERSION_TAG, Omi, Seen

log = logging.getLogger("omi_bot.outscale")

# OUTSCALE answers these codes for an image that does not exist (any more).
NO_SUCH_IMAGE = {"5023"}
# The states an image ends in without ever serving.
ENDED = ("failed", "deleted", "deregistered")


@dataclass(frozen=True)
class Image:
    image_id: str
    name: str
    account_id: str
    state: str
    state_message: str
    product_codes: tuple[str, ...]
    global_permission: bool
    permitted_accounts: tuple[str, ...]
    tags: dict[str, str]

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Image:
        perms = data.get("PermissionsToLaunch") or {}
        comment = data.get("StateComment") or {}
        return cls(
            image_id=data["ImageId"],
            name=data.get("ImageName") or "",
            account_id=data.get("AccountId") or "",
            state=data.get("State") or "",
            state_message=comment.get("StateMessage") or comment.get("StateCode") or "",
            product_codes=tuple(data.get("ProductCodes") or ()),
            global_permission=bool(perms.get("GlobalPermission")),
            permitted_accounts=tuple(perms.get("AccountIds") or ()),
            tags={t["Key"]: t.get("Value", "") for t in data.get("Tags") or ()},
        )

    def seen(self) -> Seen:
        return Seen(
            image_id=self.image_id,
            state=self.state,
            product_codes=self.product_codes,
            global_permission=self.global_permission,
            permitted_accounts=self.permitted_accounts,
            tags=dict(self.tags),
        )

    def as_omi(self) -> Omi:
        return Omi(
            image_id=self.image_id,
            name=self.name,
            account_id=self.account_id,
            product_codes=self.product_codes,
            state=self.state,
        )


_SPEC_LOCK = threading.Lock()
_SPEC_CACHE: dict[str, tuple[Any, Any, Any]] = {}
_ERRORS: list[Any] = []


class CachedGateway(Gateway):  # type: ignore[misc]
    """osc-sdk-python's Gateway, parsing its API spec once per process, and once per SDK
    version when given a cache folder.

    Each Gateway parses the SDK's 1 MB OpenAPI file on creation into a tree of about 28 MB of
    Python objects, and keeps 38 kB of it: each action's parameters, their types and which are
    required. That takes 0.6 s, and the allocator does not give the tree's memory back to the
    system, so a worker's RSS keeps a 20 MB peak it needs for nothing. What the SDK keeps is
    stored as JSON in `cache_dir`, under the SDK's version and the SHA-256 of the spec file: a
    process that finds it parses nothing, an upgraded SDK parses its own spec once. A cache
    that cannot be read or written only costs the parse."""

    def __init__(self, *, cache_dir: str | Path | None = None, **options: Any) -> None:
        self._cache_dir = Path(cache_dir) if cache_dir else None
        super().__init__(**options)

    def _load_gateway_structure(self, spec: str) -> None:
        with _SPEC_LOCK:
            cached = _SPEC_CACHE.get(spec)
            if cached is None:
                cached = _SPEC_CACHE[spec] = self._kept_or_parsed(spec)
            self.gateway_structure, self.api_version, self.endpoint_api_version = cached

    def _kept_or_parsed(self, spec: str) -> tuple[Any, Any, Any]:
        kept = self._kept_file(spec)
        if kept is not None:
            try:
                data = json.loads(kept.read_text(encoding="utf-8"))
                return data["structure"], data["api_version"], data["endpoint_api_version"]
            except FileNotFoundError:
                pass
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.info("the kept OUTSCALE API spec %s is unreadable (%s)", kept, exc)
        super()._load_gateway_structure(spec)
        parsed = (self.gateway_structure, self.api_version, self.endpoint_api_version)
        if kept is not None:
            self._keep(kept, parsed)
        return parsed

    def _kept_file(self, spec: str) -> Path | None:
        if self._cache_dir is None:
            return None
        try:
            digest = hashlib.sha256(Path(spec).read_bytes()).hexdigest()[:32]
        except OSError:
            return None  # the SDK's own parse reports a missing spec
        return self._cache_dir / f"osc-sdk-python-{sdk_version()}-{digest}.json"

    @staticmethod
    def _keep(kept: Path, parsed: tuple[Any, Any, Any]) -> None:
        structure, api_version, endpoint_api_version = parsed
        text = json.dumps(
            {
                "structure": structure,
                "api_version": api_version,
                "endpoint_api_version": endpoint_api_version,
            }
        )
        try:
            kept.parent.mkdir(parents=True, exist_ok=True)
            # Written aside then renamed: a process starting meanwhile never reads half a file.
            with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", dir=kept.parent, prefix=".osc-", delete=False
            ) as handle:
                handle.write(text)
            os.replace(handle.name, kept)
        except OSError as exc:
            log.info("cannot keep the parsed OUTSCALE API spec in %s (%s)", kept.parent, exc)

    def _load_errors(self) -> None:
        # 24 kB, parsed in milliseconds: kept in memory only (its keys are numbers, which JSON
        # would turn into strings).
        with _SPEC_LOCK:
            if not _ERRORS:
                super()._load_errors()
                _ERRORS.append(self.gateway_errors)
            self.gateway_errors = _ERRORS[0]


class _Timeout(HTTPAdapter):
    """The SDK sets no timeout on its requests; a hung connection must not hang a worker."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, **kwargs)


def cloud_error(action: str, exc: Exception) -> CloudError:
    """One sentence, with the OUTSCALE code when there is one; never credentials."""
    if isinstance(exc, CloudError):
        return exc
    response = getattr(exc, "response", None)
    if isinstance(exc, requests.HTTPError) and response is not None:
        status = response.status_code
        code = type_ = details = None
        try:
            body = response.json()
            first = (body.get("Errors") or [{}])[0]
            code, type_, details = first.get("Code"), first.get("Type"), first.get("Details")
        except ValueError:
            pass
        what = f"error {code} {type_}" if code else f"HTTP {status}"
        detail = f": {details}" if details else ""
        retryable = status == 429 or status >= 500
        return CloudError(
            action,
            f"OUTSCALE refused {action} ({what}{detail}).",
            code=code,
            type_=type_,
            retryable=retryable,
        )
    if isinstance(exc, requests.Timeout):
        return CloudError(action, f"OUTSCALE did not answer {action} in time.", retryable=True)
    if isinstance(exc, requests.ConnectionError):
        return CloudError(action, f"OUTSCALE could not be reached for {action}.", retryable=True)
    return CloudError(action, f"OUTSCALE call {action} failed: {type(exc).__name__}.")


def error_label(exc: Exception, error: CloudError) -> str:
    """The metrics' label of a failed call: OUTSCALE's error code, else what went wrong."""
    if error.code:
        return str(error.code)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"http_{exc.response.status_code}"
    if isinstance(exc, requests.Timeout):
        return "timeout"
    if isinstance(exc, requests.ConnectionError):
        return "unreachable"
    return "error"


class Account:
    """One OUTSCALE identity and the calls omi-bot makes with it."""

    def __init__(self, gateway: Any, label: str) -> None:
        self.gateway = gateway
        self.label = label
        self._account_id: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_profile(
        cls, profile: str | None, label: str, timeout: float, **options: Any
    ) -> Account:
        if profile:
            options["profile"] = profile
        try:
            gateway = CachedGateway(**options)
        except Exception as exc:  # the SDK raises bare errors for a missing profile or file
            raise CloudError(
                "configuration",
                f"The OUTSCALE {label} profile {profile or 'default'!r} could not be loaded "
                f"({type(exc).__name__}); check ~/.osc/config.json or OSC_CONFIG_FILE.",
            ) from None
        if not gateway.access_key() or not gateway.secret_key():
            raise CloudError(
                "configuration",
                f"No OUTSCALE credentials for the {label} account: set OSC_ACCESS_KEY and "
                "OSC_SECRET_KEY, or a profile in ~/.osc/config.json.",
            )
        session = gateway.call.session
        adapter = _Timeout(timeout)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return cls(gateway, label)

    @property
    def region(self) -> str:
        return str(self.gateway.region())

    def call(self, action: str, **params: Any) -> dict[str, Any]:
        with metrics.outscale_call(action) as outcome:
            try:
                return dict(getattr(self.gateway, action)(**params))
            except Exception as exc:
                error = cloud_error(action, exc)
                outcome["code"] = error_label(exc, error)
                raise error from None

    @property
    def account_id(self) -> str:
        with self._lock:
            if self._account_id is None:
                accounts = self.call("ReadAccounts").get("Accounts") or []
                if not accounts:
                    raise CloudError("ReadAccounts", f"OUTSCALE shows no {self.label} account.")
                self._account_id = str(accounts[0]["AccountId"])
            return self._account_id

    def images(self, **filters: Any) -> Iterator[Image]:
        token: str | None = None
        while True:
            params: dict[str, Any] = {"Filters": filters, "ResultsPerPage": 1000}
            if token:
                params["NextPageToken"] = token
            answer = self.call("ReadImages", **params)
            for data in answer.get("Images") or ():
                yield Image.from_api(data)
            token = answer.get("NextPageToken")
            if not token:
                return

    def image(self, image_id: str) -> Image | None:
        return next(self.images(ImageIds=[image_id]), None)

    # the seller's side
    def selectable_omis(self, seller_account_id: str, product_code: str) -> list[Image]:
        """R2: the seller's own available OMIs carrying the product code."""
        return sorted(
            self.images(
                AccountIds=[seller_account_id], ProductCodes=[product_code], States=["available"]
            ),
            key=lambda i: (i.name, i.image_id),
        )

    def find_omi(self, seller_account_id: str, ref: str) -> Image | None:
        """An OMI of the seller by ID or by name, whatever its state or codes (the caller
        tells why it may not be selectable)."""
        ref = ref.strip()
        if ref.startswith("ami-"):
            found = [i for i in self.images(ImageIds=[ref]) if i.account_id == seller_account_id]
        else:
            found = list(self.images(AccountIds=[seller_account_id], ImageNames=[ref]))
        return found[0] if found else None

    def grant(self, image_id: str, account_ids: Iterable[str]) -> None:
        ids = list(account_ids)
        if ids:
            self.call(
                "UpdateImage",
                ImageId=image_id,
                PermissionsToLaunch={"Additions": {"AccountIds": ids}},
            )

    def revoke(self, image_id: str, account_ids: Iterable[str]) -> None:
        ids = list(account_ids)
        if ids:
            self.call(
                "UpdateImage",
                ImageId=image_id,
                PermissionsToLaunch={"Removals": {"AccountIds": ids}},
            )

    def make_public(self, image_id: str) -> None:
        self.call(
            "UpdateImage",
            ImageId=image_id,
            PermissionsToLaunch={"Additions": {"GlobalPermission": True}},
        )

    def make_private(self, image_id: str) -> None:
        self.call(
            "UpdateImage",
            ImageId=image_id,
            PermissionsToLaunch={"Removals": {"GlobalPermission": True}},
        )

    def set_product_codes(self, image_id: str, codes: Iterable[str]) -> None:
        self.call("UpdateImage", ImageId=image_id, ProductCodes=list(codes))

    # the distribution side
    def find_copy(self, version_id: str, name: str) -> Image | None:
        """A copy made for this version before (by its tag, or by its name when the crash
        came between the copy and its tag)."""
        return next(self._tagged(version_id), None) or next(self._named(name), None)

    def copies_of(self, version_id: str, name: str) -> list[Image]:
        """Every copy made for this version: a copy the drift repair made again can stand next
        to the one recorded, and a deletion must leave neither."""
        found = {i.image_id: i for i in self._named(name)}
        found.update((i.image_id, i) for i in self._tagged(version_id))
        return list(found.values())

    def _tagged(self, version_id: str) -> Iterator[Image]:
        return self.images(AccountIds=[self.account_id], Tags=[f"{VERSION_TAG}={version_id}"])

    def _named(self, name: str) -> Iterator[Image]:
        return self.images(AccountIds=[self.account_id], ImageNames=[name])

    def copy(self, source: str, name: str, product_code: str, description: str) -> str:
        answer = self.call(
            "CreateImage",
            SourceImageId=source,
            SourceRegionName=self.region,
            ImageName=name,
            ProductCodes=[product_code],
            Description=description[:255],
        )
        return str(answer["Image"]["ImageId"])

    def tag_version(self, image_id: str, version_id: str) -> None:
        self.call(
            "CreateTags",
            ResourceIds=[image_id],
            Tags=[{"Key": VERSION_TAG, "Value": version_id}],
        )

    def delete(self, image_id: str) -> bool:
        """Deletes an image; one already gone counts as deleted (a retried job)."""
        try:
            self.call("DeleteImage", ImageId=image_id)
        except CloudError as err:
            if err.code in NO_SUCH_IMAGE:
                return False
            raise
        return True


class Cloud:
    """The two identities, created on first use so that reading the Versions table never
    needs OUTSCALE credentials."""

    def __init__(
        self,
        seller_profile: str | None = None,
        distribution_profile: str | None = None,
        timeout: float = 30.0,
        *,
        options: dict[str, Any] | None = None,
        seller: Account | None = None,
        distribution: Account | None = None,
    ) -> None:
        self._profiles = (seller_profile, distribution_profile)
        self._timeout = timeout
        self._options = dict(options or {})
        self._seller = seller
        self._distribution = distribution
        self._lock = threading.Lock()

    @property
    def seller(self) -> Account:
        with self._lock:
            if self._seller is None:
                self._seller = Account.from_profile(
                    self._profiles[0], "seller", self._timeout, **self._options
                )
            return self._seller

    @property
    def distribution(self) -> Account:
        with self._lock:
            if self._distribution is None:
                profile = self._profiles[1] or self._profiles[0]
                self._distribution = Account.from_profile(
                    profile, "distribution", self._timeout, **self._options
                )
            return self._distribution

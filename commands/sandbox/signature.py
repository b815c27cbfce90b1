"""Verification of OSC4-HMAC-SHA256 signed requests, as osc-sdk-python signs them.

The SDK (``osc_sdk_python/authentication.py``) builds, for ``POST /api/v1/<Action>``:

- canonical request: ``POST``, the path (with its query string, if any), an empty query
  line, the canonical headers ``content-type``, ``host`` (the host **without its port**)
  and ``x-osc-date``, the signed header list, and the hex SHA-256 of the body;
- string to sign: ``OSC4-HMAC-SHA256``, the ``X-Osc-Date`` value, the credential scope
  ``YYYYMMDD/<region>/api/osc4_request`` and the hex SHA-256 of the canonical request;
- signing key: HMAC chain starting from ``"OSC4" + secret_key`` over date, region, ``api``
  and ``osc4_request``.

The verifier rebuilds the same strings from what arrived and compares in constant time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from commands.sandbox import errors

ALGORITHM = "OSC4-HMAC-SHA256"
SERVICE = "api"
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)

_AUTHORIZATION = re.compile(
    r"^OSC4-HMAC-SHA256 Credential=(?P<access_key>[^/\s]+)/(?P<date>\d{8})/(?P<region>[^/\s]+)"
    r"/(?P<service>[^/\s]+)/osc4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class Credential:
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str | None) -> Credential:
    """Parse the Authorization header, or raise the 401 the API would answer."""
    if not value:
        raise errors.authentication_failed("The request is not signed: no Authorization header.")
    scheme = value.split(" ", 1)[0]
    if scheme == "Basic":
        raise errors.login_password_not_allowed()
    if scheme != ALGORITHM:
        raise errors.unknown_authorization_type(scheme)
    match = _AUTHORIZATION.match(value.strip())
    if match is None:
        raise errors.authentication_failed("The Authorization header is malformed.")
    return Credential(
        access_key=match["access_key"],
        date=match["date"],
        region=match["region"],
        service=match["service"],
        signed_headers=tuple(match["signed"].split(";")),
        signature=match["signature"],
    )


def host_without_port(host: str) -> str:
    # The SDK signs urllib3's parse_url(endpoint).host, which drops the port but keeps the
    # brackets of an IPv6 literal.
    host = host.strip()
    if host.startswith("["):
        return host[: host.index("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if ":" in host else host


def _sign(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret_key: str, date: str, region: str, service: str = SERVICE) -> bytes:
    key = _sign(("OSC4" + secret_key).encode("utf-8"), date)
    key = _sign(key, region)
    key = _sign(key, service)
    return _sign(key, "osc4_request")


def expected_signature(
    *,
    secret_key: str,
    credential: Credential,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
) -> str:
    """The signature the SDK would have computed for this request with ``secret_key``.

    ``headers`` must have lower-case names.
    """
    canonical_headers = "".join(
        f"{name}:{_canonical_value(name, headers.get(name, ''))}\n"
        for name in credential.signed_headers
    )
    canonical_request = "\n".join(
        [
            method,
            path,
            "",
            canonical_headers,
            ";".join(credential.signed_headers),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{credential.date}/{credential.region}/{credential.service}/osc4_request"
    string_to_sign = "\n".join(
        [
            ALGORITHM,
            headers.get("x-osc-date", ""),
            scope,
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ]
    )
    key = signing_key(secret_key, credential.date, credential.region, credential.service)
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _canonical_value(name: str, value: str) -> str:
    return host_without_port(value) if name == "host" else value.strip()


def verify(
    *,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    region: str,
    secret_for: Callable[[str], str | None],
    now: dt.datetime | None = None,
) -> str:
    """Check a signed request and return its access key, or raise a 401 ``ApiError``.

    ``headers`` must have lower-case names; ``secret_for`` maps an access key to its secret
    key (``None`` when unknown).
    """
    credential = parse_authorization(headers.get("authorization"))
    missing = {"host", "x-osc-date"} - set(credential.signed_headers)
    if missing:
        raise errors.authentication_failed(
            f"SignedHeaders must include {', '.join(sorted(missing))}."
        )
    if credential.service != SERVICE:
        raise errors.authentication_failed(
            f"The credential scope names service '{credential.service}', expected '{SERVICE}'."
        )
    if credential.region != region:
        raise errors.authentication_failed(
            f"The credential scope names Region '{credential.region}', this endpoint serves "
            f"'{region}'."
        )
    date_header = headers.get("x-osc-date")
    if not date_header:
        raise errors.authentication_failed("The X-Osc-Date header is missing.")
    try:
        signed_at = dt.datetime.strptime(date_header, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise errors.authentication_failed(
            f"X-Osc-Date '{date_header}' is not in the YYYYMMDDTHHMMSSZ format."
        ) from None
    if date_header[:8] != credential.date:
        raise errors.authentication_failed("The credential scope date differs from X-Osc-Date.")
    current = now or dt.datetime.now(dt.UTC)
    if abs(current - signed_at) > MAX_CLOCK_SKEW:
        raise errors.authentication_failed(
            "The request signature has expired: X-Osc-Date is more than 15 minutes away from "
            "the server time."
        )
    secret_key = secret_for(credential.access_key)
    if secret_key is None:
        raise errors.authentication_failed(
            f"The access key '{credential.access_key}' does not exist."
        )
    expected = expected_signature(
        secret_key=secret_key,
        credential=credential,
        method=method,
        path=path,
        headers=headers,
        body=body,
    )
    if not hmac.compare_digest(expected, credential.signature):
        raise errors.authentication_failed(
            "The request signature does not match: check the secret key and that the body, "
            "Host and X-Osc-Date were not changed after signing."
        )
    return credential.access_key

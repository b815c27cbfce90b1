"""Errors the sandbox answers, shaped and numbered like the OUTSCALE API's.

Every error body is ``{"Errors": [{"Code", "Type", "Details"}], "ResponseContext":
{"RequestId"}}`` (the spec's ``ErrorResponse``), served as ``application/json``.

Where the codes come from:

- 4000-10046 (``InvalidParameterValue``, ``InvalidResource``, ``InvalidState``,
  ``ResourceConflict``, ``TooManyResources``): ``osc_sdk_python/resources/gateway_errors.yaml``,
  shipped with the SDK.
- 1, 2, 4, 6, 9, 12, 24 (``AccessDenied`` family) and their HTTP statuses: the public
  OUTSCALE errors page (docs.outscale.com/api-errors.html).
- 3001 ``InvalidParameter`` (unknown parameter), 7000 ``MissingParameter`` and 8000
  ``OperationNotSupported`` (unknown action): the same page's numbering scheme, one thousand
  per type in alphabetical order of type (confirmed by the yaml for 4000-10000); the exact
  sub-codes are a best effort. Callers should branch on ``Type`` and the HTTP status, which
  are stable, rather than on these three numbers.

HTTP statuses: 400 for bad parameters, unknown resources (5xxx) and unknown actions, 401 for
authentication failures and operations on resources the caller does not own, 405 for a method
other than POST, 409 for conflicts and wrong states.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ApiError(Exception):
    """An error answer: HTTP status plus one OUTSCALE ``Errors`` entry."""

    status: int
    code: str
    type: str
    details: str

    def __str__(self) -> str:
        return f"{self.status} {self.type}/{self.code}: {self.details}"

    def entry(self) -> dict[str, str]:
        return {"Code": self.code, "Type": self.type, "Details": self.details}


def authentication_failed(details: str) -> ApiError:
    return ApiError(401, "1", "AccessDenied", details)


def method_not_allowed(method: str) -> ApiError:
    return ApiError(405, "2", "AccessDenied", f"The HTTP method {method} is not allowed: use POST.")


def unauthorized_operation(details: str) -> ApiError:
    return ApiError(401, "4", "AccessDenied", details)


def login_password_not_allowed() -> ApiError:
    return ApiError(
        401,
        "9",
        "AuthFailure",
        "The authentication using login/password is not allowed for this call: "
        "sign the request with an access key (OSC4-HMAC-SHA256).",
    )


def unknown_authorization_type(scheme: str) -> ApiError:
    return ApiError(
        401,
        "12",
        "AccessDenied",
        f"The authentication type '{scheme}' specified in the Authorization header is unknown.",
    )


def unknown_parameter(path: str) -> ApiError:
    return ApiError(400, "3001", "InvalidParameter", f"The parameter '{path}' is not valid here.")


def missing_parameter(path: str) -> ApiError:
    return ApiError(400, "7000", "MissingParameter", f"The parameter '{path}' is required.")


def wrong_type(path: str, expected: str) -> ApiError:
    return ApiError(
        400, "4108", "InvalidParameterValue", f"The parameter '{path}' must be of type {expected}."
    )


def invalid_value(details: str) -> ApiError:
    return ApiError(400, "4047", "InvalidParameterValue", details)


def invalid_parameter_set(details: str) -> ApiError:
    return ApiError(400, "4046", "InvalidParameterValue", details)


def invalid_image_name(name: str) -> ApiError:
    return ApiError(
        400,
        "4026",
        "InvalidParameterValue",
        f"The ImageName '{name}' is not valid: 3-128 letters, digits, underscores, spaces, "
        "parentheses, slashes, periods or dashes.",
    )


def invalid_id_prefix(resource_id: str) -> ApiError:
    return ApiError(
        400, "4104", "InvalidParameterValue", f"The ID '{resource_id}' has an unknown prefix."
    )


def malformed_id(resource_id: str) -> ApiError:
    return ApiError(400, "4105", "InvalidParameterValue", f"The ID '{resource_id}' is malformed.")


def invalid_tag_key(key: str) -> ApiError:
    return ApiError(
        400, "4069", "InvalidParameterValue", f"The tag key '{key}' must be 1-255 characters."
    )


def invalid_tag_value(key: str) -> ApiError:
    return ApiError(
        400,
        "4071",
        "InvalidParameterValue",
        f"The value of the tag '{key}' must be at most 255 characters.",
    )


def no_such_image(image_id: str) -> ApiError:
    return ApiError(400, "5023", "InvalidResource", f"The ImageId '{image_id}' doesn't exist.")


def no_such_region(region: str) -> ApiError:
    return ApiError(400, "5043", "InvalidResource", f"The Region '{region}' doesn't exist.")


def no_such_resource(resource_id: str) -> ApiError:
    return ApiError(
        400,
        "5044",
        "InvalidResource",
        f"The resource '{resource_id}' doesn't exist (the sandbox holds only OMIs).",
    )


def no_such_vm(vm_id: str) -> ApiError:
    return ApiError(
        400,
        "5063",
        "InvalidResource",
        f"The VmId '{vm_id}' doesn't exist (the sandbox has no VMs: copy an OMI instead).",
    )


def invalid_image_state(image_id: str, state: str, wanted: str) -> ApiError:
    return ApiError(
        409,
        "6001",
        "InvalidState",
        f"The OMI '{image_id}' is in the '{state}' state; this operation needs '{wanted}'.",
    )


def already_exists(details: str) -> ApiError:
    return ApiError(409, "9000", "ResourceConflict", details)


def too_many_tags(resource_id: str, limit: int) -> ApiError:
    return ApiError(
        400, "10041", "TooManyResources", f"The resource '{resource_id}' would exceed {limit} tags."
    )


def unknown_action(action: str) -> ApiError:
    return ApiError(400, "8000", "OperationNotSupported", f"The action '{action}' does not exist.")


def not_found(path: str) -> ApiError:
    return ApiError(404, "0", "DefaultError", f"No API here: '{path}'. POST to /api/v1/<Action>.")


def injected(status: int) -> ApiError:
    """The answer served by the ``fail_next`` knob, shaped like the real throttling errors."""
    if status == 429:
        return ApiError(429, "24", "AccessDenied", "Request rate exceeded (injected by sandbox).")
    if status == 503:
        return ApiError(503, "6", "AccessDenied", "Request rate exceeded (injected by sandbox).")
    return ApiError(status, "0", "DefaultError", f"Injected failure {status} (sandbox knob).")


def not_emulated(action: str) -> ApiError:
    return ApiError(
        400,
        "8000",
        "OperationNotSupported",
        f"The action '{action}' exists in the OUTSCALE API but is not emulated by the sandbox.",
    )


def internal_error() -> ApiError:
    return ApiError(500, "0", "DefaultError", "Internal error of the sandbox (see its stderr).")

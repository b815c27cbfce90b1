"""The OUTSCALE OpenAPI description shipped inside osc-sdk-python, and request validation.

The sandbox checks each request body against ``components.schemas.<Action>Request`` the way
the real API rejects bad input: an unknown parameter, a missing required one or a value of the
wrong JSON type is a 400 naming the parameter path (``Filters.ImageIds[0]``). The SDK itself
only checks top-level names and types, so nested mistakes reach the server, as they would in
production.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import osc_sdk_python

from commands.sandbox import errors

SPEC_PATH = Path(osc_sdk_python.__file__).parent / "resources" / "outscale.yaml"

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


@functools.cache
def load_spec() -> dict[str, Any]:
    """Parse outscale.yaml once per process.

    PyYAML's C loader reads the 1 MB file in a fraction of a second; ruamel.yaml (a
    dependency of the SDK, so always present) takes seconds and is only the fallback.
    """
    text = SPEC_PATH.read_text(encoding="utf-8")
    try:
        import yaml
    except ImportError:
        from ruamel.yaml import YAML

        return YAML(typ="safe").load(text)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)


def schemas() -> dict[str, Any]:
    return load_spec()["components"]["schemas"]


def has_action(action: str) -> bool:
    return f"/{action}" in load_spec()["paths"]


def is_public(action: str) -> bool:
    """Whether the spec lets the action be called without signing (``security: []``)."""
    operation = load_spec()["paths"][f"/{action}"]["post"]
    return operation.get("security") == []


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = schemas()[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def validate_request(action: str, params: Any, *, optional: frozenset[str] = frozenset()) -> None:
    """Raise the API's 400 for the first problem in ``params``.

    ``optional`` lists dotted paths (``Tags[].Value``) the spec marks required but the real
    API documents as optional.
    """
    _check(params, schemas()[f"{action}Request"], "", optional)


def _check(value: Any, schema: dict[str, Any], path: str, optional: frozenset[str]) -> None:
    schema = _resolve(schema)
    kind = schema.get("type")
    if kind is not None:
        expected = _JSON_TYPES[kind]
        # bool is an int in Python but never one in JSON.
        if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
            raise errors.wrong_type(path or "body", kind)
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(map(str, schema["enum"]))
        raise errors.invalid_value(f"The parameter '{path}' must be one of: {choices}.")
    if kind == "object":
        properties: dict[str, Any] = schema.get("properties", {})
        for name, item in value.items():
            child = f"{path}.{name}" if path else name
            if name not in properties:
                raise errors.unknown_parameter(child)
            _check(item, properties[name], child, optional)
        for name in schema.get("required", []):
            child = f"{path}.{name}" if path else name
            if name not in value and _generic(child) not in optional:
                raise errors.missing_parameter(child)
    elif kind == "array":
        for index, item in enumerate(value):
            _check(item, schema.get("items", {}), f"{path}[{index}]", optional)


def _generic(path: str) -> str:
    """``Tags[3].Value`` -> ``Tags[].Value``."""
    out: list[str] = []
    skipping = False
    for char in path:
        if char == "[":
            skipping = True
            out.append("[]")
        elif char == "]":
            skipping = False
        elif not skipping:
            out.append(char)
    return "".join(out)

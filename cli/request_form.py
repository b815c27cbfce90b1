"""`--form FILE`: the Version form's fields from a TOML or JSON file, so a pipeline keeps its
release note in its repository. Options given on the command line override the file's."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from commands.errors import UserError
from commands.model import VersionForm

TEXT_FIELDS = ("omi", "software_version", "operating_system", "release_note", "instructions")
FIELDS = (*TEXT_FIELDS, "software_base")
# A form file is a few kilobytes; anything much bigger is not one.
MAX_BYTES = 64 * 1024


def read_form_file(path: str) -> dict[str, Any]:
    """The file's fields, checked: UTF-8, TOML (`.toml`) or JSON (`.json`, or any other name
    whose text starts with `{`), only the Version form's fields, text values (a list of text
    for `software_base`)."""
    file = Path(path)
    try:
        raw = file.read_bytes()[: MAX_BYTES + 1]
    except (OSError, ValueError) as err:
        # ValueError: a NUL in the path.
        reason = err.strerror if isinstance(err, OSError) else "not a file name"
        raise UserError(f"The form file {path!r:.60} cannot be read ({reason}).") from None
    if len(raw) > MAX_BYTES:
        raise UserError(f"The form file {path} is over {MAX_BYTES // 1024} KiB.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"The form file {path} is not valid UTF-8 (byte {err.start}).") from None
    as_json = file.suffix.lower() == ".json" or (
        file.suffix.lower() != ".toml" and text.lstrip().startswith("{")
    )
    try:
        data = json.loads(text) if as_json else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        kind = "JSON" if as_json else "TOML"
        raise UserError(f"The form file {path} is not valid {kind}: {err}.") from None
    if not isinstance(data, dict):
        raise UserError(f"The form file {path} must hold a table of the Version form's fields.")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise UserError(
            f"The form file {path} has fields the Version form does not: "
            f"{', '.join(unknown)} (it has {', '.join(FIELDS)})."
        )
    for name in TEXT_FIELDS:
        if name in data and not isinstance(data[name], str):
            raise UserError(f"In the form file {path}, {name} must be text.")
    base = data.get("software_base")
    if base is not None and not (
        isinstance(base, list) and all(isinstance(item, str) for item in base)
    ):
        raise UserError(f"In the form file {path}, software_base must be a list of text.")
    return data


def merged_form(file_fields: dict[str, Any], **options: Any) -> VersionForm:
    """The file's fields, each overridden by the option of the same name when it is given
    (None, or an empty software base, is "not given")."""
    fields = dict(file_fields)
    for name, value in options.items():
        if value is None or (name == "software_base" and not value):
            continue
        fields[name] = value
    return VersionForm(
        omi=fields.get("omi", ""),
        software_version=fields.get("software_version", ""),
        operating_system=fields.get("operating_system", ""),
        software_base=tuple(fields.get("software_base") or ()),
        release_note=fields.get("release_note", ""),
        instructions=fields.get("instructions", ""),
    )

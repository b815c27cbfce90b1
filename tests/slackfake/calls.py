"""What the fake records of each request, and how tests read it back: the method, its
parameters as the server decoded them (whatever encoding the client chose), the token it
carried, and the blocks of a message or a view."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Call:
    """One request the fake received."""

    method: str
    params: dict[str, Any]
    token: str | None
    at: float
    # For ``response_url`` posts: the NAME part of ``/response/NAME``.
    name: str | None = None


def iter_blocks(call: Call) -> Iterator[dict[str, Any]]:
    """The blocks of a recorded message or view call, whichever shape it carried."""
    view = call.params.get("view")
    blocks = view.get("blocks", []) if isinstance(view, dict) else call.params.get("blocks", [])
    yield from blocks if isinstance(blocks, list) else []

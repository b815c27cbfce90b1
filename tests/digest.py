"""A digest of everything omi-bot has stored, to show that a refused operation changed nothing:
take one before, one after, compare."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from commands.bootstrap import Core
from storage.orm import metadata

# The Slack deliveries taken record that a request arrived (so that a copy of it is dropped),
# not anything it did: a refused request is recorded there too.
NOT_STATE = {"slack_deliveries"}


def state_digest(core: Core) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but NOT_STATE, in a stable order."""
    with core.db.engine.connect() as connection:
        return {
            table.name: sorted(
                (tuple(repr(value) for value in row) for row in connection.execute(select(table))),
            )
            for table in metadata.sorted_tables
            if table.name not in NOT_STATE
        }

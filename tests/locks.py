"""Locks held by another session, as a `psql` session left open in a transaction holds them:
what omi-bot's statements wait on until the lock timeout cuts them off."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import text

from commands.model import now
from storage.db import make_engine
from storage.orm import slack_deliveries


@contextmanager
def row_locked(url: str, table: str, where: str) -> Iterator[None]:
    """The rows of `table` matching `where` held (FOR UPDATE) until the block ends."""
    holder = make_engine(url)
    try:
        with holder.connect() as conn:
            found = conn.execute(text(f"SELECT 1 FROM {table} WHERE {where} FOR UPDATE")).all()
            assert found, f"no row of {table} where {where}"
            yield
            conn.rollback()
    finally:
        holder.dispose()


@contextmanager
def delivery_being_taken(url: str, team_id: str, delivery_id: str) -> Iterator[None]:
    """Another replica's claim of the delivery, not committed until the block ends: a claim
    of the same delivery waits on it."""
    holder = make_engine(url)
    try:
        with holder.connect() as conn:
            conn.execute(
                slack_deliveries.insert().values(
                    team_id=team_id, delivery_id=delivery_id, expires_at=now() + timedelta(hours=1)
                )
            )
            yield
            conn.rollback()
    finally:
        holder.dispose()

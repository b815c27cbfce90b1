"""The migration that adds the audit trail, on a database populated before it: the events the
tables tell are reconstructed, in the order they happened, and marked so."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, Table, insert, select, text

from storage import orm
from storage.db import make_engine
from storage.migrate import alembic_config
from tests.conftest import fresh_schema

T = datetime(2026, 10, 1, 12, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """An empty database of its own (a schema on PostgreSQL), migrated by the test."""
    base = os.environ.get("OMI_TEST_DATABASE_URL", "")
    if not base:
        built = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield built
        built.dispose()
        return
    with fresh_schema("migration") as url:
        built = make_engine(url)
        yield built
        built.dispose()


def migrate(engine: Engine, revision: str) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def version(vid: str, status: str, **when: datetime | str | None) -> dict[str, object]:
    return {
        "id": vid,
        "product_code": "0001",
        "omi_id": "ami-5e11e001",
        "omi_name": "debian",
        "release_note": "note",
        "status": status,
        "created_at": T,
        "modified_at": T,
        "requested_by": "U1",
        **when,
    }


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, object]]) -> None:
    for row in rows:  # one by one: the rows do not all name the same columns
        conn.execute(insert(table), row)


def test_existing_rows_get_their_events(engine: Engine) -> None:
    migrate(engine, "0006")
    with engine.begin() as conn:
        conn.execute(
            insert(orm.products),
            {
                "code": "0001",
                "name": "Nginx",
                "seller_account_id": "111111111111",
                "pricing": "hourly",
                "created_at": T,
                "modified_at": T,
            },
        )
        insert_rows(
            conn,
            orm.versions,
            [
                # asked for and approved in Slack, then published, then unpublished
                version(
                    "ver-000000000a",
                    "unpublished",
                    approved_by="URM1",
                    published_at=T + timedelta(minutes=5),
                    unpublished_at=T + timedelta(days=3),
                ),
                # published straight from the CLI
                version(
                    "ver-000000000b",
                    "published",
                    requested_by="cli:ops",
                    approved_by="cli:ops",
                    published_at=T + timedelta(days=1),
                ),
                # failed
                version("ver-000000000c", "failed", requested_by="cli:ops", failure="copy failed"),
            ],
        )
        insert_rows(
            conn,
            orm.requests,
            [
                {
                    "kind": "publish",
                    "product_code": "0001",
                    "version_id": "ver-000000000a",
                    "form": {"omi": "ami-5e11e001", "software_version": "1.0"},
                    "requested_by": "U1",
                    "state": "approved",
                    "decided_by": "URM1",
                    "decided_at": T + timedelta(minutes=1),
                    "created_at": T - timedelta(minutes=10),
                },
                {
                    "kind": "unpublish",
                    "product_code": "0001",
                    "version_id": "ver-000000000b",
                    "unpublish_on": date(2026, 12, 1),
                    "requested_by": "U2",
                    "state": "rejected",
                    "decided_by": "URM2",
                    "decided_at": T + timedelta(days=2),
                    "reason": "still needed",
                    "created_at": T + timedelta(days=1, hours=1),
                },
                {
                    "kind": "unpublish",
                    "product_code": "0001",
                    "version_id": "ver-000000000b",
                    "requested_by": "U2",
                    "state": "pending",
                    "created_at": T + timedelta(days=4),
                },
            ],
        )
        insert_rows(
            conn,
            orm.schedules,
            [
                {
                    "product_code": "0001",
                    "version_id": "ver-000000000a",
                    "unpublish_on": date(2026, 10, 4),
                    "due_at": T + timedelta(days=3),
                    "state": "done",
                    "scheduled_by": "URM1",
                    "created_at": T + timedelta(hours=1),
                    "ran_at": T + timedelta(days=3),
                    "late_seconds": 0,
                },
                {
                    "product_code": "0001",
                    "version_id": "ver-000000000b",
                    "unpublish_on": date(2026, 12, 1),
                    "due_at": T + timedelta(days=60),
                    "state": "cancelled",
                    "scheduled_by": "cli:ops",
                    "created_at": T + timedelta(days=5),
                    "cancelled_by": "URM2",
                    "cancelled_at": T + timedelta(days=6),
                },
            ],
        )
    migrate(engine, "head")
    with engine.connect() as conn:
        rows = conn.execute(select(orm.audit_events).order_by(orm.audit_events.c.id)).all()
    seen = [(r.kind, r.version_id, r.actor_id, r.source) for r in rows]
    assert seen == [
        ("request.created", "ver-000000000a", "U1", "slack"),
        ("version.publishing", "ver-000000000b", "cli:ops", "cli"),
        ("version.publishing", "ver-000000000c", "cli:ops", "cli"),
        ("version.failed", "ver-000000000c", "omi-bot:worker", "system"),
        ("request.approved", "ver-000000000a", "URM1", "slack"),
        ("version.published", "ver-000000000a", "omi-bot:worker", "system"),
        ("schedule.created", "ver-000000000a", "URM1", "slack"),
        ("version.published", "ver-000000000b", "omi-bot:worker", "system"),
        ("request.created", "ver-000000000b", "U2", "slack"),
        ("request.rejected", "ver-000000000b", "URM2", "slack"),
        ("version.unpublished", "ver-000000000a", "omi-bot:worker", "system"),
        ("schedule.done", "ver-000000000a", "omi-bot:worker", "system"),
        ("request.created", "ver-000000000b", "U2", "slack"),
        ("schedule.created", "ver-000000000b", "cli:ops", "cli"),
        ("schedule.cancelled", "ver-000000000b", "URM2", "slack"),
    ]
    assert all(r.detail["reconstructed"] is True for r in rows)
    rejected = next(r for r in rows if r.kind == "request.rejected")
    assert rejected.detail["reason"] == "still needed"
    assert rejected.detail["request_kind"] == "unpublish"
    failed = next(r for r in rows if r.kind == "version.failed")
    assert failed.detail["reason"] == "copy failed"
    asked = rows[0]
    assert asked.detail["omi"] == "ami-5e11e001" and asked.detail["software_version"] == "1.0"
    # The reconstructed events are as append-only as new ones.
    with pytest.raises(Exception, match="append-only"):
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_events"))

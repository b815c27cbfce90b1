"""the audit trail: an append-only table of events, with the events the tables already tell

The table refuses UPDATE and DELETE: on PostgreSQL a trigger raises, on SQLite triggers
RAISE(ABORT). Events are reconstructed for what is already there, marked `reconstructed`:
requests and their decisions, versions published, failed, unpublished or broken, the CLI's
direct publications, scheduled unpublications (made, cancelled, blocked, carried out) and
repairs asked for. What the tables never kept (a modification's earlier values, the notices'
outcomes, reminders' moments) cannot be reconstructed and is not invented.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = (
    "request.created",
    "request.approved",
    "request.rejected",
    "request.failed",
    "version.publishing",
    "version.published",
    "version.failed",
    "version.modified",
    "version.unpublished",
    "copy.deleted",
    "version.broken",
    "schedule.created",
    "schedule.cancelled",
    "schedule.reminder",
    "schedule.blocked",
    "schedule.done",
    "notice.queued",
    "notice.sent",
    "notice.failed",
    "drift.repair_asked",
    "drift.repaired",
)
REFUSED = "audit_events is append-only: events are never updated or deleted"
WORKER = "omi-bot:worker"


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "kind", sa.Enum(*KINDS, name="audit_kind", native_enum=False, length=32), nullable=False
        ),
        sa.Column("product_code", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.String(length=16), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column(
            "source",
            sa.Enum("slack", "cli", "system", name="audit_source", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_product_id", "audit_events", ["product_code", "id"])
    op.create_index("ix_audit_events_version_id", "audit_events", ["version_id", "id"])
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    _reconstruct()
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
                f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{REFUSED} (% refused)', TG_OP; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    op.drop_index("ix_audit_events_at", table_name="audit_events")
    op.drop_index("ix_audit_events_version_id", table_name="audit_events")
    op.drop_index("ix_audit_events_product_id", table_name="audit_events")
    op.drop_table("audit_events")


# -- reconstruction -----------------------------------------------------------------------------

_when = sa.DateTime(timezone=True)
requests = sa.table(
    "requests",
    sa.column("id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("product_code", sa.String()),
    sa.column("version_id", sa.String()),
    sa.column("unpublish_on", sa.Date()),
    sa.column("form", sa.JSON()),
    sa.column("requested_by", sa.String()),
    sa.column("state", sa.String()),
    sa.column("decided_by", sa.String()),
    sa.column("decided_at", _when),
    sa.column("reason", sa.Text()),
    sa.column("created_at", _when),
)
versions = sa.table(
    "versions",
    sa.column("id", sa.String()),
    sa.column("product_code", sa.String()),
    sa.column("omi_id", sa.String()),
    sa.column("software_version", sa.String()),
    sa.column("status", sa.String()),
    sa.column("created_at", _when),
    sa.column("modified_at", _when),
    sa.column("published_at", _when),
    sa.column("unpublished_at", _when),
    sa.column("requested_by", sa.String()),
    sa.column("approved_by", sa.String()),
    sa.column("failure", sa.Text()),
)
schedules = sa.table(
    "schedules",
    sa.column("id", sa.Integer()),
    sa.column("product_code", sa.String()),
    sa.column("version_id", sa.String()),
    sa.column("request_id", sa.Integer()),
    sa.column("unpublish_on", sa.Date()),
    sa.column("state", sa.String()),
    sa.column("scheduled_by", sa.String()),
    sa.column("created_at", _when),
    sa.column("cancelled_by", sa.String()),
    sa.column("cancelled_at", _when),
    sa.column("ran_at", _when),
    sa.column("late_seconds", sa.Integer()),
    sa.column("reason", sa.Text()),
)
findings = sa.table(
    "drift_findings",
    sa.column("id", sa.Integer()),
    sa.column("product_code", sa.String()),
    sa.column("version_id", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("repair_asked_by", sa.String()),
    sa.column("repair_asked_at", _when),
)
events = sa.table(
    "audit_events",
    sa.column("at", _when),
    sa.column("kind", sa.String()),
    sa.column("product_code", sa.String()),
    sa.column("version_id", sa.String()),
    sa.column("request_id", sa.Integer()),
    sa.column("schedule_id", sa.Integer()),
    sa.column("actor_id", sa.String()),
    sa.column("actor_name", sa.String()),
    sa.column("source", sa.String()),
    sa.column("detail", sa.JSON()),
)


def _source(actor_id: str) -> str:
    """As commands.audit tells them apart: a Slack user ID, omi-bot itself, else the CLI."""
    if actor_id.startswith("omi-bot:"):
        return "system"
    return "slack" if re.match(r"^[UW][A-Z0-9]+$", actor_id) else "cli"


def _event(
    at: Any,
    kind: str,
    product_code: str,
    actor_id: str | None,
    *,
    version_id: str | None = None,
    request_id: int | None = None,
    schedule_id: int | None = None,
    **detail: Any,
) -> dict[str, Any]:
    actor = (actor_id or WORKER)[:64]
    return {
        "at": at,
        "kind": kind,
        "product_code": product_code,
        "version_id": version_id,
        "request_id": request_id,
        "schedule_id": schedule_id,
        "actor_id": actor,
        "actor_name": "",
        "source": _source(actor),
        "detail": {
            "reconstructed": True,
            **{k: v for k, v in detail.items() if v not in (None, "")},
        },
    }


def _reconstruct() -> None:
    bind = op.get_bind()
    rows: list[dict[str, Any]] = []
    asked: set[str] = set()  # versions published through a request
    for r in bind.execute(sa.select(requests)).mappings():
        ids = {"version_id": r["version_id"], "request_id": r["id"]}
        day = r["unpublish_on"].isoformat() if r["unpublish_on"] else None
        form = r["form"] or {}
        rows.append(
            _event(
                r["created_at"],
                "request.created",
                r["product_code"],
                r["requested_by"],
                **ids,
                request_kind=r["kind"],
                unpublish_on=day,
                omi=form.get("omi"),
                software_version=form.get("software_version"),
            )
        )
        if r["state"] != "pending" and r["decided_at"] is not None:
            if r["kind"] == "publish" and r["version_id"] and r["state"] == "approved":
                asked.add(r["version_id"])
            rows.append(
                _event(
                    r["decided_at"],
                    f"request.{r['state']}",
                    r["product_code"],
                    r["decided_by"],
                    **ids,
                    request_kind=r["kind"],
                    reason=r["reason"],
                )
            )
    for v in bind.execute(sa.select(versions)).mappings():
        code, vid = v["product_code"], v["id"]
        if vid not in asked:
            rows.append(
                _event(
                    v["created_at"],
                    "version.publishing",
                    code,
                    v["approved_by"] or v["requested_by"],
                    version_id=vid,
                    omi=v["omi_id"],
                    software_version=v["software_version"],
                )
            )
        if v["published_at"] is not None:
            rows.append(_event(v["published_at"], "version.published", code, None, version_id=vid))
        if v["status"] == "failed":
            rows.append(
                _event(
                    v["modified_at"],
                    "version.failed",
                    code,
                    None,
                    version_id=vid,
                    reason=v["failure"],
                )
            )
        if v["status"] == "broken":
            rows.append(
                _event(
                    v["modified_at"],
                    "version.broken",
                    code,
                    None,
                    version_id=vid,
                    reason=v["failure"],
                )
            )
        if v["unpublished_at"] is not None:
            rows.append(
                _event(v["unpublished_at"], "version.unpublished", code, None, version_id=vid)
            )
    for s in bind.execute(sa.select(schedules)).mappings():
        ids = {"version_id": s["version_id"], "request_id": s["request_id"], "schedule_id": s["id"]}
        day = s["unpublish_on"].isoformat()
        rows.append(
            _event(
                s["created_at"],
                "schedule.created",
                s["product_code"],
                s["scheduled_by"],
                **ids,
                unpublish_on=day,
            )
        )
        if s["cancelled_at"] is not None:
            rows.append(
                _event(
                    s["cancelled_at"],
                    "schedule.cancelled",
                    s["product_code"],
                    s["cancelled_by"],
                    **ids,
                    unpublish_on=day,
                )
            )
        elif s["state"] in ("blocked", "done") and s["ran_at"] is not None:
            rows.append(
                _event(
                    s["ran_at"],
                    f"schedule.{s['state']}",
                    s["product_code"],
                    None,
                    **ids,
                    unpublish_on=day,
                    late_seconds=s["late_seconds"],
                    reason=s["reason"],
                )
            )
    for f in bind.execute(sa.select(findings)).mappings():
        if f["repair_asked_at"] is not None:
            rows.append(
                _event(
                    f["repair_asked_at"],
                    "drift.repair_asked",
                    f["product_code"],
                    f["repair_asked_by"],
                    version_id=f["version_id"],
                    finding=f"{f['id']} ({f['kind']})",
                )
            )
    # In the order they happened, so that the IDs follow time as new events' do.
    rows.sort(key=lambda e: e["at"])
    for start in range(0, len(rows), 1000):
        bind.execute(sa.insert(events), rows[start : start + 1000])

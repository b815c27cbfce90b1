"""Tables, and how the domain classes of commands/model.py map onto them.

Imperative mapping keeps the domain plain Python: the classes don't inherit from anything of
SQLAlchemy's, and this module is the only place that knows both sides."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import registry, relationship

from commands import audit, model


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, gives back aware datetimes on every database (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _enum(cls: type[Any], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

products = Table(
    "products",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("seller_account_id", String(12), nullable=False),
    Column("pricing", _enum(model.Pricing, "pricing"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("modified_at", UTCDateTime(), nullable=False),
    Column("release_managers", JSON, nullable=False, default=list),
    Column("release_manager_group", String(32)),
    Column("approval_channel", String(32)),
    Column("notice_days", Integer, nullable=False, default=30, server_default="30"),
    Column("reminder_days", JSON, nullable=False, default=list),
    Column("keep_published", Integer),
    Column("version_count", Integer, nullable=False, default=0, server_default="0"),
)

versions = Table(
    "versions",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("product_code", String(64), ForeignKey("products.code"), nullable=False),
    Column("omi_id", String(32), nullable=False),
    Column("omi_name", String(255), nullable=False),
    Column("copy_id", String(32)),
    Column("software_version", String(64), nullable=False, default=""),
    Column("operating_system", String(128), nullable=False, default=""),
    Column("software_base", JSON, nullable=False, default=list),
    Column("release_note", Text, nullable=False),
    Column("instructions", Text, nullable=False, default=""),
    Column("status", _enum(model.Status, "version_status"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("modified_at", UTCDateTime(), nullable=False),
    Column("published_at", UTCDateTime()),
    Column("unpublished_at", UTCDateTime()),
    Column("requested_by", String(64), nullable=False),
    Column("approved_by", String(64)),
    Column("failure", Text),
    # Both end with the ID, the tie-break of their order: a page of the Versions table and the
    # last available version (the newest published one) are read from them in order, without
    # sorting the product's other versions.
    Index("ix_versions_product_created", "product_code", "created_at", "id"),
    Index("ix_versions_product_status_published", "product_code", "status", "published_at", "id"),
    # The version holding an OMI (R5), for a Version form read without the whole table.
    Index("ix_versions_product_omi", "product_code", "omi_id"),
)

requests = Table(
    "requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", _enum(model.RequestKind, "request_kind"), nullable=False),
    Column("product_code", String(64), ForeignKey("products.code"), nullable=False),
    Column("version_id", String(16)),
    Column("unpublish_on", Date),
    Column("form", JSON, nullable=False, default=dict),
    Column("requested_by", String(64), nullable=False),
    Column("state", _enum(model.RequestState, "request_state"), nullable=False),
    Column("decided_by", String(64)),
    Column("decided_at", UTCDateTime()),
    Column("reason", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("surface", JSON, nullable=False, default=dict),
    Column("idempotency_key", String(200)),
    Index("ix_requests_state", "state"),
    Index("ux_requests_idempotency_key", "idempotency_key", unique=True),
    Index("ix_requests_requested_by", "requested_by"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("key", String(200), unique=True),
    Column("version_id", String(16), index=True),
    Column("product_code", String(64)),
    Column("payload", JSON, nullable=False, default=dict),
    Column("state", _enum(model.JobState, "job_state"), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("run_at", UTCDateTime(), nullable=False),
    Column("lease_until", UTCDateTime()),
    Column("worker", String(64)),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Index("ix_jobs_state_run_at", "state", "run_at"),
)

organizations = Table(
    "organizations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("language", String(2), nullable=False),
    Column("admin_emails", JSON, nullable=False, default=list),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("organization_id", Integer, ForeignKey("organizations.id"), nullable=False),
    Column("email", String(254), nullable=False),
    Column("slack_channel", String(32)),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("account_id", String(12), ForeignKey("subscribers.account_id"), primary_key=True),
    Column("product_code", String(64), ForeignKey("products.code"), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_subscriptions_product_code", "product_code"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(8), nullable=False),
    Column("key", String(255), nullable=False, unique=True),
    Column("event", String(32), nullable=False),
    Column("product_code", String(64), nullable=False),
    Column("version_id", String(16)),
    Column("recipient", String(254), nullable=False),
    Column("language", String(2), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("state", _enum(model.OutboxState, "outbox_state"), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("lease_until", UTCDateTime()),
    Column("worker", String(64)),
    Column("last_error", Text),
    Column("sent_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    # With the ID last, the claim reads the due notices in the order it takes them.
    Index("ix_outbox_due", "channel", "state", "next_attempt_at", "id"),
    Index("ix_outbox_version_id", "version_id"),
    # The outbox's depth and oldest queued notice per channel, read on every metrics scrape
    # and by `omi-bot status`, come from this index alone.
    Index("ix_outbox_state_channel_created", "state", "channel", "created_at"),
)

schedules = Table(
    "schedules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("product_code", String(64), ForeignKey("products.code"), nullable=False),
    Column("version_id", String(16)),
    Column("request_id", Integer),
    Column("unpublish_on", Date, nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("state", _enum(model.ScheduleState, "schedule_state"), nullable=False),
    Column("reminder_days", JSON, nullable=False, default=list),
    Column("reminders_sent", JSON, nullable=False, default=list),
    Column("next_at", UTCDateTime()),
    Column("scheduled_by", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("cancelled_by", String(64)),
    Column("cancelled_at", UTCDateTime()),
    Column("ran_at", UTCDateTime()),
    Column("late_seconds", Integer),
    Column("reason", Text),
    Index("ix_schedules_next_at", "next_at"),
    Index("ix_schedules_product_code", "product_code"),
)

drift_findings = Table(
    "drift_findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("product_code", String(64), ForeignKey("products.code"), nullable=False),
    Column("version_id", String(16), nullable=False),
    Column("image_id", String(32), nullable=False),
    Column("kind", _enum(model.DriftKind, "drift_kind"), nullable=False),
    Column("detail", Text, nullable=False),
    Column("found_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime()),
    Column("repair_asked_by", String(64)),
    Column("repair_asked_at", UTCDateTime()),
    Index("ix_drift_findings_product_resolved", "product_code", "resolved_at"),
)

# One row per worker (`omi-bot worker`, or the one inside `omi-bot serve`), rewritten at each
# heartbeat: `omi-bot status` tells from it which workers are alive.
workers = Table(
    "workers",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("beat_at", UTCDateTime(), nullable=False),
    Column("stopped_at", UTCDateTime()),
)

# Append-only: the migration adds triggers that refuse UPDATE and DELETE on both databases.
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column(
        "kind",
        Enum(
            audit.Kind,
            name="audit_kind",
            native_enum=False,
            length=32,
            values_callable=lambda members: [m.value for m in members],
            validate_strings=True,
        ),
        nullable=False,
    ),
    Column("product_code", String(64), nullable=False),
    Column("version_id", String(16)),
    Column("request_id", Integer),
    Column("schedule_id", Integer),
    Column("actor_id", String(64), nullable=False),
    Column("actor_name", String(200), nullable=False, default=""),
    Column("source", _enum(audit.Source, "audit_source"), nullable=False),
    Column("detail", JSON, nullable=False, default=dict),
    # Each ends with the ID: a product's or a version's history is read in order from it.
    Index("ix_audit_events_product_id", "product_code", "id"),
    Index("ix_audit_events_version_id", "version_id", "id"),
    Index("ix_audit_events_at", "at"),
)

# Slack deliveries already taken by one replica (trigger or event IDs), until they expire.
slack_deliveries = Table(
    "slack_deliveries",
    metadata,
    Column("team_id", String(32), primary_key=True),
    Column("delivery_id", String(255), primary_key=True),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index("ix_slack_deliveries_expires_at", "expires_at"),
)

mapper_registry = registry(metadata=metadata)
_mapped = False


def start_mappers() -> None:
    """Maps the domain classes once per process."""
    global _mapped
    if _mapped:
        return
    mapper_registry.map_imperatively(model.Version, versions)
    mapper_registry.map_imperatively(
        model.Product,
        products,
        properties={
            "versions": relationship(
                model.Version,
                lazy="selectin",
                cascade="all, delete-orphan",
                order_by=versions.c.created_at,
            )
        },
    )
    mapper_registry.map_imperatively(model.Request, requests)
    mapper_registry.map_imperatively(model.Job, jobs)
    mapper_registry.map_imperatively(model.Organization, organizations)
    mapper_registry.map_imperatively(model.Subscriber, subscribers)
    mapper_registry.map_imperatively(model.Subscription, subscriptions)
    mapper_registry.map_imperatively(model.OutboxItem, outbox)
    mapper_registry.map_imperatively(model.Unpublication, schedules)
    mapper_registry.map_imperatively(model.Finding, drift_findings)
    mapper_registry.map_imperatively(audit.AuditEvent, audit_events)
    _mapped = True

"""worker heartbeats, and the outbox's depth read from an index

- workers: one row per worker, its last heartbeat (and when it stopped, if it did cleanly);
- outbox: an index on (state, channel, created_at), so the depth of each channel and its
  oldest queued notice are read without touching the rows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_workers")),
    )
    op.create_index(
        "ix_outbox_state_channel_created",
        "outbox",
        ["state", "channel", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_state_channel_created", table_name="outbox")
    op.drop_table("workers")

"""slack deliveries: the redelivery dedupe shared by every replica

Slack delivers a request again (same trigger_id or event_id) when it did not get its answer in
time; a row per delivery taken, kept until it expires, lets whichever replica receives the
copy recognise it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_deliveries",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("delivery_id", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "delivery_id", name="pk_slack_deliveries"),
    )
    op.create_index(
        "ix_slack_deliveries_expires_at", "slack_deliveries", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_slack_deliveries_expires_at", table_name="slack_deliveries")
    op.drop_table("slack_deliveries")

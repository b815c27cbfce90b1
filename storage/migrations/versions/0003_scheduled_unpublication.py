"""scheduled unpublication: the products' notice, reminders and retention, requests with a date,
and the schedules

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("notice_days", sa.Integer(), nullable=False, server_default="30")
        )
        batch_op.add_column(
            sa.Column("reminder_days", sa.JSON(), nullable=False, server_default="[7, 1]")
        )
        batch_op.add_column(sa.Column("keep_published", sa.Integer(), nullable=True))
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unpublish_on", sa.Date(), nullable=True))

    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("product_code", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.String(length=16), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("unpublish_on", sa.Date(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "scheduled",
                "blocked",
                "done",
                "cancelled",
                name="schedule_state",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("reminder_days", sa.JSON(), nullable=False),
        sa.Column("reminders_sent", sa.JSON(), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("scheduled_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_by", sa.String(length=64), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late_seconds", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_code"],
            ["products.code"],
            name=op.f("fk_schedules_product_code_products"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.create_index("ix_schedules_next_at", ["next_at"], unique=False)
        batch_op.create_index("ix_schedules_product_code", ["product_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_index("ix_schedules_product_code")
        batch_op.drop_index("ix_schedules_next_at")
    op.drop_table("schedules")
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("unpublish_on")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("keep_published")
        batch_op.drop_column("reminder_days")
        batch_op.drop_column("notice_days")

"""drift findings: where the cloud differs from the Versions table

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "drift_findings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("product_code", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.String(length=16), nullable=False),
        sa.Column("image_id", sa.String(length=32), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "missing",
                "not_available",
                "product_code",
                "tag",
                "permissions",
                "leftover",
                name="drift_kind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("repair_asked_by", sa.String(length=64), nullable=True),
        sa.Column("repair_asked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_code"],
            ["products.code"],
            name=op.f("fk_drift_findings_product_code_products"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_findings")),
    )
    with op.batch_alter_table("drift_findings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_drift_findings_product_resolved", ["product_code", "resolved_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("drift_findings", schema=None) as batch_op:
        batch_op.drop_index("ix_drift_findings_product_resolved")
    op.drop_table("drift_findings")

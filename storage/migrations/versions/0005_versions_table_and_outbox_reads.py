"""the Versions table and the outbox's claim read from indexes

- versions: an index on (product_code, status, published_at, id), so the last available
  version is found without reading a product's other versions, and the ID at the end of
  ix_versions_product_created, so a page of the Versions table is read in order;
- products.version_count: the number of rows of the Versions table, kept with the product
  instead of counted on every read (filled here from the versions already there);
- outbox: ix_outbox_due ends with the ID, so the claim reads due notices in the order it takes
  them instead of sorting every pending one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_versions_product_status_published",
        "versions",
        ["product_code", "status", "published_at", "id"],
        unique=False,
    )
    op.drop_index("ix_versions_product_created", table_name="versions")
    op.create_index(
        "ix_versions_product_created",
        "versions",
        ["product_code", "created_at", "id"],
        unique=False,
    )
    op.add_column(
        "products",
        sa.Column("version_count", sa.Integer(), server_default="0", nullable=False),
    )
    op.execute(
        "UPDATE products SET version_count = "
        "(SELECT COUNT(*) FROM versions WHERE versions.product_code = products.code)"
    )
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.create_index(
        "ix_outbox_due", "outbox", ["channel", "state", "next_attempt_at", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.create_index(
        "ix_outbox_due", "outbox", ["channel", "state", "next_attempt_at"], unique=False
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("version_count")
    op.drop_index("ix_versions_product_created", table_name="versions")
    op.create_index(
        "ix_versions_product_created", "versions", ["product_code", "created_at"], unique=False
    )
    op.drop_index("ix_versions_product_status_published", table_name="versions")

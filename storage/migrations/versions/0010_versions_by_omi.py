"""versions(product_code, omi_id): the version holding an OMI (R5) is found without reading the
product's whole Versions table, so a Version form is checked as fast at 50,000 versions as at 5.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_versions_product_omi", "versions", ["product_code", "omi_id"])


def downgrade() -> None:
    op.drop_index("ix_versions_product_omi", table_name="versions")

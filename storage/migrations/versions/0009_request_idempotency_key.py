"""requests.idempotency_key: a request asked from a pipeline is found again by its key, so a
re-run returns it instead of asking twice; unique, so two runs at once make one request.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("requests", sa.Column("idempotency_key", sa.String(200), nullable=True))
    # An index rather than a column constraint: SQLite cannot add a UNIQUE column in place.
    op.create_index("ux_requests_idempotency_key", "requests", ["idempotency_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_requests_idempotency_key", table_name="requests")
    op.drop_column("requests", "idempotency_key")

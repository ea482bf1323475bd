"""Alert conditions that are open: an alert fires once when its condition opens, and a recovery
notice goes out when it clears, so the store remembers which are open across processes."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``alert_states``."""
    op.create_table(
        "alert_states",
        sa.Column("alert", sa.String(200), primary_key=True),
        sa.Column("sync", sa.String(200), primary_key=True),
        sa.Column("condition", sa.String(100), primary_key=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Integer),
        sa.Column("detail", sa.Text),
    )


def downgrade() -> None:
    """Drop ``alert_states``."""
    op.drop_table("alert_states")

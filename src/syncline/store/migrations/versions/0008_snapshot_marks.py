"""Snapshot marks: what each sync's snapshot held after its last run (the snapshot guard)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `snapshot_marks`."""
    op.create_table(
        "snapshot_marks",
        sa.Column("sync", sa.String(200), primary_key=True),
        sa.Column("snapshot_id", sa.String(64), nullable=False),
        sa.Column("location", sa.Text),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("key_count", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop `snapshot_marks`."""
    op.drop_table("snapshot_marks")

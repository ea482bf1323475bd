"""Runs count deletes: profiles CleverTap confirmed deleted, and deletes not confirmed."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COUNTS = ("deleted", "delete_failed")


def upgrade() -> None:
    """Add the delete counts to ``runs`` (0 for every earlier run)."""
    with op.batch_alter_table("runs") as batch:
        for name in _COUNTS:
            batch.add_column(sa.Column(name, sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    """Drop the delete counts."""
    with op.batch_alter_table("runs") as batch:
        for name in reversed(_COUNTS):
            batch.drop_column(name)

"""Failed sign-ins in the state store, so every server process sharing it counts them together
(and a restart forgets none): one row per failure, ``key`` a SHA-256 of the client's address
(and user name), ``at`` when.

Indexes: ``(key, at)`` answers "the failures of this key in the window" and prunes one key's
old rows; ``(at)`` lets the periodic prune of every expired row be a range delete.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``sign_in_failures`` and its two indexes."""
    op.create_table(
        "sign_in_failures",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sign_in_failures_key_at", "sign_in_failures", ["key", "at"])
    op.create_index("ix_sign_in_failures_at", "sign_in_failures", ["at"])


def downgrade() -> None:
    """Drop what ``upgrade`` added."""
    op.drop_index("ix_sign_in_failures_at", table_name="sign_in_failures")
    op.drop_index("ix_sign_in_failures_key_at", table_name="sign_in_failures")
    op.drop_table("sign_in_failures")

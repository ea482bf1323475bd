"""The upload budget: one row per upload slot held on a destination account.

A run delivering to a CleverTap account holds some of its 15 slots (``slot`` 0..14) and renews
them while it delivers; the primary key (account, slot) is what keeps two processes or machines
from holding one slot at once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``upload_slots``."""
    op.create_table(
        "upload_slots",
        sa.Column("account", sa.String(200), primary_key=True),
        sa.Column("slot", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("token", sa.String(64), nullable=False, index=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop ``upload_slots``."""
    op.drop_table("upload_slots")

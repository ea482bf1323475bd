"""Sign-in failures become reservations: ``attempt``, a random token shared by the rows one
sign-in attempt inserts (its pair key and its address key), so that the attempt can take back
its own rows, and no other, when it is refused or its password was right. Two attempts may
share a key and an instant (``at``), so ``(key, at)`` cannot tell them apart.

Nullable: rows from before the upgrade are failures and stay so. No index of its own: the
rows are looked up by ``key`` first (``ix_sign_in_failures_key_at``), and a key holds few.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``sign_in_failures.attempt``."""
    with op.batch_alter_table("sign_in_failures") as batch:
        batch.add_column(sa.Column("attempt", sa.String(32)))


def downgrade() -> None:
    """Drop what ``upgrade`` added."""
    with op.batch_alter_table("sign_in_failures") as batch:
        batch.drop_column("attempt")

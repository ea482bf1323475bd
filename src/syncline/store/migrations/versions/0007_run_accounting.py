"""Counts that add up: rows a stopped run never reached, what a run did with in-doubt keys,
and the reason a key was left in doubt.

``runs.not_sent`` closes the account of a run that stopped early (failed, cancelled, crashed):
``new + changed = accepted + rejected + failed + in_doubt + not_sent``. ``in_doubt_skipped`` and
``in_doubt_resent`` count the keys an earlier run left in doubt that this run resolved.
``in_doubt_keys.reason`` keeps CleverTap's raw text when an answer could not be understood.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_RUN_COUNTS = ("not_sent", "in_doubt_skipped", "in_doubt_resent")


def upgrade() -> None:
    """Add the columns (additive: older runs read as 0 / no reason)."""
    with op.batch_alter_table("runs") as batch:
        for name in _RUN_COUNTS:
            batch.add_column(sa.Column(name, sa.Integer, nullable=False, server_default="0"))
    with op.batch_alter_table("in_doubt_keys") as batch:
        batch.add_column(sa.Column("reason", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("in_doubt_keys") as batch:
        batch.drop_column("reason")
    with op.batch_alter_table("runs") as batch:
        for name in _RUN_COUNTS:
            batch.drop_column(name)

"""Fields dropped from records (``on_invalid_field: drop_field``): a count per run, and a row
per dropped field (key, column, code, reason) beside the run's rejections."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``runs.fields_dropped`` and the ``dropped_fields`` table."""
    op.add_column("runs", sa.Column("fields_dropped", sa.Integer, nullable=False,
                                    server_default="0"))  # fmt: skip
    op.create_table(
        "dropped_fields",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, nullable=False, index=True),
        sa.Column("sync_key", sa.Text),
        sa.Column("field", sa.Text, nullable=False),
        sa.Column("column", sa.Text),
        sa.Column("code", sa.String(100), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_table("dropped_fields")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("fields_dropped")

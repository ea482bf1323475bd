"""Several processes sharing one state store: the scheduler's leadership lease, one row per
fired due run (so two schedulers can never fire the same one), and on each run the Celery task
that ran it and a cancel request any worker can see."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``leadership`` and ``schedule_fires``; add ``runs.cancel_requested``/``task_id``."""
    op.create_table(
        "leadership",
        sa.Column("role", sa.String(100), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "schedule_fires",
        sa.Column("sync", sa.String(200), primary_key=True),
        sa.Column("due_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_by", sa.String(200)),
        sa.Column("run_id", sa.Integer),
    )
    op.add_column("runs", sa.Column("cancel_requested", sa.Boolean,
                                    server_default=sa.false()))
    op.add_column("runs", sa.Column("task_id", sa.String(64)))


def downgrade() -> None:
    """Drop what ``upgrade`` added."""
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("task_id")
        batch.drop_column("cancel_requested")
    op.drop_table("schedule_fires")
    op.drop_table("leadership")

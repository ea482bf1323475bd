"""Initial tables: runs, rejections, in_doubt_keys, leases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_COUNTS = ("rows_in_model", "planned_new", "planned_changed", "planned_unchanged",
           "planned_removed", "invalid", "sent", "accepted", "rejected", "failed", "in_doubt")


def upgrade() -> None:
    """Create the tables of the state store."""
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sync", sa.String(200), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("full", sa.Boolean, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
        sa.Column("error", sa.Text),
        *[sa.Column(c, sa.Integer, nullable=False, server_default="0") for c in _COUNTS],
    )
    op.create_table(
        "rejections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, nullable=False, index=True),
        sa.Column("sync_key", sa.Text),
        sa.Column("code", sa.String(100), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("column", sa.Text),
        sa.Column("record", sa.Text),
    )
    op.create_table(
        "in_doubt_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, nullable=False, index=True),
        sa.Column("sync_key", sa.Text, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
    )
    op.create_table(
        "leases",
        sa.Column("sync", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("run_id", sa.Integer),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop every table."""
    for name in ("leases", "in_doubt_keys", "rejections", "runs"):
        op.drop_table(name)

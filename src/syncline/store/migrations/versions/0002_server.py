"""The server's tables: dashboard users, API tokens, connections and sync definitions.

Written out here rather than imported from ``syncline.server.project.models`` so a later
change to the models cannot silently rewrite history; a test compares the two.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _stamps() -> list[sa.Column[object]]:
    return [sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Column("updated_at", sa.DateTime, nullable=False)]


def upgrade() -> None:
    """Create the server's tables."""
    op.create_table(
        "syncline_users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "syncline_api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer,
                  sa.ForeignKey("syncline_users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_used_at", sa.DateTime),
        sa.Column("revoked_at", sa.DateTime),
    )
    op.create_table(
        "syncline_connections",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("sealed_secrets", sa.Text),
        *_stamps(),
        sa.UniqueConstraint("kind", "name"),
    )
    op.create_table(
        "syncline_syncs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        *_stamps(),
    )


def downgrade() -> None:
    """Drop the server's tables."""
    for table in ("syncline_syncs", "syncline_connections", "syncline_api_tokens",
                  "syncline_users"):
        op.drop_table(table)

"""The server's security tables: sign-in sessions, roles of users and tokens, the audit log.

Additive only: existing users become ``admin`` (they could do everything before), existing
tokens carry no role of their own (they act with their user's role).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the sessions and audit tables; add the role columns."""
    op.create_table(
        "syncline_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer,
                  sa.ForeignKey("syncline_users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_seen_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "syncline_audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text),
    )
    with op.batch_alter_table("syncline_users") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False,
                                   server_default="admin"))
    with op.batch_alter_table("syncline_api_tokens") as batch:
        batch.add_column(sa.Column("role", sa.String(16)))


def downgrade() -> None:
    """Drop what ``upgrade`` added."""
    with op.batch_alter_table("syncline_api_tokens") as batch:
        batch.drop_column("role")
    with op.batch_alter_table("syncline_users") as batch:
        batch.drop_column("role")
    op.drop_table("syncline_audit")
    op.drop_table("syncline_sessions")

"""SQLAlchemy Core descriptions of the state tables (the migrations create them)."""

from __future__ import annotations

import sqlalchemy as sa

COUNTS = ("rows_in_model", "planned_new", "planned_changed", "planned_unchanged",
          "planned_removed", "invalid", "sent", "accepted", "rejected", "failed", "in_doubt",
          "deleted", "delete_failed", "fields_dropped", "not_sent", "in_doubt_skipped",
          "in_doubt_resent")

metadata = sa.MetaData()
runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sync", sa.String(200)), sa.Column("status", sa.String(20)),
    sa.Column("trigger", sa.String(20)), sa.Column("full", sa.Boolean),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
    sa.Column("error", sa.Text),
    *[sa.Column(c, sa.Integer) for c in COUNTS],
    sa.Column("cancel_requested", sa.Boolean, server_default=sa.false()),
    sa.Column("task_id", sa.String(64)),
)
rejections = sa.Table(
    "rejections", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer), sa.Column("sync_key", sa.Text),
    sa.Column("code", sa.String(100)), sa.Column("message", sa.Text),
    sa.Column("column", sa.Text), sa.Column("record", sa.Text),
)
dropped_fields = sa.Table(
    "dropped_fields", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer), sa.Column("sync_key", sa.Text),
    sa.Column("field", sa.Text), sa.Column("column", sa.Text),
    sa.Column("code", sa.String(100)), sa.Column("message", sa.Text),
)
in_doubt_keys = sa.Table(
    "in_doubt_keys", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer), sa.Column("sync_key", sa.Text),
    sa.Column("action", sa.String(20)), sa.Column("reason", sa.Text),
)
leases = sa.Table(
    "leases", metadata,
    sa.Column("sync", sa.String(200), primary_key=True),
    sa.Column("holder", sa.String(200)), sa.Column("run_id", sa.Integer),
    sa.Column("acquired_at", sa.DateTime(timezone=True)),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
)
alert_states = sa.Table(
    "alert_states", metadata,
    sa.Column("alert", sa.String(200), primary_key=True),
    sa.Column("sync", sa.String(200), primary_key=True),
    sa.Column("condition", sa.String(100), primary_key=True),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("run_id", sa.Integer), sa.Column("detail", sa.Text),
)
upload_slots = sa.Table(
    "upload_slots", metadata,
    sa.Column("account", sa.String(200), primary_key=True),
    sa.Column("slot", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("holder", sa.String(200)), sa.Column("token", sa.String(64)),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
)
snapshot_marks = sa.Table(
    "snapshot_marks", metadata,
    sa.Column("sync", sa.String(200), primary_key=True),
    sa.Column("snapshot_id", sa.String(64)), sa.Column("location", sa.Text),
    sa.Column("run_id", sa.Integer), sa.Column("key_count", sa.BigInteger),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)
leadership = sa.Table(
    "leadership", metadata,
    sa.Column("role", sa.String(100), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)
schedule_fires = sa.Table(
    "schedule_fires", metadata,
    sa.Column("sync", sa.String(200), primary_key=True),
    sa.Column("due_at", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_by", sa.String(200)), sa.Column("run_id", sa.Integer),
)
sign_in_failures = sa.Table(
    # one row per key of a sign-in attempt (reserved before its password is checked, kept as
    # its failure), counted per key by the server's SignInThrottle
    # (syncline.server.auth.throttle); no primary key: two attempts may share an instant, and
    # ``attempt`` (a random token; null in rows from before 0012) tells them apart
    "sign_in_failures", metadata,
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("attempt", sa.String(32)),
    sa.Index("ix_sign_in_failures_key_at", "key", "at"),
    sa.Index("ix_sign_in_failures_at", "at"),
)

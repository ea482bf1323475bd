"""``sync_log:``: the row-level log of what each run did, written into the warehouse."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SyncLogConfig"]


class SyncLogConfig(BaseModel):
    """One row per record a run handled, in the database where the sync's diff runs.

    Analysts join it to their own tables ("which users never reached CleverTap, and why").
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    enabled: bool = False
    schema_: str = Field(default="syncline", alias="schema", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Schema (MySQL/MariaDB: database) of the ``sync_log`` table; SQLite: a table prefix."""
    retention_days: int = Field(default=30, ge=1)
    """Rows older than this are deleted at the start of each run of the sync."""

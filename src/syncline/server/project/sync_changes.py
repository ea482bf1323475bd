"""What an edit of a saved sync changes, and what that means for its next run.

A sync's snapshot (what CleverTap accepted) is kept per sync name and keyed by the sync key's
values; each row's hash is salted with a fingerprint of the mapping (``resolve_mapping``). So an
edit can make the next run resend everything, or send nothing for rows already seen, without
any data having changed. People expect to be told before saving, in plain words, not to find
out from the run's counts (or from duplicate events in CleverTap).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from syncline.config.models import SyncConfig
from syncline.errors import SynclineError
from syncline.sources.base import Column

__all__ = ["changed_settings", "snapshot_impact"]


def changed_settings(old: SyncConfig, new: SyncConfig) -> list[tuple[str, str, str]]:
    """``(setting, saved, edited)`` for each top-level setting that differs, as JSON text."""
    before, after = _dump(old), _dump(new)
    return [
        (key, _text(before.get(key)), _text(after.get(key)))
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    ]


def snapshot_impact(
    old: SyncConfig, new: SyncConfig, columns: Sequence[Column] | None
) -> tuple[list[str], list[str]]:
    """``(warnings, notes)`` about the next run after replacing ``old`` by ``new``.

    Warnings are for changes that resend what CleverTap already has (or stop sending rows);
    notes for changes that only apply from now on. ``columns`` are the model's columns when
    the model did not change (to compare the mapping fingerprints), else ``None``. Only worth
    calling when the sync has a snapshot, i.e. it has run.
    """
    warnings: list[str] = []
    notes: list[str] = []
    moved = old.source != new.source or old.model != new.model
    if old.sync_key != new.sync_key or moved:
        what = (f"sync key `{old.sync_key}`" if not moved
                else f"`{old.sync_key}` values of {old.source} {_model(old)}")
        sent = ("an event is sent again for every row: CleverTap will hold each event twice"
                if new.object == "event" else "every profile is sent again")
        warnings.append(
            f"The next run treats every row as new: the snapshot of what CleverTap already "
            f"accepted is keyed by {what}, and the edited sync's keys will not match it; "
            f"{sent}."
        )
    elif old.object != new.object:
        warnings.append(
            "Rows already sent as profiles will not raise an event: the snapshot counts their "
            "keys as sent, so only rows with new keys send events."
            if new.object == "event" else
            "Every row is sent again, as a profile, on the next run: the snapshot was built "
            "for events."
        )
    elif _mapping_changed(old, new, columns):
        if new.object == "profile":
            warnings.append(
                "Every profile is sent again on the next run: the fields sent changed, so no "
                "row matches the fingerprint its snapshot entry was saved with."
            )
        else:
            notes.append(
                "Events already sent are not sent again: only rows with new keys are sent, "
                "with the new settings."
            )
    if old.object == new.object == "profile" and (
        old.user_column != new.user_column or old.identity_field != new.identity_field
    ):
        def who(sync: SyncConfig) -> str:
            same = old.identity_field == new.identity_field
            return f"`{sync.user_column}`" + ("" if same else f" (as {sync.identity_field})")

        warnings.append(
            f"Profiles will be identified by {who(new)} instead of {who(old)}: CleverTap "
            f"creates or updates the profiles of the new identities and leaves those of the "
            f"old ones as they are."
        )
    return warnings, notes


def _mapping_changed(old: SyncConfig, new: SyncConfig, columns: Sequence[Column] | None) -> bool:
    """Whether the rows' fingerprint changes, as the engine computes it (by the definitions
    when the columns are unknown or the old mapping no longer resolves)."""
    from syncline.engine.mapping import resolve_mapping

    if columns is not None:
        try:
            return (resolve_mapping("old", old, columns).fingerprint
                    != resolve_mapping("new", new, columns).fingerprint)
        except SynclineError:
            pass
    keys = ("object", "identity_field", "identity_column", "event_name", "event_name_column",
            "timestamp_column", "items_column", "mappings")
    before, after = _dump(old), _dump(new)
    return any(before.get(k) != after.get(k) for k in keys)


def _dump(sync: SyncConfig) -> dict[str, Any]:
    data: dict[str, Any] = sync.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return data


def _model(sync: SyncConfig) -> str:
    if sync.model.dbt:
        return f"dbt model `{sync.model.dbt}`"
    return f"`{sync.model.table}`" if sync.model.table else "its query"


def _text(value: Any) -> str:
    return "—" if value is None else json.dumps(value, sort_keys=True)

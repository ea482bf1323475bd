"""SQLite storage of the sandbox: profiles (upserted by identity), events, per-account counters.

One connection guarded by a lock: the event loop writes, test threads read. A file under
``data_dir`` survives restarts (WAL mode); without a directory the database lives in memory,
without a rollback journal (nothing written here is ever rolled back on purpose; an upload that
failed half-way through a bug would stay half-stored). Each upload is one transaction with
``executemany``, which keeps the sandbox far above the 20k records/s it must sustain.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from syncline_sandbox.profiles import apply_profile_data, plain_profile_data

__all__ = ["Store", "profile_key"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles (
    account TEXT NOT NULL, pkey TEXT NOT NULL, data TEXT NOT NULL, ts INTEGER NOT NULL,
    PRIMARY KEY (account, pkey));
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, account TEXT NOT NULL, pkey TEXT NOT NULL, name TEXT NOT NULL,
    ts INTEGER NOT NULL, data TEXT NOT NULL);
DROP INDEX IF EXISTS events_by_name;
CREATE INDEX IF NOT EXISTS events_by_account_name ON events (account, name);
CREATE INDEX IF NOT EXISTS events_by_key ON events (account, pkey);
CREATE TABLE IF NOT EXISTS counters (
    account TEXT PRIMARY KEY, uploads INTEGER NOT NULL, records INTEGER NOT NULL,
    bytes INTEGER NOT NULL DEFAULT 0, throttled INTEGER NOT NULL DEFAULT 0);
"""
# Events are indexed by (account, name) without ts: rows of one name then arrive in rowid order
# (appended at the index's end) instead of at random places, which made each event insert
# several times dearer; name queries read every row of the name anyway.

_KEY_FIELDS = ("identity", "objectId", "FBID", "GPID")


def profile_key(record: dict[str, Any]) -> str:
    """The key a record's profile is stored under: its first identity field, as text."""
    for field in _KEY_FIELDS:
        value = record.get(field)
        if value not in (None, ""):
            return f"{field}:{value}"
    raise ValueError("record has no identity; validate it first")


class Store:
    """All sandbox data for every account."""

    def __init__(self, data_dir: Path | None) -> None:
        if data_dir is None:
            target = ":memory:"
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            target = str(data_dir / "sandbox.sqlite3")
        self._lock = threading.Lock()
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        if data_dir is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        else:
            # Nothing to recover after a crash in memory, and no statement here relies on a
            # rollback: the memory journal only copied every page an upload touched (a fifth of
            # the CPU of storing events, whose profile keys land on random pages).
            self._db.execute("PRAGMA journal_mode=OFF")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(counters)")}
        if "bytes" not in columns:  # a data directory from before bytes were counted
            self._db.execute("ALTER TABLE counters ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0")
        if "throttled" not in columns:  # a data directory from before 429s were counted
            self._db.execute(
                "ALTER TABLE counters ADD COLUMN throttled INTEGER NOT NULL DEFAULT 0"
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def save_upload(
        self,
        account: str,
        accepted: Sequence[dict[str, Any]],
        received: int,
        now: int,
        received_bytes: int = 0,
    ) -> None:
        """Store one upload's accepted records in one transaction and count the upload.

        Only profiles that records of type profile change are read and rewritten; a profile
        an event merely names is inserted empty when missing (``INSERT OR IGNORE``), since
        rewriting it unchanged would only cost a read, a parse and a write per event.
        """
        profiles: list[tuple[str, dict[str, Any]]] = []
        events: list[tuple[str, str, str, int, str]] = []
        event_keys: dict[str, None] = {}
        for r in accepted:
            kind = r.get("type")
            if kind != "profile" and kind != "event":
                continue
            identity = r.get("identity")  # profile_key's first field, inline: the usual case
            key = f"identity:{identity}" if identity not in (None, "") else profile_key(r)
            if kind == "profile":
                profiles.append((key, r))
            else:
                event_keys[key] = None
                events.append(
                    (
                        account,
                        key,
                        r["evtName"],
                        _ts(r, now),
                        orjson.dumps(r.get("evtData", {})).decode(),
                    )
                )
        with self._tx() as db:
            written = self._save_profiles(db, account, profiles, now)
            db.executemany(
                "INSERT OR IGNORE INTO profiles VALUES (?, ?, '{}', ?)",
                [(account, k, now) for k in event_keys if k not in written],
            )
            db.executemany(
                "INSERT INTO events (account, pkey, name, ts, data) VALUES (?, ?, ?, ?, ?)",
                events,
            )
            self._count(db, account, received, received_bytes)

    def _save_profiles(
        self,
        db: sqlite3.Connection,
        account: str,
        profiles: Sequence[tuple[str, dict[str, Any]]],
        now: int,
    ) -> Collection[str]:
        """Upsert profile records in order (``apply_profile_data``); answer the keys written.

        An initial sync sends profiles that do not exist yet, each once, without operators:
        those are inserted as sent (``INSERT OR IGNORE``) without first looking for them. Rows
        numbered after the table's last rowid are ours; the records of profiles that already
        existed (left untouched) are then merged like any other.
        """
        keys = [k for k, _ in profiles]
        unique = set(keys)
        current: dict[str, tuple[dict[str, Any], int]] | None = None
        if keys and len(unique) == len(keys):
            rows = []
            for key, record in profiles:
                update = record["profileData"]
                text = orjson.dumps(update)
                # no "{" after the first byte: no dict value, so surely no operator
                if text.find(b"{", 1) != -1 and not plain_profile_data(update):
                    break
                rows.append((account, key, text.decode(), _ts(record, now)))
            else:
                top = db.execute("SELECT max(rowid) FROM profiles").fetchone()[0] or 0
                sql = "INSERT OR IGNORE INTO profiles VALUES (?, ?, ?, ?)"
                if db.executemany(sql, rows).rowcount == len(rows):
                    return unique
                current = {
                    key: (data, ts)
                    for key, (data, ts, rowid) in self._load_profiles(db, account, unique).items()
                    if rowid <= top
                }
                profiles = [(k, r) for k, r in profiles if k in current]
        if current is None:
            loaded = self._load_profiles(db, account, unique)
            current = {k: (d, ts) for k, (d, ts, _) in loaded.items()}
        for key, record in profiles:
            update = record["profileData"]
            found = current.get(key)
            if found is None and plain_profile_data(update):
                data = update  # what apply_profile_data({}, update) would build, uncopied
            else:
                data = apply_profile_data(found[0] if found else {}, update)
            current[key] = (data, _ts(record, now))
        db.executemany(
            "INSERT OR REPLACE INTO profiles VALUES (?, ?, ?, ?)",
            [(account, k, orjson.dumps(d).decode(), ts) for k, (d, ts) in current.items()],
        )
        return unique

    @staticmethod
    def _count(db: sqlite3.Connection, account: str, received: int, received_bytes: int) -> None:
        db.execute(
            "INSERT INTO counters (account, uploads, records, bytes) VALUES (?, 1, ?, ?) "
            "ON CONFLICT (account) DO UPDATE SET "
            "uploads = uploads + 1, records = records + excluded.records, "
            "bytes = bytes + excluded.bytes",
            (account, received, received_bytes),
        )

    @staticmethod
    def _load_profiles(
        db: sqlite3.Connection, account: str, keys: Iterable[str]
    ) -> dict[str, tuple[dict[str, Any], int, int]]:
        """Stored profiles among ``keys``: data, ts and rowid."""
        found: dict[str, tuple[dict[str, Any], int, int]] = {}
        key_list = list(keys)
        for start in range(0, len(key_list), 500):
            chunk = key_list[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                "SELECT pkey, data, ts, rowid FROM profiles "
                f"WHERE account = ? AND pkey IN ({marks})",
                [account, *chunk],
            )
            for pkey, data, ts, rowid in rows:
                found[pkey] = (orjson.loads(data), ts, rowid)
        return found

    def count_upload(self, account: str, received: int, received_bytes: int = 0) -> None:
        """Count an upload that stored nothing (dry run)."""
        with self._tx() as db:
            self._count(db, account, received, received_bytes)

    def count_throttled(self, account: str) -> None:
        """Count an upload answered 429 because 15 were already in flight."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO counters (account, uploads, records, throttled) VALUES (?, 0, 0, 1) "
                "ON CONFLICT (account) DO UPDATE SET throttled = throttled + 1",
                (account,),
            )

    def profile(self, account: str, pkey: str) -> dict[str, Any] | None:
        rows = self._query(
            "SELECT data FROM profiles WHERE account = ? AND pkey = ?", (account, pkey)
        )
        return orjson.loads(rows[0][0]) if rows else None

    def profile_by_property(self, account: str, name: str, value: str) -> str | None:
        """The key of the first profile whose property ``name`` equals ``value``."""
        rows = self._query(
            "SELECT pkey FROM profiles WHERE account = ? AND json_extract(data, ?) = ? LIMIT 1",
            (account, f'$."{name}"', value),
        )
        return str(rows[0][0]) if rows else None

    def profiles(self, account: str, search: str = "", limit: int = 100) -> list[tuple[str, Any]]:
        rows = self._query(
            "SELECT pkey, data FROM profiles WHERE account = ? AND pkey LIKE ? "
            "ORDER BY pkey LIMIT ?",
            (account, f"%{search}%", limit),
        )
        return [(str(k), orjson.loads(d)) for k, d in rows]

    def events(
        self,
        account: str,
        name: str | None = None,
        pkey: str | None = None,
        ts_from: int | None = None,
        ts_to: int | None = None,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """Every stored event matching the filters, as ``{identity, name, ts, data}`` dicts."""
        sql = "SELECT pkey, name, ts, data FROM events WHERE account = ?"
        params: list[Any] = [account]
        for clause, value in (
            ("name = ?", name),
            ("pkey = ?", pkey),
            ("ts >= ?", ts_from),
            ("ts <= ?", ts_to),
        ):
            if value is not None:
                sql += f" AND {clause}"
                params.append(value)
        sql += " ORDER BY ts DESC, id DESC" if newest_first else " ORDER BY id"
        return [
            {"key": k, "identity": k.split(":", 1)[1], "name": n, "ts": ts, "data": orjson.loads(d)}
            for k, n, ts, d in self._query(sql, params)
        ]

    def event_summary(self, account: str, pkey: str) -> dict[str, dict[str, int]]:
        rows = self._query(
            "SELECT name, count(*), min(ts), max(ts) FROM events WHERE account = ? AND pkey = ? "
            "GROUP BY name",
            (account, pkey),
        )
        return {n: {"count": c, "first_seen": f, "last_seen": la} for n, c, f, la in rows}

    def stats(self, account: str) -> dict[str, Any]:
        profiles = self._query("SELECT count(*) FROM profiles WHERE account = ?", (account,))
        by_name = self._query(
            "SELECT name, count(*) FROM events WHERE account = ? GROUP BY name ORDER BY name",
            (account,),
        )
        counters = self._query(
            "SELECT uploads, records, bytes, throttled FROM counters WHERE account = ?",
            (account,),
        )
        uploads, records, received_bytes, throttled = counters[0] if counters else (0, 0, 0, 0)
        return {
            "profiles": profiles[0][0],
            "events": {n: c for n, c in by_name},
            "uploads": uploads,
            "records_received": records,
            "bytes_received": received_bytes,
            "throttled": throttled,
        }

    def delete_profiles(self, account: str, pkeys: Sequence[str]) -> int:
        with self._tx() as db:
            deleted = 0
            for key in pkeys:
                deleted += db.execute(
                    "DELETE FROM profiles WHERE account = ? AND pkey = ?", (account, key)
                ).rowcount
                db.execute("DELETE FROM events WHERE account = ? AND pkey = ?", (account, key))
            return deleted

    def reset(self, account: str) -> None:
        with self._tx() as db:
            for table in ("profiles", "events", "counters"):
                db.execute(f"DELETE FROM {table} WHERE account = ?", (account,))

    def property_counts(self, account: str, prop: str) -> list[tuple[Any, int]]:
        """Profiles per value of one property (the "Segments" page)."""
        return [
            (v, c)
            for v, c in self._query(
                "SELECT json_extract(data, ?) AS v, count(*) FROM profiles WHERE account = ? "
                "GROUP BY v ORDER BY count(*) DESC LIMIT 200",
                (f'$."{prop}"', account),
            )
        ]


def _ts(record: dict[str, Any], now: int) -> int:
    ts = record.get("ts")
    return int(ts) if ts is not None else now

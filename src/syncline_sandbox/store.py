"""SQLite storage of the sandbox: profiles (upserted by identity), events, per-account counters.

One connection guarded by a lock: the event loop writes, test threads read. A file under
``data_dir`` survives restarts (WAL mode); without a directory the database lives in memory.
Each upload is one transaction with ``executemany``, which keeps the sandbox far above the
20k records/s it must sustain.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from syncline_sandbox.profiles import apply_profile_data

__all__ = ["Store", "profile_key"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles (
    account TEXT NOT NULL, pkey TEXT NOT NULL, data TEXT NOT NULL, ts INTEGER NOT NULL,
    PRIMARY KEY (account, pkey));
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, account TEXT NOT NULL, pkey TEXT NOT NULL, name TEXT NOT NULL,
    ts INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_name ON events (account, name, ts);
CREATE INDEX IF NOT EXISTS events_by_key ON events (account, pkey);
CREATE TABLE IF NOT EXISTS counters (
    account TEXT PRIMARY KEY, uploads INTEGER NOT NULL, records INTEGER NOT NULL);
"""

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
        self._db.executescript(_SCHEMA)

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
        self, account: str, accepted: Sequence[dict[str, Any]], received: int, now: int
    ) -> None:
        """Store one upload's accepted records in one transaction and count the upload."""
        profiles = [r for r in accepted if r.get("type") == "profile"]
        events = [r for r in accepted if r.get("type") == "event"]
        with self._tx() as db:
            keys = {profile_key(r) for r in profiles} | {profile_key(r) for r in events}
            current = self._load_profiles(db, account, keys)
            for record in profiles:
                key = profile_key(record)
                data, _ = current.get(key, ({}, now))
                current[key] = (apply_profile_data(data, record["profileData"]), _ts(record, now))
            for record in events:
                current.setdefault(profile_key(record), ({}, now))
            db.executemany(
                "INSERT OR REPLACE INTO profiles VALUES (?, ?, ?, ?)",
                [(account, k, orjson.dumps(d).decode(), ts) for k, (d, ts) in current.items()],
            )
            db.executemany(
                "INSERT INTO events (account, pkey, name, ts, data) VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        account,
                        profile_key(r),
                        r["evtName"],
                        _ts(r, now),
                        orjson.dumps(r.get("evtData", {})).decode(),
                    )
                    for r in events
                ],
            )
            db.execute(
                "INSERT INTO counters VALUES (?, 1, ?) ON CONFLICT (account) DO UPDATE SET "
                "uploads = uploads + 1, records = records + excluded.records",
                (account, received),
            )

    @staticmethod
    def _load_profiles(
        db: sqlite3.Connection, account: str, keys: Iterable[str]
    ) -> dict[str, tuple[dict[str, Any], int]]:
        found: dict[str, tuple[dict[str, Any], int]] = {}
        key_list = list(keys)
        for start in range(0, len(key_list), 500):
            chunk = key_list[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                f"SELECT pkey, data, ts FROM profiles WHERE account = ? AND pkey IN ({marks})",
                [account, *chunk],
            )
            for pkey, data, ts in rows:
                found[pkey] = (orjson.loads(data), ts)
        return found

    def count_upload(self, account: str, received: int) -> None:
        """Count an upload that stored nothing (dry run, all rejected)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO counters VALUES (?, 1, ?) ON CONFLICT (account) DO UPDATE SET "
                "uploads = uploads + 1, records = records + excluded.records",
                (account, received),
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
            "SELECT uploads, records FROM counters WHERE account = ?", (account,)
        )
        uploads, records = counters[0] if counters else (0, 0)
        return {
            "profiles": profiles[0][0],
            "events": {n: c for n, c in by_name},
            "uploads": uploads,
            "records_received": records,
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

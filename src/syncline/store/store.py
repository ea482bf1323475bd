"""The state store: runs, rejections, in-doubt keys and leases in SQLite or PostgreSQL.

Why SQLAlchemy Core and Alembic: the same portable SQL runs on the default SQLite file and on
PostgreSQL, and the schema upgrades itself when a newer Syncline opens an older file. Alembic is
imported only when the schema is behind: importing it (and the SQLAlchemy dialects it loads)
costs ~0.1 CPU-s, a sixth of a small run's start-up, and an up-to-date store needs none of it.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from syncline.errors import RunLockedError, StoreError
from syncline.store import tables as t
from syncline.store.records import InDoubtKey, RejectedRow, RunRecord

__all__ = ["Lease", "StateStore"]

_STATUSES = {"running", "succeeded", "failed", "cancelled", "skipped"}

SCHEMA_REVISION = "0011"
"""The newest migration in migrations/versions (a test checks it is Alembic's head): a store
stamped with it is up to date and opens without Alembic."""


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    """SQLite drops the zone; every timestamp we store is UTC, so put it back."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class Lease:
    """A time-limited lock on one sync; renew it while working, it is released on exit."""

    def __init__(self, store: StateStore, sync: str, holder: str, ttl_s: float) -> None:
        self.store, self.sync, self.holder, self.ttl_s = store, sync, holder, ttl_s

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def renew(self, run_id: int | None = None) -> None:
        """Push the expiry forward (and record the run holding it)."""
        values: dict[str, Any] = {"expires_at": _now() + timedelta(seconds=self.ttl_s)}
        if run_id is not None:
            values["run_id"] = run_id
        with self.store.engine.begin() as conn:
            mine = (t.leases.c.sync == self.sync) & (t.leases.c.holder == self.holder)
            conn.execute(sa.update(t.leases).where(mine).values(**values))

    def release(self) -> None:
        """Give the lock up so the next run can start at once."""
        with self.store.engine.begin() as conn:
            conn.execute(sa.delete(t.leases).where(t.leases.c.sync == self.sync,
                                                   t.leases.c.holder == self.holder))


class StateStore:
    """Records of runs and the per-sync lock; opens (and migrates) the database at `url`."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = sa.create_engine(url)
            self._migrate()
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot open the state store at {url}: {exc}. Check the URL and "
                             "that the database is reachable and writable.") from exc

    def _migrate(self) -> None:
        """Upgrade the schema to the newest revision, unless it is there already."""
        if self._revision() == [SCHEMA_REVISION]:
            return
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def _revision(self) -> list[str]:
        """The revisions the database is stamped with (none for a new database)."""
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return []
            return [
                str(v)
                for v in conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()
            ]

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    def lease(self, sync: str, *, holder: str, ttl_s: float = 60) -> Lease:
        """Take the lock of `sync`, or raise RunLockedError naming who holds it."""
        now = _now()
        row = {"sync": sync, "holder": holder, "run_id": None, "acquired_at": now,
               "expires_at": now + timedelta(seconds=ttl_s)}
        with self.engine.begin() as conn:
            current = conn.execute(sa.select(t.leases).where(t.leases.c.sync == sync)).first()
            if current is not None:
                expires = _utc(current.expires_at)
                if expires is not None and expires > now and _holder_alive(current.holder):
                    raise RunLockedError(
                        f"sync `{sync}` is already running (run {current.run_id}, started "
                        f"{_utc(current.acquired_at)} by {current.holder}); wait for it to "
                        f"finish or, if that process is gone, retry after {expires} when its "
                        "lease expires.")
                self._fail_stale(conn, current.run_id)
                deleted = conn.execute(sa.delete(t.leases).where(
                    t.leases.c.sync == sync, t.leases.c.expires_at == current.expires_at))
                if deleted.rowcount != 1:
                    raise RunLockedError(f"sync `{sync}` was just taken by another process; "
                                         "wait for it to finish.")
            try:
                conn.execute(sa.insert(t.leases).values(**row))
            except sa.exc.IntegrityError as exc:
                raise RunLockedError(f"sync `{sync}` was just taken by another process; "
                                     "wait for it to finish.") from exc
        return Lease(self, sync, holder, ttl_s)

    def lease_of(self, sync: str) -> str | None:
        """Who holds the lock of ``sync`` now (``host:pid``), or None if nobody does."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.leases).where(t.leases.c.sync == sync)).first()
        if row is None:
            return None
        expires = _utc(row.expires_at)
        if expires is None or expires <= _now() or not _holder_alive(row.holder):
            return None
        return str(row.holder)

    def _fail_stale(self, conn: sa.Connection, run_id: int | None) -> None:
        if run_id is None:
            return
        conn.execute(sa.update(t.runs).where(t.runs.c.id == run_id, t.runs.c.status == "running")
                     .values(status="failed", finished_at=_now(),
                             error="the process running it stopped"))

    def start_run(self, sync: str, *, trigger: str = "manual", full: bool = False) -> int:
        """Record a new running run; returns its id."""
        now = _now()
        values: dict[str, Any] = {c: 0 for c in t.COUNTS}
        values.update(sync=sync, status="running", trigger=trigger, full=full,
                      started_at=now, heartbeat_at=now)
        with self.engine.begin() as conn:
            result = conn.execute(sa.insert(t.runs).values(**values).returning(t.runs.c.id))
            return int(result.scalar_one())

    def update_run(self, run_id: int, **fields: object) -> None:
        """Save counts/progress; also bumps the heartbeat that tells a live run from a dead one."""
        unknown = set(fields) - set(t.runs.c.keys())
        if unknown:
            raise StoreError(f"update_run: unknown run fields {sorted(unknown)}")
        fields.setdefault("heartbeat_at", _now())
        with self.engine.begin() as conn:
            conn.execute(sa.update(t.runs).where(t.runs.c.id == run_id).values(**fields))

    def finish_run(self, run_id: int, status: str, *, error: str | None = None,
                   **counts: int) -> None:
        """Close a run with its final status, error and counts."""
        if status not in _STATUSES:
            raise StoreError(f"finish_run: status `{status}` is not one of {sorted(_STATUSES)}")
        self.update_run(run_id, status=status, error=error, finished_at=_now(), **counts)

    def add_rejections(self, run_id: int, rows: Iterable[RejectedRow]) -> None:
        """Bulk insert of the records a run did not deliver."""
        values = [{"run_id": run_id, "sync_key": r.sync_key, "code": r.code,
                   "message": r.message, "column": r.column,
                   "record": json.dumps(r.record, default=str) if r.record is not None else None}
                  for r in rows]
        if values:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(t.rejections), values)

    def add_in_doubt(self, run_id: int, keys: Iterable[str], action: str) -> None:
        """Record which in-doubt keys a run skipped or resent."""
        values = [{"run_id": run_id, "sync_key": k, "action": action} for k in keys]
        if values:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(t.in_doubt_keys), values)

    def run(self, run_id: int) -> RunRecord:
        """One run, or StoreError if there is no such run."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.runs).where(t.runs.c.id == run_id)).first()
        if row is None:
            raise StoreError(f"there is no run {run_id}; `syncline runs` lists the recorded runs.")
        return _record(row._mapping)

    def runs(self, sync: str | None = None, limit: int = 20) -> list[RunRecord]:
        """Runs newest first, optionally of one sync."""
        query = sa.select(t.runs).order_by(t.runs.c.id.desc()).limit(limit)
        if sync is not None:
            query = query.where(t.runs.c.sync == sync)
        with self.engine.connect() as conn:
            return [_record(r._mapping) for r in conn.execute(query)]

    def rejections(self, run_id: int, *, code: str | None = None,
                   limit: int | None = None) -> list[RejectedRow]:
        """The rejected rows of a run, in insertion order."""
        query = sa.select(t.rejections).where(t.rejections.c.run_id == run_id)
        if code is not None:
            query = query.where(t.rejections.c.code == code)
        query = query.order_by(t.rejections.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [RejectedRow(r.sync_key, r.code, r.message, r.column,
                                json.loads(r.record) if r.record is not None else None)
                    for r in conn.execute(query)]

    def in_doubt(self, run_id: int) -> list[InDoubtKey]:
        """The in-doubt keys a run dealt with."""
        query = (sa.select(t.in_doubt_keys).where(t.in_doubt_keys.c.run_id == run_id)
                 .order_by(t.in_doubt_keys.c.id))
        with self.engine.connect() as conn:
            return [InDoubtKey(r.run_id, r.sync_key, r.action) for r in conn.execute(query)]


def _record(row: Any) -> RunRecord:
    return RunRecord(
        id=row["id"], sync=row["sync"], status=row["status"], trigger=row["trigger"],
        full=bool(row["full"]), started_at=_utc(row["started_at"]) or _now(),
        finished_at=_utc(row["finished_at"]), heartbeat_at=_utc(row["heartbeat_at"]),
        error=row["error"], **{c: int(row[c] or 0) for c in t.COUNTS},
    )


def _holder_alive(holder: str) -> bool:
    """Whether a lease holder (``host:pid``) may still be running.

    A holder on this host whose process is gone (killed, crashed) cannot renew its lease, so
    waiting for the lease to expire would only delay the next run; on another host we cannot
    tell, and trust the expiry.
    """
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

"""The state store: runs, rejections, in-doubt keys and leases in SQLite or PostgreSQL.

Why SQLAlchemy Core and Alembic: the same portable SQL runs on the default SQLite file and on
PostgreSQL, and the schema upgrades itself when a newer Syncline opens an older file. Alembic is
imported only when the schema is behind: importing it (and the SQLAlchemy dialects it loads)
costs ~0.1 CPU-s, a sixth of a small run's start-up, and an up-to-date store needs none of it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from syncline.errors import RunLockedError, StoreError
from syncline.store import tables as t
from syncline.store.leases import Lease, as_utc, holder_alive, utc_now
from syncline.store.records import (
    DroppedField,
    InDoubtKey,
    RejectedRow,
    RejectionGroup,
    RunRecord,
    SnapshotMark,
)
from syncline.store.statuses import FAILED, SKIPPED, STATUSES, run_status, stored_status

__all__ = ["Lease", "StateStore"]  # Lease: re-exported from syncline.store.leases

STOPPED = "the process running it stopped"
"""The error of a run found running after its process died (killed, crashed, power lost)."""

SCHEMA_REVISION = "0012"
"""The newest migration in migrations/versions (a test checks it is Alembic's head): a store
stamped with it is up to date and opens without Alembic."""


def _private_sqlite_file(url: str) -> None:
    """Create a SQLite state store's file readable by its owner only (0600), before SQLite
    does with the umask's bits: it holds password hashes, sealed secrets and every rejected
    record. SQLite gives its -wal and -shm files the same permissions."""
    parsed = sa.engine.make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database)
    if not path.exists() and path.parent.is_dir():
        # another process opening the new store at the same moment may create it first
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class StateStore:
    """Records of runs and the per-sync lock; opens (and migrates) the database at `url`."""

    def __init__(self, url: str) -> None:
        self.url = url
        _private_sqlite_file(url)
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
            # processes starting their first run together each found the store empty and each
            # created the tables: all but one failed with `table runs already exists`
            _lock_for_migration(conn)
            if _revision_of(conn) == [SCHEMA_REVISION]:  # migrated while we waited
                return
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def _revision(self) -> list[str]:
        """The revisions the database is stamped with (none for a new database)."""
        with self.engine.connect() as conn:
            return _revision_of(conn)

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    def lease(self, sync: str, *, holder: str, ttl_s: float = 60) -> Lease:
        """Take the lock of `sync`, or raise RunLockedError naming who holds it."""
        now = utc_now()
        row = {"sync": sync, "holder": holder, "run_id": None, "acquired_at": now,
               "expires_at": now + timedelta(seconds=ttl_s)}
        taken_over: int | None = None
        with self.engine.begin() as conn:
            current = conn.execute(sa.select(t.leases).where(t.leases.c.sync == sync)).first()
            if current is not None:
                expires = as_utc(current.expires_at)
                if expires is not None and expires > now and holder_alive(current.holder):
                    raise RunLockedError(
                        f"sync `{sync}` is already running (run {current.run_id}, started "
                        f"{as_utc(current.acquired_at)} by {current.holder}); wait for it to "
                        f"finish or, if that process is gone, retry after {expires} when its "
                        "lease expires.")
                if self._fail_stale(conn, current.run_id):
                    taken_over = current.run_id
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
        return Lease(self, sync, holder, ttl_s, acquired_at=now, taken_over=taken_over)

    def lease_of(self, sync: str) -> str | None:
        """Who holds the lock of ``sync`` now (``host:pid``), or None if nobody does."""
        row = self._held_lease(sync)
        return None if row is None else str(row.holder)

    def lease_run(self, sync: str) -> int | None:
        """The run holding the lock of ``sync`` now; None when nobody holds it, or a dry-run
        plan does (it holds the lock without a run). A finished run is never named: its lock
        goes in the transaction that finishes it (``finish_run``)."""
        row = self._held_lease(sync)
        return None if row is None or row.run_id is None else int(row.run_id)

    def _held_lease(self, sync: str) -> sa.Row[Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.leases).where(t.leases.c.sync == sync)).first()
        if row is None:
            return None
        expires = as_utc(row.expires_at)
        if expires is None or expires <= utc_now() or not holder_alive(row.holder):
            return None
        return row

    def _fail_stale(self, conn: sa.Connection, run_id: int | None) -> bool:
        """Mark a run whose process is gone failed; whether there was one to mark."""
        if run_id is None:
            return False
        done = conn.execute(
            sa.update(t.runs).where(t.runs.c.id == run_id, t.runs.c.status == "running")
            .values(status="failed", finished_at=utc_now(), error=STOPPED))
        return bool(done.rowcount)

    def finish_crashed(self, run_id: int, *, accepted: int, in_doubt: int) -> None:
        """Close the account of a run whose process stopped, from what is durable.

        ``accepted`` and ``in_doubt`` come from the snapshot (keys it committed, keys it left in
        flight), rejected from its recorded rejections; whatever else it had planned never got
        a durable answer and is ``not_sent`` (planned again by the next run), so the counts add
        up as for any other run.
        """
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(t.runs).where(t.runs.c.id == run_id)).first()
            if row is None:
                return
            recorded = conn.execute(sa.select(sa.func.count()).select_from(t.rejections)
                                    .where(t.rejections.c.run_id == run_id)).scalar_one()
            counts = row._mapping
            rejected = max(0, int(recorded) - int(counts["invalid"] or 0))
            failed = int(counts["failed"] or 0)
            planned = int(counts["planned_new"] or 0) + int(counts["planned_changed"] or 0)
            not_sent = max(0, planned - accepted - rejected - failed - in_doubt)
            conn.execute(sa.update(t.runs).where(t.runs.c.id == run_id).values(
                accepted=accepted, in_doubt=in_doubt, rejected=rejected, not_sent=not_sent,
                sent=max(int(counts["sent"] or 0), accepted)))

    def start_run(self, sync: str, *, trigger: str = "manual", full: bool = False) -> int:
        """Record a new running run; returns its id."""
        return self._insert_run(sync=sync, status="running", trigger=trigger, full=full)

    def record_skipped(self, sync: str, *, error: str, trigger: str = "schedule") -> int:
        """Record a run that was skipped, final from its first commit; returns its id.

        One insert, not ``start_run`` then ``finish_run``: between those two commits the API
        would list the skipped run as running, and whoever polls it (a dashboard, an
        orchestrator waiting for a final status) could act on a status it never really had."""
        return self._insert_run(sync=sync, status=SKIPPED, trigger=trigger, full=False,
                                error=error, finished=True)

    def _insert_run(self, *, finished: bool = False, **fields: Any) -> int:
        """Insert one run row (every count 0, started now) and return its id."""
        now = utc_now()
        values: dict[str, Any] = {c: 0 for c in t.COUNTS}
        values.update(fields, started_at=now, heartbeat_at=now,
                      **({"finished_at": now} if finished else {}))
        with self.engine.begin() as conn:
            result = conn.execute(sa.insert(t.runs).values(**values).returning(t.runs.c.id))
            return int(result.scalar_one())

    def update_run(self, run_id: int, **fields: object) -> None:
        """Save counts/progress; also bumps the heartbeat that tells a live run from a dead one."""
        with self.engine.begin() as conn:
            conn.execute(sa.update(t.runs).where(t.runs.c.id == run_id)
                         .values(**_run_fields(fields)))

    def finish_run(self, run_id: int, status: str, *, error: str | None = None,
                   release: Lease | None = None, **counts: int) -> None:
        """Close a run with its final status, error and counts.

        ``release``: the run's lease, given up in the same transaction. Whoever sees the final
        status (the scheduler, an orchestrator polling the API) may start the next run at once,
        so the lock must be gone by then; a crash before the commit leaves both the lock and
        the running status, and the next holder finishes the run from its snapshot
        (``finish_crashed``).
        """
        if status not in STATUSES:
            raise StoreError(f"finish_run: status `{status}` is not one of {sorted(STATUSES)}")
        fields = _run_fields({"status": stored_status(status), "error": error,
                              "finished_at": utc_now(), **counts})
        with release.releasing() if release is not None else self.engine.begin() as conn:
            conn.execute(sa.update(t.runs).where(t.runs.c.id == run_id).values(**fields))

    def add_rejections(self, run_id: int, rows: Iterable[RejectedRow]) -> None:
        """Bulk insert of the records a run did not deliver."""
        values = [{"run_id": run_id, "sync_key": r.sync_key, "code": r.code,
                   "message": r.message, "column": r.column,
                   "record": json.dumps(r.record, default=str) if r.record is not None else None}
                  for r in rows]
        if values:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(t.rejections), values)

    def add_dropped_fields(self, run_id: int, rows: Iterable[DroppedField]) -> None:
        """Bulk insert of the fields a run left out of records it sent."""
        values = [{"run_id": run_id, "sync_key": r.sync_key, "field": r.field,
                   "column": r.column, "code": r.code, "message": r.message} for r in rows]
        if values:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(t.dropped_fields), values)

    def dropped_fields(self, run_id: int, *, limit: int | None = None) -> list[DroppedField]:
        """The fields a run dropped (warnings: their records were sent), in insertion order."""
        query = (sa.select(t.dropped_fields).where(t.dropped_fields.c.run_id == run_id)
                 .order_by(t.dropped_fields.c.id).limit(limit))
        with self.engine.connect() as conn:
            return [DroppedField(r.sync_key, r.field, r.column, r.code, r.message)
                    for r in conn.execute(query)]

    def add_in_doubt(self, run_id: int, keys: Iterable[str], action: str,
                     reason: str | None = None) -> None:
        """Record which in-doubt keys a run skipped or resent (``reason``: CleverTap's text)."""
        values = [{"run_id": run_id, "sync_key": k, "action": action, "reason": reason}
                  for k in keys]
        if values:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(t.in_doubt_keys), values)

    def snapshot_mark(self, sync: str) -> SnapshotMark | None:
        """What `sync`'s snapshot held after its last run, as recorded here."""
        query = sa.select(t.snapshot_marks).where(t.snapshot_marks.c.sync == sync)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return SnapshotMark(str(row.snapshot_id), int(row.run_id), int(row.key_count),
                            str(row.location or ""))

    def save_snapshot_mark(self, sync: str, mark: SnapshotMark) -> None:
        """Record what `sync`'s snapshot holds now (replacing the previous mark)."""
        values = {"sync": sync, "snapshot_id": mark.snapshot_id, "location": mark.location,
                  "run_id": mark.run_id, "key_count": mark.keys, "updated_at": utc_now()}
        with self.engine.begin() as conn:
            conn.execute(sa.delete(t.snapshot_marks).where(t.snapshot_marks.c.sync == sync))
            conn.execute(sa.insert(t.snapshot_marks).values(**values))

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

    def last_runs(self) -> dict[str, RunRecord]:
        """Each sync's newest run, by sync name (one query, for the dashboard's overview)."""
        newest = (sa.select(sa.func.max(t.runs.c.id).label("id"))
                  .group_by(t.runs.c.sync).subquery())
        query = sa.select(t.runs).join(newest, t.runs.c.id == newest.c.id)
        with self.engine.connect() as conn:
            return {str(r.sync): _record(r._mapping) for r in conn.execute(query)}

    def failed_since(self, since: datetime, limit: int = 100) -> list[RunRecord]:
        """Runs that failed and started at or after ``since``, newest first."""
        query = (sa.select(t.runs)
                 .where(t.runs.c.status == FAILED, t.runs.c.started_at >= since)
                 .order_by(t.runs.c.id.desc()).limit(limit))
        with self.engine.connect() as conn:
            return [_record(r._mapping) for r in conn.execute(query)]

    def rejections(self, run_id: int, *, code: str | None = None, column: str | None = None,
                   key: str | None = None, offset: int = 0,
                   limit: int | None = None) -> list[RejectedRow]:
        """The rejected rows of a run, in insertion order: one page of them (``offset``,
        ``limit``), filtered in SQL (`_rejection_filters`)."""
        query = (sa.select(t.rejections)
                 .where(*_rejection_filters(run_id, code=code, column=column, key=key))
                 .order_by(t.rejections.c.id).offset(offset or None).limit(limit))
        with self.engine.connect() as conn:
            return [_rejected(r) for r in conn.execute(query)]

    def count_rejections(self, run_id: int, *, code: str | None = None,
                         column: str | None = None, key: str | None = None) -> int:
        """How many rejected rows of a run match the filters (what a page of them is out of)."""
        query = (sa.select(sa.func.count()).select_from(t.rejections)
                 .where(*_rejection_filters(run_id, code=code, column=column, key=key)))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def rejection_summary(self, run_id: int) -> list[RejectionGroup]:
        """A run's rejections counted by code and column, the largest group first."""
        r = t.rejections.c
        count = sa.func.count().label("n")
        query = (sa.select(r.code, r.column, count).where(r.run_id == run_id)
                 .group_by(r.code, r.column).order_by(count.desc(), r.code, r.column))
        with self.engine.connect() as conn:
            return [RejectionGroup(str(row.code), row.column, int(row.n))
                    for row in conn.execute(query)]

    def iter_rejections(self, run_id: int, *, code: str | None = None,
                        column: str | None = None, key: str | None = None,
                        chunk: int = 1000) -> Iterator[RejectedRow]:
        """Every matching rejected row, ``chunk`` at a time (keyset on the id, a short read
        each), so a CSV of a million rejections streams without holding them all."""
        after = 0
        filters = _rejection_filters(run_id, code=code, column=column, key=key)
        while True:
            query = (sa.select(t.rejections).where(*filters, t.rejections.c.id > after)
                     .order_by(t.rejections.c.id).limit(chunk))
            with self.engine.connect() as conn:
                rows = list(conn.execute(query))
            yield from (_rejected(r) for r in rows)
            if len(rows) < chunk:
                return
            after = int(rows[-1].id)

    def in_doubt(self, run_id: int) -> list[InDoubtKey]:
        """The in-doubt keys a run dealt with."""
        query = (sa.select(t.in_doubt_keys).where(t.in_doubt_keys.c.run_id == run_id)
                 .order_by(t.in_doubt_keys.c.id))
        with self.engine.connect() as conn:
            return [InDoubtKey(r.run_id, r.sync_key, r.action, r.reason)
                    for r in conn.execute(query)]


def _run_fields(fields: dict[str, object]) -> dict[str, object]:
    """Checked columns of a run row to write, with the heartbeat bumped (a live run)."""
    unknown = set(fields) - set(t.runs.c.keys())
    if unknown:
        raise StoreError(f"update_run: unknown run fields {sorted(unknown)}")
    return {"heartbeat_at": utc_now(), **fields}


def _rejection_filters(run_id: int, *, code: str | None, column: str | None,
                       key: str | None) -> list[sa.ColumnElement[bool]]:
    """One run's rejections, of one code and one column if given, whose key contains ``key``
    (a literal substring: ``%`` and ``_`` in it match themselves)."""
    r = t.rejections.c
    filters: list[sa.ColumnElement[bool]] = [r.run_id == run_id]
    if code:
        filters.append(r.code == code)
    if column:
        filters.append(r.column == column)
    if key:
        filters.append(r.sync_key.contains(key, autoescape=True))
    return filters


def _rejected(row: sa.Row[Any]) -> RejectedRow:
    return RejectedRow(row.sync_key, row.code, row.message, row.column,
                       json.loads(row.record) if row.record is not None else None)


def _revision_of(conn: sa.Connection) -> list[str]:
    if not sa.inspect(conn).has_table("alembic_version"):
        return []
    return [str(v) for v in conn.exec_driver_sql("SELECT version_num FROM alembic_version")
            .scalars()]


# any constant: PostgreSQL advisory locks are named by a number shared by every client
_PG_MIGRATION_LOCK = 0x5359_4E43_4C4E


def _lock_for_migration(conn: sa.Connection) -> None:
    """Hold a lock, until the transaction ends, that one migrating process takes at a time.

    SQLite: BEGIN IMMEDIATE takes the database's write lock (DDL is transactional there, and
    the driver would otherwise begin only at the first INSERT); a second process waits for it
    (the driver's busy timeout) and then finds the schema up to date. PostgreSQL: a
    transaction-level advisory lock. Other databases are not supported as state stores.
    """
    name = conn.dialect.name
    if name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")


def _record(row: Any) -> RunRecord:
    return RunRecord(
        id=row["id"], sync=row["sync"], trigger=row["trigger"],
        status=run_status(row["status"], rejected=row["rejected"] or 0,
                          invalid=row["invalid"] or 0, fields_dropped=row["fields_dropped"] or 0),
        full=bool(row["full"]), started_at=as_utc(row["started_at"]) or utc_now(),
        finished_at=as_utc(row["finished_at"]), heartbeat_at=as_utc(row["heartbeat_at"]),
        error=row["error"], **{c: int(row[c] or 0) for c in t.COUNTS},
    )

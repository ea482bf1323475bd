"""dlt's side of the benchmark; runs in the peers venv (``bench/.work/peers-venv``), not ours.

dlt gets its fastest documented set-up for this job (dlt's "Optimizing dlt" page):
- Extract: the same DuckDB file, read by DuckDB straight into Arrow record batches of 10,000
  rows (one load file each: dlt rotates files between items, not inside one) that a
  ``@dlt.resource`` yields as they are ("yield pages", and Arrow tables skip dlt's
  per-row normalisation). Dates stay dates, timestamps timestamps. dlt's own ``sql_database``
  source cannot read DuckDB here: its SQLAlchemy reflection through duckdb-engine fails
  (``REGCLASS`` does not exist), so the Arrow path is the one that works here.
- Load: parquet load files rotated every ``DATA_WRITER__FILE_MAX_ITEMS`` rows, so the custom
  ``@dlt.destination`` function runs on ``LOAD__WORKERS`` files in parallel (set by
  ``bench/peers.py``: 15, the uploads CleverTap allows in flight); it posts the same CleverTap
  records Syncline sends, 1,000 a request.
``--cursor`` makes it incremental on ``updated_at`` (``dlt.sources.incremental``, its
``last_value`` pushed into the query), dlt's way of not re-sending every row.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import dlt  # type: ignore[import-not-found, unused-ignore]
import duckdb
import orjson
import requests  # type: ignore[import-untyped, unused-ignore]

_QUERIES = {
    "profile": ("users", "SELECT user_id, name, email, phone, gender, city, plan, score, "
                         "signup_date, updated_at FROM main.users"),
    "event": ("orders", "SELECT order_id, user_id, ordered_at, transaction_value, currency, "
                        "discount_applied, items FROM main.orders"),
}  # fmt: skip


def _epoch(value: date | datetime) -> int:
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def profile(row: dict[str, Any]) -> dict[str, Any]:
    return {"type": "profile", "identity": row["user_id"], "profileData": {
        "Name": row["name"], "Email": row["email"], "Phone": row["phone"],
        "Gender": row["gender"], "city": row["city"], "plan": row["plan"], "score": row["score"],
        "signup_date": f"$D_{_epoch(row['signup_date'])}",
        "updated_at": f"$D_{_epoch(row['updated_at'])}"}}  # fmt: skip


def event(row: dict[str, Any]) -> dict[str, Any]:
    return {"type": "event", "identity": row["user_id"], "evtName": "Charged",
            "ts": _epoch(row["ordered_at"]), "evtData": {
                "Transaction Value": row["transaction_value"], "Currency": row["currency"],
                "Discount Applied": bool(row["discount_applied"]),
                "Items": row["items"]}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duckdb", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--kind", choices=["profile", "event"], required=True)
    parser.add_argument("--account", required=True)
    parser.add_argument("--passcode", required=True)
    parser.add_argument("--cursor", action="store_true")
    args = parser.parse_args()
    build = profile if args.kind == "profile" else event
    local = threading.local()  # one keep-alive session per load worker thread
    headers = {"X-CleverTap-Account-Id": args.account, "X-CleverTap-Passcode": args.passcode,
               "Content-Type": "application/json"}  # fmt: skip

    @dlt.destination(batch_size=1000, loader_file_format="parquet", name="clevertap")  # type: ignore[misc, untyped-decorator, unused-ignore]
    def clevertap(items: Any, table: Any) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        rows = items.to_pylist() if hasattr(items, "to_pylist") else items
        body = orjson.dumps({"d": [build(i) for i in rows]})
        answer = session.post(f"{args.url}/1/upload", data=body, headers=headers, timeout=120)
        answer.raise_for_status()

    name, query = _QUERIES[args.kind]
    cursor = dlt.sources.incremental("updated_at") if args.cursor else None

    @dlt.resource(name=name)  # type: ignore[misc, untyped-decorator, unused-ignore]
    def rows(updated_at: Any = cursor) -> Iterator[Any]:
        sql, params = query, []
        if updated_at is not None and updated_at.last_value is not None:
            sql, params = f"{query} WHERE updated_at > ?", [updated_at.last_value]
        con = duckdb.connect(args.duckdb, read_only=True)
        try:
            result = con.execute(sql, params)
            # DuckDB 1.4 renamed fetch_record_batch to to_arrow_reader
            read = getattr(result, "to_arrow_reader", None) or result.fetch_record_batch  # type: ignore[attr-defined, unused-ignore]
            yield from read(10_000)
        finally:
            con.close()

    pipeline = dlt.pipeline(pipeline_name=f"bench_{name}", destination=clevertap,
                            dataset_name="bench")  # fmt: skip
    pipeline.run(rows())


if __name__ == "__main__":
    main()

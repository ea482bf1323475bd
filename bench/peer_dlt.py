"""dlt's side of the benchmark; runs in the peers venv (``bench/.work/peers-venv``), not ours.

A ``sql_database`` table (SQLite: dlt's DuckDB reflection fails) feeds a ``@dlt.destination``
function that posts the same CleverTap records Syncline sends, 1,000 per request. dlt gets its
fastest set-up (dlt's advice): the pyarrow backend and parquet load files, so the function
receives Arrow batches. ``--cursor`` makes it incremental on ``updated_at``, dlt's way of not
re-sending every row.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

import dlt  # type: ignore[import-not-found, unused-ignore]
import orjson
import requests  # type: ignore[import-untyped, unused-ignore]
import sqlalchemy as sa  # type: ignore[import-not-found, unused-ignore]
from dlt.sources.sql_database import sql_table  # type: ignore[import-not-found, unused-ignore]


def _epoch(text: Any) -> int:
    value = text if isinstance(text, datetime) else datetime.fromisoformat(str(text))
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
    items = row["items"]
    return {"type": "event", "identity": row["user_id"], "evtName": "Charged",
            "ts": _epoch(row["ordered_at"]), "evtData": {
                "Transaction Value": row["transaction_value"], "Currency": row["currency"],
                "Discount Applied": bool(row["discount_applied"]),
                "Items": json.loads(items) if isinstance(items, str) else items}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sqlite", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--kind", choices=["profile", "event"], required=True)
    parser.add_argument("--account", required=True)
    parser.add_argument("--passcode", required=True)
    parser.add_argument("--cursor", action="store_true")
    args = parser.parse_args()
    build = profile if args.kind == "profile" else event
    session = requests.Session()
    headers = {"X-CleverTap-Account-Id": args.account, "X-CleverTap-Passcode": args.passcode,
               "Content-Type": "application/json"}  # fmt: skip

    @dlt.destination(batch_size=1000, loader_file_format="parquet", name="clevertap")  # type: ignore[misc, untyped-decorator, unused-ignore]
    def clevertap(items: Any, table: Any) -> None:
        rows = items.to_pylist() if hasattr(items, "to_pylist") else items
        body = orjson.dumps({"d": [build(i) for i in rows]})
        answer = session.post(f"{args.url}/1/upload", data=body, headers=headers, timeout=120)
        answer.raise_for_status()

    engine = sa.create_engine(f"sqlite:///{args.sqlite}")
    table = "users" if args.kind == "profile" else "orders"
    incremental = dlt.sources.incremental("updated_at") if args.cursor else None
    resource = sql_table(
        credentials=engine, table=table, incremental=incremental, backend="pyarrow"
    )
    pipeline = dlt.pipeline(pipeline_name=f"bench_{table}", destination=clevertap,
                            dataset_name="bench")  # fmt: skip
    pipeline.run(resource)
    session.close()
    engine.dispose()


if __name__ == "__main__":
    main()

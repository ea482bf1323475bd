"""The run page says where the run's sync log rows are and shows the query that reads them,
when the sync keeps a log; the query it shows reads exactly the run's rows from the DuckDB file."""

from __future__ import annotations

import html
import re
from pathlib import Path

import duckdb
import httpx

from .served import SOURCE_BODY, destination_body, served
from .test_alerts_page import _sign_in

SYNC = {
    "source": "wh", "model": {"table": "main.users"}, "destination": "ct", "object": "profile",
    "sync_key": "user_id", "mappings": {"sync_all": True},
}


def test_the_run_page_shows_the_sync_log_query(tmp_path: Path) -> None:
    with served(tmp_path) as app, app.api() as api, \
            httpx.Client(base_url=app.url, timeout=30) as client:
        assert api.post("/api/connections", json=destination_body(app.sandbox)).status_code == 201
        assert api.post("/api/connections", json=SOURCE_BODY).status_code == 201
        logged = {**SYNC, "sync_log": {"enabled": True}}
        assert api.post("/api/syncs", json={"name": "users", "config": logged}).status_code == 201
        assert api.post("/api/syncs", json={"name": "quiet", "config": SYNC}).status_code == 201
        run = app.wait_run(api, api.post("/api/syncs/users/runs").json()["run_id"])
        quiet = app.wait_run(api, api.post("/api/syncs/quiet/runs").json()["run_id"])
        _sign_in(client)

        page = client.get(f"/runs/{run['id']}").text
        assert 'id="sync-log"' in page and ".syncline/diff/users.duckdb" in page
        match = re.search(r'<pre id="sync-log-query">(.*?)</pre>', page, re.S)
        assert match, page
        query = html.unescape(match.group(1))
        assert f"run_id = {run['id']}" in query
        with duckdb.connect(str(app.root / ".syncline/diff/users.duckdb"), read_only=True) as con:
            rows = con.execute(query).fetchall()
        assert len(rows) == run["accepted"] + run["rejected"] > 0

        assert 'id="sync-log"' not in client.get(f"/runs/{quiet['id']}").text

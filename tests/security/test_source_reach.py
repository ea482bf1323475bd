"""Hole 3: the source can read the server's files and environment. DuckDB runs models with
external access off and its configuration locked; source paths stay inside the project, and
Syncline's own files are never a source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from syncline.server.project.connections import save_connection

from ..server.served import Served

READS = [
    "SELECT * FROM read_text('/proc/self/environ')",
    "SELECT * FROM read_csv('/etc/hostname')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM read_text('wh.duckdb')",
]


@pytest.mark.parametrize("query", READS)
def test_a_duckdb_model_cannot_read_files(app: Served, query: str) -> None:
    with app.api() as api:
        got = api.post("/api/sources/wh/columns", json={"query": query})
        assert got.status_code == 400, got.text
        assert "disabled by configuration" in got.json()["error"]
        # nor can a model switch it back on: one SELECT, and the configuration is locked
        for setting in ("SET enable_external_access = true", "SET lock_configuration = false"):
            assert api.post("/api/sources/wh/columns", json={"query": setting}).status_code == 400


def test_a_files_source_reads_its_files_and_nothing_else(app: Served) -> None:
    (app.root / "people.csv").write_text("id,email\n1,a@example.com\n", encoding="utf-8")
    with app.api() as api:
        body = {"kind": "source", "name": "files", "config": {
            "type": "files", "tables": {"people": {"path": "people.csv"}}}}
        assert api.post("/api/connections", json=body).status_code == 201
        own = api.post("/api/sources/files/columns", json={"query": "SELECT * FROM people"})
        assert [c["name"] for c in own.json()["columns"]] == ["id", "email"]
        other = api.post("/api/sources/files/columns",
                         json={"query": "SELECT * FROM read_csv('/etc/hostname')"})
        assert other.status_code == 400 and "disabled by configuration" in other.text


def _source(app: Served, api: Any, name: str, config: dict[str, Any], why: str) -> Any:
    """Refused on save; one saved anyway (before the fence, or by `syncline apply`) is
    refused when used: its test's answer."""
    made = api.post("/api/connections", json={"kind": "source", "name": name, "config": config})
    assert made.status_code == 422 and why in made.text, made.text
    with app.jobs.sessions() as db:
        save_connection(db, app.jobs.box, kind="source", name=name, type=config["type"],
                        settings={k: v for k, v in config.items() if k != "type"}, secrets={})
        db.commit()
    return api.post(f"/api/connections/source/{name}/test").json()


@pytest.mark.parametrize(("config", "why"), [
    ({"type": "sqlite", "path": "STATE"}, "outside the project folder"),
    ({"type": "sqlite", "path": ".syncline/state.db"}, "Syncline's own files"),
    ({"type": "duckdb", "path": "/etc/hostname"}, "outside the project folder"),
    ({"type": "duckdb", "path": "../state.db"}, "outside the project folder"),
    ({"type": "files", "tables": {"t": {"path": "/etc/host*", "format": "csv"}}},
     "outside the project folder"),
    ({"type": "files", "tables": {"t": {"path": ".env", "format": "csv"}}}, "hidden file"),
])
def test_source_paths_stay_in_the_project_and_off_syncline_files(
    app: Served, config: dict[str, Any], why: str
) -> None:
    (app.root / ".syncline").mkdir(exist_ok=True)
    (app.root / ".syncline" / "state.db").write_bytes(b"")
    (app.root / ".env").write_text("SYNCLINE_SECRET_KEY=leaked\n", encoding="utf-8")
    state = Path(app.root.parent / "state.db")  # the served state store, beside the project
    if config.get("path") == "STATE":
        config = {**config, "path": str(state)}
    with app.api() as api:
        tested = _source(app, api, "sneaky", config, why)
        assert tested["ok"] is False and why in tested["error"], tested
        assert "leaked" not in str(tested)
        browsed = api.get("/api/sources/sneaky/schemas")
        assert browsed.status_code == 400 and why in browsed.json()["error"]

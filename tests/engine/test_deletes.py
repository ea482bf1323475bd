"""Deletes below the CLI: the removed-keys SQL in every diff store, the configuration rules, the
mass-delete limit's arithmetic and the CleverTap client's delete call on the wire."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pydantic import ValidationError

from syncline.config.models import CleverTapDestinationConfig, ModelConfig, SyncConfig
from syncline.destinations.clevertap.client import CleverTapClient
from syncline.engine.deletes import check_delete_limit, plan_deletes
from syncline.engine.planner import PlanCounts, Planner
from syncline.engine.summary import RunSummary
from syncline.errors import (
    DestinationRateLimitError,
    DestinationRequestError,
    MassDeleteError,
)
from syncline.sources.registry import model_sql
from tests.engine.placing import place_of
from tests.engine.test_pushdown import Database, make_database

# (source database, where the diff runs): the local DuckDB diff store, and each pushdown
KINDS = [
    pytest.param(("sqlite", "local"), id="duckdb-local"),
    pytest.param(("sqlite", "source"), id="sqlite"),
    pytest.param(("postgres", "source"), id="postgres", marks=pytest.mark.integration),
    pytest.param(("mariadb", "source"), id="mariadb", marks=pytest.mark.integration),
]


@pytest.fixture(params=KINDS)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Database, str]]:
    kind, diff = request.param
    for database in make_database(kind, tmp_path):
        yield database, diff


def _sql(db: Database, statement: str) -> None:
    db.sql(statement.replace('"', "`") if db.kind == "mariadb" else statement)


def _planner(db: Database, diff: str, tmp: Path) -> Planner:
    src = db.source()
    return Planner("people", src, model_sql(ModelConfig(table="people"), src),
                   model_is_table=True, key_column="User Id", hash_columns=["Name"], salt="s",
                   mode="upsert",
                   place=place_of(src, diff), local_path=tmp / "diff" / "d.duckdb")


def test_removed_keys_are_exactly_the_snapshot_keys_gone_from_the_model(
        case: tuple[Database, str], tmp_path: Path) -> None:
    db, diff = case
    _sql(db, 'CREATE TABLE people ("User Id" VARCHAR(20), "Name" VARCHAR(20))')
    keys = ["Aa", "b1", "b2", "c", "d", "e"]
    _sql(db, "INSERT INTO people VALUES " + ", ".join(f"('{k}', 'n')" for k in keys))
    planner = _planner(db, diff, tmp_path)
    plan = planner.plan()
    for batch in plan.batches(100):
        d = batch.to_pydict()
        planner.snapshot().commit(d["__syncline_key"], d["__syncline_hash"], 1)
    plan.close()
    # gone: b1, b2, d; "aa" differs from "Aa" (keys compare byte for byte); c is duplicated,
    # so still in the model (invalid, not removed)
    _sql(db, "DELETE FROM people WHERE \"User Id\" IN ('b1', 'b2', 'd', 'Aa')")
    _sql(db, "INSERT INTO people VALUES ('aa', 'n'), ('c', 'again')")
    plan = planner.plan()
    assert (plan.counts.removed, plan.counts.in_snapshot) == (4, 6)
    chunks = list(plan.removed_keys(2))
    assert chunks == [["Aa", "b1"], ["b2", "d"]]
    planner.snapshot().forget(chunks[0])
    plan.close()
    plan = planner.plan()
    assert (plan.counts.removed, list(plan.removed_keys(100))) == (2, [["b2", "d"]])
    plan.close()
    planner.close()
    planner.source.close()


def _sync(**options: Any) -> SyncConfig:
    base: dict[str, Any] = {"source": "w", "model": {"table": "t"}, "destination": "ct",
                            "object": "profile", "sync_key": "id"}
    return SyncConfig.model_validate({**base, **options})


@pytest.mark.parametrize(("options", "message"), [
    ({"object": "event", "identity_column": "u", "event_name": "E", "on_removed": "delete"},
     "is for profile syncs"),
    ({"on_removed": "delete", "identity_field": "FBID"}, "`identity` or `objectId` only"),
    ({"on_removed": "delete", "identity_column": "email"}, "sync key to be the identity"),
    ({"object": "delete", "mappings": {"sync_all": True}}, "remove `mappings`"),
    ({"object": "delete", "identity_field": "GPID"}, "`identity` or `objectId` only"),
    ({"object": "delete", "event_name": "E"}, "is for event syncs"),
    ({"on_removed": "delete", "max_delete_percent": 101}, "less than or equal to 100"),
], ids=["event", "fbid", "identity-column", "erasure-mappings", "erasure-gpid",
        "erasure-event-name", "percent"])
def test_delete_options_that_cannot_work_are_refused(options: dict[str, Any],
                                                     message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _sync(**options)


def test_the_defaults_keep_removed_profiles_and_an_erasure_sync_takes_its_identity() -> None:
    sync = _sync()
    assert (sync.on_removed, sync.max_delete_percent) == ("keep", 10)
    erasure = _sync(object="delete", identity_column="user_id", identity_field="objectId")
    assert (erasure.behavior, erasure.user_column) == ("delete", "user_id")


@pytest.mark.parametrize(("removed", "allow", "refused"), [
    (10, False, False), (11, False, True), (11, True, False), (0, False, False)])
def test_the_limit_counts_against_the_snapshot(removed: int, allow: bool, refused: bool) -> None:
    sync = _sync(on_removed="delete")
    summary = RunSummary(sync="s")
    counts = PlanCounts(90, 0, 0, 90, removed, 0, 0, in_snapshot=100)
    plan_deletes("s", sync, counts, summary, allow_mass_delete=allow)
    assert summary.to_delete == removed
    if refused:
        message = r"11 of the 100 profiles synced so far \(11.0%\)"
        with pytest.raises(MassDeleteError, match=message):
            check_delete_limit(summary)
    else:
        check_delete_limit(summary)
    keep = RunSummary(sync="s")
    plan_deletes("s", _sync(), counts, keep, allow_mass_delete=False)
    assert (keep.to_delete, keep.delete_note) == (0, None)


def _client(handler: Any) -> CleverTapClient:
    config = CleverTapDestinationConfig(type="clevertap", account_id="ACC", passcode="p",
                                        endpoint="http://ct.test")  # type: ignore[arg-type]
    return CleverTapClient(config, transport=httpx.MockTransport(handler))


def test_the_client_posts_identities_or_guids_and_needs_a_success_answer() -> None:
    seen: list[tuple[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, orjson.loads(request.content)))
        return httpx.Response(200, json={"status": "success"})

    client = _client(handler)
    client.delete_profiles(["a", "b"], field="identity")
    client.delete_profiles(["g1"], field="objectId")
    assert seen == [("/1/delete/profiles.json", {"identity": ["a", "b"]}),
                    ("/1/delete/profiles.json", {"guid": ["g1"]})]
    with pytest.raises(ValueError, match="at most 100"):
        client.delete_profiles([str(i) for i in range(101)], field="identity")
    client.close()


@pytest.mark.parametrize(("status", "body", "error"), [
    (200, {"status": "fail", "error": "x"}, DestinationRequestError),
    (200, "not json", DestinationRequestError),
    (400, {"status": "fail", "error": "Pass either identity or guid, not both", "code": 400},
     DestinationRequestError),
    (429, {"status": "fail", "error": "Too many", "code": 429}, DestinationRateLimitError),
], ids=["fail-status", "not-json", "400", "429"])
def test_a_delete_is_confirmed_only_by_a_success_answer(
        status: int, body: Any, error: type[Exception]) -> None:
    content = body.encode() if isinstance(body, str) else orjson.dumps(body)
    client = _client(lambda request: httpx.Response(status, content=content))
    with pytest.raises(error):
        client.delete_profiles(["a"], field="identity")
    client.close()

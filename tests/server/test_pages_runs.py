"""The run page, the sync page and the rejections page over real HTTP: one set of counts (the
API's, in `store.counts` order), rejections summarised by code and column, paged and filtered in
the store, and a CSV of every match with formula cells escaped; the home page's overview."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from syncline.store import RejectedRow
from syncline.store.counts import RUN_COUNTS

from .served import PASSWORD, SOURCE_BODY, USERNAME, Served, destination_body, served

SYNC = {
    "source": "wh", "model": {"table": "main.users"}, "destination": "ct", "object": "profile",
    "sync_key": "user_id", "mappings": {"columns": [{"from": "phone", "to": "Phone"}]},
}


def _csrf(text: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert match, text
    return match.group(1)


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[Served, httpx.Client]]:
    with served(tmp_path) as app:
        with app.api() as api:
            api.post("/api/connections", json=destination_body(app.sandbox))
            api.post("/api/connections", json=SOURCE_BODY)
            assert api.post("/api/syncs", json={"name": "users", "config": SYNC}
                            ).status_code == 201
        with httpx.Client(base_url=app.url, timeout=30, follow_redirects=True) as client:
            page = client.get("/sign-in")
            client.post("/sign-in", data={"username": USERNAME, "password": PASSWORD,
                                          "next": "/", "csrf_token": _csrf(page.text)})
            yield app, client


FORMULA = '=HYPERLINK("http://example.com/x","open")'
"""A key as a source may hold it: a spreadsheet would run it unless the CSV escapes it."""


def rejected_run(app: Served) -> int:
    """A finished run of ``users`` with rejections on two codes and columns, invalid keys,
    in-doubt and not-sent records (recorded as the runner records them)."""
    store = app.jobs.store
    run_id = store.start_run("users")
    rows = ([RejectedRow(f"u{i:04}", "516", "Phone number is invalid", "phone",
                         {"identity": f"u{i:04}", "profileData": {"Phone": "12"}})
             for i in range(150)]
            + [RejectedRow(f"e{i:04}", "512", "Email is invalid", "email",
                           {"identity": f"e{i:04}", "profileData": {"Name": "=HYPERLINK(1)"}})
               for i in range(90)]
            + [RejectedRow(None, "null_key", "the key is null", "user_id", None)] * 2
            + [RejectedRow(FORMULA, "513", "Name is too long", "name", None)])
    store.add_rejections(run_id, rows)
    store.finish_run(run_id, "succeeded", rows_in_model=400, planned_new=398, invalid=2,
                     sent=397, accepted=150, rejected=241, in_doubt=3, not_sent=2,
                     fields_dropped=1)
    return run_id


def _page_counts(text: str) -> list[tuple[str, int]]:
    return [(key.replace("-", "_"), int(value))
            for key, value in re.findall(r'id="count-([a-z-]+)">(\d+)<', text)]


def test_the_run_page_the_sync_page_and_the_api_show_the_same_counts(
    web: tuple[Served, httpx.Client],
) -> None:
    app, client = web
    run_id = rejected_run(app)
    with app.api() as api:
        counts = api.get(f"/api/runs/{run_id}").json()["run"]["counts"]
    assert (counts["invalid"], counts["rejected"], counts["in_doubt"], counts["not_sent"]) == (
        2, 241, 3, 2)
    run_page = client.get(f"/runs/{run_id}").text
    assert _page_counts(run_page) == list(counts.items())  # every count, in the one order
    for _key, label in RUN_COUNTS:
        assert f"</strong>{html.escape(label)}</div>" in run_page, label

    sync_page = client.get("/syncs/users").text
    shown = re.findall(r'data-count="([a-z_]+)">[^<]+<strong>(\d+)</strong>', sync_page)
    assert [(k, int(v)) for k, v in shown] == [(k, v) for k, v in counts.items() if v]
    assert "243" not in sync_page  # rejected and invalid are never added together


def test_the_rejections_page_summarises_pages_filters_and_downloads_everything(
    web: tuple[Served, httpx.Client],
) -> None:
    app, client = web
    run_id = rejected_run(app)
    run_page = client.get(f"/runs/{run_id}").text
    summary = re.findall(r"<tr><td>([^<]+)</td><td>([^<]*)</td>\s*<td><a href=\"([^\"]+)\">(\d+)<",
                         run_page)
    assert [(c, col, int(n)) for c, col, _, n in summary] == [
        ("516", "phone", 150), ("512", "email", 90), ("null_key", "user_id", 2),
        ("513", "name", 1)]

    first = client.get(f"/runs/{run_id}/rejections").text
    assert first.count("<summary>") == 100 and "Records 1–100 of 243" in first
    assert client.get(f"/runs/{run_id}/rejections", params={"page": 3}).text.count(
        "<summary>") == 43
    email = client.get(html.unescape(summary[1][2])).text  # the summary's link: 512 on email
    assert "of 90 matching" in email and "u0000" not in email
    second = client.get(f"/runs/{run_id}/rejections", params={"code": "516", "page": 2}).text
    assert "Records 101–150 of 150 matching" in second and "<summary>u0149<" in second
    keyed = client.get(f"/runs/{run_id}/rejections", params={"key": "u001"}).text
    assert "of 10 matching" in keyed  # u0010..u0019, found past the first page
    column = client.get(f"/runs/{run_id}/rejections", params={"column": "user_id"}).text
    assert "of 2 matching" in column and "not sent (no record was built)" in column

    rows = list(csv.reader(io.StringIO(client.get(f"/runs/{run_id}/rejections.csv").text)))
    assert rows[0] == ["sync_key", "code", "column", "reason", "record"] and len(rows) == 244
    assert [r[1] for r in rows[1:]].count("512") == 90
    assert rows[151][4].startswith('{"identity"')  # the record is JSON text, not a cell
    assert rows[-1][:3] == ["'" + FORMULA, "513", "name"]  # a formula stays text
    only = client.get(f"/runs/{run_id}/rejections.csv", params={"code": "512", "key": "e008"})
    assert [r[0] for r in csv.reader(io.StringIO(only.text))][1:] == [
        f"e{i:04}" for i in range(80, 90)]


def test_the_home_page_is_an_overview_of_every_sync_and_the_last_days_failures(
    web: tuple[Served, httpx.Client],
) -> None:
    app, client = web
    with app.api() as api:
        daily = {**SYNC, "schedule": "0 12 * * *"}  # a cron waits: no run starts here
        created = api.post("/api/syncs", json={"name": "signups", "config": daily})
        assert created.status_code == 201, created.text
    store = app.jobs.store
    old = store.start_run("users")
    store.finish_run(old, "failed", error="long ago")
    store.update_run(old, started_at=datetime.now(UTC) - timedelta(hours=30))
    failed = store.start_run("users")
    store.finish_run(failed, "failed", error="the warehouse did not answer")
    last = rejected_run(app)

    page = client.get("/").text
    rows = dict(re.findall(r'<tr data-sync="([a-z]+)">(.*?)</tr>', page, re.S))
    assert list(rows) == ["signups", "users"]
    assert "no run yet" in rows["signups"] and "<code>0 12 * * *</code>" in rows["signups"]
    assert re.search(r"<td>2026-01-0[56] \d\d:00</td>", rows["signups"])  # next run (the clock)
    assert f'href="/runs/{last}"' in rows["users"] and "manual" in rows["users"]
    assert "succeeded with rejections" in rows["users"]
    assert re.search(r'data-count="invalid">[^<]+<strong>2<', rows["users"])
    failures = page.split('id="failures"')[1].split("</table>")[0]
    assert f'href="/runs/{failed}"' in failures and "the warehouse did not answer" in failures
    assert "long ago" not in failures and "Failures in the last 24 hours (1)" in page
    assert 'id="tokens"' in page


def test_the_api_pages_and_filters_rejections_as_the_page_does(
    web: tuple[Served, httpx.Client],
) -> None:
    app, _ = web
    run_id = rejected_run(app)
    with app.api() as api:
        answer = api.get(f"/api/runs/{run_id}/rejections",
                         params={"column": "phone", "key": "u01", "offset": 5, "limit": 3}).json()
        everything = api.get(f"/api/runs/{run_id}/rejections").json()
    assert answer["total"] == 50  # u0100..u0149
    assert [r["sync_key"] for r in answer["rejections"]] == ["u0105", "u0106", "u0107"]
    assert answer["summary"][0] == {"code": "516", "column": "phone", "count": 150}
    assert everything["total"] == 243 and len(everything["rejections"]) == 243

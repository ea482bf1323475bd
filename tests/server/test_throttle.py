"""Sign-in throttling: with a fake clock on a real state store (SQLite and PostgreSQL), shared
by several throttles as by several server processes, then through the sign-in form of two apps
on one store; and guesses sent at once, in threads, to throttles and to the forms of one app
and of two (check-then-record let all 20 of 20 through)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from syncline.server.app import create_app
from syncline.server.auth.security import create_user
from syncline.server.auth.throttle import SignInThrottle, _addr, _pair
from syncline.server.project.models import User
from syncline.server.settings import ServerSettings
from syncline.store import StateStore
from syncline.store import tables as t

from .conftest import PASSWORD, SECRET, USERNAME
from .test_app import csrf_of, sign_in

MIGRATIONS = Path(__file__).parents[2] / "src" / "syncline" / "store" / "migrations"


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


Opened = Callable[[], sessionmaker[Session]]


@pytest.fixture
def opened(state_url: str) -> Iterator[Opened]:
    """Open the state store at ``state_url`` as a new server process would: its own engine
    (its own connections), each call."""
    StateStore(state_url).close()
    engines: list[sa.Engine] = []

    def open_store() -> sessionmaker[Session]:
        engines.append(sa.create_engine(state_url))
        return sessionmaker(engines[-1])

    yield open_store
    for engine in engines:
        engine.dispose()


def _rows(sessions: sessionmaker[Session]) -> list[tuple[str, object]]:
    with sessions() as db:
        return [(r.key, r.at) for r in db.execute(sa.select(t.sign_in_failures))]


def _fail(throttle: SignInThrottle, username: str, address: str = "") -> None:
    """A sign-in with a wrong password: its reservation, allowed, stays as the failure."""
    assert throttle.reserve(username, address).allowed


def test_too_many_failures_block_until_the_window_passes(opened: Opened) -> None:
    ticks = Ticks()
    throttle = SignInThrottle(opened(), max_failures=3, window_s=60, clock=ticks)
    for _ in range(2):
        _fail(throttle, "Ada")
    assert throttle.wait_s("ada") == 0
    _fail(throttle, "ada")
    assert throttle.wait_s("ADA") == 60
    assert throttle.wait_s("bob") == 0
    refused = throttle.reserve("ada")
    assert not refused.allowed and refused.wait_s == 60
    ticks.now += 59
    assert throttle.wait_s("ada") == pytest.approx(1)
    ticks.now += 1
    assert throttle.wait_s("ada") == 0
    assert throttle.reserve("ada").allowed


def test_success_forgets_failures(opened: Opened) -> None:
    throttle = SignInThrottle(opened(), max_failures=2, window_s=60, clock=Ticks())
    _fail(throttle, "ada")
    throttle.succeeded(throttle.reserve("ada"))
    _fail(throttle, "ada")
    assert throttle.wait_s("ada") == 0


def test_refused_attempts_are_not_failures(opened: Opened) -> None:
    """A refusal checks no password, so it counts for nothing: the wait is not extended by
    retries, and a blocked client's requests add no rows."""
    ticks = Ticks()
    sessions = opened()
    throttle = SignInThrottle(sessions, max_failures=2, window_s=60, clock=ticks)
    _fail(throttle, "ada", "203.0.113.9")
    _fail(throttle, "ada", "203.0.113.9")
    for _ in range(3):
        ticks.now += 10
        assert not throttle.reserve("ada", "203.0.113.9").allowed
    assert len(_rows(sessions)) == 4
    ticks.now += 30
    assert throttle.reserve("ada", "203.0.113.9").allowed


def test_server_processes_on_one_store_count_the_same_failures(opened: Opened) -> None:
    """Behind a load balancer each guess may reach another process: together they allow
    ``max_failures`` guesses, not that many each; a restarted process forgets none."""
    ticks = Ticks()
    one, two = (SignInThrottle(opened(), max_failures=3, window_s=60, clock=ticks)
                for _ in range(2))
    _fail(one, "ada", "203.0.113.9")
    _fail(two, "ada", "203.0.113.9")
    assert one.wait_s("ada", "203.0.113.9") == two.wait_s("ada", "203.0.113.9") == 0
    ticks.now += 10
    _fail(one, "ada", "203.0.113.9")
    assert two.wait_s("ada", "203.0.113.9") == 50
    assert not two.reserve("ada", "203.0.113.9").allowed
    restarted = SignInThrottle(opened(), max_failures=3, window_s=60, clock=ticks)
    assert restarted.wait_s("ada", "203.0.113.9") == 50
    assert restarted.wait_s("ada", "198.51.100.7") == 0  # her own address is not blocked
    ticks.now += 50  # the first two leave the window; the third stays until a success
    restarted.succeeded(restarted.reserve("ada", "203.0.113.9"))
    _fail(one, "ada", "203.0.113.9")
    _fail(two, "ada", "203.0.113.9")
    assert one.wait_s("ada", "203.0.113.9") == two.wait_s("ada", "203.0.113.9") == 0


def test_a_spray_over_names_and_processes_waits(opened: Opened) -> None:
    ticks = Ticks()
    throttles = [SignInThrottle(opened(), max_per_address=5, clock=ticks) for _ in range(2)]
    for i in range(4):
        _fail(throttles[i % 2], f"user{i}", "203.0.113.9")
    assert throttles[0].wait_s("somebody", "203.0.113.9") == 0
    # the attacker's own account: its success keeps the address's four failures
    throttles[1].succeeded(throttles[1].reserve("user3", "203.0.113.9"))
    _fail(throttles[0], "user4", "203.0.113.9")
    assert throttles[0].wait_s("somebody", "203.0.113.9") == 900
    assert not throttles[1].reserve("somebody", "203.0.113.9").allowed
    assert throttles[1].wait_s("somebody", "198.51.100.7") == 0


def test_failures_past_the_window_are_deleted(opened: Opened) -> None:
    ticks = Ticks()
    sessions = opened()
    throttle = SignInThrottle(sessions, window_s=60, clock=ticks, prune_every_s=300)
    for i in range(3):
        _fail(throttle, f"random{i}", "203.0.113.9")
        _fail(throttle, "ada", "198.51.100.7")
    assert len(_rows(sessions)) == 12  # each failure counts for its name and its address
    assert not any("ada" in key or "198.51" in key for key, _ in _rows(sessions))
    ticks.now += 61
    _fail(throttle, "ada", "198.51.100.7")  # its own keys' old rows go at once
    assert len(_rows(sessions)) == 6 + 2
    ticks.now += 300  # the next prune of the whole table
    _fail(throttle, "grace", "192.0.2.1")
    assert len(_rows(sessions)) == 2
    assert throttle.wait_s("ada", "198.51.100.7") == 0


def test_failures_from_before_reservations_still_count(state_url: str) -> None:
    """A store upgraded from 0011 (rows without ``attempt``) keeps its failures counted."""
    engine = sa.create_engine(state_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0011")
    ticks = Ticks()
    old = SignInThrottle(sessionmaker(engine), max_failures=2, clock=ticks)
    with engine.begin() as conn:
        before = sa.table("sign_in_failures", sa.column("key", sa.String),
                          sa.column("at", sa.DateTime(timezone=True)))
        conn.execute(sa.insert(before).values(
            [{"key": key, "at": datetime.fromtimestamp(ticks.now, UTC)}
             for key in (_pair("203.0.113.9", "ada"), _addr("203.0.113.9"))]))
    StateStore(state_url).close()
    try:
        assert old.reserve("ada", "203.0.113.9").allowed
        assert old.wait_s("ada", "203.0.113.9") == 900
    finally:
        engine.dispose()


@pytest.mark.anyio
async def test_the_form_refuses_even_the_right_password_once_blocked(
    client: httpx.AsyncClient, user: User
) -> None:
    for _ in range(5):
        assert (await sign_in(client, password="guess")).status_code == 401
    blocked = await sign_in(client)
    assert blocked.status_code == 429
    assert "Too many failed sign-ins" in blocked.text
    assert (await client.get("/")).status_code == 303


@pytest.mark.anyio
async def test_two_servers_on_one_store_block_together(opened: Opened) -> None:
    """Guesses spread over two server apps on one state store are counted together."""
    with opened()() as db:
        create_user(db, USERNAME, PASSWORD)
        db.commit()
    async with _client(opened()) as one, _client(opened()) as two:
        for i in range(5):
            answer = await sign_in(one if i % 2 else two, password="guess")
            assert answer.status_code == 401
        assert (await sign_in(one)).status_code == 429
        assert (await sign_in(two)).status_code == 429


def _client(sessions: sessionmaker[Session]) -> httpx.AsyncClient:
    return _client_of(_app(sessions))


def _client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                             base_url="http://testserver")


# --- simultaneous guesses -------------------------------------------------------------------

GUESSES = 20


def _together(count: int, guess: Callable[[int], object]) -> list[object]:
    """``guess(i)`` in ``count`` threads released at once by a barrier; their results."""
    barrier = threading.Barrier(count)

    def run(i: int) -> object:
        barrier.wait()
        return guess(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_simultaneous_guesses_get_no_more_checks_than_the_limit(opened: Opened) -> None:
    """Twenty guesses at once, over two throttles (two processes' engines): at most
    ``max_failures`` may have their password checked, however their steps interleave."""
    throttles = [SignInThrottle(opened(), max_failures=5) for _ in range(2)]

    def guess(i: int) -> bool:
        if not throttles[i % 2].reserve("ada", "203.0.113.9").allowed:
            return False
        time.sleep(0.05)  # the password check (argon2 takes about as long), found wrong
        return True

    checked = _together(GUESSES, guess)
    assert sum(map(bool, checked)) <= 5
    failures = sum(throttles[0].reserve("ada", "203.0.113.9").allowed for _ in range(5))
    assert sum(map(bool, checked)) + failures == 5  # a burst's refusals took no slot


def test_a_simultaneous_spray_gets_no_more_checks_than_the_address_limit(
    opened: Opened,
) -> None:
    throttles = [SignInThrottle(opened(), max_per_address=4) for _ in range(2)]

    def guess(i: int) -> bool:
        allowed = throttles[i % 2].reserve(f"user{i}", "203.0.113.9").allowed
        time.sleep(0.05)
        return allowed

    assert sum(map(bool, _together(GUESSES, guess))) <= 4


async def _form_guesses(apps: list[FastAPI]) -> Counter[int]:
    """``GUESSES`` wrong passwords for one user from one address, sent at once over ``apps``
    (each app runs its sign-ins in its own worker threads, as a server does): how many got
    each status."""
    clients = [_client_of(apps[i % len(apps)]) for i in range(GUESSES)]
    try:
        forms = [{"username": USERNAME, "password": "guess", "next": "/",
                  "csrf_token": csrf_of((await client.get("/sign-in")).text)}
                 for client in clients]
        answers = await asyncio.gather(*(client.post("/sign-in", data=form)
                                         for client, form in zip(clients, forms, strict=True)))
    finally:
        for client in clients:
            await client.aclose()
    return Counter(answer.status_code for answer in answers)


@pytest.mark.anyio
async def test_simultaneous_wrong_passwords_on_the_form_stop_at_the_limit(
    opened: Opened,
) -> None:
    sessions = opened()
    with sessions() as db:
        create_user(db, USERNAME, PASSWORD)
        db.commit()
    statuses = await _form_guesses([_app(sessions)])
    assert statuses[401] <= 5 and statuses[401] + statuses[429] == GUESSES, statuses


@pytest.mark.anyio
async def test_simultaneous_wrong_passwords_on_two_servers_stop_at_the_limit(
    opened: Opened,
) -> None:
    with opened()() as db:
        create_user(db, USERNAME, PASSWORD)
        db.commit()
    statuses = await _form_guesses([_app(opened()), _app(opened())])
    assert statuses[401] <= 5 and statuses[401] + statuses[429] == GUESSES, statuses


def _app(sessions: sessionmaker[Session]) -> FastAPI:
    return create_app(ServerSettings(secret_key=SECRET, session_factory=sessions))

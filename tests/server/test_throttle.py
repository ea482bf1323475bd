"""Sign-in throttling: with a fake clock on a real state store (SQLite and PostgreSQL), shared
by several throttles as by several server processes, then through the sign-in form of two apps
on one store."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from syncline.server.app import create_app
from syncline.server.auth.security import create_user
from syncline.server.auth.throttle import SignInThrottle
from syncline.server.project.models import User
from syncline.server.settings import ServerSettings
from syncline.store import StateStore
from syncline.store import tables as t

from .conftest import PASSWORD, SECRET, USERNAME
from .test_app import sign_in


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


def test_too_many_failures_block_until_the_window_passes(opened: Opened) -> None:
    ticks = Ticks()
    throttle = SignInThrottle(opened(), max_failures=3, window_s=60, clock=ticks)
    for _ in range(2):
        throttle.failed("Ada")
    assert throttle.wait_s("ada") == 0
    throttle.failed("ada")
    assert throttle.wait_s("ADA") == 60
    assert throttle.wait_s("bob") == 0
    ticks.now += 59
    assert throttle.wait_s("ada") == pytest.approx(1)
    ticks.now += 1
    assert throttle.wait_s("ada") == 0


def test_success_forgets_failures(opened: Opened) -> None:
    throttle = SignInThrottle(opened(), max_failures=2, window_s=60, clock=Ticks())
    throttle.failed("ada")
    throttle.succeeded("ada")
    throttle.failed("ada")
    assert throttle.wait_s("ada") == 0


def test_server_processes_on_one_store_count_the_same_failures(opened: Opened) -> None:
    """Behind a load balancer each guess may reach another process: together they allow
    ``max_failures`` guesses, not that many each; a restarted process forgets none."""
    ticks = Ticks()
    one, two = (SignInThrottle(opened(), max_failures=3, window_s=60, clock=ticks)
                for _ in range(2))
    one.failed("ada", "203.0.113.9")
    two.failed("ada", "203.0.113.9")
    assert one.wait_s("ada", "203.0.113.9") == two.wait_s("ada", "203.0.113.9") == 0
    ticks.now += 10
    one.failed("ada", "203.0.113.9")
    assert two.wait_s("ada", "203.0.113.9") == 50
    restarted = SignInThrottle(opened(), max_failures=3, window_s=60, clock=ticks)
    assert restarted.wait_s("ada", "203.0.113.9") == 50
    assert restarted.wait_s("ada", "198.51.100.7") == 0  # her own address is not blocked
    restarted.succeeded("ada", "203.0.113.9")
    assert one.wait_s("ada", "203.0.113.9") == two.wait_s("ada", "203.0.113.9") == 0


def test_a_spray_over_names_and_processes_waits(opened: Opened) -> None:
    ticks = Ticks()
    throttles = [SignInThrottle(opened(), max_per_address=4, clock=ticks) for _ in range(2)]
    for i in range(4):
        throttles[i % 2].failed(f"user{i}", "203.0.113.9")
    assert throttles[0].wait_s("somebody", "203.0.113.9") == 900
    throttles[1].succeeded("user3", "203.0.113.9")  # the attacker's own account
    assert throttles[0].wait_s("somebody", "203.0.113.9") == 900
    assert throttles[1].wait_s("somebody", "198.51.100.7") == 0


def test_failures_past_the_window_are_deleted(opened: Opened) -> None:
    ticks = Ticks()
    sessions = opened()
    throttle = SignInThrottle(sessions, window_s=60, clock=ticks, prune_every_s=300)
    for i in range(3):
        throttle.failed(f"random{i}", "203.0.113.9")
        throttle.failed("ada", "198.51.100.7")
    assert len(_rows(sessions)) == 12  # each failure counts for its name and its address
    assert not any("ada" in key or "198.51" in key for key, _ in _rows(sessions))
    ticks.now += 61
    throttle.failed("ada", "198.51.100.7")  # its own key's old rows go at once
    assert len(_rows(sessions)) == 6 + 2
    ticks.now += 300  # the next prune of the whole table
    throttle.failed("grace", "192.0.2.1")
    assert len(_rows(sessions)) == 2
    assert throttle.wait_s("ada", "198.51.100.7") == 0


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
    app = create_app(ServerSettings(secret_key=SECRET, session_factory=sessions))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                             base_url="http://testserver")

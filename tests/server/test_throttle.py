"""Sign-in throttling: unit with a fake clock, then through the sign-in form."""

from __future__ import annotations

import httpx
import pytest

from syncline.server.auth.throttle import SignInThrottle
from syncline.server.project.models import User

from .test_app import sign_in


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_too_many_failures_block_until_the_window_passes() -> None:
    ticks = Ticks()
    throttle = SignInThrottle(max_failures=3, window_s=60, clock=ticks)
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


def test_success_forgets_failures() -> None:
    throttle = SignInThrottle(max_failures=2, window_s=60, clock=Ticks())
    throttle.failed("ada")
    throttle.succeeded("ada")
    throttle.failed("ada")
    assert throttle.wait_s("ada") == 0


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

"""Rate limits on log in, password set-up and API keys (issue 15 §2): after the allowed failures
the next attempt is 429 with ``Retry-After`` (a problem document, es/en), even with the right
credentials; other accounts, addresses and keys are unaffected; the window frees them again.
The failures are rows in intake's database, so the limits hold across replicas — against real
PostgreSQL and against the embedded SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.intake.seed import DEMO_PASSWORD
from shared import clock
from shared.settings import Settings
from tests.support.system import BUILDERS, TENANT, System, demo

pytestmark = pytest.mark.integration

# Low limits so that a test reaches them in a few requests.
LIMITS: dict[str, Any] = {"login_max_failures": 3, "login_ip_max_failures": 4, "password_setup_max_failures": 3,
          "api_key_max_failures": 3, "attempt_window_minutes": 15.0}
WINDOW_S = 15 * 60


@pytest.fixture(params=["rabbit", "embedded"])
def limited_settings(request: pytest.FixtureRequest) -> Settings:
    settings: Settings = request.getfixturevalue(f"{request.param}_settings")  # outside the event loop
    return settings.model_copy(update=LIMITS)


@pytest.fixture
async def system(limited_settings: Settings) -> AsyncIterator[System]:
    s = await System(limited_settings).start()
    yield s
    await s.stop()


def client_at(s: System, ip: str, service: str = "intake") -> httpx.AsyncClient:
    """A client of ``service`` whose requests come from the address ``ip``."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=s.rt[service].app, client=(ip, 40000)),
                             base_url=f"http://{service}")


async def login(c: httpx.AsyncClient, local: str, password: str = DEMO_PASSWORD, email: str | None = None) -> Any:
    return await c.post("/auth/token", data={"username": email or demo(local), "password": password,
                                             "tenant": TENANT})


def assert_throttled(r: httpx.Response, code: str = "too-many-attempts") -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith(f"/{code}") and r.json()["status"] == 429
    assert 0 < int(r.headers["retry-after"]) <= WINDOW_S


async def test_login_is_limited_per_account_and_the_right_password_waits_too(system: System) -> None:
    async with client_at(system, "10.0.0.1") as c:
        for _ in range(LIMITS["login_max_failures"]):
            assert (await login(c, "ejecutivo", "wrong-password")).status_code == 401
        locked = await login(c, "ejecutivo")  # the right password, N+1th attempt
        assert_throttled(locked, "login-locked")
        en = await c.post("/auth/token", data={"username": demo("ejecutivo"), "password": DEMO_PASSWORD,
                                               "tenant": TENANT}, headers={"Accept-Language": "en"})
        assert en.status_code == 429 and "try again" in en.json()["detail"].lower()
        assert (await login(c, "ejecutiva")).status_code == 200  # another account, same address
    async with client_at(system, "10.0.0.2") as other:  # the account is locked from everywhere
        assert_throttled(await login(other, "ejecutivo"), "login-locked")


async def test_an_email_without_an_account_is_locked_like_an_account(system: System) -> None:
    """No user enumeration: the same 401s, then the same 429 (type, title, detail) for an e-mail
    that has no account as for one that has."""
    answers = {}
    for i, email in enumerate((demo("ejecutivo"), f"nadie@{TENANT}.atiende.cl")):
        async with client_at(system, f"10.0.3.{i}") as c:  # one address each: no per-address limit
            for _ in range(LIMITS["login_max_failures"]):
                assert (await login(c, "", "wrong-password", email=email)).status_code == 401
            answers[email] = await login(c, "", DEMO_PASSWORD, email=email)
            assert_throttled(answers[email], "login-locked")
    known, unknown = (r.json() for r in answers.values())
    assert {k: v for k, v in known.items() if k != "instance"} == {k: v for k, v in unknown.items() if k != "instance"}


async def test_login_is_limited_per_client_address_across_accounts(system: System) -> None:
    async with client_at(system, "10.0.0.1") as c, client_at(system, "10.0.0.2") as other:
        # Failures on several accounts (unknown ones too), none of them reaching its own limit.
        for local in ("supervisora", "lectura", "nadie", "ejecutivo"):
            assert (await login(c, local, "wrong-password")).status_code == 401
        throttled = await login(c, "admin")  # right password, an account that never failed
        assert_throttled(throttled)
        assert "intente de nuevo" in throttled.json()["detail"].lower()  # Spanish by default
        assert (await login(other, "admin")).status_code == 200  # another address is unaffected
        clock.travel_to(clock.now() + timedelta(seconds=WINDOW_S + 5))
        assert (await login(c, "admin")).status_code == 200  # the window freed it


async def test_password_set_up_with_bad_links_is_limited_per_address(system: System) -> None:
    async with client_at(system, "10.0.0.1") as c, client_at(system, "10.0.0.2") as other:
        body = {"token": "not-a-real-setup-token", "password": "una-clave-bien-larga"}
        for _ in range(LIMITS["password_setup_max_failures"]):
            r = await c.post("/auth/password-setup", json=body)
            assert r.status_code == 422 and r.json()["errors"][0]["code"] == "invalid_setup_token"
        assert_throttled(await c.post("/auth/password-setup", json=body))
        assert (await other.post("/auth/password-setup", json=body)).status_code == 422  # not throttled


async def _api_key(s: System) -> str:
    r = await s.intake.post("/api-keys", json={"name": "Importador"}, headers=await s.auth("admin"))
    assert r.status_code == 201, r.text
    return str(r.json()["key"])


async def test_bad_api_keys_are_limited_per_address_and_the_good_key_waits_too(system: System) -> None:
    key = await _api_key(system)
    async with client_at(system, "10.0.0.1") as c, client_at(system, "10.0.0.2") as other:
        for i in range(LIMITS["api_key_max_failures"]):
            assert (await c.get("/auth/me", headers={"X-API-Key": f"atk_guess-{i}-0123456789"})).status_code == 401
        assert_throttled(await c.get("/auth/me", headers={"X-API-Key": key}))
        assert (await other.get("/auth/me", headers={"X-API-Key": key})).status_code == 200


async def test_bad_api_keys_are_limited_per_key_prefix_from_any_address(system: System) -> None:
    key = await _api_key(system)
    for i in range(LIMITS["api_key_max_failures"]):  # guesses at one key, each from another address
        async with client_at(system, f"10.0.1.{i}") as c:
            assert (await c.get("/auth/me", headers={"X-API-Key": key[:10] + "x" * 30})).status_code == 401
    async with client_at(system, "10.0.2.1") as c:
        assert_throttled(await c.get("/auth/me", headers={"X-API-Key": key}))
        other_key = await _api_key(system)
        assert (await c.get("/auth/me", headers={"X-API-Key": other_key})).status_code == 200


async def test_the_limits_hold_across_replicas(rabbit_settings: Settings) -> None:
    """Failures counted by one intake process refuse the next attempt at another (one database)."""
    settings = rabbit_settings.model_copy(update=LIMITS)
    s = await System(settings).start()
    replica = BUILDERS["intake"](settings, bus=s.bus)
    await replica.start()
    try:
        async with client_at(s, "10.0.0.1") as first:
            for local in ("supervisora", "lectura", "nadie", "ejecutivo"):
                assert (await login(first, local, "wrong-password")).status_code == 401
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=replica.app, client=("10.0.0.1", 40000)),
                                     base_url="http://intake-2") as second:
            assert_throttled(await login(second, "admin"))
    finally:
        await replica.stop()
        await s.stop()

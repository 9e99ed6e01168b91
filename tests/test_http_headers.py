"""Security headers on every response of every service, and CORS only where a deployment asks for
it (issue 15; shared/http.py): the API may not be framed, sniffed or given a referrer; its docs
pages keep their scripts; a browser on another origin is let in only when ATIENDE_CORS_ORIGINS
names it."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

import httpx

from shared.http import make_app
from shared.settings import Settings
from tests.support.system import System

EXPECTED = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}


def assert_secured(r: httpx.Response, *, csp: bool = True) -> None:
    for name, value in EXPECTED.items():
        assert r.headers.get(name) == value, (r.request.url, name, r.headers)
    if csp:
        assert "default-src 'none'" in r.headers["content-security-policy"]
    else:
        assert "content-security-policy" not in r.headers
    assert r.headers["x-correlation-id"]


async def test_every_service_sends_security_headers_on_answers_and_refusals(rabbit_system: System) -> None:
    s = rabbit_system
    for name, client in s.clients.items():
        assert_secured(await client.get("/health"))
        assert_secured(await client.get("/no-such-path"))  # a 404 problem
        docs = await client.get("/docs")
        assert docs.status_code == 200, name
        assert_secured(docs, csp=False)  # Swagger UI runs its own scripts
    assert_secured(await s.intake.get("/cases"))  # 401: no token
    r = await s.intake.post("/cases", json={}, headers=await s.auth())
    assert r.status_code == 422
    assert_secured(r)


@asynccontextmanager
async def _lifespan(app: Any):  # type: ignore[no-untyped-def]
    yield


def _client(**settings: Any) -> httpx.AsyncClient:
    app = make_app("t", Settings(**settings), _lifespan)

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ok": "yes"}

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")


async def test_cors_lets_in_only_the_configured_origins() -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    async with _client(cors_origins="https://console.example.cl, https://otra.example.cl") as c:
        ok = await c.options("/ping", headers={"Origin": "https://console.example.cl", **preflight})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://console.example.cl"
        assert "authorization" in ok.headers["access-control-allow-headers"].lower()
        other = await c.get("/ping", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    async with _client() as c:  # the default: no cross-origin browser access at all
        r = await c.get("/ping", headers={"Origin": "https://console.example.cl"})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers

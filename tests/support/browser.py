"""The console in a real browser, for the console's tests (issue 14): Debian's Chromium driven by
Playwright against the one origin served over HTTP by uvicorn on a loopback port, with the
console mounted under /console as `atiende run` serves it.

Fixtures ``site`` and ``browser`` are registered in tests/conftest.py; the helpers (``log_in``,
``check_screen``, ``token``) are imported from here. Chromium comes from the project's own files
(`make browser`, called by .ci/run): locally without it the tests skip, in CI (CI=true) they fail."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from console.app import create_app
from services.intake.seed import DEMO_PASSWORD
from shared.one_origin import OneOrigin
from tests.support.system import TENANT, System, demo, wait_for

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"{CHROMIUM} is missing: run `make browser` (installs Debian's chromium)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Site:
    """The one origin with the console, served over HTTP."""

    system: System
    base: str  # http://127.0.0.1:<port>
    api: httpx.AsyncClient  # the same origin, for the API calls the tests make themselves

    @property
    def console(self) -> str:
        return f"{self.base}/console"


@contextlib.asynccontextmanager
async def serve_site(system: System) -> AsyncIterator[Site]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    console = create_app(base)  # the console calls the API of its own origin, over HTTP
    origin = OneOrigin({**{name: rt.app for name, rt in system.rt.items()}, "console": console})
    server = uvicorn.Server(uvicorn.Config(origin, host="127.0.0.1", port=port, lifespan="off", log_level="warning",
                                           timeout_graceful_shutdown=1))
    serving = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started, 10, "uvicorn started")
    try:
        async with httpx.AsyncClient(base_url=base, timeout=20) as api:
            yield Site(system, base, api)
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 15)
        await console.state.api.aclose()


@pytest.fixture
async def site(rabbit_system: System) -> AsyncIterator[Site]:
    _require_chromium()
    async with serve_site(rabbit_system) as s:
        yield s


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    _require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            await b.close()


# -- helpers --------------------------------------------------------------------------------------
async def log_in(browser: Any, site: Site, local: str, tenant: str = TENANT) -> Any:
    """A new browser context (its own cookies) where ``local`` logged in through the form."""
    return await log_in_in(await browser.new_context(locale="es-CL"), site, local, tenant)


async def log_in_in(context: Any, site: Site, local: str, tenant: str = TENANT) -> Any:
    page = await context.new_page()
    page.set_default_timeout(15_000)
    await page.goto(f"{site.console}/login")
    await page.get_by_label("Cliente (tenant)").fill(tenant)
    await page.get_by_label("Correo electrónico").fill(demo(local, tenant))
    await page.get_by_label("Contraseña").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="Entrar").click()
    await page.wait_for_url(f"{site.console}/inbox")
    return page


async def check_screen(page: Any, name: str) -> None:
    """axe: no serious or critical violation on this screen; and its screenshot."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    bad = [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']]}"
           for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: " + "\n".join(bad)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def token(site: Site, local: str) -> dict[str, str]:
    r = await site.api.post("/auth/token", data={"username": demo(local), "password": DEMO_PASSWORD, "tenant": TENANT})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}

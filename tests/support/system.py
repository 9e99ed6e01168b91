"""Builds the four services for a test, in one event loop, against real backends.

``backend="rabbit"``: RabbitMQ + PostgreSQL from env URLs (each test gets its own database
cloned from a migrated template, and its own broker namespace). ``backend="embedded"``: SQLite
files in a temp folder and the in-process bus. Mail goes to a real SMTP sink either way."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx

from services.intake.bootstrap import build as build_intake
from services.intake.seed import DEMO_PASSWORD, demo_email
from services.notifier.bootstrap import build as build_notifier
from services.reporting.bootstrap import build as build_reporting
from services.workflow.bootstrap import build as build_workflow
from shared import clock
from shared.messaging.bus import Bus
from shared.runtime import ServiceRuntime, make_bus
from shared.settings import Settings

BUILDERS: dict[str, Callable[..., ServiceRuntime]] = {
    "intake": build_intake, "workflow": build_workflow, "notifier": build_notifier, "reporting": build_reporting}

TENANT = "inmobiliaria-demo"


def demo(local: str, tenant: str = TENANT) -> str:
    """E-mail of a seeded demo user (admin, supervisora, ejecutiva, ejecutivo, lectura, gerencia.tecnica)."""
    return demo_email(local, tenant)


CASE = {"type": "consulta-general", "subject": "Copia de escritura",
        "description": "El propietario solicita copia de la escritura de su departamento.",
        "contact": {"name": "Héctor Contreras", "email": "hector@example.cl", "phone": "+56912345678"},
        "responsible_email": demo("ejecutiva")}


def case_body(i: int = 0, **over: Any) -> dict[str, Any]:
    body = {**CASE, "subject": f"Consulta {i}", "contact": {**CASE["contact"], "email": f"cliente{i}@example.cl"}}
    body.update(over)
    return body


async def wait_for(cond: Callable[[], Awaitable[bool] | bool], timeout: float = 20.0, what: str = "condition",  # noqa: ASYNC109
                   interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while True:
        res = cond()
        if asyncio.iscoroutine(res) or isinstance(res, Awaitable):
            res = await res  # type: ignore[misc]
        if res:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


class System:
    def __init__(self, settings: Settings, services: tuple[str, ...] = tuple(BUILDERS)) -> None:
        self.settings = settings
        self.bus: Bus = make_bus(settings)
        self.rt: dict[str, ServiceRuntime] = {n: BUILDERS[n](settings, bus=self.bus) for n in services}
        self._tokens: dict[tuple[str, str], dict[str, str]] = {}
        self.clients: dict[str, httpx.AsyncClient] = {
            n: httpx.AsyncClient(transport=httpx.ASGITransport(app=rt.app), base_url=f"http://{n}")
            for n, rt in self.rt.items()}

    async def start(self) -> System:
        await self.bus.start()
        await self.declare_bindings()
        for rt in self.rt.values():
            await rt.start()
        if "intake" in self.rt:
            from services.intake.seed import DEMO_TENANTS, load_tenants
            await load_tenants(self.rt["intake"].db, DEMO_TENANTS)
        await wait_for(self.all_subscribed, 30, "services subscribed")
        return self

    async def declare_bindings(self, bus: Bus | None = None) -> None:
        """What `atiende migrate` and `atiende run` do before services start."""
        for name, rt in self.rt.items():
            await (bus or self.bus).declare(name, rt.processor.event_types)

    def all_subscribed(self) -> bool:
        return all(rt.subscribed for rt in self.rt.values())

    async def stop(self) -> None:
        for c in self.clients.values():
            await c.aclose()
        for rt in self.rt.values():
            await rt.stop()
        await self.bus.close()

    @property
    def intake(self) -> httpx.AsyncClient:
        return self.clients["intake"]

    @property
    def reporting(self) -> httpx.AsyncClient:
        return self.clients["reporting"]

    async def auth(self, local: str = "admin", tenant: str = TENANT, password: str = DEMO_PASSWORD) -> dict[str, str]:
        """Authorization header of a demo user (logs in once, through the real endpoint)."""
        key = (local, tenant)
        if key not in self._tokens:
            r = await self.intake.post("/auth/token", data={"username": demo(local, tenant), "password": password,
                                                             "tenant": tenant})
            assert r.status_code == 200, r.text
            self._tokens[key] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return dict(self._tokens[key])

    def travel_to(self, instant: datetime) -> None:
        """Move every service's ``now`` (shared/clock.py) and forget the tokens issued before:
        their expiry is judged against the new now."""
        clock.travel_to(instant)
        self._tokens.clear()

    async def create_case(self, body: dict[str, Any] | None = None, as_user: str = "admin", tenant: str = TENANT,
                          **headers: str) -> dict[str, Any]:
        r = await self.intake.post("/cases", json=body or CASE, headers={**await self.auth(as_user, tenant), **headers})
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def report(self, as_user: str = "admin", tenant: str = TENANT) -> dict[str, Any]:
        r = await self.reporting.get("/reports/case-counts", headers=await self.auth(as_user, tenant))
        assert r.status_code == 200, r.text
        return dict(r.json())

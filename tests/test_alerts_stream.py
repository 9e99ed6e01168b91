"""R4.8 pushed: GET /alerts/stream tells the caller's unread alert count as server-sent events,
so a bell updates without polling — ``ready`` at once, ``alert`` when an alert is raised for them
or marked seen, ``heartbeat`` when quiet, ``end`` once their session ends. Only what the caller
may see counts (an executor: the cases they are responsible for); API keys are refused, as on
GET /alerts. workflow is not started: its alert events are published by the test, as in
test_alerts_api.py, and the stream is read over real HTTP (uvicorn)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from services.intake.service_layer import alerts
from shared import clock
from shared.settings import Settings
from tests.support.system import System, case_body, demo, wait_for
from tests.test_alerts_api import raise_alert
from tests.test_in_app import Stream, read_stream, served


@pytest.fixture
async def s(embedded_settings: Settings) -> AsyncIterator[System]:
    system = await System(embedded_settings, services=("intake",)).start()
    yield system
    await system.stop()


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seconds, not minutes: how often a stream re-reads the count and says it is alive."""
    monkeypatch.setattr(alerts, "WATCH_EVERY_S", 0.1)
    monkeypatch.setattr(alerts, "HEARTBEAT_S", 0.5)


def stream(base: str, headers: dict[str, str]) -> contextlib.AbstractAsyncContextManager[Stream]:
    return read_stream(f"{base}/alerts/stream", {}, headers)


async def test_r4_8_a_raised_alert_reaches_the_responsibles_open_stream_and_not_a_colleagues(s: System) -> None:
    case = await s.create_case(case_body(1, responsible_email=demo("ejecutiva")))
    async with served(s.rt["intake"]) as base, stream(base, await s.auth("ejecutiva")) as mine, \
            stream(base, await s.auth("ejecutivo")) as colleague:
        assert mine.status == 200 and mine.headers is not None
        assert mine.headers["content-type"].startswith("text/event-stream")
        assert mine.named("ready") == [{"unread": 0}]
        await raise_alert(s, case, clock.now() - timedelta(hours=1))
        await wait_for(lambda: bool(mine.named("alert")), 5, "the alert on the responsible's stream")
        assert mine.named("alert") == [{"unread": 1}]
        # Seen: the count goes down on the stream too.
        r = await s.intake.post("/alerts/seen", json={"alert_ids": []}, headers=await s.auth("ejecutiva"))
        assert r.status_code == 200, r.text
        await wait_for(lambda: len(mine.named("alert")) == 2, 5, "the seen alert on the stream")
        assert mine.named("alert")[-1] == {"unread": 0}
        await wait_for(lambda: bool(colleague.named("heartbeat")), 5, "the colleague's heartbeat")
        assert colleague.named("alert") == []  # not their case: nothing to tell


async def test_r4_8_the_stream_ends_with_the_session_and_refuses_api_keys_and_strangers(s: System) -> None:
    admin = await s.auth("admin")
    key = (await s.intake.post("/api-keys", json={"name": "integración"}, headers=admin)).json()["key"]
    async with served(s.rt["intake"]) as base:
        async with httpx.AsyncClient(base_url=base) as c:
            assert (await c.get("/alerts/stream")).status_code == 401
            assert (await c.get("/alerts/stream", headers={"X-API-Key": key})).status_code == 403
        async with stream(base, admin) as st:
            assert (await s.intake.post("/auth/logout", headers=admin)).status_code in (200, 204)
            await wait_for(lambda: bool(st.named("end")), 5, "the stream's end")

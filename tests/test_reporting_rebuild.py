"""Issue 13, part 5: reporting's read models can be trusted. A realistic working day (cases
entered, executed, waiting on the customer and resumed, finished and reopened, priorities raised,
reassigned, an interaction and a task, clocks met and breached as time passes) leaves read
models that ``atiende reporting rebuild`` reproduces exactly from the event log; and a repeated
or stale event changes nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from services.reporting.adapters.db import case_facts
from services.reporting.adapters.event_log import event_log
from services.reporting.handlers import READ_MODELS
from services.reporting.service_layer.rebuild import rebuild
from shared.db import Database
from shared.messaging.bus import OutgoingMessage
from shared.settings import Settings
from tests.support.system import System, case_body, demo, wait_for
from tests.test_reports import ANA, Case, met_clock, view

SCL = ZoneInfo("America/Santiago")
ENTERED = datetime(2027, 3, 8, 10, tzinfo=SCL)  # Monday 8 Mar 2027, a working morning
LATER = datetime(2027, 3, 12, 10, tzinfo=SCL)  # Friday: the cases still open are late
SURROGATE = {"priority_changes": {"id"}}  # autoincrement keys: a replay numbers them anew


async def snapshot(db: Database) -> dict[str, list[tuple[str, ...]]]:
    """Every read model's rows, as sorted text tuples (surrogate keys left out)."""
    out = {}
    async with db.read() as conn:
        for table in READ_MODELS:
            cols = [c for c in table.c if c.name not in SURROGATE.get(table.name, set())]
            rows = (await conn.execute(select(*cols))).all()
            out[table.name] = sorted(tuple(str(v) for v in r) for r in rows)
    return out


async def log_size(db: Database) -> int:
    async with db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(event_log))).scalar_one())


async def quiet(db: Database, for_s: float = 1.5) -> None:
    """Wait until no event has reached reporting for ``for_s`` seconds."""
    size = -1
    while (now := await log_size(db)) != size:
        size = now
        await asyncio.sleep(for_s)


async def facts(s: System, case_id: str) -> Any:
    async with s.rt["reporting"].db.read() as conn:
        return (await conn.execute(select(case_facts).where(case_facts.c.case_id == uuid.UUID(case_id)))).first()


async def working_day(s: System) -> dict[str, str]:
    s.travel_to(ENTERED)
    c = s.intake
    admin = await s.auth()
    users = (await c.get("/users", params={"limit": 100}, headers=admin)).json()["items"]
    ids = {u["email"]: u["id"] for u in users}
    r = await c.post("/parties", json={"kind": "stakeholder", "name": "Junta de Vecinos Los Robles"}, headers=admin)
    assert r.status_code == 201, r.text
    r = await c.post("/interactions", headers=admin, json={"party_id": r.json()["id"], "channel": "telefono",
                                                           "summary": "Llama por filtraciones."})
    assert r.status_code == 201, r.text
    case = {}
    for key, i, due in (("a", 1, "2027-03-10"), ("b", 2, "2027-03-09"), ("d", 3, "2027-03-11")):
        case[key] = (await s.create_case(case_body(i, due_date=due)))["id"]

    async def ok(path: str, body: dict[str, Any] | None = None) -> None:
        r = await c.post(path, json=body, headers=await s.auth())  # a new token after travelling
        assert r.status_code in (200, 201), (path, r.text)

    await ok(f"/cases/{case['a']}/execute", {"text": "Se visitó el departamento."})
    await ok(f"/cases/{case['a']}/priority", {"priority": "high", "reason": "customer_called_again"})
    await ok(f"/cases/{case['a']}/finish", {"outcome": "success", "comment": "Reparado."})
    await ok(f"/cases/{case['a']}/reopen", {"text": "Vuelve a filtrar."})
    await ok(f"/cases/{case['b']}/pause", {"text": "Esperamos fotos del cliente."})
    await ok(f"/cases/{case['b']}/resume")
    await ok(f"/cases/{case['b']}/assign", {"responsible_id": ids[demo("ejecutivo")]})
    await ok(f"/cases/{case['d']}/tasks", {"title": "Revisar techumbre", "responsible_id": ids[demo("ejecutivo")],
                                           "due_date": "2027-03-10"})
    tasks = (await c.get(f"/cases/{case['d']}/tasks", headers=admin)).json()["items"]
    await ok(f"/tasks/{tasks[0]['id']}/close", {"note": "Revisada."})

    async def applied() -> bool:
        fa, fb = await facts(s, case["a"]), await facts(s, case["b"])
        return bool(fa and fa.reopened == 1 and fa.priority == "high" and fb and fb.status == "in_execution"
                    and fb.responsible_id is not None and str(fb.responsible_id) == ids[demo("ejecutivo")])

    await wait_for(applied, 30, "the day's actions in reporting")
    s.travel_to(LATER)  # b, d and the reopened a are late: their resolution clocks breach

    async def breached() -> bool:
        late = [await facts(s, case[k]) for k in ("b", "d")]
        return all(f is not None and f.resolution_breached_at is not None for f in late)

    await wait_for(breached, 30, "the breaches in reporting")
    await ok(f"/cases/{case['b']}/finish", {"outcome": "failure", "comment": "El cliente no respondió."})
    await wait_for(lambda: _finished(s, case["b"]), 30, "b finished, its clock met late")
    return case


async def _finished(s: System, case_id: str) -> bool:
    f = await facts(s, case_id)
    return bool(f and f.finished_status == "finished_failure" and f.resolution_business_seconds is not None)


@pytest.mark.integration
async def test_rebuild_from_the_event_log_equals_the_live_read_models(rabbit_system: System) -> None:
    s = rabbit_system
    case = await working_day(s)
    db = s.rt["reporting"].db
    await quiet(db)
    live = await snapshot(db)
    b = await facts(s, case["b"])
    assert (b.resolution_state, b.finished_status, b.reopened, b.answered_at is not None) == (
        "met", "finished_failure", 0, True)
    assert b.resolution_breached_at is not None and b.resolution_business_seconds > 0
    assert (await facts(s, case["a"])).status == "in_execution" and len(live["task_facts"]) == 1
    assert len(live["interaction_facts"]) == 1 and len(live["priority_changes"]) == 1

    seen: list[tuple[int, int]] = []
    replayed = await rebuild(db, batch=7, progress=lambda done, total: seen.append((done, total)))
    total = await log_size(db)
    assert replayed == total and seen[0] == (0, total) and seen[-1] == (total, total) and len(seen) > 2
    assert await snapshot(db) == live


@pytest.fixture
async def reporting_only(embedded_settings: Settings) -> AsyncIterator[System]:
    system = await System(embedded_settings, services=("reporting",)).start()
    yield system
    await system.stop()


async def publish(s: System, *envs: Any) -> None:
    await s.bus.publish([OutgoingMessage(e.id, e.type, e.to_bytes()) for e in envs])


@pytest.mark.integration
async def test_a_repeated_or_stale_event_changes_nothing(reporting_only: System) -> None:
    """A redelivered event (same id), an older case event (a lower version) and older workflow
    views (a lower revision, an earlier cycle) leave the read models as they were (embedded:
    SQLite and the in-process bus)."""
    s = reporting_only
    processor = s.rt["reporting"].processor
    c = Case("IN-0100", "A", "ventas", "telefono", ANA, ENTERED.astimezone(ZoneInfo("UTC")))
    executed = c.transition("case.executed.v1", "new", "in_execution", c.entered + timedelta(hours=1))
    fr_view, fr_met = met_clock(c, "first_response", 1)
    old_view = c.clocks(first_response=view("running", c.entered + timedelta(hours=8)),
                        resolution=view("running", c.entered + timedelta(hours=40)))
    new_view = c.clocks(first_response=fr_view, resolution=view("running", c.entered + timedelta(hours=40)))
    await publish(s, c.created, executed, fr_met, new_view)
    await wait_for(lambda: _answered(s, c), 30, "the case executed and answered")
    await quiet(s.rt["reporting"].db, 0.5)
    before = await snapshot(s.rt["reporting"].db)
    stale_before = processor.stale

    finished_again = c.transition("case.finished.v1", "in_execution", "finished_success", c.entered)
    stale_finish = finished_again.model_copy(update={"sequence": 2})  # an older version than applied
    await publish(s, executed, stale_finish, old_view,
                  c.met("resolution", c.entered, c.entered, 1, cycle=0))
    await wait_for(lambda: processor.stale > stale_before, 30, "the stale case event skipped")
    await quiet(s.rt["reporting"].db, 0.5)
    assert await snapshot(s.rt["reporting"].db) == before
    # The log kept what was applied (not the stale case event): a rebuild, here on SQLite, agrees.
    assert await rebuild(s.rt["reporting"].db, batch=2) == await log_size(s.rt["reporting"].db)
    assert await snapshot(s.rt["reporting"].db) == before


async def _answered(s: System, c: Case) -> bool:
    async with s.rt["reporting"].db.read() as conn:
        f = (await conn.execute(select(case_facts).where(case_facts.c.case_id == c.id))).first()
    return bool(f and f.status == "in_execution" and f.first_response_state == "met" and f.sla_revision == 2)

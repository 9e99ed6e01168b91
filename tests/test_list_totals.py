"""What the lists of tasks (R2.4), work orders (R2.5), interactions (R2.2) and parties (R2.8) say
besides their rows, so that a frontend need not ask again per row: the total of the whole list
(``total``/``total_exact``, as ``GET /inbox`` gives it: exact up to a bound, then an estimate), the
names next to the ids (a task's responsible; a work order's task responsible, requester and
decider, with its case), and a task's ``overdue`` flag (open past its due day, the tenant's today).

Embedded mode (SQLite) for the lists; the bound of the count on PostgreSQL, where it applies."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from services.intake.adapters import case_tables
from services.intake.adapters.list_counts import bounded_count
from services.intake.domain.access import Principal, Role
from services.intake.domain.hierarchy import task_overdue
from tests.support.system import TENANT, System, case_body, demo

pytestmark = pytest.mark.integration


async def _users(s: System) -> dict[str, dict[str, Any]]:
    r = await s.intake.get("/users", params={"limit": 200}, headers=await s.auth("admin"))
    return {u["email"]: u for u in r.json()["items"]}


async def _task(s: System, case_id: str, responsible: dict[str, Any], title: str, days: int = 3) -> dict[str, Any]:
    r = await s.intake.post(f"/cases/{case_id}/tasks", headers=await s.auth("admin"), json={
        "title": title, "responsible_id": responsible["id"],
        "due_date": (date.today() + timedelta(days=days)).isoformat()})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _past_due(s: System, task_id: str) -> None:
    """The API refuses a due date in the past: the task's date moves back, as days would pass."""
    async with s.rt["intake"].db.engine.begin() as conn:
        await conn.execute(update(case_tables.tasks).where(case_tables.tasks.c.id == uuid.UUID(task_id))
                           .values(due_date=date.today() - timedelta(days=2)))


def test_r2_4_a_task_is_overdue_once_its_due_day_is_over_and_only_while_open() -> None:
    today = date(2026, 12, 4)
    assert task_overdue("open", date(2026, 12, 3), today)
    assert not task_overdue("open", today, today)  # due today: not yet
    assert not task_overdue("closed", date(2026, 12, 1), today)


async def test_r2_4_tasks_carry_total_responsible_name_and_overdue(embedded_system: System) -> None:
    s = embedded_system
    users = await _users(s)
    ejecutiva, ejecutivo = users[demo("ejecutiva")], users[demo("ejecutivo")]
    case = await s.create_case(case_body(71))
    late = await _task(s, case["id"], ejecutiva, "Llamar al cliente")
    await _task(s, case["id"], ejecutiva, "Pedir presupuesto", days=5)
    theirs = await _task(s, case["id"], ejecutivo, "Visitar el departamento")
    await _past_due(s, late["id"])
    admin = await s.auth("admin")

    r = await s.intake.get("/tasks", params={"mine": "false", "case_id": case["id"], "status": "all", "limit": 2},
                           headers=admin)
    assert r.status_code == 200, r.text
    first = r.json()
    assert (first["total"], first["total_exact"], len(first["items"])) == (3, True, 2) and first["next_cursor"]
    rest = (await s.intake.get("/tasks", params={"mine": "false", "case_id": case["id"], "status": "all",
                                                 "limit": 2, "cursor": first["next_cursor"]}, headers=admin)).json()
    assert rest["total"] == 3 and len(rest["items"]) == 1  # the whole list's total, on every page
    shown = {t["id"]: t for t in first["items"] + rest["items"]}
    assert {i: (t["responsible_name"], t["overdue"]) for i, t in shown.items()} == {
        late["id"]: (ejecutiva["name"], True), next(i for i in shown if i not in (late["id"], theirs["id"])):
        (ejecutiva["name"], False), theirs["id"]: (ejecutivo["name"], False)}
    # Her own task inbox: her two, the count follows the filter.
    mine = (await s.intake.get("/tasks", headers=await s.auth("ejecutiva"))).json()
    assert mine["total"] == 2 and {t["responsible_name"] for t in mine["items"]} == {ejecutiva["name"]}
    # One task, and once closed it is no longer overdue.
    assert (await s.intake.get(f"/tasks/{late['id']}", headers=admin)).json()["overdue"] is True
    r = await s.intake.post(f"/tasks/{late['id']}/close", json={"note": "Hecho."}, headers=await s.auth("ejecutiva"))
    assert r.status_code == 200 and r.json()["overdue"] is False and r.json()["status"] == "closed"
    assert (await s.intake.get(f"/cases/{case['id']}/tasks", headers=admin)).json()["items"][0]["responsible_name"]


async def test_r2_5_work_orders_carry_total_and_the_names_of_who_does_requests_and_decides(
        embedded_system: System) -> None:
    s = embedded_system
    users = await _users(s)
    ejecutivo, manager = users[demo("ejecutivo")], users[demo("gerencia.tecnica")]
    case = await s.create_case(case_body(72))
    before = (await s.intake.get("/work-orders", headers=await s.auth("admin"))).json()["total"]
    orders = []
    for title in ("Reparar empalme", "Cambiar medidor"):
        task = await _task(s, case["id"], ejecutivo, title)
        r = await s.intake.post(f"/tasks/{task['id']}/work-order", json={"description": f"{title}."},
                                headers=await s.auth("ejecutivo"))
        assert r.status_code == 201, r.text
        orders.append(r.json())
    found = (await s.intake.get("/work-orders", params={"limit": 1}, headers=await s.auth("gerencia.tecnica"))).json()
    assert (found["total"], found["total_exact"], len(found["items"])) == (before + 2, True, 1)
    r = await s.intake.post(f"/work-orders/{orders[0]['id']}/approve", json={"comment": ""},
                            headers=await s.auth("gerencia.tecnica"))
    assert r.status_code == 200, r.text
    approved = (await s.intake.get("/work-orders", params={"status": "approved", "limit": 200},
                                   headers=await s.auth("admin"))).json()
    wo = next(w for w in approved["items"] if w["id"] == orders[0]["id"])
    assert (wo["task_responsible_id"], wo["task_responsible_name"], wo["created_by_name"], wo["decided_by_name"],
            wo["case_number"], wo["case_subject"]) == (
        ejecutivo["id"], ejecutivo["name"], ejecutivo["name"], manager["name"], case["number"], case["subject"])
    pending = (await s.intake.get("/work-orders", headers=await s.auth("admin"))).json()
    assert pending["total"] == before + 1


async def test_r2_2_r2_8_interactions_and_parties_carry_their_total(embedded_system: System) -> None:
    s = embedded_system
    admin = await s.auth("admin")
    name = f"Totales {uuid.uuid4().hex[:8]}"
    made = []
    for i in range(3):
        r = await s.intake.post("/parties", json={"kind": "person", "name": f"{name} {i}"}, headers=admin)
        assert r.status_code == 201, r.text
        made.append(r.json())
    parties = (await s.intake.get("/parties", params={"name": name, "limit": 2}, headers=admin)).json()
    assert (parties["total"], parties["total_exact"], len(parties["items"])) == (3, True, 2)
    for summary in ("Llama por humedad.", "Vuelve a llamar."):
        r = await s.intake.post("/interactions", json={"party_id": made[0]["id"], "channel": "telefono",
                                                       "summary": summary}, headers=admin)
        assert r.status_code == 201, r.text
    found = (await s.intake.get("/interactions", params={"party_id": made[0]["id"], "limit": 1},
                                headers=admin)).json()
    assert (found["total"], found["total_exact"], len(found["items"])) == (2, True, 1)
    none = (await s.intake.get("/interactions", params={"party_id": made[1]["id"]}, headers=admin)).json()
    assert (none["total"], none["items"]) == (0, [])


async def test_r2_4_the_count_is_bounded_on_postgresql_then_an_estimate(rabbit_system: System) -> None:
    """Beyond the bound the count stops (it reads at most cap + 1 rows) and says it estimates."""
    s = rabbit_system
    users = await _users(s)
    case = await s.create_case(case_body(73))
    for i in range(3):
        await _task(s, case["id"], users[demo("ejecutiva")], f"Tarea {i}")
    who = Principal(tenant=TENANT, user_id=None, roles=frozenset({Role.ADMIN}))
    listed = case_tables.task_list(who, responsible_id=None, status=None, case_id=uuid.UUID(case["id"]))
    async with s.rt["intake"].db.engine.connect() as conn:
        assert conn.dialect.name == "postgresql"
        assert await bounded_count(conn, listed, cap=10) == (3, True)
        total, exact = await bounded_count(conn, listed, cap=2)
    assert total >= 3 and exact is False

"""The hierarchy (R2.2–R2.6): interactions → cases → tasks → work orders, the roll-up of closing,
the task e-mail and inbox, activities (R0.2), and the denials (401, 403, 404 across tenants)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.intake.adapters.db import outbox
from services.intake.domain import hierarchy
from services.intake.domain.access import Principal, Role
from services.intake.domain.hierarchy import DueLimit, Refused, WorkOrderStatus
from tests.support.smtp_sink import SmtpSink
from tests.support.system import System, case_body, demo, wait_for

# -- pure rules -----------------------------------------------------------------------------------


def test_r2_2_interaction_codes_are_human_readable() -> None:
    assert hierarchy.interaction_code(1) == "AT-000001"
    assert hierarchy.interaction_code(123) == "AT-000123"
    assert hierarchy.interaction_code(1_234_567) == "AT-1234567"
    with pytest.raises(ValueError):
        hierarchy.interaction_code(0)


def test_r2_4_task_due_date_no_later_than_internal_commitment_else_deadline() -> None:
    internal, deadline, today = date(2026, 12, 7), date(2026, 12, 15), date(2026, 12, 1)
    limit = hierarchy.task_due_limit(internal, deadline)
    assert limit == DueLimit(internal, "internal_commitment_date")
    assert hierarchy.task_due_limit(None, deadline) == DueLimit(deadline, "due_date")
    assert hierarchy.task_due_limit(None, None) is None
    hierarchy.check_task_due_date(internal, limit, today)  # the limit itself is allowed
    with pytest.raises(Refused) as exc:
        hierarchy.check_task_due_date(date(2026, 12, 8), limit, today)
    assert exc.value.code == "due_after_internal_commitment_date"
    assert "2026-12-07" in exc.value.message[0] and "internal commitment date" in exc.value.message[1]
    assert exc.value.extra == {"limit": "2026-12-07", "limit_kind": "internal_commitment_date"}
    with pytest.raises(Refused) as exc:
        hierarchy.check_task_due_date(date(2026, 12, 16), hierarchy.task_due_limit(None, deadline), today)
    assert exc.value.code == "due_after_due_date"
    with pytest.raises(Refused) as exc:
        hierarchy.check_task_due_date(date(2026, 11, 30), None, today)
    assert exc.value.code == "due_date_in_past"
    hierarchy.check_task_due_date(date(2030, 1, 1), None, today)  # no limit: any future date


def test_r2_5_work_order_is_executed_only_after_approval() -> None:
    pending = WorkOrderStatus.PENDING_APPROVAL
    with pytest.raises(Refused) as exc:
        hierarchy.execute_work_order(pending)
    assert exc.value.code == "work_order_not_approved" and "Gerente Técnico" in exc.value.message[0]
    assert hierarchy.decide_work_order(pending, approve=True) == WorkOrderStatus.APPROVED
    assert hierarchy.decide_work_order(pending, approve=False) == WorkOrderStatus.REJECTED
    assert hierarchy.execute_work_order(WorkOrderStatus.APPROVED) == WorkOrderStatus.EXECUTED
    for status, code in ((WorkOrderStatus.REJECTED, "work_order_rejected"),
                         (WorkOrderStatus.EXECUTED, "work_order_already_executed")):
        with pytest.raises(Refused) as exc:
            hierarchy.execute_work_order(status)
        assert exc.value.code == code
    with pytest.raises(Refused) as exc:
        hierarchy.decide_work_order(WorkOrderStatus.APPROVED, approve=False)
    assert exc.value.code == "work_order_already_decided"


def test_r2_6_interaction_is_held_open_by_unfinished_cases() -> None:
    class C:
        def __init__(self, status: str) -> None:
            self.status = status

    rows = [C("finished_success"), C("in_execution"), C("finished_failure"), C("new"), C("waiting_on_customer")]
    assert [c.status for c in hierarchy.open_cases(rows)] == ["in_execution", "new", "waiting_on_customer"]
    assert hierarchy.open_cases([C("finished_success")]) == []


def test_who_may_register_close_and_complete() -> None:
    me, other = uuid.uuid4(), uuid.uuid4()

    def who(*roles: Role, user: uuid.UUID | None = me) -> Principal:
        return Principal(tenant="t", roles=frozenset(roles), user_id=user)

    assert not hierarchy.can_register_interaction(who(Role.VIEWER))
    assert hierarchy.can_register_interaction(who(Role.EXECUTOR))
    assert hierarchy.can_close_interaction(who(Role.EXECUTOR), me)
    assert not hierarchy.can_close_interaction(who(Role.EXECUTOR), other)
    assert hierarchy.can_close_interaction(who(Role.SUPERVISOR), other)
    assert not hierarchy.can_close_interaction(who(Role.VIEWER), me)
    assert hierarchy.can_close_task(who(Role.EXECUTOR), me)
    assert not hierarchy.can_close_task(who(Role.EXECUTOR), other)
    assert not hierarchy.can_close_task(who(Role.TECHNICAL_MANAGER), other)
    assert hierarchy.can_close_task(who(Role.ADMIN), other)
    assert hierarchy.can_complete_activity(who(Role.EXECUTOR), me, manages_case=False)
    assert not hierarchy.can_complete_activity(who(Role.EXECUTOR), other, manages_case=False)


# -- through the API ------------------------------------------------------------------------------
C_TODAY = date.today()


async def _party(system: System, name: str = "Municipalidad de San Miguel", tenant: str = "inmobiliaria-demo",
                 **extra: Any) -> str:
    r = await system.intake.post("/parties", json={"kind": "stakeholder", "name": name, **extra},
                                 headers=await system.auth("admin", tenant))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _interaction(system: System, party_id: str, as_user: str = "ejecutiva", **extra: Any) -> dict[str, Any]:
    r = await system.intake.post("/interactions", headers=await system.auth(as_user), json={
        "party_id": party_id, "channel": "telefono", "summary": "Llama por humedad en el departamento 402.", **extra})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _user_ids(system: System) -> dict[str, str]:
    users = (await system.intake.get("/users", headers=await system.auth("admin"))).json()["items"]
    return {u["email"]: u["id"] for u in users}


async def _events(system: System, type_: str) -> list[str]:
    async with system.rt["intake"].db.engine.connect() as conn:
        rows = (await conn.execute(select(outbox.c.type).where(outbox.c.type == type_))).all()
    return [r.type for r in rows]


async def _task(system: System, case_id: str, responsible: str, title: str = "Revisar humedad",
                as_user: str = "admin", **extra: Any) -> dict[str, Any]:
    ids = await _user_ids(system)
    r = await system.intake.post(f"/cases/{case_id}/tasks", headers=await system.auth(as_user), json={
        "title": title, "responsible_id": ids[demo(responsible)], "due_date": (C_TODAY + timedelta(days=3)).isoformat(),
        **extra})
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.mark.integration
async def test_r2_2_interactions_get_unique_codes_even_when_created_at_once(rabbit_system: System) -> None:
    c = rabbit_system.intake
    party = await _party(rabbit_system)
    first = await _interaction(rabbit_system, party)
    assert first["code"] == "AT-000001" and first["status"] == "open" and first["party_id"] == party
    made = await asyncio.gather(*(_interaction(rabbit_system, party, summary=f"Llamada {i}") for i in range(8)))
    codes = {m["code"] for m in made}
    assert len(codes) == 8 and codes == {f"AT-{n:06d}" for n in range(2, 10)}
    # Another tenant counts its own interactions.
    gas_party = await _party(rabbit_system, "Junta de vecinos", tenant="gas-demo")
    r = await c.post("/interactions", headers=await rabbit_system.auth("admin", "gas-demo"),
                     json={"party_id": gas_party, "channel": "correo", "summary": "Carta de la junta."})
    assert r.status_code == 201 and r.json()["code"] == "AT-000001"
    assert len(await _events(rabbit_system, "interaction.created.v1")) == 10
    # Refusals, field by field: no party, another tenant's party, unknown channel, a future date.
    me = await rabbit_system.auth("ejecutiva")
    r = await c.post("/interactions", headers=me, json={"channel": "telefono", "summary": "x"})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "party_required"
    r = await c.post("/interactions", headers=me, json={"party_id": gas_party, "channel": "fax", "summary": "x",
                                                        "occurred_at": "2099-01-01T00:00:00Z"})
    assert r.status_code == 422
    assert {e["code"] for e in r.json()["errors"]} == {"unknown_party", "unknown_channel", "in_future"}
    # Lists: open ones of the party, newest first, in pages.
    page = (await c.get("/interactions", params={"party_id": party, "status": "open", "limit": 5}, headers=me)).json()
    assert len(page["items"]) == 5 and page["next_cursor"]
    rest = (await c.get("/interactions", params={"party_id": party, "limit": 5, "cursor": page["next_cursor"]},
                        headers=me)).json()
    assert len(rest["items"]) == 4 and rest["next_cursor"] is None
    assert {i["code"] for i in page["items"] + rest["items"]} == codes | {"AT-000001"}


@pytest.mark.integration
async def test_r2_6_interaction_closes_only_when_all_its_cases_are_finished(rabbit_system: System) -> None:
    c = rabbit_system.intake
    admin = await rabbit_system.auth("admin")
    party = await _party(rabbit_system)
    inter = await _interaction(rabbit_system, party)
    iid = inter["id"]
    one = await rabbit_system.create_case(case_body(1, interaction_id=iid))
    two = await rabbit_system.create_case(case_body(2, interaction_id=iid))
    shown = (await c.get(f"/interactions/{iid}", headers=admin)).json()
    assert [x["number"] for x in shown["cases"]] == [one["number"], two["number"]]
    r = await c.post(f"/interactions/{iid}/close", json={}, headers=admin)
    assert r.status_code == 409 and r.json()["type"].endswith("/open-children")
    assert [x["number"] for x in r.json()["open_cases"]] == [one["number"], two["number"]]
    assert one["number"] in r.json()["detail"]
    finish = {"outcome": "success", "comment": "Resuelto."}
    assert (await c.post(f"/cases/{one['id']}/finish", json=finish, headers=admin)).status_code == 200
    r = await c.post(f"/interactions/{iid}/close", json={}, headers=admin)
    assert r.status_code == 409 and [x["id"] for x in r.json()["open_cases"]] == [two["id"]]
    assert (await c.post(f"/cases/{two['id']}/finish", json=finish, headers=admin)).status_code == 200
    # Only whoever registered it (ejecutiva), a supervisor or an admin closes it.
    r = await c.post(f"/interactions/{iid}/close", json={"note": "x"}, headers=await rabbit_system.auth("ejecutivo"))
    assert r.status_code == 403
    r = await c.post(f"/interactions/{iid}/close", json={"note": "Gestión completa."},
                     headers=await rabbit_system.auth("ejecutiva"))
    assert r.status_code == 200 and r.json()["status"] == "closed" and r.json()["closing_note"] == "Gestión completa."
    assert (await c.post(f"/interactions/{iid}/close", json={}, headers=admin)).status_code == 409
    # R2.3 (the lead's check): no new case under a closed interaction.
    r = await c.post("/cases", json=case_body(3, interaction_id=iid), headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "interaction_closed"
    # A standalone interaction (a milestone) closes at once.
    alone = await _interaction(rabbit_system, party, summary="Reunión con el alcalde: se deja constancia.")
    assert (await c.post(f"/interactions/{alone['id']}/close", json={}, headers=admin)).status_code == 200
    assert len(await _events(rabbit_system, "interaction.closed.v1")) == 2
    # Another tenant sees none of it.
    gas = await rabbit_system.auth("admin", "gas-demo")
    assert (await c.get(f"/interactions/{iid}", headers=gas)).status_code == 404
    assert (await c.post(f"/interactions/{alone['id']}/close", json={}, headers=gas)).status_code == 404
    assert (await c.get("/interactions", headers=gas)).json()["items"] == []


@pytest.mark.integration
async def test_r2_4_task_under_a_case_emails_its_responsible_and_cc_and_is_in_their_inbox(
        rabbit_system: System, smtp_sink: SmtpSink) -> None:
    c = rabbit_system.intake
    admin = await rabbit_system.auth("admin")
    ids = await _user_ids(rabbit_system)
    internal = C_TODAY + timedelta(days=10)
    case = await rabbit_system.create_case(case_body(
        4, internal_commitment_date=internal.isoformat(),
        customer_commitment_date=(internal + timedelta(days=5)).isoformat()))
    cid = case["id"]
    body = {"title": "Inspeccionar filtración", "description": "Revisar el muro del baño del 402.",
            "responsible_id": ids[demo("ejecutivo")], "cc_user_ids": [ids[demo("supervisora")]],
            "area": "posventa", "due_date": (internal + timedelta(days=1)).isoformat()}
    # R2.4: due after the case's internal commitment date → 422 naming the limit.
    r = await c.post(f"/cases/{cid}/tasks", json=body, headers=admin)
    assert r.status_code == 422
    err = r.json()["errors"][0]
    assert err["field"] == "due_date" and err["code"] == "due_after_internal_commitment_date"
    assert err["limit"] == internal.isoformat() and internal.isoformat() in err["message"]
    assert "fecha de compromiso interna" in err["message"]
    r = await c.post(f"/cases/{cid}/tasks", json={**body, "due_date": (C_TODAY - timedelta(days=3)).isoformat(),
                                                  "responsible_id": str(uuid.uuid4()), "area": "nada"},
                     headers={**admin, "Accept-Language": "en"})
    assert r.status_code == 422
    assert {e["code"] for e in r.json()["errors"]} == {"due_date_in_past", "unknown_responsible", "unknown_area"}
    # A task exists only under a case: none of this tenant's → 404.
    assert (await c.post(f"/cases/{uuid.uuid4()}/tasks", json=body, headers=admin)).status_code == 404
    r = await c.post(f"/cases/{cid}/tasks", json={**body, "due_date": internal.isoformat()}, headers=admin)
    assert r.status_code == 201, r.text
    task = r.json()
    assert task["status"] == "open" and task["case_number"] == case["number"]
    assert task["cc_user_ids"] == [ids[demo("supervisora")]]

    def mails() -> dict[str, Any]:
        return {m.to[0]: m for m in smtp_sink.messages if m.message["X-Atiende-Template"] == "task_assigned"}

    await wait_for(lambda: len(mails()) == 2, 30, "task e-mails to the responsible and the CC user")
    to_resp, to_cc = mails()[demo("ejecutivo")], mails()[demo("supervisora")]
    assert "Inspeccionar filtración" in to_resp.message["Subject"] and case["number"] in to_resp.message["Subject"]
    assert "Se le asignó una tarea" in to_resp.message.get_body(("plain",)).get_content()
    assert internal.strftime("%d-%m-%Y") in to_resp.message.get_body(("plain",)).get_content()
    assert to_resp.message["X-Atiende-Case"] == cid
    assert "Ejecutivo Demo" in to_cc.message.get_body(("plain",)).get_content() and to_cc.message["Subject"].startswith("Copia")
    # The task inbox: the responsible's open tasks, soonest first; not in anyone else's.
    later = await _task(rabbit_system, cid, "ejecutivo", "Enviar informe")
    inbox = (await c.get("/tasks", headers=await rabbit_system.auth("ejecutivo"))).json()
    assert [t["id"] for t in inbox["items"]] == [later["id"], task["id"]]
    assert (await c.get("/tasks", headers=await rabbit_system.auth("ejecutiva"))).json()["items"] == []
    page = (await c.get("/tasks", params={"limit": 1}, headers=await rabbit_system.auth("ejecutivo"))).json()
    assert [t["id"] for t in page["items"]] == [later["id"]]
    page = (await c.get("/tasks", params={"limit": 1, "cursor": page["next_cursor"]},
                        headers=await rabbit_system.auth("ejecutivo"))).json()
    assert [t["id"] for t in page["items"]] == [task["id"]] and page["next_cursor"] is None
    every = (await c.get("/tasks", params={"mine": "false", "status": "all"}, headers=admin)).json()
    assert {t["id"] for t in every["items"]} == {task["id"], later["id"]}
    assert [t["title"] for t in (await c.get(f"/cases/{cid}/tasks", headers=admin)).json()["items"]] == [
        "Inspeccionar filtración", "Enviar informe"]
    hist = (await c.get(f"/cases/{cid}/history", headers=admin)).json()["items"]
    assert [h["data"]["title"] for h in hist if h["kind"] == "task_created"] == ["Inspeccionar filtración",
                                                                                   "Enviar informe"]
    assert len(await _events(rabbit_system, "task.created.v1")) == 2


@pytest.mark.integration
async def test_r2_6_case_finishes_only_when_its_tasks_are_closed(rabbit_system: System) -> None:
    c = rabbit_system.intake
    case = await rabbit_system.create_case(case_body(5))  # responsible: ejecutiva
    cid = case["id"]
    mine = await rabbit_system.auth("ejecutiva")
    a = await _task(rabbit_system, cid, "ejecutivo", "Pedir presupuesto", as_user="ejecutiva")
    b = await _task(rabbit_system, cid, "ejecutiva", "Llamar al cliente", as_user="ejecutiva")
    finish = {"outcome": "success", "comment": "Listo."}
    r = await c.post(f"/cases/{cid}/finish", json=finish, headers=mine)
    assert r.status_code == 409 and r.json()["type"].endswith("/open-children")
    assert [t["title"] for t in r.json()["open_tasks"]] == ["Pedir presupuesto", "Llamar al cliente"]
    # Only the task's responsible (or an admin or supervisor) closes it; the note is required.
    assert (await c.post(f"/tasks/{a['id']}/close", json={"note": "x"}, headers=mine)).status_code == 403
    assert (await c.post(f"/tasks/{b['id']}/close", json={"note": ""}, headers=mine)).status_code == 422
    r = await c.post(f"/tasks/{b['id']}/close", json={"note": "Cliente contactado."}, headers=mine)
    assert r.status_code == 200 and r.json()["status"] == "closed" and r.json()["closing_note"] == "Cliente contactado."
    assert (await c.post(f"/tasks/{b['id']}/close", json={"note": "otra vez"}, headers=mine)).status_code == 409
    r = await c.post(f"/cases/{cid}/finish", json=finish, headers=mine)
    assert r.status_code == 409 and [t["id"] for t in r.json()["open_tasks"]] == [a["id"]]
    r = await c.post(f"/tasks/{a['id']}/close", json={"note": "Presupuesto recibido."},
                     headers=await rabbit_system.auth("supervisora"))
    assert r.status_code == 200
    assert (await c.post(f"/cases/{cid}/finish", json=finish, headers=mine)).status_code == 200
    # No new task on a finished case.
    ids = await _user_ids(rabbit_system)
    r = await c.post(f"/cases/{cid}/tasks", headers=await rabbit_system.auth("admin"), json={
        "title": "Tarde", "responsible_id": ids[demo("ejecutiva")], "due_date": C_TODAY.isoformat()})
    assert r.status_code == 409 and r.json()["type"].endswith("/case-finished")
    kinds = [h["kind"] for h in (await c.get(f"/cases/{cid}/history", headers=mine)).json()["items"]]
    assert kinds == ["created", "task_created", "task_created", "task_closed", "task_closed", "finish_success"]
    assert len(await _events(rabbit_system, "task.closed.v1")) == 2


@pytest.mark.integration
async def test_r2_5_work_order_needs_the_technical_managers_approval_before_execution(rabbit_system: System) -> None:
    c = rabbit_system.intake
    case = await rabbit_system.create_case(case_body(6))
    task = await _task(rabbit_system, case["id"], "ejecutivo", "Reparar empalme")
    resp = await rabbit_system.auth("ejecutivo")
    r = await c.post(f"/tasks/{task['id']}/work-order", json={"description": "Cambio de empalme en poste 12."},
                     headers=resp)
    assert r.status_code == 201 and r.json()["status"] == "pending_approval"
    wo = r.json()
    r = await c.post(f"/tasks/{task['id']}/work-order", json={"description": "otra"}, headers=resp)
    assert r.status_code == 409 and r.json()["work_order"]["id"] == wo["id"]
    # Executing before approval → 409 with a clear message.
    r = await c.post(f"/work-orders/{wo['id']}/execute", json={"note": "Hecho."}, headers=resp)
    assert r.status_code == 409 and r.json()["type"].endswith("/work-order-not-approved")
    assert "aún no está aprobada por el Gerente Técnico" in r.json()["detail"]
    r = await c.post(f"/work-orders/{wo['id']}/execute", json={"note": "Done."},
                     headers={**resp, "Accept-Language": "en"})
    assert r.json()["detail"].startswith("The work order is not yet approved by the technical manager")
    # Its task does not close while the work order waits.
    r = await c.post(f"/tasks/{task['id']}/close", json={"note": "x"}, headers=resp)
    assert r.status_code == 409 and r.json()["work_order"]["status"] == "pending_approval"
    # The technical manager's inbox.
    tm = await rabbit_system.auth("gerencia.tecnica")
    inbox = (await c.get("/work-orders", params={"status": "pending_approval"}, headers=tm)).json()
    assert [w["id"] for w in inbox["items"]] == [wo["id"]] and inbox["items"][0]["case_number"] == case["number"]
    # Approval by anyone but a technical manager → 403 (an admin too).
    for who in ("admin", "supervisora", "ejecutivo", "lectura"):
        r = await c.post(f"/work-orders/{wo['id']}/approve", json={"comment": "ok"},
                         headers=await rabbit_system.auth(who))
        assert r.status_code == 403, who
    r = await c.post(f"/work-orders/{wo['id']}/approve", json={"comment": "Proceda el lunes."}, headers=tm)
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert r.json()["decision_comment"] == "Proceda el lunes."
    assert (await c.post(f"/work-orders/{wo['id']}/reject", json={"comment": "no"}, headers=tm)).status_code == 409
    assert (await c.get("/work-orders", headers=tm)).json()["items"] == []
    r = await c.post(f"/work-orders/{wo['id']}/execute", json={"note": "Empalme cambiado."}, headers=resp)
    assert r.status_code == 200 and r.json()["status"] == "executed" and r.json()["execution_note"] == "Empalme cambiado."
    assert (await c.post(f"/work-orders/{wo['id']}/execute", json={"note": "x"}, headers=resp)).status_code == 409
    assert (await c.post(f"/tasks/{task['id']}/close", json={"note": "Terminado."}, headers=resp)).status_code == 200
    # A rejected work order is never executed.
    other = await _task(rabbit_system, case["id"], "ejecutivo", "Poda de árbol")
    wo2 = (await c.post(f"/tasks/{other['id']}/work-order", json={"description": "Poda en la línea."},
                        headers=resp)).json()
    r = await c.post(f"/work-orders/{wo2['id']}/reject", json={}, headers=tm)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "comment_required"
    r = await c.post(f"/work-orders/{wo2['id']}/reject", json={"comment": "Corresponde al municipio."}, headers=tm)
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    r = await c.post(f"/work-orders/{wo2['id']}/execute", json={"note": "x"}, headers=resp)
    assert r.status_code == 409 and r.json()["type"].endswith("/work-order-rejected")
    assert (await c.post(f"/tasks/{other['id']}/close", json={"note": "No procede."}, headers=resp)).status_code == 200
    kinds = [h["kind"] for h in (await c.get(f"/cases/{case['id']}/history", headers=resp)).json()["items"]]
    assert [k for k in kinds if k.startswith("work_order")] == [
        "work_order_requested", "work_order_approved", "work_order_executed", "work_order_requested",
        "work_order_rejected"]
    for t in ("requested", "approved", "rejected", "executed"):
        assert await _events(rabbit_system, f"workorder.{t}.v1"), t
    # Another tenant: 404 everywhere.
    gas = await rabbit_system.auth("admin", "gas-demo")
    assert (await c.get(f"/work-orders/{wo['id']}", headers=gas)).status_code == 404
    assert (await c.post(f"/work-orders/{wo2['id']}/approve", json={}, headers=gas)).status_code == 404
    assert (await c.get("/work-orders", params={"status": "all"}, headers=gas)).json()["items"] == []


@pytest.mark.integration
async def test_r0_2_activities_notes_tasks_and_logged_calls(rabbit_system: System) -> None:
    c = rabbit_system.intake
    case = await rabbit_system.create_case(case_body(7))  # responsible: ejecutiva
    cid = case["id"]
    mine = await rabbit_system.auth("ejecutiva")
    planned = (C_TODAY + timedelta(days=2)).isoformat()
    r = await c.post(f"/cases/{cid}/activities", headers=mine, json={
        "kind": "task", "priority": "high", "reason": "Cliente volvió a llamar", "type": "visita-terreno",
        "description": "Visitar el departamento.", "planned_date": planned})
    assert r.status_code == 201, r.text
    visit = r.json()
    assert visit["status"] == "open" and visit["type"] == "visita-terreno" and visit["planned_date"] == planned
    r = await c.post(f"/cases/{cid}/activities", headers=mine, json={
        "kind": "call", "reason": "Seguimiento", "done_date": C_TODAY.isoformat()})
    assert r.status_code == 201 and r.json()["status"] == "completed" and r.json()["type"] == "call"
    r = await c.post(f"/cases/{cid}/activities", headers=mine, json={"kind": "email", "reason": "x"})
    assert r.status_code == 422
    # Executors act only on their own cases (R4.4); viewers never.
    for who in ("ejecutivo", "lectura"):
        r = await c.post(f"/cases/{cid}/activities", headers=await rabbit_system.auth(who),
                         json={"kind": "note", "reason": "x"})
        assert r.status_code == 403, who
        r = await c.post(f"/cases/{cid}/activities/{visit['id']}/complete", json={},
                         headers=await rabbit_system.auth(who))
        assert r.status_code == 403, who
    assert [a["id"] for a in (await c.get(f"/cases/{cid}/activities", params={"status": "open"},
                                          headers=await rabbit_system.auth("lectura"))).json()["items"]] == [visit["id"]]
    r = await c.post(f"/cases/{cid}/activities/{visit['id']}/complete", json={"note": "Visita realizada."},
                     headers=mine)
    assert r.status_code == 200 and r.json()["status"] == "completed" and r.json()["done_date"] is not None
    r = await c.post(f"/cases/{cid}/activities/{visit['id']}/complete", json={}, headers=mine)
    assert r.status_code == 409
    assert (await c.post(f"/cases/{cid}/activities/{uuid.uuid4()}/complete", json={}, headers=mine)).status_code == 404
    assert [a["status"] for a in (await c.get(f"/cases/{cid}/activities", headers=mine)).json()["items"]] == [
        "completed", "completed"]
    kinds = [h["kind"] for h in (await c.get(f"/cases/{cid}/history", headers=mine)).json()["items"]]
    assert kinds == ["created", "activity_added", "activity_added", "activity_completed"]
    assert len(await _events(rabbit_system, "activity.created.v1")) == 2
    assert len(await _events(rabbit_system, "activity.completed.v1")) == 1
    gas = await rabbit_system.auth("admin", "gas-demo")
    assert (await c.get(f"/cases/{cid}/activities", headers=gas)).status_code == 404


@pytest.mark.integration
async def test_denials_401_without_token_403_for_viewers_404_across_tenants(rabbit_system: System) -> None:
    c = rabbit_system.intake
    party = await _party(rabbit_system)
    inter = await _interaction(rabbit_system, party)
    case = await rabbit_system.create_case(case_body(8))
    task = await _task(rabbit_system, case["id"], "ejecutiva")
    wo = (await c.post(f"/tasks/{task['id']}/work-order", json={"description": "x"},
                       headers=await rabbit_system.auth("ejecutiva"))).json()
    ids = await _user_ids(rabbit_system)
    task_body = {"title": "t", "responsible_id": ids[demo("ejecutiva")], "due_date": C_TODAY.isoformat()}
    writes: list[tuple[str, dict[str, Any]]] = [
        ("/interactions", {"party_id": party, "channel": "telefono", "summary": "x"}),
        (f"/interactions/{inter['id']}/close", {}),
        (f"/cases/{case['id']}/tasks", task_body),
        (f"/tasks/{task['id']}/close", {"note": "x"}),
        (f"/tasks/{task['id']}/work-order", {"description": "x"}),
        (f"/work-orders/{wo['id']}/approve", {}),
        (f"/work-orders/{wo['id']}/execute", {"note": "x"}),
        (f"/cases/{case['id']}/activities", {"kind": "note", "reason": "x"}),
    ]
    reads = ["/interactions", f"/interactions/{inter['id']}", "/tasks", f"/tasks/{task['id']}",
             f"/cases/{case['id']}/tasks", "/work-orders", f"/work-orders/{wo['id']}",
             f"/cases/{case['id']}/activities"]
    for path, body in writes:
        assert (await c.post(path, json=body)).status_code == 401, path
    for path in reads:
        assert (await c.get(path)).status_code == 401, path
    viewer = await rabbit_system.auth("lectura")
    for path, body in writes:
        assert (await c.post(path, json=body, headers=viewer)).status_code == 403, path
    for path in reads:
        assert (await c.get(path, headers=viewer)).status_code == 200, path
    gas = await rabbit_system.auth("admin", "gas-demo")
    for path, body in writes[1:]:
        assert (await c.post(path, json=body, headers=gas)).status_code == 404, path
    for path in reads:
        if "/" in path.strip("/"):
            assert (await c.get(path, headers=gas)).status_code == 404, path
    # R2.7: an interaction with a restricted party is hidden from users it is not shared with.
    hidden_party = await _party(rabbit_system, "Cliente reservado", restricted=True, shared_with=[])
    hidden = (await c.post("/interactions", headers=await rabbit_system.auth("admin"), json={
        "party_id": hidden_party, "channel": "correo", "summary": "Reservado."})).json()
    assert (await c.get(f"/interactions/{hidden['id']}", headers=viewer)).status_code == 404
    assert hidden["id"] not in {i["id"] for i in (await c.get("/interactions", headers=viewer)).json()["items"]}


async def test_embedded_mode_runs_the_same_hierarchy(embedded_system: System, smtp_sink: SmtpSink) -> None:
    """SQLite + the in-process bus: codes, the roll-up, the task e-mail and an attachment."""
    s = embedded_system
    c = s.intake
    admin = await s.auth("admin")
    party = await _party(s)
    made = await asyncio.gather(*(_interaction(s, party, summary=f"Llamada {i}") for i in range(3)))
    assert sorted(m["code"] for m in made) == ["AT-000001", "AT-000002", "AT-000003"]
    iid = made[0]["id"]
    case = await s.create_case(case_body(9, interaction_id=iid))
    task = await _task(s, case["id"], "ejecutivo")
    await wait_for(lambda: any(m.message["X-Atiende-Template"] == "task_assigned" and m.to == [demo("ejecutivo")]
                               for m in smtp_sink.messages), 30, "task e-mail (embedded)")
    r = await c.post(f"/tasks/{task['id']}/attachments", files={"file": ("a.pdf", b"%PDF-1.4\n%%EOF", "application/pdf")},
                     headers=await s.auth("ejecutivo"))
    assert r.status_code == 201
    assert (await c.post(f"/interactions/{iid}/close", json={}, headers=admin)).status_code == 409
    assert (await c.post(f"/cases/{case['id']}/finish", json={"outcome": "success", "comment": "ok"},
                         headers=admin)).status_code == 409
    assert (await c.post(f"/tasks/{task['id']}/close", json={"note": "ok"},
                         headers=await s.auth("ejecutivo"))).status_code == 200
    assert (await c.post(f"/cases/{case['id']}/finish", json={"outcome": "success", "comment": "ok"},
                         headers=admin)).status_code == 200
    assert (await c.post(f"/interactions/{iid}/close", json={}, headers=admin)).status_code == 200

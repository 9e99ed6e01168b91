"""The agent's actions on a case (R4.6), the lifecycle, R4.4 on actions, history, the priority
policy (R0.3–R0.5) and the commitment dates (R2.3)."""

from __future__ import annotations

import pytest

from services.intake.domain import lifecycle
from services.intake.domain.lifecycle import Action, Priority, PriorityRefused, RaiseReason, Status
from tests.support.system import System, case_body, demo

# -- pure rules -----------------------------------------------------------------------------------


def test_r4_6_lifecycle_transitions_and_refusals() -> None:
    assert lifecycle.next_status(Status.NEW, Action.EXECUTE) == Status.IN_EXECUTION
    assert lifecycle.next_status(Status.IN_EXECUTION, Action.FINISH_FAILURE) == Status.FINISHED_FAILURE
    assert lifecycle.next_status(Status.FINISHED_SUCCESS, Action.REOPEN) == Status.IN_EXECUTION
    with pytest.raises(lifecycle.IllegalTransition) as exc:
        lifecycle.next_status(Status.FINISHED_SUCCESS, Action.EXECUTE)
    assert exc.value.allowed == [Action.REOPEN]
    assert lifecycle.allowed_actions(Status.NEW) == [Action.EXECUTE, Action.WAIT, Action.FINISH_SUCCESS,
                                                      Action.FINISH_FAILURE]


def test_r0_3_cases_start_normal_and_never_urgent() -> None:
    assert lifecycle.initial_priority(None) == Priority.NORMAL
    with pytest.raises(PriorityRefused) as exc:
        lifecycle.initial_priority(Priority.URGENT)
    assert exc.value.code == "urgent_on_create"
    with pytest.raises(PriorityRefused):
        lifecycle.initial_priority(Priority.HIGH)
    # R3.2: a typified kind pins its priority (collections management: high).
    assert lifecycle.initial_priority(None, Priority.HIGH) == Priority.HIGH


def test_r0_4_raising_needs_a_reason_lowering_does_not_and_scheme_follows_level() -> None:
    with pytest.raises(PriorityRefused) as exc:
        lifecycle.change_priority(Priority.NORMAL, Priority.HIGH, None, None)
    assert exc.value.code == "reason_required"
    with pytest.raises(PriorityRefused):
        lifecycle.change_priority(Priority.NORMAL, Priority.HIGH, RaiseReason.OTHER, "  ")
    up = lifecycle.change_priority(Priority.NORMAL, Priority.URGENT, RaiseReason.CUSTOMER_CALLED_AGAIN, None)
    assert up.raised and up.notify == ("responsible", "manager", "area_head")
    assert lifecycle.change_priority(Priority.NORMAL, Priority.HIGH, RaiseReason.CAME_TO_BRANCH_AGAIN,
                                     None).notify == ("responsible", "manager")
    down = lifecycle.change_priority(Priority.HIGH, Priority.NORMAL, None, None)
    assert not down.raised and down.reason is None and down.notify == ()


# -- through the API ------------------------------------------------------------------------------
pytest_plugins: list[str] = []


@pytest.mark.integration
async def test_r4_6_execute_comment_finish_reopen_with_history(rabbit_system: System) -> None:
    c = rabbit_system.intake
    case = await rabbit_system.create_case(case_body(1))  # responsible: ejecutiva
    cid = case["id"]
    assert case["allowed_actions"] == ["execute", "wait", "finish_success", "finish_failure"]
    mine = await rabbit_system.auth("ejecutiva")
    r = await c.post(f"/cases/{cid}/execute", json={"text": "Llamé al cliente; se solicitó la copia."}, headers=mine)
    assert r.status_code == 200 and r.json()["status"] == "in_execution"
    assert (await c.post(f"/cases/{cid}/comments", json={"text": "Notaría responde el lunes."}, headers=mine)
            ).status_code == 201
    r = await c.post(f"/cases/{cid}/finish", json={"outcome": "failure"}, headers=mine)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "comment"
    r = await c.post(f"/cases/{cid}/finish", json={"outcome": "success", "comment": "Copia enviada."}, headers=mine)
    assert r.status_code == 200 and r.json()["status"] == "finished_success"
    # Finished: executing again is refused, listing what is possible.
    r = await c.post(f"/cases/{cid}/execute", json={"text": "otra vez"}, headers=mine)
    assert r.status_code == 409 and r.json()["allowed_actions"] == ["reopen"]
    # Reopen: admins and supervisors only.
    assert (await c.post(f"/cases/{cid}/reopen", json={"text": "x"}, headers=mine)).status_code == 403
    sup = await rabbit_system.auth("supervisora")
    r = await c.post(f"/cases/{cid}/reopen", json={"text": "El cliente no recibió la copia."}, headers=sup)
    assert r.status_code == 200 and r.json()["status"] == "in_execution"
    shown = (await c.get(f"/cases/{cid}", headers=mine)).json()
    assert shown["answered_at"] is not None and shown["finished_at"] is None
    hist = (await c.get(f"/cases/{cid}/history", headers=mine)).json()["items"]
    assert [h["kind"] for h in hist] == ["created", "execute", "commented", "finish_success", "reopen"]
    assert hist[1]["actor_name"] == "Ejecutiva Demo" and hist[4]["data"]["text"] == "El cliente no recibió la copia."


@pytest.mark.integration
async def test_r4_4_executor_on_someone_elses_case_may_only_comment_mail_and_read(rabbit_system: System) -> None:
    c = rabbit_system.intake
    cid = (await rabbit_system.create_case(case_body(2)))["id"]  # responsible: ejecutiva
    other = await rabbit_system.auth("ejecutivo")
    assert (await c.post(f"/cases/{cid}/execute", json={"text": "x"}, headers=other)).status_code == 403
    assert (await c.post(f"/cases/{cid}/finish", json={"outcome": "success"}, headers=other)).status_code == 403
    assert (await c.post(f"/cases/{cid}/priority", json={"priority": "high", "reason": "customer_called_again"},
                         headers=other)).status_code == 403
    assert (await c.post(f"/cases/{cid}/comments", json={"text": "Yo conozco al cliente."}, headers=other)
            ).status_code == 201
    assert (await c.post(f"/cases/{cid}/mails", json={"subject": "Coordinación", "body": "Hola"}, headers=other)
            ).status_code == 202
    assert (await c.get(f"/cases/{cid}/history", headers=other)).status_code == 200
    viewer = await rabbit_system.auth("lectura")
    assert (await c.post(f"/cases/{cid}/comments", json={"text": "x"}, headers=viewer)).status_code == 403
    assert (await c.get(f"/cases/{cid}/history", headers=viewer)).status_code == 200
    gas = await rabbit_system.auth("admin", "gas-demo")
    for path, body in (("execute", {"text": "x"}), ("comments", {"text": "x"}), ("finish", {"outcome": "success"})):
        assert (await c.post(f"/cases/{cid}/{path}", json=body, headers=gas)).status_code == 404
    assert (await c.get(f"/cases/{cid}/history", headers=gas)).status_code == 404
    # Refusals changed nothing.
    hist = (await c.get(f"/cases/{cid}/history", headers=other)).json()["items"]
    assert [h["kind"] for h in hist] == ["created", "commented", "mail_requested"]


@pytest.mark.integration
async def test_r0_3_r0_4_priority_on_create_and_change(rabbit_system: System) -> None:
    c = rabbit_system.intake
    admin = await rabbit_system.auth("admin")
    r = await c.post("/cases", json=case_body(3, priority="urgent"), headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "urgent_on_create"
    assert "Ninguna solicitud puede crearse con prioridad urgente" in r.json()["errors"][0]["message"]
    cid = (await rabbit_system.create_case(case_body(3)))["id"]
    mine = await rabbit_system.auth("ejecutiva")
    r = await c.post(f"/cases/{cid}/priority", json={"priority": "urgent"}, headers=mine)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "reason_required"
    r = await c.post(f"/cases/{cid}/priority", json={"priority": "urgent", "reason": "customer_called_again"},
                     headers=mine)
    assert r.status_code == 200 and r.json()["priority"] == "urgent"
    r = await c.post(f"/cases/{cid}/priority", json={"priority": "normal"}, headers=mine)
    assert r.status_code == 200 and r.json()["priority"] == "normal"
    hist = [h for h in (await c.get(f"/cases/{cid}/history", headers=mine)).json()["items"] if h["kind"] == "priority_changed"]
    assert [(h["data"]["from"], h["data"]["to"], h["data"]["reason"]) for h in hist] == [
        ("normal", "urgent", "customer_called_again"), ("urgent", "normal", None)]


@pytest.mark.integration
async def test_r2_3_internal_commitment_before_customer_commitment(rabbit_system: System) -> None:
    admin = await rabbit_system.auth("admin")
    r = await rabbit_system.intake.post("/cases", headers=admin, json=case_body(
        4, customer_commitment_date="2026-12-10", internal_commitment_date="2026-12-10"))
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "commitment_dates"
    r = await rabbit_system.intake.post("/cases", headers=admin, json=case_body(
        4, customer_commitment_date="2026-12-10", internal_commitment_date="2026-12-07"))
    assert r.status_code == 201 and r.json()["internal_commitment_date"] == "2026-12-07"


@pytest.mark.integration
async def test_reassigning_and_admin_only_explicit_deadline(rabbit_system: System) -> None:
    c = rabbit_system.intake
    mine = await rabbit_system.auth("ejecutiva")
    r = await c.post("/cases", headers=mine, json=case_body(5, due_date="2026-12-31"))
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "admin_only"
    cid = (await rabbit_system.create_case(case_body(5)))["id"]
    users = {u["email"]: u["id"] for u in (await c.get("/users", headers=mine)).json()["items"]}
    r = await c.post(f"/cases/{cid}/assign", json={"responsible_id": users[demo("ejecutivo")]}, headers=mine)
    assert r.status_code == 200
    shown = (await c.get(f"/cases/{cid}", headers=mine)).json()
    assert shown["responsible"]["email"] == demo("ejecutivo")
    # Now it is no longer hers: she may not execute it.
    assert (await c.post(f"/cases/{cid}/execute", json={"text": "x"}, headers=mine)).status_code == 403


@pytest.mark.integration
async def test_r4_6_finishing_and_send_mail_reach_people_and_reports_follow(rabbit_system: System,
                                                                           smtp_sink) -> None:  # type: ignore[no-untyped-def]
    from tests.support.system import CASE, wait_for

    c = rabbit_system.intake
    cid = (await rabbit_system.create_case(case_body(6)))["id"]
    contact = "cliente6@example.cl"
    mine = await rabbit_system.auth("ejecutiva")
    r = await c.post(f"/cases/{cid}/mails", headers=mine, json={
        "subject": "Documentos pendientes", "body": "Necesitamos su cédula de identidad.",
        "cc": ["notaria@example.cl"], "include_details": True})
    assert r.status_code == 202

    def mails(template: str) -> list:  # type: ignore[type-arg]
        return [m for m in smtp_sink.for_case(cid) if m.message["X-Atiende-Template"] == template]

    await wait_for(lambda: len(mails("case_mail")) == 2, 20, "the requested mail to the contact and the cc")
    assert sorted(m.to[0] for m in mails("case_mail")) == [contact, "notaria@example.cl"]
    body = mails("case_mail")[0].message.get_body(("plain",)).get_content()
    assert "Necesitamos su cédula" in body and "Detalle de la solicitud N°" in body
    assert "Documentos pendientes [Solicitud N°" in mails("case_mail")[0].message["Subject"]

    await c.post(f"/cases/{cid}/priority", headers=mine, json={"priority": "high", "reason": "came_to_branch_again"})
    r = await c.post(f"/cases/{cid}/finish", headers=mine, json={"outcome": "failure",
                                                                 "comment": "No corresponde: la escritura es de otro propietario."})
    assert r.status_code == 200
    await wait_for(lambda: len(mails("case_finished")) == 2, 20, "finish e-mails to contact and responsible")
    assert sorted(m.to[0] for m in mails("case_finished")) == sorted([contact, CASE["responsible_email"]])
    assert "finalizada sin éxito" in mails("case_finished")[0].message["Subject"]

    async def finished_in_report() -> bool:
        return (await rabbit_system.report())["by_status"] == [
            {"key": "finished_failure", "label": "Finalizada sin éxito", "count": 1}]

    await wait_for(finished_in_report, 20, "the read model following the status")
    # R0.5: the priority-use report, for admins and supervisors only.
    sup = await rabbit_system.auth("supervisora")

    async def reported() -> list:  # type: ignore[type-arg]
        return (await rabbit_system.reporting.get("/reports/priority-changes", headers=sup)).json()

    await wait_for(lambda: _nonempty(reported()), 20, "priority change in the report")
    [change] = await reported()
    assert (change["old"], change["new"], change["raised"], change["reason"], change["by_name"]) == (
        "normal", "high", True, "came_to_branch_again", "Ejecutiva Demo")
    assert (await rabbit_system.reporting.get("/reports/priority-changes", headers=mine)).status_code == 403


async def _nonempty(coro) -> bool:  # type: ignore[no-untyped-def]
    return bool(await coro)


@pytest.mark.integration
async def test_r4_8_executing_ends_the_overdue_alert_and_reopening_rearms_it(rabbit_system: System) -> None:
    from sqlalchemy import select

    from services.workflow.adapters.db import case_clocks, timers
    from tests.support.system import wait_for

    c = rabbit_system.intake
    wf = rabbit_system.rt["workflow"]
    cid = (await rabbit_system.create_case(case_body(7)))["id"]

    async def timer_states() -> list[tuple[bool, bool]]:
        async with wf.db.engine.connect() as conn:
            rows = (await conn.execute(select(timers).where(timers.c.subject == cid).order_by(timers.c.id))).all()
        return [(r.cancelled_at is not None, r.fired_at is not None) for r in rows]

    async def states_are(expected: list[tuple[bool, bool]]) -> bool:
        return await timer_states() == expected

    await wait_for(lambda: states_are([(False, False)]), 20, "overdue timer armed")
    mine = await rabbit_system.auth("ejecutiva")
    await c.post(f"/cases/{cid}/execute", json={"text": "En curso."}, headers=mine)

    async def attended() -> bool:
        async with wf.db.engine.connect() as conn:
            row = (await conn.execute(select(case_clocks.c.policy).where(case_clocks.c.case_id == cid))).scalar()
        return bool(row and row.get("attended_cycle") == 1)

    # Executed: the request is attended (no R4.8 alert in this cycle); the resolution clock runs
    # on until the case is finished, so its timer stays.
    await wait_for(attended, 20, "the execution applied by workflow")
    assert await timer_states() == [(False, False)]
    await c.post(f"/cases/{cid}/finish", json={"outcome": "success", "comment": "Listo."}, headers=mine)
    await wait_for(lambda: states_are([(True, False)]), 20, "clock met on finish: its timer cancelled")
    await c.post(f"/cases/{cid}/reopen", json={"text": "Cliente insiste."}, headers=await rabbit_system.auth("admin"))
    # The resolution clock keeps one timer row, moved in place: pending again on the new cycle.
    await wait_for(lambda: states_are([(False, False)]), 20, "timer armed again on reopen")


@pytest.mark.integration
async def test_admin_explicit_deadline_replaces_the_types_rule(rabbit_system: System) -> None:
    from tests.support.system import wait_for

    c = rabbit_system.intake
    admin = await rabbit_system.auth("admin")
    cid = (await rabbit_system.create_case(case_body(8, due_date="2027-01-15")))["id"]

    async def deadline() -> str | None:
        d = (await c.get(f"/cases/{cid}", headers=admin)).json()["deadline"]
        return d and d["due_date"]

    await wait_for(lambda: _equals(deadline(), "2027-01-15"), 20, "the explicit deadline")


async def _equals(coro, value) -> bool:  # type: ignore[no-untyped-def]
    return (await coro) == value


@pytest.mark.integration
async def test_r3_2_collections_management_pins_its_fields_and_refuses_in_person(rabbit_system: System) -> None:
    """R3.2: Medidor > Cobranza > Gestión de cobranza, area Gestión de Clientes, priority high,
    class complaint; phone, e-mail or social networks — never in person; phone required."""
    c = rabbit_system.intake
    gas = await rabbit_system.auth("admin", "gas-demo")
    body = {**case_body(9), "type": "gestion-cobranza", "responsible_email": demo("ejecutiva", "gas-demo")}
    r = await c.post("/cases", headers=gas, json={**body, "channel": "presencial"})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "channel_not_allowed"
    r = await c.post("/cases", headers=gas, json={**body, "channel": "telefono", "area": "operaciones"})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "pinned_by_type"
    no_phone = {**body, "contact": {"name": "Ana", "email": "ana@example.cl"}, "channel": "correo"}
    r = await c.post("/cases", headers=gas, json=no_phone)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "contact.phone"
    r = await c.post("/cases", headers=gas, json={**body, "channel": "telefono"})
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["priority"] == "high" and case["document_class"] == "complaint"
    assert case["category_path"] == ["medidor", "cobranza", "gestion-cobranza"] and case["area"] == "gestion-clientes"


@pytest.mark.integration
async def test_r4_2_association_names_its_party_or_property(rabbit_system: System) -> None:
    c = rabbit_system.intake
    admin = await rabbit_system.auth("admin")
    r = await c.post("/cases", headers=admin, json=case_body(10, association="owner"))
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "association"
    party = (await c.post("/parties", headers=admin, json={"kind": "owner", "name": "Propietaria Demo"})).json()["id"]
    asset = await c.post("/assets", headers=admin, json={"kind": "property", "code": "DEPTO-1204",
                                                         "name": "Depto 1204", "party_id": party})
    assert asset.status_code == 201, asset.text
    r = await c.post("/cases", headers=admin, json=case_body(10, association="owner", party_id=party,
                                                            asset_id=asset.json()["id"]))
    assert r.status_code == 201 and r.json()["association"] == "owner" and r.json()["asset_id"] == asset.json()["id"]
    gas = await rabbit_system.auth("admin", "gas-demo")
    other = {**case_body(11, association="property", asset_id=asset.json()["id"]), "type": "gestion-cobranza",
             "responsible_email": demo("ejecutiva", "gas-demo"), "channel": "telefono"}
    r = await c.post("/cases", headers=gas, json=other)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "unknown_asset"

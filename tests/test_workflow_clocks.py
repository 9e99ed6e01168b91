"""Clock semantics end to end (issue 10): what intake's actions and the catalog do to workflow's
clocks, seen through intake's public API and the e-mails notifier sends (RabbitMQ + PostgreSQL,
real SMTP on loopback). Time is moved with ``System.travel_to``."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support.smtp_sink import SmtpSink
from tests.support.system import System, case_body, demo, wait_for

SCL = ZoneInfo("America/Santiago")
MONDAY_10 = datetime(2027, 3, 8, 10, tzinfo=SCL)  # no holiday that week in Chile


async def _ids(s: System, tenant: str = "inmobiliaria-demo") -> dict[str, str]:
    items = (await s.intake.get("/users", params={"limit": 100}, headers=await s.auth("admin", tenant))).json()["items"]
    return {u["email"].split("@")[0]: u["id"] for u in items}


async def _sla(s: System, case_id: str) -> dict[str, Any]:
    r = await s.intake.get(f"/cases/{case_id}/sla", headers=await s.auth())
    assert r.status_code == 200, r.text
    return {c["kind"]: c for c in r.json()["clocks"]}


async def _clock_where(s: System, case_id: str, kind: str, cond: Any, what: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def ok() -> bool:
        clocks = await _sla(s, case_id)
        if kind in clocks and cond(clocks[kind]):
            found.update(clocks[kind])
            return True
        return False

    await wait_for(ok, 30, what)
    return found


def _mails(sink: SmtpSink, template: str = "case_escalated") -> Counter[tuple[str, str]]:
    return Counter((m.message["X-Atiende-Case"], m.to[0].split("@")[0])
                   for m in list(sink.messages) if m.message["X-Atiende-Template"] == template)


def _t(v: str) -> datetime:
    return datetime.fromisoformat(v)


@pytest.mark.integration
async def test_resolution_pauses_while_waiting_on_the_customer_and_resumes_with_the_paused_time_added(
        rabbit_system: System) -> None:
    s = rabbit_system
    s.travel_to(MONDAY_10)
    case = await s.create_case(case_body(1))
    before = await _clock_where(s, case["id"], "resolution", lambda c: c["state"] == "running", "resolution running")
    mine = await s.auth("ejecutiva")
    assert (await s.intake.post(f"/cases/{case['id']}/execute", json={"text": "Se pidió la cédula."},
                                headers=mine)).status_code == 200
    assert (await s.intake.post(f"/cases/{case['id']}/pause", json={"text": "Esperamos la cédula."},
                                headers=mine)).status_code == 200
    paused = await _clock_where(s, case["id"], "resolution", lambda c: c["state"] == "paused", "resolution paused")
    assert paused["paused"][0]["end"] is None
    s.travel_to(MONDAY_10 + timedelta(hours=2))  # two working hours waiting on the customer
    assert (await s.intake.post(f"/cases/{case['id']}/resume", json={"text": "Llegó la cédula."},
                                headers=await s.auth("ejecutiva"))).status_code == 200
    resumed = await _clock_where(s, case["id"], "resolution", lambda c: c["state"] == "running" and c["paused"]
                                 and c["paused"][0]["end"], "resolution resumed")
    start, end = (_t(resumed["paused"][0][k]) for k in ("start", "end"))
    assert end - start >= timedelta(hours=1, minutes=59)  # both inside Monday's working hours
    assert resumed["paused_seconds"] == int((end - start).total_seconds())
    # The due time moved by exactly the business time paused (the calendar's working seconds).
    assert _t(resumed["due_at"]) > _t(before["due_at"])
    assert resumed["target_seconds"] == before["target_seconds"]
    # What is used plus what is left is the target: the paused time counts as neither.
    assert resumed["elapsed_seconds"] + resumed["remaining_seconds"] == resumed["target_seconds"]
    trace_days = [d["date"] for d in resumed["trace"]]
    assert trace_days[0] == "2027-03-08" and trace_days[-1] == _t(resumed["due_at"]).astimezone(SCL).date().isoformat()


@pytest.mark.integration
async def test_a_calendar_change_retargets_open_cases_and_says_so_in_their_history(rabbit_system: System) -> None:
    s = rabbit_system
    s.travel_to(MONDAY_10)
    case = await s.create_case(case_body(2))
    before = await _clock_where(s, case["id"], "resolution", lambda c: c["state"] == "running", "resolution running")
    closed = date(2027, 3, 10)  # Wednesday, inside the case's span
    r = await s.intake.put("/calendar", headers=await s.auth(), json={
        "country": "CL", "timezone": "America/Santiago",
        "extra_closed_days": [{"date": closed.isoformat(), "name": "Inventario anual"}]})
    assert r.status_code == 200, r.text
    after = await _clock_where(s, case["id"], "resolution", lambda c: c["due_at"] != before["due_at"],
                               "resolution re-targeted")
    assert _t(after["due_at"]).astimezone(SCL).date() > _t(before["due_at"]).astimezone(SCL).date()
    day = next(d for d in after["trace"] if d["date"] == closed.isoformat())
    assert (day["skipped"], day["name"]) == ("closed", "Inventario anual")

    async def announced() -> bool:
        items = (await s.intake.get(f"/cases/{case['id']}/history", params={"limit": 200},
                                    headers=await s.auth())).json()["items"]
        return any(i.get("kind") == "sla_changed" for i in items)

    await wait_for(announced, 30, "a history line for the re-target")


@pytest.mark.integration
async def test_r2_4_a_task_past_its_due_date_alerts_its_responsible_until_closed(
        rabbit_system: System, smtp_sink: SmtpSink) -> None:
    s = rabbit_system
    s.travel_to(MONDAY_10)
    ids = await _ids(s)
    case = await s.create_case(case_body(3))
    r = await s.intake.post(f"/cases/{case['id']}/tasks", headers=await s.auth(), json={
        "title": "Revisar humedad", "description": "Visita técnica al departamento.",
        "responsible_id": ids["ejecutivo"], "due_date": "2027-03-09"})
    assert r.status_code == 201, r.text
    task_id = r.json()["id"]
    s.travel_to(datetime(2027, 3, 10, 11, tzinfo=SCL))

    async def task_alerts(who: str) -> list[dict[str, Any]]:
        got = (await s.intake.get("/alerts", headers=await s.auth(who))).json()["items"]
        return [a for a in got if a["kind"] == "task_overdue"]

    async def shown() -> bool:
        return len(await task_alerts("ejecutivo")) == 1

    await wait_for(shown, 30, "the task's alert for its responsible")
    [alert] = await task_alerts("ejecutivo")
    assert alert["task_id"] == task_id and alert["case"]["id"] == case["id"] and alert["overdue_seconds"] > 0
    assert len(await task_alerts("admin")) == 1 and await task_alerts("lectura") == []
    await wait_for(lambda: _mails(smtp_sink)[(case["id"], "ejecutivo")] == 1, 30, "the task's responsible e-mailed")
    r = await s.intake.post(f"/tasks/{task_id}/close", json={"note": "Visita realizada."},
                            headers=await s.auth("ejecutivo"))
    assert r.status_code == 200, r.text

    async def gone() -> bool:
        return await task_alerts("ejecutivo") == []

    await wait_for(gone, 30, "the task's alert ended by closing it")


async def _manager_known(s: System, user_id: str, manager_id: str) -> bool:
    from sqlalchemy import select

    from services.workflow.adapters.db import people
    async with s.rt["workflow"].db.read() as conn:
        found = (await conn.execute(select(people.c.manager_id).where(people.c.user_id == uuid.UUID(user_id)))).scalar()
    return str(found) == manager_id


async def _subscribed(s: System, user_id: str, kind: str) -> bool:
    from sqlalchemy import select

    from services.workflow.adapters.db import people
    async with s.rt["workflow"].db.read() as conn:
        found = (await conn.execute(select(people.c.subscriptions)
                                    .where(people.c.user_id == uuid.UUID(user_id)))).scalar()
    return kind in (found or [])


@pytest.mark.integration
async def test_r0_4_a_raise_notifies_by_the_new_levels_scheme(rabbit_system: System, smtp_sink: SmtpSink) -> None:
    """high: the responsible and their manager; urgent: also the area head. Not the raiser."""
    s = rabbit_system
    ids = await _ids(s)
    admin = await s.auth()
    r = await s.intake.patch(f"/users/{ids['ejecutiva']}", json={"manager_id": ids["gerencia.tecnica"]}, headers=admin)
    assert r.status_code == 200, r.text
    await wait_for(lambda: _manager_known(s, ids["ejecutiva"], ids["gerencia.tecnica"]), 30,
                   "workflow's copy of the manager line")
    case = await s.create_case(case_body(4))
    cid = case["id"]
    r = await s.intake.post(f"/cases/{cid}/priority", json={"priority": "high", "reason": "customer_called_again"},
                            headers=await s.auth("ejecutiva"))
    assert r.status_code == 200, r.text
    # The responsible raised it herself: only her manager is told.
    await wait_for(lambda: _mails(smtp_sink) == Counter({(cid, "gerencia.tecnica"): 1}), 30, "the manager e-mailed")
    r = await s.intake.post(f"/cases/{cid}/priority", json={"priority": "urgent", "reason": "came_to_branch_again"},
                            headers=admin)
    assert r.status_code == 200, r.text
    expected = Counter({(cid, "gerencia.tecnica"): 2, (cid, "ejecutiva"): 1, (cid, "supervisora"): 1})
    await wait_for(lambda: _mails(smtp_sink) == expected, 30, "urgent: responsible, manager and area head")


@pytest.mark.integration
async def test_r3_4_escalating_to_the_supervisor_e_mails_the_triage_message(
        rabbit_system: System, smtp_sink: SmtpSink) -> None:
    s, tenant = rabbit_system, "gas-demo"
    admin = await s.auth("admin", tenant)
    r = await s.intake.post("/catalog/case-types", headers=admin, json={
        "code": "reclamo-medidor", "name_es": "Reclamo de medidor", "name_en": "Meter complaint",
        "deadline": {"unit": "business_days", "amount": 5}})
    assert r.status_code == 201, r.text

    def body(i: int, type_: str, **over: Any) -> dict[str, Any]:
        return {"type": type_, "subject": f"Reclamo {i}", "description": "El cliente reclama por su boleta.",
                "contact": {"name": "Rosa Fuentes", "email": f"rosa{i}@example.cl", "phone": "+56922223333"},
                "responsible_email": demo("ejecutiva", tenant), **over}

    original = await s.create_case(body(1, "reclamo-medidor", project="medidor"), tenant=tenant)
    late = await s.create_case(body(2, "respuesta-fuera-de-plazo", follow_up_of=original["id"]), tenant=tenant)
    r = await s.intake.post(f"/cases/{late['id']}/execute", json={"text": "Se derivó al área comercial."},
                            headers=await s.auth("ejecutiva", tenant))
    assert r.status_code == 200, r.text
    message = "El seguimiento se respondió pero la solicitud original no."
    r = await s.intake.post(f"/cases/{original['id']}/escalate-to-supervisor", json={"message": message},
                            headers=await s.auth("ejecutivo", tenant))
    assert r.status_code == 200, r.text
    await wait_for(lambda: _mails(smtp_sink)[(original["id"], "supervisora")] == 1, 30, "the supervisor e-mailed")
    [mail] = [m for m in smtp_sink.messages if m.message["X-Atiende-Template"] == "case_escalated"]
    text = mail.message.get_body(("plain",)).get_content()
    assert message in text


@pytest.mark.integration
async def test_zammad_5177_first_response_is_met_by_a_mail_to_the_contact_and_never_retargeted(
        rabbit_system: System) -> None:
    s = rabbit_system
    s.travel_to(MONDAY_10)
    case = await s.create_case(case_body(5, type="reclamo-no-tecnico"))
    cid = case["id"]
    first = await _clock_where(s, cid, "first_response", lambda c: c["state"] == "running", "first response running")
    assert first["target"] == {"unit": "business_hours", "amount": 4}
    # Four working hours after entry (the shared clock ran on a little since the travel).
    assert abs(_t(first["due_at"]) - datetime(2027, 3, 8, 14, tzinfo=SCL)) < timedelta(minutes=1)
    r = await s.intake.post(f"/cases/{cid}/priority", json={"priority": "high", "reason": "customer_called_again"},
                            headers=await s.auth("ejecutiva"))
    assert r.status_code == 200, r.text
    await wait_for(lambda: _revision_above(s, cid, 1), 30, "the priority change applied by workflow")
    assert (await _sla(s, cid))["first_response"]["target"] == first["target"]  # not overridden
    r = await s.intake.post(f"/cases/{cid}/mails", json={"subject": "Su reclamo", "body": "Lo estamos revisando."},
                            headers=await s.auth("ejecutiva"))
    assert r.status_code == 202, r.text
    met = await _clock_where(s, cid, "first_response", lambda c: c["state"] == "met", "first response met by the mail")
    assert met["met_at"] is not None and met["remaining_seconds"] is None
    assert (await _sla(s, cid))["resolution"]["state"] == "running"  # resolution runs until finished


async def _revision_above(s: System, case_id: str, n: int) -> bool:
    r = await s.intake.get(f"/cases/{case_id}/sla", headers=await s.auth())
    return bool(r.json()["revision"] > n)


@pytest.mark.integration
async def test_zammad_4353_removing_the_policy_stops_its_clock_and_escalations(
        rabbit_system: System, smtp_sink: SmtpSink) -> None:
    s = rabbit_system
    s.travel_to(MONDAY_10)
    case = await s.create_case(case_body(6, type="reclamo-no-tecnico"))
    cid = case["id"]
    await _clock_where(s, cid, "first_response", lambda c: c["state"] == "running", "first response running")
    r = await s.intake.patch("/catalog/case-types/reclamo-no-tecnico", json={"sla": None}, headers=await s.auth())
    assert r.status_code == 200, r.text
    await _clock_where(s, cid, "first_response", lambda c: c["state"] == "stopped", "first response stopped")

    async def announced() -> bool:
        items = (await s.intake.get(f"/cases/{cid}/history", params={"limit": 200},
                                    headers=await s.auth())).json()["items"]
        return any(i.get("kind") == "sla_changed" for i in items)

    await wait_for(announced, 30, "the re-target in the case's history")
    s.travel_to(MONDAY_10 + timedelta(hours=6))  # past the removed 4-hour target
    await _clock_where(s, cid, "first_response", lambda c: c["state"] == "stopped", "still stopped")
    import asyncio
    await asyncio.sleep(2)  # several timer ticks
    assert _mails(smtp_sink) == Counter()  # nobody escalated for a target that no longer exists


@pytest.mark.integration
async def test_glpi_6902_reclassifying_retargets_and_keeps_the_time_already_paused(rabbit_system: System) -> None:
    s = rabbit_system
    s.travel_to(MONDAY_10)
    case = await s.create_case(case_body(7))
    cid = case["id"]
    mine = await s.auth("ejecutiva")
    await s.intake.post(f"/cases/{cid}/execute", json={"text": "Se pidió la cédula."}, headers=mine)
    await s.intake.post(f"/cases/{cid}/pause", json={"text": "Esperamos la cédula."}, headers=mine)
    await _clock_where(s, cid, "resolution", lambda c: c["state"] == "paused", "paused")
    s.travel_to(MONDAY_10 + timedelta(hours=2))
    await s.intake.post(f"/cases/{cid}/resume", json={"text": "Llegó."}, headers=await s.auth("ejecutiva"))
    before = await _clock_where(s, cid, "resolution", lambda c: c["state"] == "running" and c["paused_seconds"] > 0,
                                "resumed")
    r = await s.intake.post(f"/cases/{cid}/reclassify", json={"type": "reclamo-no-tecnico"}, headers=await s.auth())
    assert r.status_code == 200, r.text
    after = await _clock_where(s, cid, "resolution", lambda c: c["target"] != before["target"], "re-targeted")
    assert after["target"] == {"unit": "business_days", "amount": 7}
    assert after["paused_seconds"] == before["paused_seconds"] and after["paused"] == before["paused"]
    assert "first_response" not in await _sla(s, cid)  # the case was already executed: nothing to respond first


@pytest.mark.integration
async def test_r1_4_a_surrender_waits_ten_business_days_before_it_can_be_executed(rabbit_system: System) -> None:
    s, tenant = rabbit_system, "aseguradora-demo"
    s.travel_to(MONDAY_10)
    admin = await s.auth("admin", tenant)
    party = await s.intake.post("/parties", json={"kind": "person", "name": "Camila Rojas"}, headers=admin)
    assert party.status_code == 201, party.text
    policy = await s.intake.post("/assets", json={"kind": "policy", "code": "VI-2027-0001", "name": "Vida 1",
                                                  "party_id": party.json()["id"]}, headers=admin)
    assert policy.status_code == 201, policy.text
    refs = {"party_id": party.json()["id"], "asset_id": policy.json()["id"]}
    for i, type_ in ((80, "retencion-total"), (8, "rescate")):  # R1.4: the retention request comes first
        case = await s.create_case(case_body(i, type=type_, project="vida-individual",
                                             responsible_email=demo("ejecutiva", tenant), **refs), tenant=tenant)
    cid = case["id"]
    h = await s.auth("admin", tenant)

    async def held() -> bool:
        return (await s.intake.get(f"/cases/{cid}", headers=h)).json().get("executable_from") is not None

    await wait_for(held, 30, "the hold shown on the case")
    shown = (await s.intake.get(f"/cases/{cid}", headers=h)).json()
    # Mon 8 Mar + 10 business days = Mon 22 Mar: executable on it, from its opening; not on Fri 19.
    assert _t(shown["executable_from"]).astimezone(SCL) == datetime(2027, 3, 22, 9, tzinfo=SCL)
    agent = await s.auth("ejecutiva", tenant)
    r = await s.intake.post(f"/cases/{cid}/execute", json={"text": "Se procesa el rescate."}, headers=agent)
    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("/on-hold") and "22-03-2027" in r.json()["detail"]
    s.travel_to(datetime(2027, 3, 19, 17, tzinfo=SCL))  # the day before the tenth: still refused
    r = await s.intake.post(f"/cases/{cid}/execute", json={"text": "Se procesa el rescate."},
                            headers=await s.auth("ejecutiva", tenant))
    assert r.status_code == 409, r.text
    s.travel_to(datetime(2027, 3, 22, 9, 30, tzinfo=SCL))
    r = await s.intake.post(f"/cases/{cid}/execute", json={"text": "Se procesa el rescate."},
                            headers=await s.auth("ejecutiva", tenant))
    assert r.status_code == 200, r.text


@pytest.mark.integration
async def test_r4_9_one_email_per_breach_and_reopened_late_again_is_a_new_breach(
        rabbit_system: System, smtp_sink: SmtpSink) -> None:
    s = rabbit_system
    s.travel_to(MONDAY_10)
    ids = await _ids(s)
    r = await s.intake.patch(f"/users/{ids['lectura']}", json={"escalation_subscriptions": ["case_overdue"]},
                             headers=await s.auth())
    assert r.status_code == 200, r.text
    await wait_for(lambda: _subscribed(s, ids["lectura"], "case_overdue"), 30, "workflow's copy of the subscription")
    case = await s.create_case(case_body(9, due_date="2027-03-09"))
    cid = case["id"]
    await _clock_where(s, cid, "resolution", lambda c: c["state"] == "running", "resolution running")
    s.travel_to(datetime(2027, 3, 10, 11, tzinfo=SCL))  # late since Tuesday night

    def subscriber_mails() -> int:
        return _mails(smtp_sink)[(cid, "lectura")]

    await wait_for(lambda: subscriber_mails() == 1, 30, "the subscriber told of the breach")
    s.travel_to(datetime(2027, 3, 10, 15, tzinfo=SCL))  # hours of timer ticks later
    await _clock_where(s, cid, "resolution", lambda c: c["state"] == "breached", "still breached")
    admin = await s.auth()
    r = await s.intake.post(f"/cases/{cid}/finish", json={"outcome": "success", "comment": "Listo."},
                            headers=await s.auth("ejecutiva"))
    assert r.status_code == 200, r.text
    await _clock_where(s, cid, "resolution", lambda c: c["state"] == "met", "met on finish")
    assert subscriber_mails() == 1
    r = await s.intake.post(f"/cases/{cid}/reopen", json={"text": "El cliente insiste."}, headers=admin)
    assert r.status_code == 200, r.text
    again = await _clock_where(s, cid, "resolution", lambda c: c["cycle"] == 2, "a new cycle")
    s.travel_to(_t(again["due_at"]) + timedelta(days=1, hours=10))
    await wait_for(lambda: subscriber_mails() == 2, 30, "late again: a new breach, told once more")

"""What people see of time (issue 10), intake's side: alerts (R4.8), the clocks of a case, the
R1.4 hold, reclassifying and escalating to the supervisor (R3.4 rules 6–8).

workflow owns every clock and is not started here: the tests publish its events on the bus as it
would (source ``atiende/workflow``, subject = the case id, not numbered) and assert through
intake's HTTP API only."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.intake.adapters.db import outbox, users
from shared import clock
from shared.contracts.envelope import Envelope
from shared.messaging.bus import OutgoingMessage
from shared.settings import Settings
from tests.support.system import TENANT, System, case_body, demo, wait_for

OTHER = "gas-demo"
WORKFLOW = "atiende/workflow"


@pytest.fixture(params=["embedded", "rabbit"])
def backend_settings(request: pytest.FixtureRequest) -> Settings:
    """SQLite + the in-process bus, or PostgreSQL + RabbitMQ."""
    return request.getfixturevalue(f"{request.param}_settings")  # type: ignore[no-any-return]


@pytest.fixture
async def s(backend_settings: Settings) -> AsyncIterator[System]:
    """intake alone (workflow is not needed: its events are published by the test)."""
    system = await System(backend_settings, services=("intake",)).start()
    yield system
    await system.stop()


# -- helpers --------------------------------------------------------------------------------------
async def publish(s: System, type_: str, case_id: str, data: dict[str, Any], tenant: str = TENANT) -> None:
    """One workflow event, waited for until intake handled it."""
    env = Envelope(source=WORKFLOW, type=type_, subject=case_id, tenant=tenant, data=data)
    before = s.rt["intake"].processor.handled
    await s.bus.publish([OutgoingMessage(env.id, env.type, env.to_bytes())])
    await wait_for(lambda: s.rt["intake"].processor.handled > before, 20, f"intake handled {type_}")


def iso(t: datetime) -> str:
    return t.isoformat()


async def raise_alert(s: System, case: dict[str, Any], due_at: datetime, alert_id: uuid.UUID | None = None,
                      kind: str = "case_overdue", tenant: str = TENANT) -> str:
    aid = alert_id or uuid.uuid4()
    await publish(s, "alert.raised.v1", case["id"], {
        "alert_id": str(aid), "kind": kind, "case_id": case["id"], "task_id": None,
        "responsible_id": case["responsible"]["id"], "due_at": iso(due_at), "raised_at": iso(clock.now()),
        "case_version": 1}, tenant)
    return str(aid)


async def end_alert(s: System, case_id: str, alert_id: str, tenant: str = TENANT) -> None:
    await publish(s, "alert.ended.v1", case_id, {
        "alert_id": alert_id, "kind": "case_overdue", "case_id": case_id, "task_id": None,
        "ended_at": iso(clock.now()), "reason": "executed", "case_version": 2}, tenant)


async def alert_ids(s: System, who: str, tenant: str = TENANT, **params: Any) -> list[str]:
    r = await s.intake.get("/alerts", params=params, headers=await s.auth(who, tenant))
    assert r.status_code == 200, r.text
    return [a["id"] for a in r.json()["items"]]


async def unread(s: System, who: str) -> int:
    r = await s.intake.get("/alerts/unread-count", headers=await s.auth(who))
    assert r.status_code == 200, r.text
    return int(r.json()["unread"])


async def user_id(s: System, local: str, tenant: str = TENANT) -> uuid.UUID:
    async with s.rt["intake"].db.read() as conn:
        found: uuid.UUID = (await conn.execute(select(users.c.id).where(users.c.email == demo(local, tenant)))).scalar_one()
        return found


async def history_kinds(s: System, case_id: str) -> list[dict[str, Any]]:
    r = await s.intake.get(f"/cases/{case_id}/history", params={"limit": 200}, headers=await s.auth())
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def emitted(s: System, type_: str) -> list[dict[str, Any]]:
    async with s.rt["intake"].db.read() as conn:
        bodies = (await conn.execute(select(outbox.c.body).where(outbox.c.type == type_)
                                     .order_by(outbox.c.id))).scalars()
        return [json.loads(b) for b in bodies]


def clock_view(kind: str, started: datetime, due: datetime, state: str = "running") -> dict[str, Any]:
    return {"kind": kind, "target": {"unit": "business_days", "amount": 5}, "state": state, "started_at": iso(started),
            "due_at": iso(due), "target_seconds": 5 * 9 * 3600, "counted": [{"start": iso(started), "end": iso(due)}]}


# -- alerts (R4.8) --------------------------------------------------------------------------------
@pytest.mark.integration
async def test_r4_8_alerts_most_overdue_first_for_the_current_responsible_and_the_admins(s: System) -> None:
    now = clock.now()
    a = await s.create_case(case_body(1))
    b = await s.create_case(case_body(2))
    c = await s.create_case(case_body(3, responsible_email=demo("ejecutivo")))
    a1 = await raise_alert(s, a, now - timedelta(hours=1))
    b3 = await raise_alert(s, b, now - timedelta(hours=3))
    c2 = await raise_alert(s, c, now - timedelta(hours=2))
    # Admins and supervisors: every alert of the tenant, most overdue first.
    assert await alert_ids(s, "admin") == [b3, c2, a1]
    assert await alert_ids(s, "supervisora") == [b3, c2, a1]
    r = await s.intake.get("/alerts", headers=await s.auth())
    first = r.json()["items"][0]
    assert first["kind"] == "case_overdue" and first["case"] == {"id": b["id"], "number": b["number"],
                                                                  "subject": b["subject"]}
    assert 3 * 3600 - 5 <= first["overdue_seconds"] <= 3 * 3600 + 60 and first["seen"] is False
    # Paged the project's one way.
    r = await s.intake.get("/alerts", params={"limit": 2}, headers=await s.auth())
    assert [x["id"] for x in r.json()["items"]] == [b3, c2] and r.json()["next_cursor"]
    assert await alert_ids(s, "admin", cursor=r.json()["next_cursor"]) == [a1]
    # An executor: only the cases they are responsible for; a viewer: none; another tenant: none.
    assert await alert_ids(s, "ejecutiva") == [b3, a1]
    assert await alert_ids(s, "ejecutivo") == [c2]
    assert await alert_ids(s, "lectura") == []
    assert await alert_ids(s, "admin", OTHER) == []
    # Reassigned, the alert follows the case to its new responsible.
    r = await s.intake.post(f"/cases/{a['id']}/assign", json={"responsible_id": str(await user_id(s, "ejecutivo"))},
                            headers=await s.auth())
    assert r.status_code == 200, r.text
    assert await alert_ids(s, "ejecutivo") == [c2, a1]
    assert await alert_ids(s, "ejecutiva") == [b3]


@pytest.mark.integration
async def test_r4_8_unread_count_and_seen_are_per_user(s: System) -> None:
    now = clock.now()
    a = await s.create_case(case_body(1))
    b = await s.create_case(case_body(2))
    a1 = await raise_alert(s, a, now - timedelta(hours=1))
    await raise_alert(s, b, now - timedelta(hours=2))
    assert await unread(s, "ejecutiva") == 2 and await unread(s, "admin") == 2 and await unread(s, "lectura") == 0
    r = await s.intake.post("/alerts/seen", json={"alert_ids": [a1]}, headers=await s.auth("ejecutiva"))
    assert r.status_code == 200 and r.json() == {"marked": 1, "unread": 1}
    assert await unread(s, "ejecutiva") == 1 and await unread(s, "admin") == 2
    seen = {x["id"]: x["seen"] for x in (await s.intake.get("/alerts", headers=await s.auth("ejecutiva"))).json()[
        "items"]}
    assert seen[a1] is True and list(seen.values()).count(False) == 1
    # Empty: all of the caller's.
    r = await s.intake.post("/alerts/seen", json={}, headers=await s.auth("ejecutiva"))
    assert r.json() == {"marked": 1, "unread": 0}
    assert await unread(s, "admin") == 2
    r = await s.intake.post("/alerts/seen", json={"alert_ids": ["nope"], "colour": 1}, headers=await s.auth())
    assert r.status_code == 422
    assert sorted(e["field"] for e in r.json()["errors"]) == ["alert_ids.0", "colour"] or len(r.json()["errors"]) == 2


@pytest.mark.integration
async def test_r4_8_an_ended_alert_is_gone_even_when_its_end_arrives_first(s: System) -> None:
    now = clock.now()
    a = await s.create_case(case_body(1))
    b = await s.create_case(case_body(2))
    a1 = await raise_alert(s, a, now - timedelta(hours=1))
    await raise_alert(s, a, now - timedelta(hours=1), alert_id=uuid.UUID(a1))  # a repeat: still one
    assert await alert_ids(s, "admin") == [a1]
    await end_alert(s, a["id"], a1)
    assert await alert_ids(s, "admin") == [] and await unread(s, "admin") == 0
    # The end delivered before the raise: the raise does not bring it back.
    early = str(uuid.uuid4())
    await end_alert(s, b["id"], early)
    await raise_alert(s, b, now - timedelta(hours=2), alert_id=uuid.UUID(early))
    assert await alert_ids(s, "admin") == [] and await alert_ids(s, "ejecutiva") == []


# -- clocks and the hold ----------------------------------------------------------------------------
@pytest.mark.integration
async def test_sla_keeps_the_highest_revision_and_announces_in_history(s: System) -> None:
    now = clock.now()
    case = await s.create_case(case_body(1))
    shown = (await s.intake.get(f"/cases/{case['id']}", headers=await s.auth())).json()
    assert shown["clocks"] is None and shown["executable_from"] is None
    due = now + timedelta(days=3)
    await publish(s, "case.sla_changed.v1", case["id"], {
        "case_id": case["id"], "case_version": 1, "clocks": [clock_view("resolution", now, due)],
        "reason": "calendar 'default' v3", "announce": True, "revision": 2})
    r = await s.intake.get(f"/cases/{case['id']}/sla", headers=await s.auth("lectura"))
    assert r.status_code == 200, r.text
    sla = r.json()
    assert sla["revision"] == 2 and [c["kind"] for c in sla["clocks"]] == ["resolution"]
    left = sla["clocks"][0]["remaining_seconds"]
    assert 3 * 86400 - 120 <= left <= 3 * 86400
    # An older view arriving late is ignored.
    await publish(s, "case.sla_changed.v1", case["id"], {
        "case_id": case["id"], "case_version": 1, "clocks": [clock_view("resolution", now, now + timedelta(days=1))],
        "reason": "older", "announce": True, "revision": 1})
    sla = (await s.intake.get(f"/cases/{case['id']}/sla", headers=await s.auth())).json()
    assert sla["revision"] == 2 and datetime.fromisoformat(sla["clocks"][0]["due_at"]) == due
    shown = (await s.intake.get(f"/cases/{case['id']}", headers=await s.auth())).json()
    assert [(c["kind"], c["state"]) for c in shown["clocks"]] == [("resolution", "running")]
    lines = [h for h in await history_kinds(s, case["id"]) if h["kind"] == "sla_changed"]
    assert [h["data"]["reason"] for h in lines] == ["calendar 'default' v3"]
    # Another tenant's case: 404.
    r = await s.intake.get(f"/cases/{case['id']}/sla", headers=await s.auth("admin", OTHER))
    assert r.status_code == 404


@pytest.mark.integration
async def test_r1_4_executing_before_the_hold_is_refused_naming_the_date(s: System) -> None:
    case = await s.create_case(case_body(1))
    start = clock.now()
    until = (start + timedelta(days=14)).replace(hour=12, minute=0, second=0, microsecond=0)
    await publish(s, "case.hold_set.v1", case["id"], {
        "case_id": case["id"], "case_version": 1, "business_days": 10, "executable_from": iso(until),
        "executable_from_date": until.date().isoformat()})
    before = await history_kinds(s, case["id"])
    assert before[-1]["kind"] == "hold_set"
    mine = await s.auth("ejecutiva")
    r = await s.intake.post(f"/cases/{case['id']}/execute", json={"text": "Rescate ejecutado."}, headers=mine)
    assert r.status_code == 409, r.text
    p = r.json()
    assert p["type"].endswith("/on-hold")
    assert p["detail"].startswith(f"La solicitud solo puede ejecutarse desde el {until.strftime('%d-%m-%Y')}")
    r = await s.intake.post(f"/cases/{case['id']}/execute", json={"text": "x"},
                            headers={**mine, "Accept-Language": "en"})
    assert r.status_code == 409 and until.date().isoformat() in r.json()["detail"]
    # Nothing changed.
    shown = (await s.intake.get(f"/cases/{case['id']}", headers=mine)).json()
    assert shown["status"] == "new" and datetime.fromisoformat(shown["executable_from"]) == until
    assert await history_kinds(s, case["id"]) == before
    # After the date, executing is allowed.
    clock.travel_to(until + timedelta(minutes=1))
    s._tokens.clear()  # two weeks later: log in again
    r = await s.intake.post(f"/cases/{case['id']}/execute", json={"text": "Rescate ejecutado."},
                            headers=await s.auth("ejecutiva"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "in_execution"


# -- reclassify ------------------------------------------------------------------------------------
@pytest.mark.integration
async def test_reclassify_changes_the_type_and_tells_workflow(s: System) -> None:
    case = await s.create_case(case_body(1))
    r = await s.intake.post(f"/cases/{case['id']}/reclassify", json={"type": "documentacion",
                                                                      "reason": "Pide documentos."},
                            headers=await s.auth("supervisora"))
    assert r.status_code == 200, r.text
    shown = (await s.intake.get(f"/cases/{case['id']}", headers=await s.auth())).json()
    assert shown["type"] == "documentacion"
    line = (await history_kinds(s, case["id"]))[-1]
    assert line["kind"] == "reclassified" and line["data"]["from"] == "consulta-general"
    assert line["data"]["to"] == "documentacion" and line["data"]["reason"] == "Pide documentos."
    events = await emitted(s, "case.reclassified.v1")
    assert len(events) == 1
    ev = events[0]
    assert ev["subject"] == case["id"] and ev["sequence"] == 2  # numbered with the case's version
    assert ev["data"]["old_type"] == "consulta-general"
    assert ev["data"]["case_type"]["code"] == "documentacion" and ev["data"]["case_type"]["deadline"]["amount"] == 3
    assert "sla" in ev["data"]["case_type"]
    # A later command goes on numbering after it.
    r = await s.intake.post(f"/cases/{case['id']}/comments", json={"text": "ok"}, headers=await s.auth())
    assert (await emitted(s, "case.commented.v1"))[-1]["sequence"] == 3


@pytest.mark.integration
async def test_reclassify_refusals(s: System) -> None:
    case = await s.create_case(case_body(1))
    url = f"/cases/{case['id']}/reclassify"
    body = {"type": "documentacion"}
    # R4.4: an executor (even the responsible) and a viewer may not; another tenant does not see the case.
    assert (await s.intake.post(url, json=body, headers=await s.auth("ejecutiva"))).status_code == 403
    assert (await s.intake.post(url, json=body, headers=await s.auth("lectura"))).status_code == 403
    assert (await s.intake.post(url, json=body, headers=await s.auth("admin", OTHER))).status_code == 404
    admin = await s.auth()
    r = await s.intake.post(url, json={"type": "No Válido", "colour": "red"}, headers=admin)
    assert r.status_code == 422
    assert sorted(e["field"] for e in r.json()["errors"]) == ["colour", "type"]
    r = await s.intake.post(url, json={}, headers=admin)
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["type"]
    for code, why in (("no-existe", "unknown_case_type"), ("consulta-general", "same_type")):
        r = await s.intake.post(url, json={"type": code}, headers=admin)
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == why, r.text
    shown = (await s.intake.get(f"/cases/{case['id']}", headers=admin)).json()
    assert shown["type"] == "consulta-general" and await emitted(s, "case.reclassified.v1") == []


# -- escalate to the supervisor (R3.4 rules 6–8) ---------------------------------------------------
async def _gas_original(s: System) -> dict[str, Any]:
    admin = await s.auth("admin", OTHER)
    r = await s.intake.post("/catalog/case-types", headers=admin, json={
        "code": "reclamo-medidor", "name_es": "Reclamo de medidor", "name_en": "Meter complaint",
        "deadline": {"unit": "business_days", "amount": 5}})
    assert r.status_code == 201, r.text
    return await s.create_case(_gas_body(1, "reclamo-medidor", project="medidor"), tenant=OTHER)


def _gas_body(i: int, type_: str, **over: Any) -> dict[str, Any]:
    return {"type": type_, "subject": f"Reclamo {i}", "description": "El cliente reclama por su boleta.",
            "contact": {"name": "Rosa Fuentes", "email": f"rosa{i}@example.cl", "phone": "+56922223333"},
            "responsible_email": demo("ejecutiva", OTHER), **over}


@pytest.mark.integration
async def test_r3_4_escalate_to_supervisor_only_when_triage_says_so(s: System) -> None:
    original = await _gas_original(s)
    late = await s.create_case(_gas_body(2, "respuesta-fuera-de-plazo", follow_up_of=original["id"]), tenant=OTHER)
    agent = await s.auth("ejecutivo", OTHER)
    url = f"/cases/{original['id']}/escalate-to-supervisor"
    msg = {"message": "El seguimiento se respondió pero la solicitud original no."}
    # Rule 5 (the follow-up is in time): not an escalation.
    r = await s.intake.post(url, json=msg, headers=agent)
    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("/escalation-not-called-for") and r.json()["rule"] == 5
    # Rule 6: the follow-up answered, the original not → escalate.
    r = await s.intake.post(f"/cases/{late['id']}/execute", json={"text": "Se derivó al área comercial."},
                            headers=await s.auth("ejecutiva", OTHER))
    assert r.status_code == 200, r.text
    # Refusals: a viewer 403, another tenant 404, a bad body 422 field by field.
    assert (await s.intake.post(url, json=msg, headers=await s.auth("lectura", OTHER))).status_code == 403
    assert (await s.intake.post(url, json=msg, headers=await s.auth("admin"))).status_code == 404
    r = await s.intake.post(url, json={"message": "  ", "colour": 1}, headers=agent)
    assert r.status_code == 422 and sorted(e["field"] for e in r.json()["errors"]) == ["colour", "message"]
    assert await emitted(s, "case.triage_escalated.v1") == []
    r = await s.intake.post(url, json=msg, headers=agent)
    assert r.status_code == 200, r.text
    assert r.json() == {"id": original["id"], "rule": 6}
    [ev] = await emitted(s, "case.triage_escalated.v1")
    assert ev["subject"] == original["id"] and ev["sequence"] == 2
    assert ev["data"]["rule"] == 6 and ev["data"]["message"] == msg["message"]
    async with s.rt["intake"].db.read() as conn:
        from services.intake.adapters.case_tables import case_history
        kinds = list((await conn.execute(select(case_history.c.kind, case_history.c.data).where(
            case_history.c.case_id == uuid.UUID(original["id"])).order_by(case_history.c.id))).all())
    assert kinds[-1].kind == "escalated_to_supervisor" and kinds[-1].data["rule"] == 6


def test_timing_rules() -> None:
    from services.intake.domain import timing
    from services.intake.domain.access import Principal, Role

    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    assert timing.on_hold(now + timedelta(seconds=1), now) and not timing.on_hold(now, now)
    assert not timing.on_hold(None, now)
    assert timing.overdue_seconds(now - timedelta(minutes=2), now) == 120
    assert timing.overdue_seconds(now + timedelta(minutes=2), now) == 0
    assert timing.sees_all_alerts(Principal("t", frozenset({Role.SUPERVISOR})))
    assert not timing.sees_all_alerts(Principal("t", frozenset({Role.VIEWER})))
    assert not timing.may_reclassify(Principal("t", frozenset({Role.EXECUTOR})))

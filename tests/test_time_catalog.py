"""The catalog of time (issue 10) through intake's API: several business calendars per tenant
(periods with a lunch break, regional holidays, extra working days), the SLA settings (R4.8
warning thresholds, R4.9 escalation ladder, quiet hours), escalation kinds users subscribe to
(R4.9), the case type's SLA policy (R1.4 hold, first response) and the area's calendar; and the
calendar a new case is entered under (case.created.v1 calendar_code / calendar_version)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from services.intake.adapters.db import outbox
from shared.contracts.events import CalendarChanged, CaseCreated, SlaSettingsChanged
from tests.support.system import TENANT, System, case_body

pytestmark = pytest.mark.integration

GAS = "gas-demo"
LUNCH = [{"start": "09:00", "end": "13:00"}, {"start": "14:00", "end": "18:00"}]
BRANCH = {"name": "Sucursal Concepción", "country": "CL", "subdivision": "BI", "timezone": "America/Santiago",
          "hours": {str(d): LUNCH for d in range(1, 6)},
          "extra_closed_days": [{"date": "2026-12-07", "name": "Aniversario"}],
          "extra_working_days": [{"date": "2026-12-19", "name": "Sábado de cierre anual"}]}
LADDER = [
    {"level": 1, "after": {"unit": "business_hours", "amount": 0}, "to": "manager_chain", "steps_up": 1,
     "channels": ["email", "in_app"]},
    {"level": 2, "after": {"unit": "business_hours", "amount": 4}, "to": "manager_chain", "steps_up": 2,
     "channels": ["email", "sms"]},
    {"level": 3, "after": {"unit": "business_days", "amount": 1}, "to": "area_head", "steps_up": 1,
     "channels": ["email", "sms", "in_app"]},
]


async def events(system: System, event_type: str, tenant: str = TENANT) -> list[dict[str, Any]]:
    """The data of the events of that type intake wrote to its outbox for ``tenant``, oldest first."""
    async with system.rt["intake"].db.engine.connect() as conn:
        rows = (await conn.execute(select(outbox.c.body).where(outbox.c.type == event_type)
                                   .order_by(outbox.c.id))).all()
    bodies = [json.loads(r.body) for r in rows]
    return [b["data"] for b in bodies if b.get("tenant") == tenant]


def errors_by_field(r: Any) -> dict[str, str]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return {e["field"]: e["code"] for e in r.json()["errors"]}


# -- calendars ---------------------------------------------------------------------------------
async def test_r4_2_a_second_calendar_with_lunch_break_region_and_extra_working_day(rabbit_system: System) -> None:
    s, h = rabbit_system, await rabbit_system.auth()
    r = await s.intake.put("/catalog/calendars/concepcion", json=BRANCH, headers=h)
    assert r.status_code == 200, r.text
    cal = r.json()
    assert cal["code"] == "concepcion" and cal["version"] == 1 and cal["subdivision"] == "BI"
    assert cal["hours"]["1"] == LUNCH and "6" not in cal["hours"]
    assert (cal["work_days"], cal["work_start"], cal["work_end"]) == ([1, 2, 3, 4, 5], "09:00", "18:00")
    assert cal["extra_working_days"] == [{"date": "2026-12-19", "name": "Sábado de cierre anual"}]
    listed = (await s.intake.get("/catalog/calendars", headers=await s.auth("lectura"))).json()
    assert [c["code"] for c in listed] == ["default", "concepcion"]
    # Regional holidays of the subdivision are shown with the national ones.
    one = (await s.intake.get("/catalog/calendars/concepcion", params={"year": 2026}, headers=h)).json()
    assert {"date": "2026-09-18", "name": "Día de la Independencia"} in one["holidays"]
    # A change bumps its version; the event carries the periods, the region and the code.
    r = await s.intake.put("/catalog/calendars/concepcion", json={**BRANCH, "name": "Concepción"}, headers=h)
    assert r.status_code == 200 and r.json()["version"] == 2
    sent = [CalendarChanged.model_validate(e) for e in await events(s, "catalog.calendar_changed.v1")]
    mine = [e for e in sent if e.code == "concepcion"]
    assert [e.version for e in mine] == [1, 2]
    assert [(p.start.isoformat("minutes"), p.end.isoformat("minutes")) for p in mine[-1].hours["3"]] == [
        ("09:00", "13:00"), ("14:00", "18:00")]
    assert mine[-1].subdivision == "BI" and [d.date.isoformat() for d in mine[-1].extra_working_days] == ["2026-12-19"]
    assert (mine[-1].work_start.isoformat("minutes"), mine[-1].work_end.isoformat("minutes")) == ("09:00", "18:00")
    # The single-calendar API still answers the default one.
    assert (await s.intake.get("/calendar", headers=h)).json()["version"] == 1


async def test_calendar_is_validated_field_by_field(rabbit_system: System) -> None:
    s, h = rabbit_system, await rabbit_system.auth()
    bad = {**BRANCH, "timezone": "America/Gotham", "subdivision": "ZZ",
           "hours": {"1": [{"start": "09:00", "end": "13:00"}, {"start": "12:00", "end": "18:00"}],
                     "2": [{"start": "18:00", "end": "09:00"}], "8": [{"start": "09:00", "end": "18:00"}]},
           "extra_working_days": [{"date": "2026-12-07"}]}
    r = await s.intake.put("/catalog/calendars/concepcion", json=bad, headers=h)
    assert errors_by_field(r) == {"timezone": "unknown_timezone", "subdivision": "unknown_subdivision",
                                  "hours.1.1.start": "overlapping_periods", "hours.2.0.end": "end_before_start",
                                  "hours.8": "unknown_weekday", "extra_working_days.0.date": "closed_and_working"}
    r = await s.intake.put("/catalog/calendars/concepcion", json={**BRANCH, "country": "XX"}, headers=h)
    assert errors_by_field(r) == {"country": "unknown_country"}
    r = await s.intake.put("/catalog/calendars/concepcion", json={**BRANCH, "work_days": [1, 2]}, headers=h)
    assert errors_by_field(r) == {"hours": "hours_and_work_days"}
    # The older shape is accepted: one period a day.
    old = {"country": "CL", "timezone": "America/Santiago", "work_days": [1, 2, 3], "work_start": "08:00",
           "work_end": "16:00"}
    r = await s.intake.put("/catalog/calendars/planta", json={**old, "work_end": "07:00"}, headers=h)
    assert errors_by_field(r) == {"work_end": "end_before_start"}
    r = await s.intake.put("/catalog/calendars/planta", json=old, headers=h)
    assert r.status_code == 200 and r.json()["hours"] == {d: [{"start": "08:00", "end": "16:00"}] for d in "123"}
    # The default calendar is never deactivated.
    r = await s.intake.put("/catalog/calendars/default", json={**BRANCH, "active": False}, headers=h)
    assert errors_by_field(r) == {"active": "default_calendar"}
    assert (await s.intake.get("/catalog/calendars/concepcion", headers=h)).status_code == 404  # nothing stored


async def test_calendars_are_written_by_admins_and_seen_only_by_their_tenant(rabbit_system: System) -> None:
    s, h = rabbit_system, await rabbit_system.auth()
    for who in ("supervisora", "ejecutiva", "lectura"):
        r = await s.intake.put("/catalog/calendars/concepcion", json=BRANCH, headers=await s.auth(who))
        assert r.status_code == 403, (who, r.text)
    assert (await s.intake.put("/catalog/calendars/concepcion", json=BRANCH)).status_code == 401
    assert (await s.intake.put("/catalog/calendars/concepcion", json=BRANCH, headers=h)).status_code == 200
    gas = await s.auth("admin", GAS)
    assert (await s.intake.get("/catalog/calendars/concepcion", headers=gas)).status_code == 404
    assert [c["code"] for c in (await s.intake.get("/catalog/calendars", headers=gas)).json()] == ["default"]


# -- SLA settings ------------------------------------------------------------------------------
async def test_r4_8_r4_9_sla_settings_are_seeded_read_by_all_and_replaced_by_admins(rabbit_system: System) -> None:
    s, h = rabbit_system, await rabbit_system.auth()
    seeded = (await s.intake.get("/catalog/sla-settings", headers=await s.auth("lectura"))).json()
    assert seeded["warning_percents"] == [50, 75] and seeded["quiet_hours"] is True and seeded["version"] == 1
    assert seeded["ladder"] == LADDER
    body = {"warning_percents": [60, 90], "quiet_hours": False, "ladder": LADDER[:2]}
    assert (await s.intake.put("/catalog/sla-settings", json=body, headers=await s.auth("supervisora"))
            ).status_code == 403
    r = await s.intake.put("/catalog/sla-settings", json=body, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["warning_percents"] == [60, 90] and len(r.json()["ladder"]) == 2
    sent = [SlaSettingsChanged.model_validate(e) for e in await events(s, "catalog.sla_settings_changed.v1")]
    assert [(e.version, e.warning_percents, e.quiet_hours) for e in sent] == [(1, [50, 75], True), (2, [60, 90], False)]
    assert sent[-1].ladder[1].steps_up == 2 and sent[-1].ladder[1].channels == ["email", "sms"]


async def test_sla_settings_are_validated_field_by_field(rabbit_system: System) -> None:
    s, h = rabbit_system, await rabbit_system.auth()
    ladder = [{**LADDER[0], "after": {"unit": "business_hours", "amount": 2}},
              {**LADDER[1], "level": 3, "after": {"unit": "business_hours", "amount": -1}},
              {**LADDER[2], "channels": []}]
    r = await s.intake.put("/catalog/sla-settings", json={"warning_percents": [0, 75, 75, 100], "ladder": ladder},
                           headers=h)
    assert errors_by_field(r) == {"warning_percents.0": "percent_out_of_range", "warning_percents.2": "not_ascending",
                                  "warning_percents.3": "percent_out_of_range",
                                  "ladder.0.after.amount": "first_level_not_at_breach",
                                  "ladder.1.level": "levels_not_consecutive", "ladder.1.after.amount": "out_of_range",
                                  "ladder.2.channels": "no_channels"}
    r = await s.intake.put("/catalog/sla-settings", json={"warning_percents": [50], "ladder": [
        {**LADDER[0], "channels": ["fax"]}]}, headers=h)
    assert r.status_code == 422 and any("channels" in e["field"] for e in r.json()["errors"])
    assert (await s.intake.get("/catalog/sla-settings", headers=h)).json()["version"] == 1  # nothing stored


# -- escalation kinds and subscriptions (R4.9) --------------------------------------------------
async def test_r4_9_escalation_kinds_are_a_catalog_list_and_subscriptions_name_them(rabbit_system: System) -> None:
    s, h = rabbit_system, await rabbit_system.auth()
    kinds = {k["code"]: k for k in (await s.intake.get("/catalog/escalation-kinds", headers=h)).json()}
    assert set(kinds) == {"case_overdue", "first_response_overdue", "commitment_passed", "task_overdue",
                          "priority_raised", "triage_supervisor"}
    assert kinds["case_overdue"]["name_es"] == "Solicitud de atención al cliente vencida"
    assert kinds["case_overdue"]["name_en"] == "Customer request overdue"
    r = await s.intake.post("/catalog/escalation-kinds", json={"code": "vip_case", "name_es": "Cliente VIP"}, headers=h)
    assert r.status_code == 201 and r.json()["version"] == 1, r.text
    assert [e["code"] for e in await events(s, "catalog.escalation_kind_changed.v1")][-1] == "vip_case"
    users = {u["email"].split("@")[0]: u["id"] for u in (await s.intake.get("/users", headers=h)).json()["items"]}
    r = await s.intake.patch(f"/users/{users['lectura']}", headers=h,
                             json={"escalation_subscriptions": ["case_overdue", "no_such_kind", "vip_case"]})
    assert errors_by_field(r) == {"escalation_subscriptions.1": "unknown_escalation_kind"}
    r = await s.intake.patch(f"/users/{users['lectura']}", headers=h,
                             json={"escalation_subscriptions": ["case_overdue", "vip_case"]})
    assert r.status_code == 200 and r.json()["escalation_subscriptions"] == ["case_overdue", "vip_case"]
    # A deactivated kind: no new subscriptions; one already held may stay.
    r = await s.intake.patch("/catalog/escalation-kinds/vip_case", json={"active": False}, headers=h)
    assert r.status_code == 200 and r.json()["version"] == 2
    r = await s.intake.patch(f"/users/{users['ejecutiva']}", headers=h, json={"escalation_subscriptions": ["vip_case"]})
    assert errors_by_field(r) == {"escalation_subscriptions.0": "unknown_escalation_kind"}
    r = await s.intake.patch(f"/users/{users['lectura']}", headers=h,
                             json={"escalation_subscriptions": ["vip_case", "task_overdue"]})
    assert r.status_code == 200, r.text
    # Another tenant's kinds do not count.
    gas = await s.auth("admin", GAS)
    assert (await s.intake.get("/catalog/escalation-kinds/vip_case", headers=gas)).status_code == 404


# -- the case type's SLA policy and the area's calendar -----------------------------------------
async def test_r1_4_case_type_sla_round_trip_with_its_event(rabbit_system: System) -> None:
    s, h = rabbit_system, await rabbit_system.auth()
    assert (await s.intake.put("/catalog/calendars/concepcion", json=BRANCH, headers=h)).status_code == 200
    sla = {"first_response": {"unit": "business_hours", "amount": 4},
           "resolution_by_priority": {"high": {"unit": "business_days", "amount": 2}},
           "warning_percents": [50, 80], "hold_business_days": 10, "calendar": "concepcion"}
    r = await s.intake.post("/catalog/case-types", headers=h, json={
        "code": "desistimiento", "name_es": "Desistimiento", "deadline": {"unit": "business_days", "amount": 15},
        "sla": sla})
    assert r.status_code == 201, r.text
    assert r.json()["sla"] == sla
    assert (await s.intake.get("/catalog/case-types/desistimiento", headers=h)).json()["sla"] == sla
    sent = [e for e in await events(s, "catalog.case_type_changed.v1") if e["code"] == "desistimiento"]
    assert sent[-1]["sla"] == sla
    r = await s.intake.patch("/catalog/case-types/desistimiento", json={"sla": None}, headers=h)
    assert r.status_code == 200 and r.json()["sla"] is None and r.json()["version"] == 2
    sent = [e for e in await events(s, "catalog.case_type_changed.v1") if e["code"] == "desistimiento"]
    assert sent[-1]["sla"] is None
    # R1.4 as seeded: the surrender type waits 10 business days.
    ins = await s.auth("admin", "aseguradora-demo")
    assert (await s.intake.get("/catalog/case-types/rescate", headers=ins)).json()["sla"]["hold_business_days"] == 10
    assert (await s.intake.get("/catalog/case-types/reclamo-no-tecnico", headers=h)).json()["sla"][
        "first_response"] == {"unit": "business_hours", "amount": 4}


async def test_case_type_sla_is_validated_field_by_field(rabbit_system: System) -> None:
    s, h = rabbit_system, await rabbit_system.auth()
    bad = {"first_response": {"unit": "business_hours", "amount": 0},
           "resolution_by_priority": {"urgent": {"unit": "business_days", "amount": 0}},
           "warning_percents": [80, 50], "hold_business_days": 0, "calendar": "no-existe"}
    r = await s.intake.patch("/catalog/case-types/consulta-general", json={"sla": bad}, headers=h)
    assert errors_by_field(r) == {"sla.first_response.amount": "deadline_out_of_range",
                                  "sla.resolution_by_priority.urgent.amount": "deadline_out_of_range",
                                  "sla.warning_percents.1": "not_ascending",
                                  "sla.hold_business_days": "hold_out_of_range", "sla.calendar": "unknown_calendar"}
    # Another tenant's calendar does not count.
    gas = await s.auth("admin", GAS)
    assert (await s.intake.put("/catalog/calendars/gas-norte", json=BRANCH, headers=gas)).status_code == 200
    r = await s.intake.patch("/catalog/case-types/consulta-general", json={"sla": {"calendar": "gas-norte"}}, headers=h)
    assert errors_by_field(r) == {"sla.calendar": "unknown_calendar"}


async def test_area_calendar_must_exist_and_travels_in_its_event(rabbit_system: System) -> None:
    s, h = rabbit_system, await rabbit_system.auth()
    r = await s.intake.patch("/catalog/areas/posventa", json={"calendar": "concepcion"}, headers=h)
    assert errors_by_field(r) == {"calendar": "unknown_calendar"}
    r = await s.intake.post("/catalog/areas", json={"code": "sur", "name_es": "Sur", "calendar": "concepcion"},
                            headers=h)
    assert errors_by_field(r) == {"calendar": "unknown_calendar"}
    assert (await s.intake.put("/catalog/calendars/concepcion", json=BRANCH, headers=h)).status_code == 200
    r = await s.intake.patch("/catalog/areas/posventa", json={"calendar": "concepcion"}, headers=h)
    assert r.status_code == 200 and r.json()["calendar"] == "concepcion", r.text
    sent = [e for e in await events(s, "catalog.area_changed.v1") if e["code"] == "posventa"]
    assert sent[-1]["calendar"] == "concepcion"
    # A calendar in use is not deactivated.
    r = await s.intake.put("/catalog/calendars/concepcion", json={**BRANCH, "active": False}, headers=h)
    assert errors_by_field(r) == {"active": "calendar_in_use"}
    r = await s.intake.patch("/catalog/areas/posventa", json={"calendar": None}, headers=h)
    assert r.status_code == 200 and r.json()["calendar"] is None


# -- the calendar of a new case -----------------------------------------------------------------
async def _created(s: System, case_id: str) -> CaseCreated:
    found = [CaseCreated.model_validate(e) for e in await events(s, "case.created.v1") if e["case_id"] == case_id]
    assert len(found) == 1
    return found[0]


async def test_case_runs_on_its_types_calendar_else_its_areas_else_default_and_r2_3_dates(rabbit_system: System) -> None:
    s, h = rabbit_system, await rabbit_system.auth()
    assert (await s.intake.put("/catalog/calendars/concepcion", json=BRANCH, headers=h)).status_code == 200
    assert (await s.intake.put("/catalog/calendars/concepcion", json=BRANCH, headers=h)).json()["version"] == 2
    assert (await s.intake.put("/catalog/calendars/planta", json={**BRANCH, "subdivision": None},
                               headers=h)).status_code == 200
    plain = await s.create_case(case_body(1))  # consulta-general, area posventa: the tenant default
    created = await _created(s, plain["id"])
    assert (created.calendar_code, created.calendar_version) == ("default", 1)
    r = await s.intake.patch("/catalog/areas/posventa", json={"calendar": "planta"}, headers=h)
    assert r.status_code == 200, r.text
    by_area = await _created(s, (await s.create_case(case_body(2)))["id"])
    assert (by_area.calendar_code, by_area.calendar_version) == ("planta", 1)
    r = await s.intake.patch("/catalog/case-types/consulta-general", json={"sla": {
        "first_response": {"unit": "business_hours", "amount": 4}, "calendar": "concepcion"}}, headers=h)
    assert r.status_code == 200, r.text
    body = case_body(3, internal_commitment_date="2030-01-10", customer_commitment_date="2030-01-15")
    by_type = await _created(s, (await s.create_case(body))["id"])
    assert (by_type.calendar_code, by_type.calendar_version) == ("concepcion", 2)
    assert by_type.case_type.sla is not None and by_type.case_type.sla.calendar == "concepcion"
    assert by_type.case_type.sla.first_response is not None and by_type.case_type.sla.first_response.amount == 4
    # R2.3: the internal commitment date is a clock too: it travels with the case.
    assert str(by_type.internal_commitment_date) == "2030-01-10"
    assert str(by_type.customer_commitment_date) == "2030-01-15"
    assert uuid.UUID(str(by_type.case_id))


async def test_embedded_mode_keeps_calendars_and_sla_settings(embedded_system: System) -> None:
    """SQLite (embedded): the migration's new key (tenant, code) and tables work too."""
    s, h = embedded_system, await embedded_system.auth()
    assert (await s.intake.put("/catalog/calendars/concepcion", json=BRANCH, headers=h)).status_code == 200
    assert [c["code"] for c in (await s.intake.get("/catalog/calendars", headers=h)).json()] == ["default",
                                                                                                "concepcion"]
    r = await s.intake.put("/catalog/sla-settings", json={"warning_percents": [80], "ladder": LADDER}, headers=h)
    assert r.status_code == 200 and r.json()["version"] == 2
    r = await s.intake.patch("/catalog/case-types/consulta-general", json={"sla": {"calendar": "concepcion"}},
                             headers=h)
    assert r.status_code == 200, r.text
    created = await _created(s, (await s.create_case(case_body(4)))["id"])
    assert (created.calendar_code, created.calendar_version) == ("concepcion", 1)

"""Time end to end (issue 10): cases that slip raise alerts people see, most overdue first, and
escalation e-mails climb the manager line — each exactly once, however often the timers tick.
On RabbitMQ + PostgreSQL and in embedded mode, with real e-mails to an SMTP server on loopback.
Time is moved with the shared clock (``System.travel_to``), never by sleeping."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support.smtp_sink import SmtpSink
from tests.support.system import System, case_body, wait_for

SCL = ZoneInfo("America/Santiago")
ENTERED = datetime(2027, 3, 8, 10, tzinfo=SCL)  # Monday 8 Mar 2027, a working morning
LATER = datetime(2027, 3, 12, 10, tzinfo=SCL)  # Friday 12 Mar, 10:00: all three cases late


async def _ids(s: System) -> dict[str, str]:
    h = await s.auth()
    items = (await s.intake.get("/users", params={"limit": 100}, headers=h)).json()["items"]
    return {u["email"].split("@")[0]: u["id"] for u in items}


async def _alerts(s: System, who: str) -> list[dict[str, Any]]:
    r = await s.intake.get("/alerts", headers=await s.auth(who))
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def _escalation_mails(sink: SmtpSink) -> Counter[tuple[str, str]]:
    """(case id, recipient's local part) of every escalation e-mail received."""
    return Counter((m.message["X-Atiende-Case"], m.to[0].split("@")[0])
                   for m in list(sink.messages) if m.message["X-Atiende-Template"] == "case_escalated")


async def _late_cases_scenario(s: System, sink: SmtpSink) -> None:
    s.travel_to(ENTERED)
    admin = await s.auth()
    ids = await _ids(s)
    # The manager line: ejecutiva → gerencia.tecnica → admin; the area (posventa) head is supervisora.
    for who, manager in (("ejecutiva", "gerencia.tecnica"), ("gerencia.tecnica", "admin")):
        r = await s.intake.patch(f"/users/{ids[who]}", json={"manager_id": ids[manager]}, headers=admin)
        assert r.status_code == 200, r.text
    r = await s.intake.patch(f"/users/{ids['lectura']}", json={"escalation_subscriptions": ["case_overdue"]},
                             headers=admin)
    assert r.status_code == 200, r.text  # R4.9: a profile subscribed to "request overdue"
    await wait_for(lambda: _workflow_knows(s, ids), 30, "workflow's copy of the manager line and subscription")
    cases = []
    for i, due in enumerate(("2027-03-09", "2027-03-10", "2027-03-11")):  # A, B, C: due Tue, Wed, Thu
        cases.append(await s.create_case(case_body(90 + i, due_date=due)))
    a, b, c = (x["id"] for x in cases)

    async def clocks_started() -> bool:
        for x in cases:
            r = (await s.intake.get(f"/cases/{x['id']}/sla", headers=await s.auth())).json()
            if not r.get("clocks"):
                return False
        return True

    await wait_for(clocks_started, 30, "workflow's clocks shown by intake")
    assert await _alerts(s, "admin") == []

    s.travel_to(LATER)
    await wait_for(lambda: _has_alerts(s, 3), 30, "three alerts")
    # R4.8: most overdue first, for the responsible and the admins; nobody else's.
    shown = await _alerts(s, "admin")
    assert [x["case"]["id"] for x in shown] == [a, b, c]
    assert [x["case"]["id"] for x in await _alerts(s, "ejecutiva")] == [a, b, c]
    assert await _alerts(s, "ejecutivo") == []
    assert shown[0]["overdue_seconds"] > shown[1]["overdue_seconds"] > shown[2]["overdue_seconds"] > 0

    # The ladder: A and B have climbed to level 3 (a business day after the breach), C to level 1
    # (level 2 is four business hours after its breach's release: 13:00).
    # Level 0: the responsible and the subscriber; 1: her manager; 2: his manager; 3: the area head.
    expected: Counter[tuple[str, str]] = Counter()
    for case in (a, b):
        expected.update({(case, "ejecutiva"): 1, (case, "lectura"): 1, (case, "gerencia.tecnica"): 1,
                         (case, "admin"): 1, (case, "supervisora"): 1})
    expected.update({(c, "ejecutiva"): 1, (c, "lectura"): 1, (c, "gerencia.tecnica"): 1})
    await wait_for(lambda: _escalation_mails(sink) == expected, 30, "each escalation e-mail once")

    # Executing A ends its alert (R4.8); its clock is met, nothing more climbs for it.
    r = await s.intake.post(f"/cases/{a}/execute", json={"text": "Se visitó el departamento."},
                            headers=await s.auth("ejecutiva"))
    assert r.status_code == 200, r.text
    await wait_for(lambda: _has_alerts(s, 2), 30, "A's alert gone")
    assert [x["case"]["id"] for x in await _alerts(s, "admin")] == [b, c]

    # Timers keep ticking for an hour: no e-mail is sent twice (one per case per breach and level).
    s.travel_to(LATER + timedelta(hours=1))
    await asyncio.sleep(2.5)
    assert _escalation_mails(sink) == expected
    sla = (await s.intake.get(f"/cases/{b}/sla", headers=await s.auth())).json()
    resolution = next(k for k in sla["clocks"] if k["kind"] == "resolution")
    assert resolution["state"] == "breached"


async def _workflow_knows(s: System, ids: dict[str, str]) -> bool:
    """User events are eventually applied: escalations are decided on workflow's copy."""
    from sqlalchemy import select

    from services.workflow.adapters.db import people
    async with s.rt["workflow"].db.read() as conn:
        rows = {str(r.user_id): r for r in (await conn.execute(select(people))).all()}
    if not {ids["ejecutiva"], ids["gerencia.tecnica"], ids["lectura"]} <= set(rows):
        return False
    return (str(rows[ids["ejecutiva"]].manager_id) == ids["gerencia.tecnica"]
            and str(rows[ids["gerencia.tecnica"]].manager_id) == ids["admin"]
            and "case_overdue" in rows[ids["lectura"]].subscriptions)


async def _has_alerts(s: System, n: int) -> bool:
    return len(await _alerts(s, "admin")) == n


@pytest.mark.integration
async def test_r4_8_r4_9_late_cases_alert_in_order_and_escalate_once_on_rabbitmq(
        rabbit_system: System, smtp_sink: SmtpSink) -> None:
    await _late_cases_scenario(rabbit_system, smtp_sink)


@pytest.mark.integration
async def test_r4_8_r4_9_late_cases_alert_in_order_and_escalate_once_embedded(
        embedded_system: System, smtp_sink: SmtpSink) -> None:
    await _late_cases_scenario(embedded_system, smtp_sink)


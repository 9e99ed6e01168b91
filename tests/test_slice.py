"""The thin request that crosses all four services, on RabbitMQ + PostgreSQL and embedded:
POST /cases → case.created → workflow deadline → case.deadline_set → two e-mails → report."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from services.workflow.domain import calendar_for, response_deadline
from tests.support.smtp_sink import SmtpSink
from tests.support.system import CASE, System, wait_for


async def _scenario(system: System, sink: SmtpSink) -> None:
    case = await system.create_case(CASE)
    case_id = case["id"]
    assert case["status"] == "new" and case["priority"] == "normal" and case["number"] == "000001"
    assert case["responsible"]["email"] == CASE["responsible_email"] and case["responsible"]["id"]

    await wait_for(lambda: len(sink.for_case(case_id)) == 2, 20, "two e-mails for the case")
    mails = {m.message["X-Atiende-Template"]: m for m in sink.for_case(case_id)}
    assert mails["case_received"].to == [CASE["contact"]["email"]]
    assert mails["case_assigned"].to == [CASE["responsible_email"]]
    # Spanish by default (R4.3: confirmation to the contact and to the responsible).
    assert mails["case_received"].message["Subject"].startswith("Recibimos su solicitud N° 000001")
    assert "Nueva solicitud N° 000001 asignada" in mails["case_assigned"].message["Subject"]

    h = await system.auth()

    async def deadline_shown() -> bool:
        r = await system.intake.get(f"/cases/{case_id}", headers=h)
        return r.status_code == 200 and r.json()["deadline"] is not None

    await wait_for(deadline_shown, 20, "deadline on GET /cases/{id}")
    shown = (await system.intake.get(f"/cases/{case_id}", headers=h)).json()
    created = datetime.fromisoformat(shown["created_at"])
    expected = response_deadline(created, 5, calendar_for("CL", "America/Santiago"))
    assert date.fromisoformat(shown["deadline"]["due_date"]) == expected.due_date
    body = mails["case_received"].message.get_body(("plain",)).get_content()
    assert expected.due_date.strftime("%d-%m-%Y") in body

    async def counted() -> bool:
        return (await system.report())["total"] == 1

    await wait_for(counted, 20, "reporting read model")
    report = await system.report()
    assert report["by_status"] == [{"key": "new", "label": "Nueva", "count": 1}]
    assert report["by_type"] == [{"key": "consulta-general", "label": "Consulta general", "count": 1}]
    other = await system.report(tenant="gas-demo")  # another tenant sees none of it
    assert other["total"] == 0 and other["tenant"] == "gas-demo"


@pytest.mark.integration
async def test_case_flows_through_all_four_services_on_rabbitmq(rabbit_system: System, smtp_sink: SmtpSink) -> None:
    await _scenario(rabbit_system, smtp_sink)


async def test_case_flows_through_all_four_services_embedded(embedded_system: System, smtp_sink: SmtpSink) -> None:
    await _scenario(embedded_system, smtp_sink)


@pytest.mark.integration
async def test_readiness_reports_database_broker_and_consumers(rabbit_system: System) -> None:
    for name, client in rabbit_system.clients.items():
        r = await client.get("/ready")
        assert r.status_code == 200, (name, r.text)
        checks = r.json()["checks"]
        assert checks["database"] == "ok" and checks["broker"] == "ok"
        assert checks["consumers"] >= 1
        assert (await client.get("/health")).json() == {"status": "ok", "service": name}

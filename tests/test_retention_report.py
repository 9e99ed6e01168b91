"""R1.5: the commission report — successful retentions per executive per month, with the policies
and offers, as JSON, CSV and XLSX — built by reporting from intake's events.

The events are published on the bus as intake numbers them (``sequence`` = the case's version,
``case.created.v1`` = 1, then the offers, then the desistance), so these tests do not depend on
intake's routes."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]

from shared.contracts.envelope import Envelope
from shared.messaging.bus import OutgoingMessage
from tests.support.system import System, demo, wait_for

INTAKE = "atiende/intake"
INSURER = "aseguradora-demo"
OTHER = "inmobiliaria-demo"
ANA, BRUNO = uuid.uuid4(), uuid.uuid4()
ANA_NAME, BRUNO_NAME = "Ana Rojas", "Bruno Soto"


def _env(case_id: uuid.UUID, seq: int, type_: str, data: dict[str, Any], tenant: str = INSURER) -> Envelope:
    return Envelope(source=INTAKE, type=type_, subject=str(case_id), tenant=tenant, sequence=seq, data=data)


def created(case_id: uuid.UUID, number: str, tenant: str = INSURER) -> Envelope:
    return _env(case_id, 1, "case.created.v1", {
        "case_id": str(case_id), "number": number, "tenant_country": "CL", "tenant_timezone": "America/Santiago",
        "language": "es", "case_type": {"code": "retencion-total", "name": "Retención total",
                                        "deadline": {"unit": "business_days", "amount": 5}},
        "subject": "Solicita rescate de su póliza", "description": "El cliente quiere rescatar su póliza.",
        "contact": {"name": "Marta Fuentes", "email": "marta@example.cl", "phone": None},
        "responsible_email": demo("ejecutiva", tenant), "priority": "normal", "status": "new",
        "created_at": datetime.now(UTC).isoformat()}, tenant)


def offer(case_id: uuid.UUID, seq: int, offer_id: uuid.UUID, kind: str, accepted: bool | None,
          tenant: str = INSURER) -> Envelope:
    now = datetime.now(UTC).isoformat()
    return _env(case_id, seq, "case.retention_offer_recorded.v1", {
        "case_id": str(case_id), "offer_id": str(offer_id), "kind": kind, "description": None,
        "offered_at": "2026-11-05T14:00:00+00:00", "accepted": accepted, "by": None, "by_name": "Ejecutiva Demo",
        "at": now}, tenant)


def desisted(case_id: uuid.UUID, seq: int, number: str, executive: uuid.UUID, executive_name: str,
             policy: str, at: str, offers_accepted: list[str], tenant: str = INSURER) -> Envelope:
    return _env(case_id, seq, "case.desistance_registered.v1", {
        "case_id": str(case_id), "number": number, "party_id": str(uuid.uuid4()), "asset_id": str(uuid.uuid4()),
        "policy_code": policy, "executive_id": str(executive), "executive_name": executive_name,
        "letter_attachment_id": str(uuid.uuid4()), "offers_accepted": offers_accepted, "by": None,
        "by_name": executive_name, "at": at}, tenant)


async def publish(system: System, *envs: Envelope) -> None:
    await system.bus.publish([OutgoingMessage(e.id, e.type, e.to_bytes()) for e in envs])


CASES = {"A": uuid.uuid4(), "B": uuid.uuid4(), "C": uuid.uuid4(), "D": uuid.uuid4()}


async def publish_retentions(system: System) -> None:
    """Ana: A (November, an offer answered later) and C (the night of Nov 30 in Santiago, already
    December in UTC); Bruno: B (November) and D (December)."""
    a, b, c, d = CASES["A"], CASES["B"], CASES["C"], CASES["D"]
    savings, loan, pause = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await publish(system,
                  created(a, "R-0001"), offer(a, 2, savings, "withdraw_savings", None),
                  offer(a, 3, loan, "loan", False), offer(a, 4, savings, "withdraw_savings", True),
                  desisted(a, 5, "R-0001", ANA, ANA_NAME, "POL-1001", "2026-11-10T15:00:00+00:00",
                           ["withdraw_savings"]),
                  created(b, "R-0002"), offer(b, 2, pause, "premium_pause", True),
                  desisted(b, 3, "R-0002", BRUNO, BRUNO_NAME, "POL-2002", "2026-11-20T13:00:00+00:00",
                           ["premium_pause"]),
                  created(c, "R-0003"),
                  desisted(c, 2, "R-0003", ANA, ANA_NAME, "POL-1003", "2026-12-01T02:30:00+00:00", []),
                  created(d, "R-0004"),
                  desisted(d, 2, "R-0004", BRUNO, BRUNO_NAME, "POL-2004", "2026-12-05T15:00:00+00:00",
                           ["loan", "direct_payment"]))


async def commissions(system: System, period: str | None = None, as_user: str = "supervisora",
                      tenant: str = INSURER, suffix: str = "", **headers: str) -> Any:
    params = {} if period is None else {"period": period}
    return await system.reporting.get(f"/reports/retention-commissions{suffix}", params=params,
                                      headers={**await system.auth(as_user, tenant), **headers})


async def wait_for_retentions(system: System) -> None:
    async def all_in() -> bool:
        nov = (await commissions(system, "2026-11")).json()
        dec = (await commissions(system, "2026-12")).json()
        return bool(nov["total"] == 3 and dec["total"] == 1)

    await wait_for(all_in, 30, "the four retentions in the report")


def cases_by_executive(report: dict[str, Any]) -> dict[str, list[str]]:
    return {e["executive_name"]: [c["number"] for c in e["cases"]] for e in report["executives"]}


@pytest.mark.integration
async def test_r1_5_commission_report_lists_each_retention_under_its_executive_and_month(
        rabbit_system: System) -> None:
    await publish_retentions(rabbit_system)
    await wait_for_retentions(rabbit_system)

    nov = (await commissions(rabbit_system, "2026-11")).json()
    assert nov["period"] == "2026-11" and nov["time_zone"] == "America/Santiago"
    assert [e["executive_name"] for e in nov["executives"]] == [ANA_NAME, BRUNO_NAME]  # by name
    assert cases_by_executive(nov) == {ANA_NAME: ["R-0001", "R-0003"], BRUNO_NAME: ["R-0002"]}
    ana, bruno = nov["executives"]
    assert (ana["executive_id"], ana["retentions"], bruno["executive_id"], bruno["retentions"]) == (
        str(ANA), 2, str(BRUNO), 1)
    a = ana["cases"][0]
    assert (a["policy_code"], a["offers_accepted"]) == ("POL-1001", ["withdraw_savings"])
    # every offer made, the savings withdrawal with the customer's later answer
    assert sorted((o["kind"], o["accepted"]) for o in a["offers"]) == [("loan", False), ("withdraw_savings", True)]
    assert datetime.fromisoformat(a["retained_at"]) == datetime(2026, 11, 10, 15, tzinfo=UTC)

    dec = (await commissions(rabbit_system, "2026-12")).json()
    assert cases_by_executive(dec) == {BRUNO_NAME: ["R-0004"]}  # C is November's in Santiago
    assert dec["executives"][0]["cases"][0]["offers_accepted"] == ["loan", "direct_payment"]
    assert (await commissions(rabbit_system, "2026-10")).json()["executives"] == []

    # the default period is the current month (the report's time zone)
    rabbit_system.travel_to(datetime(2026, 12, 15, 15, tzinfo=UTC))
    assert cases_by_executive((await commissions(rabbit_system)).json()) == {BRUNO_NAME: ["R-0004"]}


@pytest.mark.integration
async def test_r1_5_commission_report_downloads_as_csv_and_xlsx(rabbit_system: System) -> None:
    await publish_retentions(rabbit_system)
    await wait_for_retentions(rabbit_system)

    r = await commissions(rabbit_system, "2026-11", suffix=".csv")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == 'attachment; filename="comisiones-retencion-2026-11.csv"'
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["Ejecutivo", "ID ejecutivo", "Período", "N° solicitud", "Póliza", "Fecha de retención",
                       "Ofertas aceptadas"]
    assert [(x[0], x[1], x[2], x[3], x[4]) for x in rows[1:]] == [
        (ANA_NAME, str(ANA), "2026-11", "R-0001", "POL-1001"), (ANA_NAME, str(ANA), "2026-11", "R-0003", "POL-1003"),
        (BRUNO_NAME, str(BRUNO), "2026-11", "R-0002", "POL-2002")]
    assert rows[1][5] == "2026-11-10 12:00:00" and rows[1][6] == "Retiro de ahorros"  # Santiago's wall clock
    assert rows[2][5] == "2026-11-30 23:30:00" and rows[2][6] == ""

    r = await commissions(rabbit_system, "2026-12", suffix=".csv", **{"Accept-Language": "en"})
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Executive", "Executive ID", "Period", "Case number"]
    assert rows[1:] == [[BRUNO_NAME, str(BRUNO), "2026-12", "R-0004", "POL-2004", "2026-12-05 12:00:00",
                         "Loan; Switch to direct payment"]]
    assert r.headers["content-disposition"] == 'attachment; filename="retention-commissions-2026-12.csv"'

    r = await commissions(rabbit_system, "2026-11", suffix=".xlsx")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert r.headers["content-disposition"] == 'attachment; filename="comisiones-retencion-2026-11.xlsx"'
    ws = load_workbook(io.BytesIO(r.content), read_only=True).active
    sheet = [list(row) for row in ws.iter_rows(values_only=True)]
    assert sheet[0][0] == "Ejecutivo" and len(sheet) == 4
    assert [(x[0], x[3], x[4]) for x in sheet[1:]] == [(ANA_NAME, "R-0001", "POL-1001"),
                                                      (ANA_NAME, "R-0003", "POL-1003"),
                                                      (BRUNO_NAME, "R-0002", "POL-2002")]
    assert sheet[1][5] == datetime(2026, 11, 10, 12, 0) and sheet[1][6] == "Retiro de ahorros"


@pytest.mark.integration
async def test_r1_5_commission_report_is_the_own_tenants_for_admins_and_supervisors_only(
        rabbit_system: System) -> None:
    await publish_retentions(rabbit_system)
    await wait_for_retentions(rabbit_system)

    assert (await commissions(rabbit_system, "2026-11", as_user="admin")).json()["total"] == 3
    other = await commissions(rabbit_system, "2026-11", as_user="admin", tenant=OTHER)
    assert other.status_code == 200 and other.json()["executives"] == [] and other.json()["tenant"] == OTHER
    rows = list(csv.reader(io.StringIO((await commissions(rabbit_system, "2026-11", as_user="admin", tenant=OTHER,
                                                          suffix=".csv")).content.decode("utf-8-sig"))))
    assert len(rows) == 1  # the headers only
    r = await rabbit_system.reporting.get("/reports/retention-commissions",
                                          params={"period": "2026-11", "tenant": INSURER},
                                          headers=await rabbit_system.auth("admin", OTHER))
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "#/query/tenant"
    for user in ("lectura", "ejecutiva"):  # viewers and executors do not see commissions
        for suffix in ("", ".csv", ".xlsx"):
            r = await commissions(rabbit_system, "2026-11", as_user=user, suffix=suffix)
            assert r.status_code == 403, (user, suffix, r.text)
    r = await rabbit_system.reporting.get("/reports/retention-commissions.csv", params={"period": "2026-11"})
    assert r.status_code == 401


@pytest.mark.integration
async def test_r1_5_a_bad_period_is_a_422_on_the_field(rabbit_system: System) -> None:
    for bad in ("2026-13", "2026-1", "noviembre", "2026-11-01", "26-11"):
        for suffix in ("", ".csv", ".xlsx"):
            r = await commissions(rabbit_system, bad, suffix=suffix)
            assert r.status_code == 422, (bad, suffix, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            [err] = r.json()["errors"]
            assert (err["pointer"], err["code"]) == ("#/query/period", "invalid_period")
    r = await commissions(rabbit_system, "2026-13", **{"Accept-Language": "en"})
    assert r.json()["errors"][0]["message"].startswith("The period must be a month")


@pytest.mark.integration
async def test_r1_5_commission_report_in_embedded_mode(embedded_system: System) -> None:
    case = uuid.uuid4()
    await publish(embedded_system, created(case, "R-0100"),
                  offer(case, 2, uuid.uuid4(), "direct_payment", True),
                  desisted(case, 3, "R-0100", ANA, ANA_NAME, "POL-9", "2026-11-03T15:00:00+00:00",
                           ["direct_payment"]))

    async def listed() -> bool:
        return bool((await commissions(embedded_system, "2026-11")).json()["total"] == 1)

    await wait_for(listed, 20, "the retention in the report")
    # the same fact again (another copy of the event) changes nothing; a later case still comes in
    later = uuid.uuid4()
    await publish(embedded_system, desisted(case, 3, "R-0100", BRUNO, BRUNO_NAME, "POL-9",
                                            "2026-11-04T15:00:00+00:00", []),
                  created(later, "R-0101"),
                  desisted(later, 2, "R-0101", BRUNO, BRUNO_NAME, "POL-10", "2026-11-05T15:00:00+00:00", []))

    async def both() -> bool:
        return bool((await commissions(embedded_system, "2026-11")).json()["total"] == 2)

    await wait_for(both, 20, "the later retention in the report")
    report = (await commissions(embedded_system, "2026-11")).json()
    assert cases_by_executive(report) == {ANA_NAME: ["R-0100"], BRUNO_NAME: ["R-0101"]}
    assert report["executives"][0]["cases"][0]["offers"][0]["kind"] == "direct_payment"

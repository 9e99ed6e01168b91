"""Issue 13: the SLA and workload reports (compliance, backlog aging, response times in business
hours, volumes), R2.9's activity per party and per supply, and their SVG charts.

The facts come from events published on the bus as intake and workflow publish them (a case's
events numbered with its version; workflow's clock events unnumbered), to a reporting service of
its own: the scenario's numbers are then exact. Callers carry real signed tokens with the role
under test (reporting checks them as it checks intake's).

Scenario (tenant ``inmobiliaria-demo``, America/Santiago; UTC-3 in November):

=====  ======  =========  ========  ===========  ===================  ====================  ========
case   type    area       channel   responsible  first response       resolution            entered
=====  ======  =========  ========  ===========  ===================  ====================  ========
C1     A       ventas     telefono  Ana          met (1 h)            met (2 h), finished   Nov 3
C2     A       ventas     email     Ana          met (0.5 h)          breached, met late    Nov 5
                                                                      (10 h), finished
C3     A       postventa  telefono  Bruno        breached             open                  Nov 3
C4     B       postventa  web       Bruno        open                 open                  Nov 20
C5     B       ventas     telefono  Ana          met (1.5 h)          open                  Nov 30 22:30 local
                                                                                            (Dec 1 UTC)
C6     B       ventas     email     Ana          met (0.25 h)         met (3 h), finished   Dec 2
=====  ======  =========  ========  ===========  ===================  ====================  ========

Another tenant (``gas-demo``) has a case AJ-0001 whose every label is foreign."""

from __future__ import annotations

import csv
import io
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]

from services.reporting.domain_reports import age_bucket, median, percentile, time_stats
from shared import clock
from shared.auth import issue_token
from shared.contracts.envelope import Envelope
from shared.messaging.bus import OutgoingMessage
from shared.settings import Settings
from tests.support.system import System, wait_for

INTAKE, WORKFLOW = "atiende/intake", "atiende/workflow"
T, OTHER = "inmobiliaria-demo", "gas-demo"
ANA, BRUNO, FOREIGN = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
NAMES = {ANA: "Ana Rojas", BRUNO: "Bruno Soto", FOREIGN: "Persona Ajena"}
PARTY, SUPPLY, OTHER_PARTY = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
TYPES = {"A": ("reclamo", "Reclamo"), "B": ("consulta", "Consulta"), "X": ("tipo-ajeno", "Tipo Ajeno")}
SANTIAGO_NOV = timedelta(hours=3)  # local = UTC - 3 in November and December (summer time)
NOW = datetime(2026, 12, 3, 15, tzinfo=UTC)  # Dec 3, 12:00 in Santiago: "today" for the backlog


def local(y: int, m: int, d: int, h: int = 10, mi: int = 0) -> datetime:
    """A Santiago wall-clock time in Nov/Dec 2026, as UTC."""
    return datetime(y, m, d, h, mi, tzinfo=UTC) + SANTIAGO_NOV


def iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


# -- events as intake and workflow publish them ------------------------------------------------
class Case:
    """One case's events, numbered like intake numbers them (``sequence`` = its version)."""

    def __init__(self, number: str, type_: str, area: str, channel: str, responsible: uuid.UUID, entered: datetime,
                 *, tenant: str = T, party: uuid.UUID | None = None, asset: uuid.UUID | None = None) -> None:
        self.id, self.number, self.tenant, self.entered = uuid.uuid4(), number, tenant, entered
        self.version, self.revision = 0, 0
        code, name = TYPES[type_]
        self.created = self.intake("case.created.v1", {
            "case_id": str(self.id), "number": number, "tenant_country": "CL", "tenant_timezone": "America/Santiago",
            "language": "es", "case_type": {"code": code, "name": name,
                                            "deadline": {"unit": "business_days", "amount": 5}},
            "subject": f"Solicitud {number}", "description": "Detalle.",
            "contact": {"name": "Marta Fuentes", "email": "marta@example.cl", "phone": None},
            "responsible_email": "ejecutiva@example.cl", "responsible_id": str(responsible),
            "responsible_name": NAMES[responsible], "area": area, "channel": channel, "project": None,
            "party_id": str(party) if party else None, "asset_id": str(asset) if asset else None,
            "priority": "normal", "status": "new", "created_at": entered.isoformat()})

    def intake(self, type_: str, data: dict[str, Any]) -> Envelope:
        self.version += 1
        return Envelope(source=INTAKE, type=type_, subject=str(self.id), tenant=self.tenant, sequence=self.version,
                        data=data)

    def workflow(self, type_: str, data: dict[str, Any]) -> Envelope:
        return Envelope(source=WORKFLOW, type=type_, subject=str(self.id), tenant=self.tenant,
                        data={"case_id": str(self.id), "case_version": self.version, **data})

    def transition(self, type_: str, status_from: str, status_to: str, at: datetime) -> Envelope:
        return self.intake(type_, {"case_id": str(self.id), "status_from": status_from, "status_to": status_to,
                                   "by": None, "by_name": "Admin Demo", "at": at.isoformat(), "text": "Hecho."})

    def clocks(self, **views: dict[str, Any]) -> Envelope:
        """workflow's view of every clock (``case.sla_changed.v1``), with its next revision."""
        self.revision += 1
        return self.workflow("case.sla_changed.v1", {"reason": "test", "revision": self.revision, "clocks": [
            {"kind": kind, "target": {"unit": "business_hours", "amount": 8}, "target_seconds": 8 * 3600,
             "started_at": self.entered.isoformat(), "cycle": 1, **v} for kind, v in views.items()]})

    def met(self, kind: str, at: datetime, due: datetime, seconds: int, cycle: int = 1) -> Envelope:
        return self.workflow("case.clock_met.v1", {"clock": kind, "cycle": cycle, "met_at": at.isoformat(),
                                                   "due_at": due.isoformat(), "on_time": at <= due,
                                                   "business_seconds": seconds})

    def breached(self, kind: str, due: datetime, cycle: int = 1) -> Envelope:
        return self.workflow("case.clock_breached.v1", {"clock": kind, "cycle": cycle, "due_at": due.isoformat(),
                                                        "breached_at": due.isoformat()})


def view(state: str, due: datetime, met: datetime | None = None, breached: datetime | None = None) -> dict[str, Any]:
    return {"state": state, "due_at": due.isoformat(), "met_at": iso(met), "breached_at": iso(breached)}


def met_clock(c: Case, kind: str, hours: float, due_hours: float = 8) -> tuple[dict[str, Any], Envelope]:
    """A clock met ``hours`` business hours after entry (wall time = business time here)."""
    at, due = c.entered + timedelta(hours=hours), c.entered + timedelta(hours=due_hours)
    breached = due if at > due else None
    return view("met", due, at, breached), c.met(kind, at, due, int(hours * 3600))


def scenario() -> tuple[dict[str, Case], list[Envelope], list[Envelope]]:
    """The cases above: their case.created events, then everything else."""
    c = {"C1": Case("IN-0001", "A", "ventas", "telefono", ANA, local(2026, 11, 3), party=PARTY),
         "C2": Case("IN-0002", "A", "ventas", "email", ANA, local(2026, 11, 5)),
         "C3": Case("IN-0003", "A", "postventa", "telefono", BRUNO, local(2026, 11, 3)),
         "C4": Case("IN-0004", "B", "postventa", "web", BRUNO, local(2026, 11, 20)),
         "C5": Case("IN-0005", "B", "ventas", "telefono", ANA, local(2026, 11, 30, 22, 30), party=PARTY,
                    asset=SUPPLY),
         "C6": Case("IN-0006", "B", "ventas", "email", ANA, local(2026, 12, 2)),
         "X": Case("AJ-0001", "X", "area-ajena", "canal-ajeno", FOREIGN, local(2026, 11, 10), tenant=OTHER,
                   party=PARTY)}
    created = [x.created for x in c.values()]
    rest: list[Envelope] = []
    c1, c2, c3, c4, c5, c6, x = c.values()

    def due(case: Case, hours: float = 8) -> datetime:
        return case.entered + timedelta(hours=hours)

    for case, fr_hours, res_hours, res_due in ((c1, 1, 2, 8), (c2, 0.5, 10, 8), (c6, 0.25, 3, 8),
                                               (x, 1, 20, 8)):
        fr_view, fr_met = met_clock(case, "first_response", fr_hours)
        res_view, res_met = met_clock(case, "resolution", res_hours, res_due)
        breach = [case.breached("resolution", due(case))] if res_hours > res_due else []
        executed = case.transition("case.executed.v1", "new", "in_execution",
                                   case.entered + timedelta(hours=fr_hours))
        finished = case.transition("case.finished.v1", "in_execution", "finished_success",
                                   case.entered + timedelta(hours=res_hours))
        rest += [executed, fr_met, *breach, finished, res_met, case.clocks(first_response=fr_view, resolution=res_view)]
    rest += [c3.breached("first_response", due(c3)),
             c3.clocks(first_response=view("breached", due(c3), breached=due(c3)),
                       resolution=view("running", due(c3, 40))),
             c4.clocks(first_response=view("running", due(c4)), resolution=view("running", due(c4, 40)))]
    fr_view, fr_met = met_clock(c5, "first_response", 1.5)
    rest += [c5.transition("case.executed.v1", "new", "in_execution", c5.entered + timedelta(hours=1.5)), fr_met,
             c5.clocks(first_response=fr_view, resolution=view("running", due(c5, 40)))]
    return c, created, rest


def party_events(cases: dict[str, Case]) -> list[Envelope]:
    """The party and its supply, two interactions (one before November), a task on C1 in November
    and one on C5 in December; the other tenant's party."""
    def upsert(type_: str, tenant: str, data: dict[str, Any]) -> Envelope:
        at = "2026-10-01T12:00:00+00:00"
        return Envelope(source=INTAKE, type=type_, tenant=tenant, data={
            **data, "active": True, "source": "manual", "created_at": at, "updated_at": at})

    def interaction(code: str, at: datetime, asset: uuid.UUID | None) -> Envelope:
        return Envelope(source=INTAKE, type="interaction.created.v1", tenant=T, data={
            "interaction_id": str(uuid.uuid4()), "code": code, "party_id": str(PARTY),
            "asset_id": str(asset) if asset else None, "channel": "telefono", "summary": f"Llamada {code}",
            "occurred_at": at.isoformat(), "created_by": None, "created_at": at.isoformat()})

    def task(case: Case, title: str, at: datetime) -> Envelope:
        return Envelope(source=INTAKE, type="task.created.v1", tenant=T, data={
            "task_id": str(uuid.uuid4()), "case_id": str(case.id), "case_number": case.number,
            "case_subject": "x", "title": title, "description": "x", "area": "ventas",
            "due_date": (at + timedelta(days=5)).date().isoformat(),
            "responsible": {"user_id": str(BRUNO), "email": "bruno@example.cl", "name": NAMES[BRUNO],
                            "language": "es"}, "cc": [], "by": None, "by_name": None, "created_at": at.isoformat()})

    party = {"kind": "prospect", "internal": False, "national_id": None, "restricted": False, "shared_with": []}
    return [upsert("party.upserted.v1", T, {"party_id": str(PARTY), "name": "Constructora Andes", **party}),
            upsert("party.upserted.v1", OTHER, {"party_id": str(OTHER_PARTY), "name": "Gas Ajeno", **party}),
            upsert("asset.upserted.v1", T, {"asset_id": str(SUPPLY), "kind": "supply", "code": "SUM-77",
                                            "name": "Suministro 77", "party_id": str(PARTY)}),
            interaction("INT-1", local(2026, 11, 10), SUPPLY), interaction("INT-0", local(2026, 10, 15), None),
            task(cases["C1"], "Visita técnica", local(2026, 11, 12)),
            task(cases["C5"], "Revisar medidor", local(2026, 12, 2))]


def area_label(code: str, es: str, en: str) -> Envelope:
    return Envelope(source=INTAKE, type="catalog.area_changed.v1", tenant=T, data={
        "code": code, "name_es": es, "name_en": en, "active": True, "version": 1, "head_user_id": None})


async def publish(system: System, envs: list[Envelope]) -> None:
    await system.bus.publish([OutgoingMessage(e.id, e.type, e.to_bytes()) for e in envs])


# -- the system and its callers ----------------------------------------------------------------
def token(settings: Settings, roles: list[str], tenant: str = T) -> dict[str, str]:
    t = issue_token(settings.signing_secret(), user_id=uuid.uuid4(), tenant=tenant, roles=roles,
                    jti=uuid.uuid4().hex, now=clock.now(), ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {t}"}


class Reports:
    """A reporting service fed with the scenario, and GETs as a role."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.cases: dict[str, Case] = {}

    async def get(self, path: str, *, roles: tuple[str, ...] = ("supervisor",), tenant: str = T,
                  lang: str = "es", **params: Any) -> Any:
        return await self.system.reporting.get(path, params=params, headers={
            **token(self.system.settings, list(roles), tenant), "Accept-Language": lang})

    async def json(self, path: str, *, roles: tuple[str, ...] = ("supervisor",), tenant: str = T,
                   **params: Any) -> Any:
        r = await self.get(path, roles=roles, tenant=tenant, **params)
        assert r.status_code == 200, r.text
        return r.json()


async def feed(system: System) -> Reports:
    clock.travel_to(NOW)
    reports = Reports(system)
    cases, created, rest = scenario()
    reports.cases = cases
    await publish(system, created)

    async def counted() -> bool:
        return bool((await reports.json("/reports/case-counts"))["total"] == 6)

    await wait_for(counted, 30, "the six cases in the read model")
    await publish(system, [*rest, *party_events(cases), area_label("ventas", "Ventas", "Sales")])

    async def settled() -> bool:
        sla = await reports.json("/reports/sla-compliance", **BOTH)
        act = await reports.get(f"/reports/party-activity/{PARTY}")
        status = {r["key"]: r["count"] for r in (await reports.json("/reports/case-counts"))["by_status"]}
        return bool(status == {"finished_success": 3, "in_execution": 1, "new": 2} and sla["total"]["resolution"]["met"] == 2 and sla["total"]["first_response"]["met"] == 4
                    and sla["total"]["resolution"]["breached"] == 1 and act.status_code == 200
                    and len(act.json()["items"]) == 6)

    await wait_for(settled, 30, "every fact in the read model")
    return reports


@pytest.fixture(params=["rabbit", "embedded"])
def report_settings(request: pytest.FixtureRequest) -> Settings:
    """RabbitMQ and PostgreSQL, and embedded (SQLite, in-process bus)."""
    return request.getfixturevalue(f"{request.param}_settings")  # type: ignore[no-any-return]


@pytest.fixture
async def reports(report_settings: Settings) -> AsyncIterator[Reports]:
    """reporting alone (intake and workflow would act on the scenario's events), fed."""
    system = await System(report_settings, services=("reporting",)).start()
    try:
        yield await feed(system)
    finally:
        await system.stop()


def span(since: str, until: str | None = None) -> dict[str, Any]:
    """``from``/``to`` query parameters (dates on the tenant's wall clock)."""
    return {"from": since} if until is None else {"from": since, "to": until}


NOVEMBER, DECEMBER, BOTH = span("2026-11-01", "2026-12-01"), span("2026-12-01", "2027-01-01"), span(
    "2026-11-01", "2027-01-01")


def rows(report: dict[str, Any]) -> dict[str, Any]:
    return {r["key"]: r for r in report["rows"]}


def counts(c: dict[str, Any]) -> tuple[int, int, int, float | None]:
    return c["met"], c["breached"], c["open"], c["met_pct"]


# -- pure rules --------------------------------------------------------------------------------
def test_median_and_p90_on_a_known_set() -> None:
    """Median: the middle value (mean of the two middle ones); p90: nearest rank."""
    assert median([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) == 5.5 and percentile(list(range(1, 11)), 90) == 9
    assert median([50, 15, 40, 20, 35]) == 35 and percentile([50, 15, 40, 20, 35], 90) == 50
    assert percentile([7], 90) == 7 and median([]) is None and percentile([], 90) is None
    assert time_stats([1800, 3600, 5400, 7200]).model_dump() == {"count": 4, "median_hours": 1.25, "p90_hours": 2.0}


def test_backlog_buckets_are_calendar_days() -> None:
    assert [age_bucket(d) for d in (0, 2, 3, 5, 6, 10, 11, 20, 21, 400)] == [
        "0-2", "0-2", "3-5", "3-5", "6-10", "6-10", "11-20", "11-20", ">20", ">20"]


# -- the reports -------------------------------------------------------------------------------
@pytest.mark.integration
async def test_sla_compliance_counts_met_breached_and_open_by_type_area_responsible_and_period(
        reports: Reports) -> None:
    nov = await reports.json("/reports/sla-compliance", by="type", **NOVEMBER)
    assert nov["time_zone"] == "America/Santiago" and nov["by"] == "type"
    by_type = rows(nov)
    assert set(by_type) == {"reclamo", "consulta"} and by_type["reclamo"]["label"] == "Reclamo"
    assert counts(by_type["reclamo"]["first_response"]) == (2, 1, 0, 66.7)
    assert counts(by_type["reclamo"]["resolution"]) == (1, 1, 1, 50.0)
    assert counts(by_type["consulta"]["first_response"]) == (1, 0, 1, 100.0)  # C5 is November's (Santiago)
    assert counts(by_type["consulta"]["resolution"]) == (0, 0, 2, None)
    assert counts(nov["total"]["first_response"]) == (3, 1, 1, 75.0)
    assert counts(nov["total"]["resolution"]) == (1, 1, 3, 50.0)

    by_area = rows(await reports.json("/reports/sla-compliance", by="area", **NOVEMBER))
    assert by_area["ventas"]["label"] == "Ventas" and by_area["postventa"]["label"] == "postventa"
    assert counts(by_area["ventas"]["resolution"]) == (1, 1, 1, 50.0)
    assert counts(by_area["postventa"]["first_response"]) == (0, 1, 1, 0.0)
    en = await reports.get("/reports/sla-compliance", by="area", lang="en", **NOVEMBER)
    assert rows(en.json())["ventas"]["label"] == "Sales"

    by_person = rows(await reports.json("/reports/sla-compliance", by="responsible", **NOVEMBER))
    assert by_person[str(ANA)]["label"] == "Ana Rojas" and by_person[str(BRUNO)]["label"] == "Bruno Soto"
    assert counts(by_person[str(ANA)]["first_response"]) == (3, 0, 0, 100.0)
    assert counts(by_person[str(BRUNO)]["first_response"]) == (0, 1, 1, 0.0)


@pytest.mark.integration
async def test_periods_are_the_tenants_months_across_the_boundary_in_santiago(reports: Reports) -> None:
    """C5 entered on Nov 30 at 22:30 in Santiago (Dec 1, 01:30 UTC): November's, in every report."""
    by_period = rows(await reports.json("/reports/sla-compliance", by="period", period="month", **BOTH))
    assert set(by_period) == {"2026-11", "2026-12"}
    assert counts(by_period["2026-11"]["first_response"]) == (3, 1, 1, 75.0)
    assert counts(by_period["2026-12"]["first_response"]) == (1, 0, 0, 100.0)
    dec = await reports.json("/reports/case-counts", **DECEMBER)
    assert dec["total"] == 1 and [r["key"] for r in dec["by_type"]] == ["consulta"]
    assert (await reports.json("/reports/case-counts", **NOVEMBER))["total"] == 5
    assert (await reports.json("/reports/case-counts"))["total"] == 6  # no bounds: every case
    days = await reports.json("/reports/volumes", by="type", period="day", **span("2026-11-30", "2026-12-01"))
    assert days["periods"] == ["2026-11-30"] and days["total"] == 1
    r = await reports.get("/reports/volumes", **span("2026-12-01", "2026-12-01"))
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "#/query/to"


@pytest.mark.integration
async def test_response_times_are_median_and_p90_in_business_hours(reports: Reports) -> None:
    nov = await reports.json("/reports/response-times", by="type", **NOVEMBER)
    assert nov["total"]["first_response"] == {"count": 3, "median_hours": 1.0, "p90_hours": 1.5}
    assert nov["total"]["resolution"] == {"count": 2, "median_hours": 6.0, "p90_hours": 10.0}
    assert rows(nov)["consulta"]["resolution"] == {"count": 0, "median_hours": None, "p90_hours": None}
    by_month = rows(await reports.json("/reports/response-times", by="period", **BOTH))
    assert by_month["2026-12"]["first_response"] == {"count": 1, "median_hours": 0.25, "p90_hours": 0.25}


@pytest.mark.integration
async def test_backlog_aging_buckets_open_cases_by_calendar_days(reports: Reports) -> None:
    aging = await reports.json("/reports/backlog-aging", by="type")
    assert aging["as_of"] == "2026-12-03" and aging["buckets"] == ["0-2", "3-5", "6-10", "11-20", ">20"]
    by_type = rows(aging)
    assert by_type["reclamo"]["buckets"] == {"0-2": 0, "3-5": 0, "6-10": 0, "11-20": 0, ">20": 1}  # C3, 30 days
    assert by_type["consulta"]["buckets"] == {"0-2": 0, "3-5": 1, "6-10": 0, "11-20": 1, ">20": 0}  # C5 3, C4 13
    assert aging["total"]["total"] == 3
    by_area = rows(await reports.json("/reports/backlog-aging", by="area", **span("2026-11-15")))
    assert {k: r["total"] for k, r in by_area.items()} == {"postventa": 1, "ventas": 1}


@pytest.mark.integration
async def test_volumes_by_channel_per_month(reports: Reports) -> None:
    vol = await reports.json("/reports/volumes", by="channel", period="month", **BOTH)
    assert vol["periods"] == ["2026-11", "2026-12"] and vol["total"] == 6
    assert {s["key"]: s["counts"] for s in vol["series"]} == {"email": [1, 1], "telefono": [3, 0], "web": [1, 0]}
    weeks = await reports.json("/reports/volumes", by="area", period="week", **NOVEMBER)
    assert weeks["periods"] == ["2026-W45", "2026-W47", "2026-W49"]  # Nov 30 is a Monday


@pytest.mark.integration
async def test_r2_9_party_and_supply_activity_in_a_period_as_json_csv_and_xlsx(reports: Reports) -> None:
    party = await reports.json(f"/reports/party-activity/{PARTY}", **NOVEMBER)
    assert party["subject_name"] == "Constructora Andes"
    assert (party["interactions"], party["cases"], party["tasks"]) == (1, 2, 1)
    assert [(i["kind"], i["code"]) for i in party["items"]] == [
        ("case", "IN-0001"), ("interaction", "INT-1"), ("task", "IN-0001"), ("case", "IN-0005")]
    supply = await reports.json(f"/reports/asset-activity/{SUPPLY}", **NOVEMBER)
    assert [(i["kind"], i["code"]) for i in supply["items"]] == [("interaction", "INT-1"), ("case", "IN-0005")]
    assert len((await reports.json(f"/reports/party-activity/{PARTY}"))["items"]) == 6  # no bounds

    r = await reports.get(f"/reports/party-activity/{PARTY}.csv", **NOVEMBER)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert lines[0] == ["Tipo", "Fecha", "Código", "Detalle", "Estado", "Canal", "Cierre"]
    assert lines[1] == ["Solicitud", "2026-11-03 10:00:00", "IN-0001", "Reclamo", "Finalizada con éxito", "telefono",
                        "2026-11-03 12:00:00"]
    assert lines[2][:5] == ["Interacción", "2026-11-10 10:00:00", "INT-1", "Llamada INT-1", "Abierta"]
    assert lines[4][:3] == ["Solicitud", "2026-11-30 22:30:00", "IN-0005"]  # Santiago's wall clock
    r = await reports.get(f"/reports/party-activity/{PARTY}.xlsx", lang="en", **NOVEMBER)
    assert r.status_code == 200, r.text
    sheet = [list(x) for x in load_workbook(io.BytesIO(r.content), read_only=True).active.iter_rows(values_only=True)]
    assert sheet[0] == ["Kind", "Date", "Code", "Detail", "Status", "Channel", "Closed at"] and len(sheet) == 5
    assert sheet[3][:4] == ["Task", datetime(2026, 11, 12, 10), "IN-0001", "Visita técnica"]

    for path in (f"/reports/party-activity/{uuid.uuid4()}", f"/reports/party-activity/{OTHER_PARTY}",
                 f"/reports/party-activity/{OTHER_PARTY}.csv", f"/reports/asset-activity/{PARTY}"):
        assert (await reports.get(path)).status_code == 404, path


def svg_texts(body: bytes) -> list[str]:
    root = ET.fromstring(body)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert not [e for e in root.iter() if e.tag.endswith("script")]  # static: nothing to run, no CDN
    return [t.text or "" for t in root.iter() if t.tag.endswith("text") or t.tag.endswith("title")]


@pytest.mark.integration
async def test_every_report_has_an_svg_chart_with_its_labels(reports: Reports) -> None:
    expected = {"/reports/sla-compliance.svg": ["Cumplimiento de SLA (% cumplido)", "Reclamo", "Primera respuesta",
                                                "Resolución"],
                "/reports/backlog-aging.svg": ["Solicitudes abiertas por antigüedad (días corridos)", ">20", "Consulta"],
                "/reports/response-times.svg": ["Tiempos en horas hábiles", "Primera respuesta (mediana)"],
                "/reports/volumes.svg": ["Solicitudes ingresadas por período", "2026-11", "telefono"],
                f"/reports/party-activity/{PARTY}.svg": ["Actividad por mes — Constructora Andes", "Interacción"],
                f"/reports/asset-activity/{SUPPLY}.svg": ["Actividad por mes — Suministro 77", "Solicitud"]}
    for path, labels in expected.items():
        r = await reports.get(path, **NOVEMBER)
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml"), (path, r.text)
        texts = svg_texts(r.content)
        assert all(label in texts for label in labels), (path, labels, texts)
    r = await reports.get("/reports/sla-compliance.svg", lang="en", **NOVEMBER)
    assert {"SLA compliance (% met)", "First response", "Resolution"} <= set(svg_texts(r.content))


ENDPOINTS = ["/reports/case-counts", "/reports/sla-compliance", "/reports/sla-compliance.svg",
             "/reports/backlog-aging", "/reports/backlog-aging.svg", "/reports/response-times",
             "/reports/response-times.svg", "/reports/volumes", "/reports/volumes.svg",
             f"/reports/party-activity/{PARTY}", f"/reports/party-activity/{PARTY}.csv",
             f"/reports/party-activity/{PARTY}.xlsx", f"/reports/party-activity/{PARTY}.svg",
             f"/reports/asset-activity/{SUPPLY}", f"/reports/asset-activity/{SUPPLY}.csv"]
RESTRICTED = ENDPOINTS[1:]


@pytest.mark.integration
async def test_another_tenants_rows_never_appear_in_any_report(reports: Reports) -> None:
    foreign = ("AJ-0001", "tipo-ajeno", "Tipo Ajeno", "area-ajena", "canal-ajeno", "Persona Ajena", str(FOREIGN))
    for path in ENDPOINTS:
        for by in ({}, {"by": "responsible"}, {"by": "area"}):
            r = await reports.get(path, roles=("admin",), **{**by, **BOTH})
            if r.status_code == 422:  # that report has no such grouping
                continue
            assert r.status_code == 200, (path, r.text)
            body = r.content.decode("utf-8", errors="replace") if not path.endswith(".xlsx") else str(
                [list(x) for x in load_workbook(io.BytesIO(r.content), read_only=True).active.iter_rows(values_only=True)])
            assert not [s for s in foreign if s in body], (path, by)
    # the other tenant does see its own case, and never ours
    theirs = await reports.json("/reports/sla-compliance", roles=("admin",), tenant=OTHER, by="type",
                                **BOTH)
    assert [r["key"] for r in theirs["rows"]] == ["tipo-ajeno"]
    assert counts(theirs["total"]["resolution"]) == (0, 1, 0, 0.0)
    assert (await reports.get(f"/reports/party-activity/{PARTY}", roles=("admin",), tenant=OTHER)).status_code == 404
    r = await reports.system.reporting.get("/reports/volumes", params={"tenant": OTHER},
                                           headers=token(reports.system.settings, ["admin"]))
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "#/query/tenant"


@pytest.mark.integration
async def test_sla_and_workload_reports_are_for_admins_and_supervisors(reports: Reports) -> None:
    """R4.4: executors and viewers are refused the SLA, workload and activity reports (403); they
    read the case counts; without a token: 401."""
    for roles in (("executor",), ("viewer",), ("technical_manager",), ("operations",)):
        for path in RESTRICTED:
            r = await reports.get(path, roles=roles)
            assert r.status_code == 403, (roles, path, r.text)
        assert (await reports.get("/reports/case-counts", roles=roles)).status_code == 200
    for roles in (("admin",), ("supervisor",)):
        for path in RESTRICTED:
            assert (await reports.get(path, roles=roles)).status_code == 200, (roles, path)
    for path in ENDPOINTS:
        assert (await reports.system.reporting.get(path)).status_code == 401, path

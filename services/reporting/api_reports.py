"""The SLA and workload reports (issue 13) and R2.9's activity report per party or supply, as
JSON, and each as a chart (same path + ``.svg``); the activity report also as CSV and XLSX.

Every report is the caller's tenant's (the token's; another ``tenant`` is 422) and takes
``from``/``to``: dates on the tenant's wall clock, ``from`` inclusive, ``to`` exclusive (either may
be left out: no bound). Who reads them (R4.4): administrators and supervisors — they oversee the
desk's work and every party; executors and viewers read their own cases in intake and the case
counts here. The conventions of the numbers are in ``domain_reports``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from services.reporting import domain
from services.reporting import domain_reports as dr
from services.reporting.adapters import charts
from services.reporting.adapters import report_queries as rq
from services.reporting.adapters.downloads import XLSX, csv_lines, xlsx_bytes
from services.reporting.api import TenantParam, check_range, own_tenant
from shared import clock
from shared.openapi import problem_responses
from shared.problems import language
from shared.refusals import not_found
from shared.runtime import runtime_of
from shared.sessions import CurrentCaller

router = APIRouter(tags=["reports"])

READERS = {"admin", "supervisor"}
FORBIDDEN = ("Sólo administradores y supervisores ven los reportes de SLA, carga y actividad.",
             "Only administrators and supervisors see the SLA, workload and activity reports.")
NO_PARTY = ("No existe esa parte.", "No such party.")
NO_ASSET = ("No existe ese suministro o activo.", "No such supply or asset.")
SVG = "image/svg+xml"
REFUSALS = problem_responses(401, 403, 422)
SVG_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {SVG: {}}, "description": "The chart"}, **REFUSALS}

Since = Annotated[date | None, Query(alias="from", description="First day (the tenant's), inclusive.",
                                     examples=["2026-11-01"])]
Until = Annotated[date | None, Query(alias="to", description="Day after the last (the tenant's), exclusive.",
                                     examples=["2026-12-01"])]
PeriodQ = Annotated[dr.Period, Query(description="Length of a period: day, ISO week or month (the tenant's).")]
ByCompliance = Literal["type", "area", "responsible", "period"]
ByGroup = Literal["type", "area"]
ByTimes = Literal["type", "area", "period"]
ByVolume = Literal["channel", "type", "area"]


@dataclass(frozen=True)
class Ask:
    """Who asks, for which tenant and period, in which language."""

    request: Request
    tenant: str
    since: date | None
    until: date | None
    lang: str


async def ask(request: Request, claims: CurrentCaller, tenant: TenantParam = None, since: Since = None,
              until: Until = None) -> Ask:
    """The common query of the restricted reports: own tenant, admins and supervisors, a range."""
    own = own_tenant(claims, tenant)
    claims.require_any(READERS, FORBIDDEN)
    check_range(since, until)
    return Ask(request, own, since, until, language(request))


Asked = Annotated[Ask, Depends(ask)]


async def _cases(a: Ask, by: str, period: dr.Period = "month") -> tuple[str, list[Any], dr.Keyer]:
    """The tenant's zone, its cases entered in the period and how to group them by ``by``."""
    async with runtime_of(a.request).db.read() as conn:
        zone = await rq.tenant_zone(conn, a.tenant)
        start, end = dr.bounds(a.since, a.until, zone)
        rows = await rq.case_rows(conn, a.tenant, start, end)
        kind = {"type": "case_type"}.get(by, by)
        names = await rq.labels(conn, a.tenant, kind, a.lang) if kind in ("case_type", "area", "channel") else {}
    return zone, rows, dr.keyer_for(by, names, a.lang, zone, period, rows)


def _svg(text: str) -> Response:
    return Response(content=text, media_type=SVG, headers={"Cache-Control": "private, no-store"})


# -- SLA compliance ----------------------------------------------------------------------------
async def _compliance(a: Ask, by: str, period: dr.Period) -> dr.SlaCompliance:
    zone, rows, keyer = await _cases(a, by, period)
    return dr.sla_compliance(a.tenant, zone, a.since, a.until, by, rows, keyer, a.lang)


@router.get("/reports/sla-compliance", response_model=dr.SlaCompliance, responses=REFUSALS)
async def sla_compliance(a: Asked, by: ByCompliance = "type", period: PeriodQ = "month") -> dr.SlaCompliance:
    """First response and resolution: cases met on time, breached (or met late) and still open,
    with the % met of those decided, by case type, area, responsible or period of entry."""
    return await _compliance(a, by, period)


@router.get("/reports/sla-compliance.svg", response_class=Response, responses=SVG_RESPONSE)
async def sla_compliance_svg(a: Asked, by: ByCompliance = "type", period: PeriodQ = "month") -> Response:
    """The SLA compliance report as a bar chart (% met per group and clock)."""
    return _svg(charts.sla_compliance(await _compliance(a, by, period), a.lang))


# -- backlog aging -----------------------------------------------------------------------------
async def _aging(a: Ask, by: str) -> dr.BacklogAging:
    zone, rows, keyer = await _cases(a, by)
    return dr.backlog_aging(a.tenant, zone, a.since, a.until, by, rows, keyer, clock.now())


@router.get("/reports/backlog-aging", response_model=dr.BacklogAging, responses=REFUSALS)
async def backlog_aging(a: Asked, by: ByGroup = "type") -> dr.BacklogAging:
    """Cases not finished (entered in the period) by age today in calendar days, on the tenant's
    wall clock: 0–2, 3–5, 6–10, 11–20, more than 20; by case type or area."""
    return await _aging(a, by)


@router.get("/reports/backlog-aging.svg", response_class=Response, responses=SVG_RESPONSE)
async def backlog_aging_svg(a: Asked, by: ByGroup = "type") -> Response:
    """The backlog by age as a stacked bar chart."""
    return _svg(charts.backlog_aging(await _aging(a, by), a.lang))


# -- response times ----------------------------------------------------------------------------
async def _times(a: Ask, by: str, period: dr.Period) -> dr.ResponseTimes:
    zone, rows, keyer = await _cases(a, by, period)
    return dr.response_times(a.tenant, zone, a.since, a.until, by, rows, keyer)


@router.get("/reports/response-times", response_model=dr.ResponseTimes, responses=REFUSALS)
async def response_times(a: Asked, by: ByTimes = "type", period: PeriodQ = "month") -> dr.ResponseTimes:
    """First response and resolution times of the clocks met: count, median and p90, in business
    hours (the case's calendar, pauses excluded)."""
    return await _times(a, by, period)


@router.get("/reports/response-times.svg", response_class=Response, responses=SVG_RESPONSE)
async def response_times_svg(a: Asked, by: ByTimes = "type", period: PeriodQ = "month") -> Response:
    """Response times as a bar chart (median and p90 per group)."""
    return _svg(charts.response_times(await _times(a, by, period), a.lang))


# -- volumes -----------------------------------------------------------------------------------
async def _volumes(a: Ask, by: str, period: dr.Period) -> dr.Volumes:
    zone, rows, keyer = await _cases(a, by, period)
    return dr.volumes(a.tenant, zone, a.since, a.until, by, period, rows, keyer)


@router.get("/reports/volumes", response_model=dr.Volumes, responses=REFUSALS)
async def volumes(a: Asked, by: ByVolume = "channel", period: PeriodQ = "month") -> dr.Volumes:
    """Cases entered per period (the tenant's days, ISO weeks or months), by channel, type or area."""
    return await _volumes(a, by, period)


@router.get("/reports/volumes.svg", response_class=Response, responses=SVG_RESPONSE)
async def volumes_svg(a: Asked, by: ByVolume = "channel", period: PeriodQ = "month") -> Response:
    """Volumes as a stacked bar chart per period."""
    return _svg(charts.volumes(await _volumes(a, by, period), a.lang))


# -- R2.9 activity of a party or a supply ------------------------------------------------------
async def _activity(a: Ask, kind: Literal["party", "asset"], id_: uuid.UUID) -> dr.Activity:
    async with runtime_of(a.request).db.read() as conn:
        name = await rq.subject_name(conn, a.tenant, kind, id_)
        if name is None:  # unknown, or another tenant's: not revealed
            raise not_found(NO_PARTY if kind == "party" else NO_ASSET)
        zone = await rq.tenant_zone(conn, a.tenant)
        start, end = dr.bounds(a.since, a.until, zone)
        items = await rq.activity_items(conn, a.tenant, kind, id_, start, end)
    return dr.activity(a.tenant, zone, a.since, a.until, kind, id_, name, items)


def _download(report: dr.Activity, lang: str, ext: str) -> dict[str, str]:
    stem = {"es": "actividad", "en": "activity"}.get(lang, "actividad")
    span = f"{report.since or ''}_{report.until or ''}".strip("_")
    name = f"{stem}-{report.subject_id}{'-' + span if span else ''}.{ext}"
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"}


def _csv(report: dr.Activity, lang: str) -> StreamingResponse:
    rows = dr.activity_rows(report, lang, domain.status_label)
    return StreamingResponse(csv_lines(dr.ACTIVITY_COLUMNS[lang], rows), media_type="text/csv; charset=utf-8",
                             headers=_download(report, lang, "csv"))


def _xlsx(report: dr.Activity, lang: str) -> Response:
    content = xlsx_bytes(dr.say(dr.ACTIVITY_SHEET, lang), dr.ACTIVITY_COLUMNS[lang],
                         dr.activity_rows(report, lang, domain.status_label))
    return Response(content=content, media_type=XLSX, headers=_download(report, lang, "xlsx"))


FORMATS: dict[str, dict[int | str, dict[str, Any]]] = {
    "csv": {200: {"content": {"text/csv": {}}, "description": "One row per interaction, case or task"}, **REFUSALS},
    "xlsx": {200: {"content": {XLSX: {}}, "description": "One row per interaction, case or task"}, **REFUSALS},
    "svg": SVG_RESPONSE}
NOT_FOUND = problem_responses(404)


def _as(fmt: str, report: dr.Activity, lang: str) -> Response:
    if fmt == "csv":
        return _csv(report, lang)
    if fmt == "xlsx":
        return _xlsx(report, lang)
    return _svg(charts.activity(report, lang))


def _download_route(kind: Literal["party", "asset"], fmt: str, what: str) -> Any:
    async def download(a: Asked, subject_id: uuid.UUID) -> Response:
        return _as(fmt, await _activity(a, kind, subject_id), a.lang)

    download.__doc__ = f"R2.9: the {what}'s activity as {fmt.upper()} (the rows of the JSON's items)."
    return download


def _activity_routes(kind: Literal["party", "asset"], segment: str, what: str) -> None:
    """The four routes of one activity report (the downloads first: ``{id}`` would take the
    suffix)."""
    for fmt in FORMATS:
        router.add_api_route(f"/reports/{segment}/{{subject_id}}.{fmt}", _download_route(kind, fmt, what),
                             methods=["GET"], response_class=Response, responses={**FORMATS[fmt], **NOT_FOUND},
                             name=f"{segment}_{fmt}")

    async def report(a: Asked, subject_id: uuid.UUID) -> dr.Activity:
        return await _activity(a, kind, subject_id)

    report.__doc__ = (f"R2.9: the {what}'s interactions, cases and the cases' tasks in the period "
                      "(interactions by when they occurred, cases by entry, tasks by creation), oldest first.")
    router.add_api_route(f"/reports/{segment}/{{subject_id}}", report, methods=["GET"], response_model=dr.Activity,
                         responses={**REFUSALS, **NOT_FOUND}, name=segment)


_activity_routes("party", "party-activity", "party (prospect, stakeholder, customer)")
_activity_routes("asset", "asset-activity", "supply (or other asset)")

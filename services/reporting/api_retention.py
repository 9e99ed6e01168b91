"""R1.5: the commission report — successful retentions per executive per month, with the policies
and offers — as JSON and as CSV and XLSX downloads for HR. Built from intake's events
(case.desistance_registered.v1, case.retention_offer_recorded.v1); admins and supervisors, like
the other restricted report (priority changes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select

from services.reporting import domain
from services.reporting.adapters.db import retention_offers, retentions
from services.reporting.adapters.downloads import XLSX, csv_lines, xlsx_bytes
from services.reporting.adapters.report_queries import tenant_zone
from services.reporting.api import TenantParam, own_tenant
from shared import clock
from shared.fields import SafeText
from shared.openapi import problem_responses
from shared.problems import language
from shared.refusals import field_error, invalid
from shared.runtime import runtime_of
from shared.sessions import Caller, CurrentCaller

router = APIRouter(tags=["reports"])

PeriodParam = Annotated[SafeText | None, Query(description="Month as YYYY-MM (default: the current month, "
                                                           "in the tenant's time zone).", examples=["2026-12"])]
READERS = {"admin", "supervisor"}
FORBIDDEN = ("Sólo administradores y supervisores ven el reporte de comisiones.",
             "Only administrators and supervisors see the commission report.")
BAD_PERIOD = ("El período debe ser un mes con la forma AAAA-MM, por ejemplo 2026-12.",
              "The period must be a month written YYYY-MM, for example 2026-12.")


async def _report(request: Request, who: Caller, tenant: str | None,
                  period: str | None) -> domain.RetentionCommissions:
    own = own_tenant(who, tenant)
    who.require_any(READERS, FORBIDDEN)
    if period is not None and not domain.valid_period(period):
        raise invalid(field_error("period", BAD_PERIOD, "invalid_period", where="query"))
    r, o = retentions.c, retention_offers.c
    async with runtime_of(request).db.read() as conn:
        zone = await tenant_zone(conn, own)
        if period is None:
            period = domain.period_of(clock.now(), zone)
        rows = (await conn.execute(select(retentions).where(r.tenant == own, r.period == period))).all()
        offers: dict[Any, list[domain.OfferOut]] = {}
        if rows:
            made = (await conn.execute(select(retention_offers).where(
                o.tenant == own, o.case_id.in_([x.case_id for x in rows])).order_by(o.offered_at))).all()
            for m in made:
                offers.setdefault(m.case_id, []).append(
                    domain.OfferOut(kind=m.kind, accepted=m.accepted, offered_at=m.offered_at))
    return domain.commission_report(own, period, list(rows), offers, zone)


def _disposition(report: domain.RetentionCommissions, lang: str, ext: str) -> dict[str, str]:
    name = f"{domain.COMMISSION_FILE.get(lang, domain.COMMISSION_FILE['es'])}-{report.period}.{ext}"
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"}


@router.get("/reports/retention-commissions", response_model=domain.RetentionCommissions,
            responses=problem_responses(401, 403, 422))
async def retention_commissions(request: Request, claims: CurrentCaller, tenant: TenantParam = None,
                                period: PeriodParam = None) -> domain.RetentionCommissions:
    """R1.5: the month's successful retentions (registered desistances) per executive, sorted by the
    executive's name, each with its cases: number, policy, when, the offers accepted and every
    offer made. A retention counts in the month it was registered (the tenant's time zone)."""
    return await _report(request, claims, tenant, period)


@router.get("/reports/retention-commissions.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "One row per retained case"},
                       **problem_responses(401, 403, 422)})
async def retention_commissions_csv(request: Request, claims: CurrentCaller, tenant: TenantParam = None,
                                    period: PeriodParam = None) -> StreamingResponse:
    """The commission report for HR as CSV (UTF-8 with BOM, so that spreadsheets read the accents):
    one row per retained case; headers in Spanish, English with ``Accept-Language: en``."""
    report = await _report(request, claims, tenant, period)
    lang = language(request)
    return StreamingResponse(csv_lines(domain.COMMISSION_COLUMNS[lang], domain.commission_rows(report, lang)),
                             media_type="text/csv; charset=utf-8",
                             headers=_disposition(report, lang, "csv"))


@router.get("/reports/retention-commissions.xlsx", response_class=Response,
            responses={200: {"content": {XLSX: {}}, "description": "One row per retained case"},
                       **problem_responses(401, 403, 422)})
async def retention_commissions_xlsx(request: Request, claims: CurrentCaller, tenant: TenantParam = None,
                                     period: PeriodParam = None) -> Response:
    """The commission report for HR as an Excel workbook (one sheet, one row per retained case)."""
    report = await _report(request, claims, tenant, period)
    lang = language(request)
    content = xlsx_bytes(domain.COMMISSION_SHEET[lang], domain.COMMISSION_COLUMNS[lang],
                         domain.commission_rows(report, lang))
    return Response(content=content, media_type=XLSX, headers=_disposition(report, lang, "xlsx"))

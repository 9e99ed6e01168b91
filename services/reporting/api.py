"""reporting's HTTP API: reports for the caller's tenant (from the token, checked against the
copy of users and revoked tokens: shared/sessions.py), built from events. A ``tenant`` query
parameter naming another tenant is refused (422): a report never answers for another tenant."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import func, select

from services.reporting import domain, domain_reports
from services.reporting.adapters.db import case_facts
from services.reporting.adapters.priority_tables import priority_changes
from services.reporting.adapters.report_queries import in_period, tenant_zone
from shared.fields import SafeText
from shared.openapi import problem_responses
from shared.problems import language
from shared.refusals import field_error, invalid
from shared.runtime import runtime_of
from shared.sessions import Caller, CurrentCaller

router = APIRouter(tags=["reports"])

TenantParam = Annotated[SafeText | None, Query(description="Optional; if given, the token's own tenant.")]


def own_tenant(who: Caller, tenant: str | None) -> str:
    """The tenant a report is about: always the caller's; naming another one is a 422."""
    if tenant is not None and tenant != who.tenant:
        raise invalid(field_error("tenant", ("Sólo puede consultar los reportes de su propia organización.",
                                             "You may only read your own organisation's reports."),
                                  "other_tenant", where="query"))
    return who.tenant


BAD_RANGE = ("«to» debe ser posterior a «from».", "'to' must be after 'from'.")


def check_range(since: date | None, until: date | None) -> None:
    """A period ``[from, to)`` must not be empty (422 on ``to``)."""
    if since is not None and until is not None and until <= since:
        raise invalid(field_error("to", BAD_RANGE, "invalid_range", where="query"))


@router.get("/reports/case-counts", response_model=domain.CaseCounts, responses=problem_responses(401, 422))
async def case_counts(request: Request, claims: CurrentCaller, tenant: TenantParam = None,
                      since: Annotated[date | None, Query(alias="from", description="First day (the tenant's), "
                                                          "inclusive.")] = None,
                      until: Annotated[date | None, Query(alias="to", description="Day after the last (the "
                                                          "tenant's), exclusive.")] = None) -> domain.CaseCounts:
    """How many cases the caller's tenant has, by status and by type (from the read model),
    entered from ``from`` (inclusive) to ``to`` (exclusive), days on the tenant's wall clock. Every
    role reads it (R4.4: viewers read)."""
    tenant = own_tenant(claims, tenant)
    check_range(since, until)
    lang = language(request)
    f = case_facts.c
    async with runtime_of(request).db.read() as conn:
        zone = await tenant_zone(conn, tenant)
        start, end = domain_reports.bounds(since, until, zone)
        own = (f.tenant == tenant, *in_period(f.created_at, start, end))
        by_status = (await conn.execute(select(f.status, func.count()).where(*own)
                                        .group_by(f.status).order_by(f.status))).all()
        by_type = (await conn.execute(select(f.type_code, func.max(f.type_name), func.count())
                                      .where(*own).group_by(f.type_code).order_by(f.type_code))).all()
    return domain.CaseCounts(
        tenant=tenant, total=sum(n for _, n in by_status),
        by_status=[domain.CountRow(key=s, label=domain.status_label(s, lang), count=n) for s, n in by_status],
        by_type=[domain.CountRow(key=c, label=name, count=n) for c, name, n in by_type])


class PriorityChangeOut(BaseModel):
    case_id: uuid.UUID
    at: datetime
    by: uuid.UUID | None
    by_name: str | None
    old: str
    new: str
    raised: bool
    reason: str | None
    reason_text: str | None


@router.get("/reports/priority-changes", response_model=list[PriorityChangeOut],
            responses=problem_responses(401, 403, 422))
async def priority_changes_report(request: Request, claims: CurrentCaller, tenant: TenantParam = None,
                                  since: Annotated[datetime | None, Query(alias="from")] = None,
                                  until: Annotated[datetime | None, Query(alias="to")] = None,
                                  raised_only: bool = False,
                                  limit: Annotated[int, Query(ge=1, le=5000)] = 1000) -> list[PriorityChangeOut]:
    """R0.5: who changed which priorities, when and why — to find misuse. Admins and supervisors
    (their roles as of now, not as of the token: a demoted user is refused)."""
    own = own_tenant(claims, tenant)
    claims.require_any({"admin", "supervisor"}, ("Sólo administradores y supervisores ven este reporte.",
                                                 "Only administrators and supervisors see this report."))
    pc = priority_changes.c
    q = select(priority_changes).where(pc.tenant == own).order_by(pc.at.desc(), pc.id.desc()).limit(limit)
    if since is not None:
        q = q.where(pc.at >= since)
    if until is not None:
        q = q.where(pc.at < until)
    if raised_only:
        q = q.where(pc.raised.is_(True))
    async with runtime_of(request).db.read() as conn:
        rows = (await conn.execute(q)).all()
    return [PriorityChangeOut.model_validate(r, from_attributes=True) for r in rows]

"""reporting's HTTP API: case counts by status and by type for a tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import func, select

from services.reporting import domain
from services.reporting.adapters.db import case_facts
from shared.auth import TokenClaims, token_claims
from shared.problems import language
from shared.runtime import runtime_of

router = APIRouter(tags=["reports"])


Claims = Annotated[TokenClaims, Depends(token_claims)]


@router.get("/reports/case-counts", response_model=domain.CaseCounts)
async def case_counts(request: Request, claims: Claims) -> domain.CaseCounts:
    """How many cases the caller's tenant has, by status and by type (from the read model)."""
    tenant = claims.tenant
    lang = language(request)
    f = case_facts.c
    async with runtime_of(request).db.engine.connect() as conn:
        by_status = (await conn.execute(select(f.status, func.count()).where(f.tenant == tenant)
                                        .group_by(f.status).order_by(f.status))).all()
        by_type = (await conn.execute(select(f.type_code, func.max(f.type_name), func.count())
                                      .where(f.tenant == tenant).group_by(f.type_code).order_by(f.type_code))).all()
    return domain.CaseCounts(
        tenant=tenant, total=sum(n for _, n in by_status),
        by_status=[domain.CountRow(key=s, label=domain.status_label(s, lang), count=n) for s, n in by_status],
        by_type=[domain.CountRow(key=c, label=name, count=n) for c, name, n in by_type])

"""workflow's HTTP API: read a case's deadline (ops and other tools; agents use intake). A valid
user token is required, and only the token's tenant's cases are answered (shared/sessions.py)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import select

from services.workflow.adapters.db import case_deadlines
from shared.openapi import problem_responses
from shared.refusals import not_found
from shared.runtime import runtime_of
from shared.sessions import CurrentCaller

router = APIRouter(tags=["deadlines"])


class DeadlineOut(BaseModel):
    case_id: uuid.UUID
    tenant: str
    business_days: int
    calendar_country: str
    due_date: date
    due_at: datetime
    overdue_at: datetime | None


@router.get("/deadlines/{case_id}", response_model=DeadlineOut, responses=problem_responses(401, 404))
async def get_deadline(case_id: uuid.UUID, request: Request, who: CurrentCaller) -> DeadlineOut:
    """Every role of the tenant reads deadlines (R4.4: viewers read); another tenant's case is 404."""
    d = case_deadlines.c
    async with runtime_of(request).db.read() as conn:
        row = (await conn.execute(select(case_deadlines).where(d.case_id == case_id, d.tenant == who.tenant))).first()
    if row is None:
        raise not_found(("Plazo no encontrado", "Deadline not found"))
    return DeadlineOut.model_validate(row, from_attributes=True)

"""workflow's HTTP API: read a case's deadline (ops and other tools; agents use intake)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import select

from services.workflow.adapters.db import case_deadlines
from shared.problems import Problem
from shared.runtime import runtime_of

router = APIRouter(tags=["deadlines"])


class DeadlineOut(BaseModel):
    case_id: uuid.UUID
    tenant: str
    business_days: int
    calendar_country: str
    due_date: date
    due_at: datetime
    overdue_at: datetime | None


@router.get("/deadlines/{case_id}", response_model=DeadlineOut)
async def get_deadline(case_id: uuid.UUID, request: Request) -> DeadlineOut:
    async with runtime_of(request).db.read() as conn:
        row = (await conn.execute(select(case_deadlines).where(case_deadlines.c.case_id == case_id))).first()
    if row is None:
        raise Problem(404, "deadline-not-found", ("Plazo no encontrado", "Deadline not found"))
    return DeadlineOut.model_validate(row, from_attributes=True)

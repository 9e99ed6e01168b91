"""notifier's HTTP API: the delivery record of a case (who was told what, and its state)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import select

from services.notifier.adapters.db import deliveries
from shared.runtime import runtime_of

router = APIRouter(tags=["deliveries"])


class DeliveryOut(BaseModel):
    id: uuid.UUID
    channel: str
    template: str
    recipient: str
    recipient_role: str
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@router.get("/cases/{case_id}/deliveries", response_model=list[DeliveryOut])
async def case_deliveries(case_id: uuid.UUID, request: Request) -> list[DeliveryOut]:
    async with runtime_of(request).db.read() as conn:
        rows = (await conn.execute(select(deliveries).where(deliveries.c.case_id == case_id)
                                   .order_by(deliveries.c.created_at).limit(500))).all()
    return [DeliveryOut.model_validate(r, from_attributes=True) for r in rows]

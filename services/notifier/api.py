"""notifier's HTTP API: the delivery record of a case (who was told what, and its state). A valid
user token is required, and only the token's tenant's deliveries are answered (shared/sessions.py)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import select

from services.notifier.adapters.db import case_recipients, deliveries
from shared.openapi import problem_responses
from shared.refusals import not_found
from shared.runtime import runtime_of
from shared.sessions import CurrentCaller

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


@router.get("/cases/{case_id}/deliveries", response_model=list[DeliveryOut], responses=problem_responses(401, 404))
async def case_deliveries(case_id: uuid.UUID, request: Request, who: CurrentCaller) -> list[DeliveryOut]:
    """Every role of the tenant reads them (R4.4: viewers read); a case of another tenant, or one
    notifier has not heard of, is 404."""
    d = deliveries.c
    async with runtime_of(request).db.read() as conn:
        known = (await conn.execute(select(case_recipients.c.case_id).where(
            case_recipients.c.case_id == case_id, case_recipients.c.tenant == who.tenant))).first()
        rows = (await conn.execute(select(deliveries).where(d.case_id == case_id, d.tenant == who.tenant)
                                   .order_by(d.created_at).limit(500))).all()
    if known is None and not rows:
        raise not_found(("Solicitud no encontrada", "Case not found"))
    return [DeliveryOut.model_validate(r, from_attributes=True) for r in rows]

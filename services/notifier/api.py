"""notifier's HTTP API: the delivery record of a case (who was told what, and its state). A valid
user token is required, and only the token's tenant's deliveries are answered (shared/sessions.py)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from sqlalchemy import select, update

from services.notifier.adapters.db import case_recipients, deliveries
from shared.db import utcnow
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
    provider_sid: str | None = None  # SMS: Twilio's MessageSid
    error_code: str | None = None  # SMS: Twilio's ErrorCode


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


@router.post("/sms/status/{delivery_id}", status_code=204, tags=["sms"], include_in_schema=False)
async def sms_status(delivery_id: uuid.UUID, request: Request) -> Response:
    """Twilio's status callback for one SMS delivery (form body: MessageSid, MessageStatus,
    ErrorCode, To…). ``X-Twilio-Signature`` is checked with the library's ``RequestValidator``
    against the URL notifier gave Twilio (from the configured callback base, never the request's
    Host): missing or wrong, 403 and nothing changes. A state never moves back (a late "sent"
    after "delivered" stays delivered); failed/undelivered emits ``notification.failed.v1``."""
    from twilio.request_validator import RequestValidator

    from services.notifier.handlers import record_sms_state

    rt = runtime_of(request)
    sms = rt.extras["sms"]
    params = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    signature = request.headers.get("X-Twilio-Signature", "")
    token = rt.settings.twilio_auth_token
    if not (token and signature and RequestValidator(token).validate(sms.callback_url(delivery_id), params,
                                                                       signature)):
        return Response(status_code=403)
    status = params.get("MessageStatus") or params.get("SmsStatus") or ""
    error_code = params.get("ErrorCode") or None
    d = deliveries.c
    async with rt.db.transaction() as tx:
        row = (await tx.conn.execute(select(deliveries).where(d.id == delivery_id, d.channel == "sms"))).first()
        if row is None:
            raise not_found(("Envío no encontrado", "Delivery not found"))
        sid = params.get("MessageSid")
        if sid and row.provider_sid is None:  # the send's answer was lost or is not committed yet
            await tx.conn.execute(update(deliveries).where(d.id == row.id).values(provider_sid=sid))
        if status:
            await record_sms_state(tx, row, status, error_code, utcnow())
    return Response(status_code=204)

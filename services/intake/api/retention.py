"""Retention requests (seed 001): R1.3 offers, R1.2 the desistance letter (PDF) and the
successful desistance. Only on cases of a retention type (409 otherwise).

- ``POST /cases/{id}/retention-offers``: what was offered (withdraw savings, a loan, a switch to
  direct payment, a premium pause), when (default now) and whether the customer accepted
  (``null``: not answered yet); ``PATCH …/{offer_id}`` records the answer; ``GET`` lists them.
- ``GET /cases/{id}/desistance-letter``: the letter to print and sign, as a PDF (fpdf2).
- ``POST /cases/{id}/desistance``: with the signed letter (a PDF attached to this case with
  POST /cases/{id}/attachments) the case is finished with success as retained.

Routes only: the use cases are in ``service_layer/retention.py``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fpdf import FPDF
from pydantic import BaseModel, ConfigDict, StringConstraints

from services.intake.api.case_actions import ActionResult
from services.intake.api.deps import CurrentPrincipal
from services.intake.domain import lifecycle, retention
from services.intake.service_layer import retention as service
from shared.fields import InputModel
from shared.openapi import problem_responses
from shared.runtime import runtime_of

router = APIRouter(prefix="/cases/{case_id}", tags=["retention"])
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class OfferIn(InputModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "kind": "loan", "description": "Préstamo de 2 UF con cargo a la cuenta de excedentes.", "accepted": None}})
    kind: retention.OfferKind
    description: Note | None = None
    offered_at: datetime | None = None
    accepted: bool | None = None


class OfferAnswerIn(InputModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"accepted": True}})
    accepted: bool


class OfferOut(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    kind: retention.OfferKind
    label: str
    description: str | None
    offered_at: datetime
    accepted: bool | None
    created_by: uuid.UUID | None
    created_by_name: str | None


class OffersOut(BaseModel):
    items: list[OfferOut]


class DesistanceIn(InputModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "letter_attachment_id": "<the id POST /cases/{id}/attachments answered>", "note": "Desiste del rescate."}})
    letter_attachment_id: uuid.UUID
    note: Note | None = None


def _offer_out(r: Any) -> OfferOut:
    kind = retention.OfferKind(r.kind)
    return OfferOut(id=r.id, case_id=r.case_id, kind=kind, label=retention.OFFER_LABELS[kind][0],
                    description=r.description, offered_at=r.offered_at, accepted=r.accepted,
                    created_by=r.created_by, created_by_name=r.created_by_name)


def render_letter(data: retention.LetterData) -> bytes:
    """The letter as a one-page A4 PDF (core fonts: Latin-1 text)."""
    title, lines = retention.letter_lines(data)
    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_creator("Atiende")
    pdf.set_margins(25, 25, 25)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 12, retention.latin1(title), new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.ln(8)
    pdf.set_font("Helvetica", "", 12)
    for line in lines:
        if line:
            pdf.multi_cell(0, 7, retention.latin1(line), new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.ln(5)
    return bytes(pdf.output())


_REFUSALS = problem_responses(401, 403, 404, 409, 422)


@router.post("/retention-offers", status_code=201, response_model=OfferOut, responses=_REFUSALS)
async def record_offer(case_id: uuid.UUID, body: OfferIn, request: Request, p: CurrentPrincipal) -> OfferOut:
    """R1.3: an offer made to keep the customer, when, and whether they accepted (null: not yet)."""
    return _offer_out(await service.record_offer(runtime_of(request).db, p, case_id, kind=body.kind,
                                                 description=body.description or None, offered_at=body.offered_at,
                                                 accepted=body.accepted))


@router.patch("/retention-offers/{offer_id}", response_model=OfferOut, responses=_REFUSALS)
async def answer_offer(case_id: uuid.UUID, offer_id: uuid.UUID, body: OfferAnswerIn, request: Request,
                       p: CurrentPrincipal) -> OfferOut:
    """R1.3: the customer's answer to an offer."""
    return _offer_out(await service.answer_offer(runtime_of(request).db, p, case_id, offer_id, body.accepted))


@router.get("/retention-offers", response_model=OffersOut, responses=problem_responses(401, 403, 404, 409, 422))
async def list_offers(case_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> OffersOut:
    """R1.3: the offers of the retention request, oldest first."""
    return OffersOut(items=[_offer_out(r) for r in await service.list_offers(runtime_of(request).db, p, case_id)])


@router.get("/desistance-letter", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}, "description": "The letter, to print and sign"},
                       **problem_responses(401, 403, 404, 409, 422)})
async def desistance_letter(case_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> Response:
    """R1.2: the desistance letter (customer, RUT, policy number, date in Spanish, executive)."""
    case, data = await service.letter_data(runtime_of(request).db, p, case_id)
    return Response(content=render_letter(data), media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="carta-desistimiento-{case.number}.pdf"',
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


@router.post("/desistance", response_model=ActionResult, responses=_REFUSALS)
async def register_desistance(case_id: uuid.UUID, body: DesistanceIn, request: Request,
                              p: CurrentPrincipal) -> ActionResult:
    """R1.2: a successful desistance, with the signed letter (a PDF attached to this case): the
    case is finished with success as retained."""
    row = await service.register_desistance(runtime_of(request).db, p, case_id,
                                            letter_attachment_id=body.letter_attachment_id, note=body.note or None)
    return ActionResult(id=row.id, status=row.status, priority=row.priority,
                        allowed_actions=[a.value for a in lifecycle.allowed_actions(lifecycle.Status(row.status))])


__all__ = ["router"]

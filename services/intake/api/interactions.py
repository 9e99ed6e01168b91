"""Interactions ("atenciones", R2.2, R2.6): a call, e-mail, letter or visit with a party — or a
milestone worth recording — with a code unique per tenant ("AT-000123"). Cases may be created
under an open one (``POST /cases`` with ``interaction_id``); it closes only when all its cases
are finished, and the refusal lists the ones still open.

Visibility: the caller's tenant, and (R2.7) an interaction whose party is restricted is seen
only by the users the party is shared with; anything else is 404."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.intake.api.deps import CurrentPrincipal
from services.intake.domain import hierarchy
from services.intake.service_layer import interactions
from shared.fields import InputModel
from shared.openapi import problem_responses
from shared.paging import CountedPage, Page, PageParams
from shared.runtime import runtime_of

router = APIRouter(tags=["interactions"])
Slug = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
Summary = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]


class InteractionIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "party_id": "<GET /parties>", "channel": "telefono",
        "summary": "El cliente llama por corte de suministro en su local.",
        "occurred_at": "2026-11-24T10:15:00-03:00"}})
    party_id: uuid.UUID | None = Field(default=None, description="R2.2: the party it is with (or give asset_id)")
    asset_id: uuid.UUID | None = Field(default=None, description="A supply, policy, property…: its owner is the party")
    channel: Slug = Field(description="Catalog channel code: telefono, correo, carta…")
    summary: Summary
    occurred_at: datetime | None = Field(default=None, description="When it happened (default: now)")


class CloseIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {"note": "Gestión completa: ambas solicitudes resueltas."}})
    note: Note = Field(default="", description="Why or how it closes (optional)")


class CaseRef(BaseModel):
    id: uuid.UUID
    number: str
    subject: str
    status: str
    finished: bool


class InteractionOut(BaseModel):
    id: uuid.UUID
    code: str
    party_id: uuid.UUID | None
    asset_id: uuid.UUID | None
    channel: str
    summary: str
    occurred_at: datetime
    status: Literal["open", "closed"]
    created_by: uuid.UUID | None
    created_at: datetime
    closed_at: datetime | None = None
    closed_by: uuid.UUID | None = None
    closing_note: str | None = None


class InteractionDetail(InteractionOut):
    cases: list[CaseRef] = Field(default_factory=list)


def interaction_out(row: Any) -> InteractionOut:
    return InteractionOut(id=row.id, code=row.code, party_id=row.party_id, asset_id=row.asset_id,
                          channel=row.channel, summary=row.summary, occurred_at=row.occurred_at, status=row.status,
                          created_by=row.created_by, created_at=row.created_at, closed_at=row.closed_at,
                          closed_by=row.closed_by, closing_note=row.closing_note)


def case_ref(r: Any) -> CaseRef:
    return CaseRef(id=r.id, number=r.number, subject=r.subject, status=r.status,
                   finished=hierarchy.case_is_finished(r.status))


def detail(row: Any, cases: list[Any]) -> InteractionDetail:
    return InteractionDetail(**interaction_out(row).model_dump(), cases=[case_ref(c) for c in cases])


@router.post("/interactions", status_code=201, response_model=InteractionOut,
             responses=problem_responses(401, 403, 422))
async def create_interaction(body: InteractionIn, request: Request, p: CurrentPrincipal) -> JSONResponse:
    """R2.2: register an interaction with a party (``party_id``, or ``asset_id`` whose owner is
    the party). It gets the tenant's next code (``AT-000001``, …) and may stand alone."""
    row = await interactions.create(runtime_of(request).db, p, party_id=body.party_id, asset_id=body.asset_id,
                                    channel=body.channel, summary=body.summary, occurred_at=body.occurred_at)
    return JSONResponse(InteractionOut(**row).model_dump(mode="json"), status_code=201,
                        headers={"Location": f"/interactions/{row['id']}"})


@router.get("/interactions", response_model=CountedPage[InteractionOut], responses=problem_responses(401, 422))
async def list_interactions(request: Request, p: CurrentPrincipal, page: PageParams,
                            party_id: uuid.UUID | None = None, asset_id: uuid.UUID | None = None,
                            status: Annotated[Literal["open", "closed", "all"], Query()] = "all",
                            ) -> CountedPage[InteractionOut]:
    """R2.8: open, closed or all interactions (of a party or an asset), newest first; ``total``:
    how many match (exact up to 10,000, then an estimate: ``total_exact`` false)."""
    return await interactions.list_(runtime_of(request).db, p, page, interaction_out, party_id=party_id,
                                    asset_id=asset_id, status=None if status == "all" else status)


@router.get("/interactions/{interaction_id}", response_model=InteractionDetail,
            responses=problem_responses(401, 404, 422))
async def get_interaction(interaction_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> InteractionDetail:
    """The interaction with its cases (the "events" under it, R2.3)."""
    return detail(*await interactions.get(runtime_of(request).db, p, interaction_id))


@router.get("/interactions/{interaction_id}/cases", response_model=Page[CaseRef],
            responses=problem_responses(401, 404, 422))
async def interaction_cases(interaction_id: uuid.UUID, request: Request, p: CurrentPrincipal,
                            page: PageParams) -> Page[CaseRef]:
    """R2.3: the cases under the interaction, oldest first, in pages."""
    return await interactions.cases_of(runtime_of(request).db, p, interaction_id, page, case_ref)


@router.post("/interactions/{interaction_id}/close", response_model=InteractionDetail,
             responses=problem_responses(401, 403, 404, 409, 422))
async def close_interaction(interaction_id: uuid.UUID, body: CloseIn, request: Request,
                            p: CurrentPrincipal) -> InteractionDetail:
    """R2.6: close it once every case under it is finished; otherwise 409 (``open-children``)
    listing the open ones. Admins, supervisors and whoever registered it may close it."""
    return detail(*await interactions.close(runtime_of(request).db, p, interaction_id, body.note))

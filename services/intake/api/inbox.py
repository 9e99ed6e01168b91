"""The inbox ("Bandeja de seguimiento", R4.5): ``GET /inbox`` and the "my cases" shortcut
``GET /inbox/mine``.

By default the in-progress cases (new, in execution, waiting on the customer) of the caller's
tenant, sorted by deadline. Every role of the tenant sees every case (R4.4), except the cases of
parties not shared with the caller (R2.7). Free-text search (``q``) over contact name, e-mail,
phone, case number and subject, accent- and case-insensitive, every word must appear; a valid
national id (RUT…) in ``q`` also finds the cases of the parties that hold it. Filters combine with
AND; a filter given several times (``status=new&status=in_execution``) matches any of its values.

Pages are keyset pages: ``next_cursor`` continues after the last row of this page (stable while
cases come and go; as fast on page 10,000 as on page 1). Sorts: deadline (cases whose deadline
workflow has not set yet come last), entry date, priority (urgent first, then deadline); a leading
'-' reverses. ``total`` is exact up to 10,000 cases (1,000 with a text search); beyond that it is
PostgreSQL's estimate and ``total_exact`` is false (SQLite, embedded: always exact). It is
computed for the first page (no cursor) unless ``count`` says otherwise. Parameters are validated
strictly: an unknown parameter or a bad value is a 422 problem listing each bad field."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from services.intake.api.deps import CurrentPrincipal
from services.intake.api.inbox_params import InboxParams, MineParams, inbox_request
from services.intake.domain.access import Principal
from services.intake.service_layer import inbox as usecases
from shared.openapi import problem_responses
from shared.paging import Page
from shared.refusals import forbidden
from shared.runtime import runtime_of

router = APIRouter(tags=["inbox"])
__all__ = ["InboxParams", "MineParams", "router"]


class ContactOut(BaseModel):
    name: str
    email: str
    phone: str | None


class ResponsibleOut(BaseModel):
    id: uuid.UUID | None
    email: str


class DeadlineOut(BaseModel):
    due_at: datetime
    due_date: date | None


class InboxItem(BaseModel):
    id: uuid.UUID
    number: str
    type: str
    subject: str
    contact: ContactOut
    responsible: ResponsibleOut
    project: str | None
    channel: str | None
    category_path: list[str] | None
    area: str | None
    association: str | None
    priority: str
    status: str
    created_at: datetime
    deadline: DeadlineOut | None
    overdue: bool
    answered_at: datetime | None
    finished_at: datetime | None
    follow_up_of: uuid.UUID | None
    party_id: uuid.UUID | None


class InboxPage(Page[InboxItem]):
    """A page of the inbox (shared/paging's ``Page``) with its totals."""

    total: int | None = Field(description="Cases matching (all pages); null when not computed")
    total_exact: bool | None = Field(description="false: total is an estimate (over 10,000 cases; 1,000 searching)")
    limit: int
    sort: str


@router.get("/inbox", response_model=InboxPage, responses=problem_responses(401, 422))
async def inbox(params: Annotated[InboxParams, Query()], request: Request, p: CurrentPrincipal) -> InboxPage:
    """R4.5 "Seguimiento de solicitudes": in-progress cases by default; search, filters, sorts,
    keyset pages with a total."""
    return await _inbox(request, p, params, params.responsible)


@router.get("/inbox/mine", response_model=InboxPage, responses=problem_responses(401, 403, 422))
async def my_cases(params: Annotated[MineParams, Query()], request: Request, p: CurrentPrincipal) -> InboxPage:
    """"My cases": the inbox of the cases where the caller is the responsible (same parameters
    as ``GET /inbox``, without ``responsible``)."""
    if p.user_id is None:
        raise forbidden(("Una clave de API no es responsable de solicitudes.",
                         "An API key is not the responsible of any case."))
    return await _inbox(request, p, params, ["me"])


async def _inbox(request: Request, p: Principal, params: MineParams, responsible: list[str]) -> InboxPage:
    rt = runtime_of(request)
    res = await usecases.inbox(rt.db, rt.extras["catalog"], p, inbox_request(
        params, responsible, limit=params.limit, cursor=params.cursor, count=params.count))
    return InboxPage(items=[_item(r) for r in res.rows], next_cursor=res.next_cursor, total=res.total,
                     total_exact=res.total_exact, limit=params.limit, sort=params.sort)


def _item(r: Any) -> InboxItem:
    return InboxItem(
        id=r.id, number=r.number, type=r.type_code, subject=r.subject,
        contact=ContactOut(name=r.contact_name, email=r.contact_email, phone=r.contact_phone),
        responsible=ResponsibleOut(id=r.responsible_id, email=r.responsible_email), project=r.project,
        channel=r.channel, category_path=r.category_path, area=r.area, association=r.association,
        priority=r.priority, status=r.status, created_at=r.created_at,
        deadline=DeadlineOut(due_at=r.due_at, due_date=r.due_date) if r.due_at else None,
        overdue=r.overdue_since is not None, answered_at=r.answered_at,  # R4.8: as GET /cases/{id} says
        finished_at=r.finished_at, follow_up_of=r.follow_up_of, party_id=r.party_id)

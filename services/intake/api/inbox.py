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
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.intake.api.deps import CurrentPrincipal
from services.intake.domain.access import Principal
from services.intake.domain.lifecycle import Priority, Status
from services.intake.service_layer import inbox as usecases
from shared.fields import check_text
from shared.openapi import problem_responses
from shared.paging import DEFAULT_LIMIT, MAX_CURSOR_LENGTH, MAX_LIMIT, Page
from shared.refusals import forbidden
from shared.runtime import runtime_of

router = APIRouter(tags=["inbox"])

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]
CategoryPath = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,59}(/[a-z0-9][a-z0-9-]{0,59}){0,2}$")]
Association = Literal["owner", "lessee", "property", "non_owner", "party", "asset"]
Sort = Literal["deadline", "-deadline", "created", "-created", "priority", "-priority"]


class MineParams(BaseModel):
    """Query parameters of ``GET /inbox/mine`` (all of ``GET /inbox`` but ``responsible``)."""

    model_config = ConfigDict(extra="forbid")
    q: str | None = Field(default=None, max_length=200, description=(
        "Free text: contact name, e-mail, phone, case number, subject (every word must appear; at least one "
        "word of 3+ characters); a valid national id also finds its parties' cases"))
    status: list[Status] = Field(default_factory=list, description=(
        "Any of these states (repeat the parameter); default: new, in_execution, waiting_on_customer"))
    type: list[Code] = Field(default_factory=list, description="Case type codes")
    category: CategoryPath | None = Field(default=None, description=(
        "A category path, e.g. medidor/cobranza: cases filed under it (any deeper level)"))
    area: list[Code] = Field(default_factory=list)
    project: list[Code] = Field(default_factory=list)
    channel: list[Code] = Field(default_factory=list)
    association: list[Association] = Field(default_factory=list)
    priority: list[Priority] = Field(default_factory=list)
    due_from: date | None = Field(default=None, description="Deadline (due day) on or after")
    due_to: date | None = Field(default=None, description="Deadline (due day) on or before")
    overdue: bool | None = Field(default=None, description=(
        "true: overdue only (R4.8: the deadline passed unanswered; executing or finishing ends it — the "
        "case resource's overdue); false: the rest"))
    sort: Sort = Field(default="deadline", description="deadline | created | priority (urgent first); '-' reverses")
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"Rows per page (1–{MAX_LIMIT})")
    cursor: str | None = Field(default=None, max_length=MAX_CURSOR_LENGTH, description="next_cursor of the previous page")

    @field_validator("q", "cursor", mode="after")
    @classmethod
    def _safe_text(cls, value: str | None) -> str | None:
        return check_text(value)  # type: ignore[no-any-return]
    count: bool | None = Field(default=None, description="Compute the total (default: on the first page only)")


class InboxParams(MineParams):
    """Query parameters of ``GET /inbox``."""

    responsible: list[str] = Field(default_factory=list, description="User ids, or 'me'")


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


def _request(params: MineParams, responsible: list[str]) -> usecases.InboxRequest:
    return usecases.InboxRequest(
        q=params.q, statuses=tuple(s.value for s in params.status), types=tuple(params.type),
        category=params.category, areas=tuple(params.area), projects=tuple(params.project),
        channels=tuple(params.channel), associations=tuple(params.association),
        priorities=tuple(x.value for x in params.priority), responsible=tuple(responsible),
        due_from=params.due_from, due_to=params.due_to, overdue=params.overdue, sort=params.sort,
        limit=params.limit, cursor=params.cursor, count=params.count)


async def _inbox(request: Request, p: Principal, params: MineParams, responsible: list[str]) -> InboxPage:
    rt = runtime_of(request)
    res = await usecases.inbox(rt.db, rt.extras["catalog"], p, _request(params, responsible))
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

"""Follow-ups of a case (R3.1) and the triage the contact center runs before filing one
(R3.3–R3.5; the rules are in services/intake/domain/triage.py, the use cases in
service_layer/followups.py).

- ``GET /cases/{id}/follow-ups``: the follow-ups filed on a case, oldest first (pages), each with its
  kind, whether the area answered it, and its maximum response date (what R3.3 has the agent
  check). A follow-up is created with ``POST /cases`` and ``follow_up_of``; a late-response or
  disagreement follow-up is refused there (409) when this triage says to escalate (rules 6–8).
- ``GET /cases/{id}/triage``: R3.4's decision for the customer on the phone: which rule matched,
  and what to do — tell the maximum response date, tell the answer (the area's last execution or
  finish text), file a late-response or disagreement follow-up (R3.5: the customer files it
  themselves for metered gas, the agent for packaged and bulk), or escalate to a supervisor
  without a new request. Asked on a follow-up, it answers for its original. The decision itself
  (original, follow-ups, F, ``triage.decide``) is ``adapters/triage_queries.decision_for``."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from services.intake.adapters import triage_queries
from services.intake.api.deps import CurrentPrincipal
from services.intake.domain import triage
from services.intake.service_layer import followups as usecases
from shared.db import utcnow
from shared.openapi import problem_responses
from shared.paging import Page, PageParams
from shared.problems import language
from shared.runtime import runtime_of

router = APIRouter(prefix="/cases/{case_id}", tags=["follow-ups"])


class DeadlineOut(BaseModel):
    due_at: datetime
    due_date: date | None


class CaseRef(BaseModel):
    """One case as R3.3 looks at it."""

    id: uuid.UUID
    number: str
    type: str
    kind: triage.FollowUpKind | None = Field(description="The follow-up kind (R3.1) its type stands for")
    subject: str
    status: str
    created_at: datetime
    answered: bool = Field(description="The area answered: executed at least once, or finished")
    answered_at: datetime | None
    finished_at: datetime | None
    deadline: DeadlineOut | None = Field(description="Maximum response date (null until workflow sets it)")
    past_deadline: bool = Field(description="Unanswered and past its maximum response date")
    follow_up_of: uuid.UUID | None


class AnswerOut(BaseModel):
    case_id: uuid.UUID
    number: str
    text: str | None = Field(description="The area's last execution or finish text (null if none was written)")
    at: datetime | None


class FollowUpToFile(BaseModel):
    kind: triage.FollowUpKind
    case_type: str | None = Field(description="The tenant's case type for it (null: the catalog has none)")
    follow_up_of: uuid.UUID
    filed_by: triage.Filer = Field(description="R3.5: customer (self-service, metered gas) or agent")


class TriageOut(BaseModel):
    rule: int = Field(description="The R3.4 rule that matched (1–8)")
    action: triage.Action
    message: str = Field(description="What to tell the customer or do (Accept-Language: es or en)")
    escalate_to_supervisor: bool
    new_request_allowed: bool = Field(description="false for rules 6–8: do not suggest another request")
    extended: bool = Field(description="true: a combination the procedure's table leaves open (see the docs)")
    deadline: DeadlineOut | None = Field(default=None, description="Rules 1 and 5: the date to tell")
    deadline_of: uuid.UUID | None = None
    answer: AnswerOut | None = Field(default=None, description="Rule 2: the answer to tell")
    follow_up: FollowUpToFile | None = Field(default=None, description="Rules 3 and 4: what to file")
    business_line: triage.BusinessLine | None
    customer_disagrees: bool
    original: CaseRef
    table_follow_up: CaseRef | None = Field(description="R3.4's F: the latest late-response or disagreement follow-up")
    follow_ups: list[CaseRef] = Field(description="Every follow-up of the original, oldest first (R3.3)")


class TriageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_disagrees: bool | None = Field(default=None, description=(
        "The customer knows the area's answer and does not agree with it (rules 4 and 8). Default: the "
        "answered case's 'customer not satisfied' flag"))
    business_line: triage.BusinessLine | None = Field(default=None, description=(
        "meter | packaged | bulk (R3.5). Default: the business line the tenant's catalog gives the case's project"))


@router.get("/follow-ups", response_model=Page[CaseRef], responses=problem_responses(401, 404, 422))
async def follow_ups(case_id: uuid.UUID, request: Request, p: CurrentPrincipal, page: PageParams) -> Page[CaseRef]:
    """R3.1/R3.3: the follow-ups filed on this case, oldest first."""
    rows = await usecases.follow_ups(runtime_of(request).db, p, case_id, page.after("follow-ups", datetime, uuid.UUID),
                                     page.limit)
    now = utcnow()
    return Page[CaseRef].of(rows, page, "follow-ups", key=lambda r: (r.created_at, r.id), item=lambda r: _ref(r, now))


@router.get("/triage", response_model=TriageOut, responses=problem_responses(401, 404, 422))
async def triage_case(case_id: uuid.UUID, params: Annotated[TriageParams, Query()], request: Request,
                      p: CurrentPrincipal) -> TriageOut:
    """R3.4 (with R3.5): what to do for a customer who calls about this request."""
    t = await usecases.triage_case(runtime_of(request).db, p, case_id, customer_disagrees=params.customer_disagrees,
                                   business_line=params.business_line)
    st, d, now = t.state, t.state.decision, t.now
    out = TriageOut(
        rule=d.rule, action=d.action, message=t.message[1] if language(request) == "en" else t.message[0],
        escalate_to_supervisor=d.action == triage.Action.ESCALATE_TO_SUPERVISOR,
        new_request_allowed=d.new_request_allowed, extended=d.extended, business_line=st.business_line,
        customer_disagrees=st.customer_disagrees, original=_ref(st.original, now),
        table_follow_up=_ref(st.table_follow_up, now) if st.table_follow_up is not None else None,
        follow_ups=[_ref(c, now) for c in st.children])
    if t.deadline_of is not None:
        out.deadline_of = t.deadline_of.id
        if t.deadline_of.due_at is not None:
            out.deadline = DeadlineOut(due_at=t.deadline_of.due_at, due_date=t.deadline_of.due_date)
    if t.answer_of is not None:
        out.answer = AnswerOut(case_id=t.answer_of.id, number=t.answer_of.number, text=t.answer_text, at=t.answer_at)
    if d.action == triage.Action.CREATE_FOLLOW_UP:
        assert d.follow_up_kind is not None and d.filed_by is not None
        out.follow_up = FollowUpToFile(kind=d.follow_up_kind, case_type=t.follow_up_type,
                                       follow_up_of=st.original.id, filed_by=d.filed_by)
    return out


def _ref(r: Any, now: datetime) -> CaseRef:
    f = triage_queries.facts(r)
    return CaseRef(id=r.id, number=r.number, type=r.type_code, kind=f.kind if r.follow_up_of else None,
                   subject=r.subject, status=r.status, created_at=r.created_at, answered=f.answered,
                   answered_at=r.answered_at, finished_at=r.finished_at,
                   deadline=DeadlineOut(due_at=r.due_at, due_date=r.due_date) if r.due_at else None,
                   past_deadline=f.past_deadline(now), follow_up_of=r.follow_up_of)

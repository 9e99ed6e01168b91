"""Follow-ups of a case (R3.1) and the triage the contact center runs before filing one
(R3.3–R3.5; the rules are in services/intake/triage.py).

- ``GET /cases/{id}/follow-ups``: the follow-ups filed on a case, oldest first, each with its
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
from sqlalchemy import select

from services.intake.adapters import triage_queries
from services.intake.adapters.case_tables import case_history
from services.intake.adapters.db import case_types
from services.intake.adapters.party_tables import can_see_party_id
from services.intake.api.cases import CASE_NOT_FOUND, visible_case
from services.intake.api.deps import CurrentPrincipal
from services.intake.domain import triage
from services.intake.domain.access import CaseAction, Principal
from shared.db import utcnow
from shared.problems import language, not_found
from shared.runtime import runtime_of

router = APIRouter(prefix="/cases/{case_id}", tags=["follow-ups"])

ANSWER_KINDS = ("execute", "finish_success", "finish_failure")  # history entries that carry the area's answer


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
        "meter | packaged | bulk (R3.5). Default: from the case's project (medidor, envasado, granel)"))


@router.get("/follow-ups", response_model=list[CaseRef], responses={404: {"description": "No such case"}})
async def follow_ups(case_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> list[CaseRef]:
    """R3.1/R3.3: the follow-ups filed on this case, oldest first."""
    case = await _readable(request, p, case_id)
    now = utcnow()
    async with runtime_of(request).db.read() as conn:
        rows = await triage_queries.children(conn, p, case.id)
    return [_ref(r, now) for r in rows]


@router.get("/triage", response_model=TriageOut, responses={404: {"description": "No such case"}})
async def triage_case(case_id: uuid.UUID, params: Annotated[TriageParams, Query()], request: Request,
                      p: CurrentPrincipal) -> TriageOut:
    """R3.4 (with R3.5): what to do for a customer who calls about this request."""
    case = await _readable(request, p, case_id)
    rt = runtime_of(request)
    now = utcnow()
    async with rt.db.read() as conn:
        st = await triage_queries.decision_for(conn, p, case, customer_disagrees=params.customer_disagrees,
                                               business_line=params.business_line, now=now)
        d, original, f_row, children = st.decision, st.original, st.table_follow_up, st.children
        out = TriageOut(rule=d.rule, action=d.action, message="", escalate_to_supervisor=(
            d.action == triage.Action.ESCALATE_TO_SUPERVISOR), new_request_allowed=d.new_request_allowed,
            extended=d.extended, business_line=st.business_line, customer_disagrees=st.customer_disagrees,
            original=_ref(original, now),
            table_follow_up=_ref(f_row, now) if f_row is not None else None,
            follow_ups=[_ref(c, now) for c in children])
        subject = f_row if d.about == triage.About.FOLLOW_UP and f_row is not None else original
        due_text = None
        if d.action == triage.Action.TELL_DEADLINE:
            out.deadline_of = subject.id
            if subject.due_at is not None:
                out.deadline = DeadlineOut(due_at=subject.due_at, due_date=subject.due_date)
                due_text = _date_text(subject, language(request))
        elif d.action == triage.Action.TELL_ANSWER:
            text, at = await _answer(conn, subject.id)
            out.answer = AnswerOut(case_id=subject.id, number=subject.number, text=text,
                                   at=at or subject.answered_at or subject.finished_at)
        elif d.action == triage.Action.CREATE_FOLLOW_UP:
            assert d.follow_up_kind is not None and d.filed_by is not None
            codes = (await conn.execute(select(case_types.c.code).where(
                case_types.c.tenant == p.tenant, case_types.c.active.is_(True)))).scalars().all()
            out.follow_up = FollowUpToFile(kind=d.follow_up_kind, case_type=triage.type_code_for(d.follow_up_kind, codes),
                                           follow_up_of=original.id, filed_by=d.filed_by)
    es, en = triage.message(d, due=due_text, number=subject.number)
    out.message = en if language(request) == "en" else es
    return out


# -- plumbing -------------------------------------------------------------------------------------
async def _readable(request: Request, p: Principal, case_id: uuid.UUID) -> Any:
    case = await visible_case(request, p, case_id, CaseAction.READ)
    async with runtime_of(request).db.read() as conn:
        if not await can_see_party_id(conn, p, case.party_id):  # R2.7
            raise not_found(CASE_NOT_FOUND)
    return case


async def _answer(conn: Any, case_id: uuid.UUID) -> tuple[str | None, datetime | None]:
    """The area's last answer: the latest execution or finish that wrote a text."""
    rows = await conn.execute(select(case_history.c.data, case_history.c.at).where(
        case_history.c.case_id == case_id, case_history.c.kind.in_(ANSWER_KINDS)).order_by(case_history.c.id.desc()))
    for data, at in rows:
        text = (data or {}).get("text")
        if text:
            return str(text), at
    return None, None


def _ref(r: Any, now: datetime) -> CaseRef:
    f = triage_queries.facts(r)
    return CaseRef(id=r.id, number=r.number, type=r.type_code, kind=f.kind if r.follow_up_of else None,
                   subject=r.subject, status=r.status, created_at=r.created_at, answered=f.answered,
                   answered_at=r.answered_at, finished_at=r.finished_at,
                   deadline=DeadlineOut(due_at=r.due_at, due_date=r.due_date) if r.due_at else None,
                   past_deadline=f.past_deadline(now), follow_up_of=r.follow_up_of)


def _date_text(r: Any, lang: str) -> str:
    d = r.due_date or r.due_at.date()
    return d.isoformat() if lang == "en" else d.strftime("%d-%m-%Y")

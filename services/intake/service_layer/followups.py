"""Follow-ups of a case (R3.1) and the triage before filing one (R3.3–R3.5). Reads only: the
rules are ``domain/triage.py``, the look-ups ``adapters/triage_queries.py``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.intake.adapters import repository as repo
from services.intake.adapters import triage_queries
from services.intake.domain import triage
from services.intake.domain.access import CaseAction, Principal
from services.intake.service_layer.cases import visible_case
from shared.db import Database, utcnow

ANSWER_KINDS = ("execute", "finish_success", "finish_failure")  # history entries that carry the area's answer


async def follow_ups(db: Database, who: Principal, case_id: uuid.UUID, after: list[Any] | None,
                     limit: int) -> list[Any]:
    """R3.1/R3.3: a page (``limit + 1`` rows) of the follow-ups filed on the case, oldest first."""
    case = await visible_case(db, who, case_id, CaseAction.READ)
    async with db.read() as conn:
        return await triage_queries.children_page(conn, who, case.id, after, limit + 1)


@dataclass
class Triage:
    """R3.4's decision for the customer on the phone, with what the agent needs to act on it."""

    state: triage_queries.TriageState
    now: datetime
    message: tuple[str, str]
    deadline_of: Any | None = None  # the case whose deadline to tell (rules 1 and 5)
    answer_of: Any | None = None  # the case whose answer to tell (rule 2)…
    answer_text: str | None = None
    answer_at: datetime | None = None
    follow_up_type: str | None = None  # rules 3 and 4: the tenant's case type for the kind to file


async def triage_case(db: Database, who: Principal, case_id: uuid.UUID, *, customer_disagrees: bool | None,
                      business_line: triage.BusinessLine | None) -> Triage:
    case = await visible_case(db, who, case_id, CaseAction.READ)
    now = utcnow()
    async with db.read() as conn:
        st = await triage_queries.decision_for(conn, who, case, customer_disagrees=customer_disagrees,
                                               business_line=business_line, now=now)
        d, f_row = st.decision, st.table_follow_up
        subject = f_row if d.about == triage.About.FOLLOW_UP and f_row is not None else st.original
        out = Triage(state=st, now=now, message=("", ""))
        due: tuple[str, str] | None = None
        if d.action == triage.Action.TELL_DEADLINE:
            out.deadline_of = subject
            if subject.due_at is not None:
                day: date = subject.due_date or subject.due_at.date()
                due = (day.strftime("%d-%m-%Y"), day.isoformat())
        elif d.action == triage.Action.TELL_ANSWER:
            out.answer_of = subject
            out.answer_text, at = await repo.last_answer(conn, subject.id, ANSWER_KINDS)
            out.answer_at = at or subject.answered_at or subject.finished_at
        elif d.action == triage.Action.CREATE_FOLLOW_UP:
            assert d.follow_up_kind is not None
            # R3.1: the type that stands for the kind, as the tenant's catalog says.
            out.follow_up_type = await repo.type_for_follow_up_kind(conn, who.tenant, d.follow_up_kind.value)
    es = triage.message(d, due=due[0] if due else None, number=subject.number)[0]
    en = triage.message(d, due=due[1] if due else None, number=subject.number)[1]
    out.message = (es, en)
    return out

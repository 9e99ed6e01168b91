"""workflow's event handlers and timer firings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, update

from services.workflow import domain
from services.workflow.adapters.db import case_deadlines, timers
from shared.contracts.envelope import Envelope
from shared.contracts.events import CaseCreated, CaseDeadlineSet, CaseOverdue
from shared.db import Tx, utcnow
from shared.logs import correlation_id
from shared.timers import schedule

SOURCE = "atiende/workflow"
OVERDUE = "case.overdue"


async def on_case_created(tx: Tx, env: Envelope) -> None:
    """Compute the response deadline (R4.2) and arm the overdue timer (R4.8)."""
    e = CaseCreated.model_validate(env.data)
    cal = domain.calendar_for(e.tenant_country, e.tenant_timezone)
    dl = domain.response_deadline(e.created_at, e.case_type.deadline.amount, cal)
    await tx.conn.execute(insert(case_deadlines), {
        "case_id": e.case_id, "tenant": env.tenant, "type_code": e.case_type.code, "status": e.status,
        "entered_at": e.created_at, "business_days": dl.business_days, "calendar_country": cal.country,
        "due_date": dl.due_date, "due_at": dl.due_at, "overdue_at": None})
    await schedule(tx, timers, kind=OVERDUE, tenant=env.tenant, subject=str(e.case_id), due_at=dl.due_at,
                   payload={"case_id": str(e.case_id), "due_at": dl.due_at.isoformat(),
                            "correlation_id": env.correlationid})
    data = CaseDeadlineSet(case_id=e.case_id, due_at=dl.due_at, due_date=dl.due_date,
                           business_days=dl.business_days, calendar_country=cal.country)
    await tx.emit(env.follow(source=SOURCE, type="case.deadline_set.v1", data=data.model_dump(mode="json")))


async def fire_overdue(tx: Tx, timer: Any) -> None:
    """A deadline passed: record it and tell the others (alerts and escalations follow from it)."""
    case_id = timer.payload["case_id"]
    await tx.conn.execute(update(case_deadlines).where(case_deadlines.c.case_id == case_id)
                          .values(overdue_at=utcnow()))
    data = CaseOverdue(case_id=case_id, due_at=timer.due_at)
    await tx.emit(Envelope(source=SOURCE, type="case.overdue.v1", subject=case_id, tenant=timer.tenant,
                           correlationid=timer.payload.get("correlation_id") or correlation_id.get(),
                           data=data.model_dump(mode="json")))


HANDLERS = {"case.created.v1": on_case_created}
TIMER_FIRINGS = {OVERDUE: fire_overdue}

"""R2.4: a task's due date is a clock: when it passes with the task open, its responsible is
alerted (GET /alerts) and told (``case.escalated.v1``, kind ``task_overdue``). One timer row per
task (kind ``sla.task``)."""

from __future__ import annotations

import uuid
from datetime import UTC
from typing import Any

from sqlalchemy import select, update

from services.workflow.adapters.db import case_clocks, task_clocks, timers
from services.workflow.domain import escalation
from services.workflow.service_layer import copies
from services.workflow.service_layer.clocks import SOURCE
from shared.contracts.envelope import Envelope
from shared.contracts.events import AlertEnded, AlertRaised, CaseEscalated, TaskClosed, TaskCreated
from shared.db import Tx, insert_ignoring_duplicates, utcnow
from shared.logs import correlation_id
from shared.messaging.bus import NotYet
from shared.timers import cancel, reschedule

TIMER = "sla.task"
KIND = "task_overdue"


def _subject(task_id: uuid.UUID | str) -> str:
    return f"task:{task_id}"


async def start_task_clock(tx: Tx, env: Envelope, e: TaskCreated) -> None:
    """Due at the end of its due date, in the case's calendar."""
    case = (await tx.conn.execute(select(case_clocks.c.calendar_code, case_clocks.c.country, case_clocks.c.timezone)
                                  .where(case_clocks.c.case_id == e.case_id))).first()
    if case is None:
        raise NotYet(f"case {e.case_id} of task {e.task_id} not known yet")
    cal = await copies.calendar_of(tx.conn, env.tenant, case.calendar_code, country=case.country,
                                   timezone=case.timezone)
    due = cal.end_of_day(e.due_date).astimezone(UTC)
    if await insert_ignoring_duplicates(tx.conn, task_clocks, {
            "task_id": e.task_id, "tenant": env.tenant, "case_id": e.case_id,
            "responsible_id": e.responsible.user_id, "due_at": due, "overdue_at": None, "closed_at": None}):
        await reschedule(tx, timers, kind=TIMER, tenant=env.tenant, subject=_subject(e.task_id), due_at=due,
                         payload={"task_id": str(e.task_id), "correlation_id": env.correlationid})


async def close_task_clock(tx: Tx, env: Envelope, e: TaskClosed) -> None:
    row = (await tx.conn.execute(select(task_clocks).where(task_clocks.c.task_id == e.task_id)
                                 .with_for_update())).first()
    if row is None or row.closed_at is not None:
        return
    await tx.conn.execute(update(task_clocks).where(task_clocks.c.task_id == e.task_id).values(closed_at=e.closed_at))
    await cancel(tx, timers, kind=TIMER, subject=_subject(e.task_id))
    if row.overdue_at is not None:
        await tx.emit(env.follow(source=SOURCE, type="alert.ended.v1", subject=str(row.case_id), data=AlertEnded(
            alert_id=escalation.alert_id(_subject(e.task_id), KIND, 1), kind=KIND, case_id=row.case_id,
            task_id=e.task_id, ended_at=e.closed_at, reason="task closed",
            case_version=await _case_version(tx, row.case_id)).model_dump(mode="json")))


async def _case_version(tx: Tx, case_id: uuid.UUID) -> int:
    """The last intake case event workflow applied for the task's case (what events carry)."""
    v = (await tx.conn.execute(select(case_clocks.c.case_version).where(case_clocks.c.case_id == case_id))).scalar()
    return int(v or 0)


async def fire_task(tx: Tx, timer: Any) -> None:
    row = (await tx.conn.execute(select(task_clocks).where(task_clocks.c.task_id == uuid.UUID(timer.payload["task_id"]))
                                 .with_for_update())).first()
    if row is None or row.closed_at is not None or row.overdue_at is not None:
        return
    now = utcnow()
    await tx.conn.execute(update(task_clocks).where(task_clocks.c.task_id == row.task_id).values(overdue_at=now))
    version = await _case_version(tx, row.case_id)
    corr = timer.payload.get("correlation_id") or correlation_id.get()

    def env(type_: str, data: Any) -> Envelope:
        return Envelope(source=SOURCE, type=type_, subject=str(row.case_id), tenant=row.tenant, correlationid=corr,
                        data=data.model_dump(mode="json"))

    await tx.emit(env("alert.raised.v1", AlertRaised(
        alert_id=escalation.alert_id(_subject(row.task_id), KIND, 1), kind=KIND, case_id=row.case_id,
        task_id=row.task_id, responsible_id=row.responsible_id, due_at=row.due_at, raised_at=now,
        case_version=version)))
    if row.responsible_id is not None:
        await tx.emit(env("case.escalated.v1", CaseEscalated(
            case_id=row.case_id, case_version=version, kind=KIND, level=0, due_at=row.due_at, task_id=row.task_id,
            overdue_seconds=max(0, int((now - row.due_at).total_seconds())), at=now,
            recipients=[escalation.Recipient(row.responsible_id, "responsible", escalation.BREACH_CHANNELS).as_dict()])))

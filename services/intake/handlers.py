"""intake's event handlers: keep the case as shown by GET /cases/{id} in step with workflow, and
each replica's catalog cache in step with every replica's catalog changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from services.intake.adapters.case_tables import case_history
from services.intake.adapters.db import cases
from shared.contracts.envelope import Envelope
from shared.contracts.events import CaseDeadlineSet, CaseOverdue
from shared.db import Tx, utcnow
from shared.messaging.bus import NotYet

# History kinds (the actions' names) that end an overdue alert, and the one that re-arms it (R4.8).
ALERT_ENDS = ("execute", "finish_success", "finish_failure")
ALERT_REARMS = ("reopen",)


async def on_deadline_set(tx: Tx, env: Envelope) -> None:
    e = CaseDeadlineSet.model_validate(env.data)
    res = await tx.conn.execute(update(cases).where(cases.c.id == e.case_id)
                                .values(due_at=e.due_at, due_date=e.due_date))
    if res.rowcount == 0:
        raise NotYet(f"case {e.case_id} not found")


async def on_overdue(tx: Tx, env: Envelope) -> None:
    """R4.8: a passed deadline makes the case overdue, unless it was executed or finished since
    its timer was armed (workflow may fire before it has seen that action): the case row is
    locked like an action locks it, and intake's own history decides."""
    e = CaseOverdue.model_validate(env.data)
    case = (await tx.conn.execute(select(cases.c.overdue_since).where(cases.c.id == e.case_id)
                                  .with_for_update())).first()
    if case is None or case.overdue_since is not None:
        return
    h = case_history.c
    last = (await tx.conn.execute(select(h.kind).where(h.case_id == e.case_id, h.kind.in_(ALERT_ENDS + ALERT_REARMS))
                                  .order_by(h.id.desc()).limit(1))).scalar()
    if last in ALERT_ENDS:
        return
    await tx.conn.execute(update(cases).where(cases.c.id == e.case_id).values(overdue_since=utcnow()))


HANDLERS: dict[str, Any] = {"case.deadline_set.v1": on_deadline_set, "case.overdue.v1": on_overdue}

"""intake's event handlers: keep the case as shown by GET /cases/{id} in step with workflow."""

from __future__ import annotations

from sqlalchemy import update

from services.intake.adapters.db import cases
from shared.contracts.envelope import Envelope
from shared.contracts.events import CaseDeadlineSet, CaseOverdue
from shared.db import Tx, utcnow
from shared.messaging.bus import NotYet


async def on_deadline_set(tx: Tx, env: Envelope) -> None:
    e = CaseDeadlineSet.model_validate(env.data)
    res = await tx.conn.execute(update(cases).where(cases.c.id == e.case_id)
                                .values(due_at=e.due_at, due_date=e.due_date))
    if res.rowcount == 0:
        raise NotYet(f"case {e.case_id} not found")


async def on_overdue(tx: Tx, env: Envelope) -> None:
    e = CaseOverdue.model_validate(env.data)
    await tx.conn.execute(update(cases).where(cases.c.id == e.case_id, cases.c.overdue_since.is_(None))
                          .values(overdue_since=utcnow()))


HANDLERS = {"case.deadline_set.v1": on_deadline_set, "case.overdue.v1": on_overdue}

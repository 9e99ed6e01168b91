"""reporting's event handlers: fold events into the case_facts read model."""

from __future__ import annotations

from sqlalchemy import update

from services.reporting.adapters.db import case_facts
from shared.contracts.envelope import Envelope
from shared.contracts.events import CaseCreated, CaseDeadlineSet, CaseOverdue, NotificationSent
from shared.db import Tx, insert_ignoring_duplicates
from shared.messaging.bus import Retryable


async def on_case_created(tx: Tx, env: Envelope) -> None:
    e = CaseCreated.model_validate(env.data)
    await insert_ignoring_duplicates(tx.conn, case_facts, {
        "case_id": e.case_id, "tenant": env.tenant, "number": e.number, "type_code": e.case_type.code,
        "type_name": e.case_type.name, "status": e.status, "created_at": e.created_at, "due_at": None,
        "overdue_at": None, "emails_sent": 0})


async def _update(tx: Tx, case_id: object, **values: object) -> None:
    res = await tx.conn.execute(update(case_facts).where(case_facts.c.case_id == case_id).values(**values))
    if res.rowcount == 0:  # case.created still on its way (retry queue): try again later
        raise Retryable(f"case {case_id} not in the read model yet")


async def on_deadline_set(tx: Tx, env: Envelope) -> None:
    e = CaseDeadlineSet.model_validate(env.data)
    await _update(tx, e.case_id, due_at=e.due_at)


async def on_overdue(tx: Tx, env: Envelope) -> None:
    e = CaseOverdue.model_validate(env.data)
    await _update(tx, e.case_id, overdue_at=env.time)


async def on_notification_sent(tx: Tx, env: Envelope) -> None:
    e = NotificationSent.model_validate(env.data)
    if e.case_id is not None and e.channel == "email":
        await _update(tx, e.case_id, emails_sent=case_facts.c.emails_sent + 1)


HANDLERS = {"case.created.v1": on_case_created, "case.deadline_set.v1": on_deadline_set,
            "case.overdue.v1": on_overdue, "notification.sent.v1": on_notification_sent}

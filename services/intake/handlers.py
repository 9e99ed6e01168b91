"""intake's event handlers: keep the case as shown by GET /cases/{id} in step with workflow, and
each replica's catalog cache in step with every replica's catalog changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from services.intake.adapters import time_tables
from services.intake.adapters.case_tables import case_history
from services.intake.adapters.db import cases
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    AlertEnded,
    AlertRaised,
    CaseDeadlineSet,
    CaseHoldSet,
    CaseOverdue,
    CaseSlaChanged,
    NotificationFailed,
    NotificationSent,
)
from shared.db import Tx, utcnow
from shared.messaging.bus import NotYet
from shared.messaging.processor import Handler

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


# -- time (issue 10): workflow's clocks, hold and alerts. Not intake's numbered case events: the
# clocks keep the highest ``revision``, alerts are idempotent by id and an end wins over a raise.
async def _lock_case(tx: Tx, case_id: Any) -> Any:
    """The case row locked like an action locks it (serialises the writes of one case's clocks)."""
    case = (await tx.conn.execute(select(cases.c.id, cases.c.tenant).where(cases.c.id == case_id)
                                  .with_for_update())).first()
    if case is None:
        raise NotYet(f"case {case_id} not found")
    return case


async def _lock_case_and_clocks(tx: Tx, case_id: Any) -> tuple[Any, Any]:
    """``_lock_case`` and the clocks intake keeps of the case, in one statement."""
    case, stored = await time_tables.case_and_clocks_for_update(tx.conn, case_id)
    if case is None:
        raise NotYet(f"case {case_id} not found")
    return case, stored


async def _history(tx: Tx, case: Any, kind: str, data: dict[str, Any]) -> None:
    """A history line by workflow (no actor), as ``UnitOfWork.record`` writes one."""
    await tx.conn.execute(insert(case_history), {"case_id": case.id, "tenant": case.tenant, "at": utcnow(),
                                                 "actor_id": None, "actor_name": None, "kind": kind, "data": data})


async def on_sla_changed(tx: Tx, env: Envelope) -> None:
    e = CaseSlaChanged.model_validate(env.data)
    case, stored = await _lock_case_and_clocks(tx, e.case_id)
    if stored is not None and (e.revision < stored.revision or (e.revision == stored.revision and e.revision > 0)):
        return  # older (or the same) view of the clocks than the one kept
    await time_tables.save_clocks(tx.conn, stored, {
        "case_id": e.case_id, "tenant": case.tenant, "revision": e.revision, "updated_at": utcnow(),
        "clocks": [c.model_dump(mode="json") for c in e.clocks]})
    if e.announce:
        await _history(tx, case, "sla_changed", {"reason": e.reason, "revision": e.revision,
                                                 "clocks": [{"kind": c.kind, "state": c.state,
                                                             "due_at": c.due_at.isoformat() if c.due_at else None}
                                                            for c in e.clocks]})


async def on_hold_set(tx: Tx, env: Envelope) -> None:
    """R1.4: the case is executable from ``executable_from``."""
    e = CaseHoldSet.model_validate(env.data)
    case, stored = await _lock_case_and_clocks(tx, e.case_id)
    if stored is not None and stored.executable_from == e.executable_from:
        return  # the same hold again
    await time_tables.save_clocks(tx.conn, stored, {
        "case_id": e.case_id, "tenant": case.tenant, "executable_from": e.executable_from,
        "executable_from_date": e.executable_from_date, "updated_at": utcnow()})
    await _history(tx, case, "hold_set", {"executable_from": e.executable_from.isoformat(),
                                          "executable_from_date": e.executable_from_date.isoformat(),
                                          "business_days": e.business_days})


async def on_alert_raised(tx: Tx, env: Envelope) -> None:
    e = AlertRaised.model_validate(env.data)
    await time_tables.raise_alert(tx.conn, {
        "alert_id": e.alert_id, "tenant": env.tenant, "kind": e.kind, "case_id": e.case_id, "task_id": e.task_id,
        "responsible_id": e.responsible_id, "due_at": e.due_at, "raised_at": e.raised_at})


async def on_alert_ended(tx: Tx, env: Envelope) -> None:
    e = AlertEnded.model_validate(env.data)
    await time_tables.end_alert(tx.conn, {
        "alert_id": e.alert_id, "tenant": env.tenant, "kind": e.kind, "case_id": e.case_id, "task_id": e.task_id,
        "ended_at": e.ended_at, "end_reason": e.reason[:200]})


async def on_notification_failed(tx: Tx, env: Envelope) -> None:
    """Issue 11: a message about the case could not be delivered: a line in its history (by the
    system; the number is masked by notifier). Idempotent through the inbox."""
    e = NotificationFailed.model_validate(env.data)
    if e.case_id is None:
        return
    case = await _lock_case(tx, e.case_id)
    await _history(tx, case, "notification_failed", {
        "delivery_id": str(e.delivery_id), "channel": e.channel, "template": e.template,
        "recipient_role": e.recipient_role, "recipient": e.recipient, "state": e.state,
        "error_code": e.error_code, "error": e.error, "failed_at": e.at.isoformat()})


ESCALATION_TEMPLATE = "case_escalated"


def is_escalation_sent(env: Envelope) -> bool:
    """Only an escalation's notification.sent asks anything of intake (the two e-mails of every
    new case do not): the others are acked without a transaction (``Handler.applies``)."""
    return env.data.get("template") == ESCALATION_TEMPLATE and env.data.get("case_id") is not None


async def on_notification_sent(tx: Tx, env: Envelope) -> None:
    """R1.1 (issue 12): each escalation sent about the case (e-mail, SMS: the churn alerts among
    them) is a line in its history, once per delivery (a re-send of the same delivery adds none)."""
    e = NotificationSent.model_validate(env.data)
    if e.case_id is None or e.template != ESCALATION_TEMPLATE:
        return
    case = await _lock_case(tx, e.case_id)
    h = case_history.c
    earlier = (await tx.conn.execute(select(h.data).where(h.case_id == e.case_id,
                                                          h.kind == "notification_sent"))).scalars()
    if any((d or {}).get("delivery_id") == str(e.delivery_id) for d in earlier):
        return
    await _history(tx, case, "notification_sent", {
        "delivery_id": str(e.delivery_id), "channel": e.channel, "template": e.template,
        "recipient_role": e.recipient_role, "sent_at": e.sent_at.isoformat()})


HANDLERS: dict[str, Any] = {"case.deadline_set.v1": on_deadline_set, "case.overdue.v1": on_overdue,
                            "case.sla_changed.v1": on_sla_changed, "case.hold_set.v1": on_hold_set,
                            "alert.raised.v1": on_alert_raised, "alert.ended.v1": on_alert_ended,
                            "notification.failed.v1": on_notification_failed,
                            "notification.sent.v1": Handler(on_notification_sent, applies=is_escalation_sent)}

"""workflow's event handlers and timer firings: each parses its event and calls one use case."""

from __future__ import annotations

from services.workflow.adapters.db import sessions
from services.workflow.domain import escalation
from services.workflow.service_layer import clocks, copies, policies, tasks
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    AreaChanged,
    CaseAssigned,
    CaseCreated,
    CaseMailRequested,
    CasePriorityChanged,
    CaseReclassified,
    CaseTransition,
    CaseTriageEscalated,
    SlaSettingsChanged,
    TaskClosed,
    TaskCreated,
    UserProfile,
)
from shared.db import Tx
from shared.timers import FireFn

LEGACY_OVERDUE_TIMER = "case.overdue"  # timers armed before issue 10: fired as the resolution clock


async def on_case_created(tx: Tx, env: Envelope) -> None:
    await clocks.start_case_clocks(tx, env, CaseCreated.model_validate(env.data))


async def on_transition(tx: Tx, env: Envelope) -> None:
    e = CaseTransition.model_validate(env.data)
    if env.type == "case.executed.v1":
        await clocks.on_executed(tx, env, e.case_id, e.at, e.status_to)
    elif env.type == "case.finished.v1":
        await clocks.on_finished(tx, env, e.case_id, e.at, e.status_to)
    elif env.type == "case.paused.v1":
        await clocks.on_waiting(tx, env, e.case_id, e.at, e.status_to, waiting=True)
    elif env.type == "case.resumed.v1":
        await clocks.on_waiting(tx, env, e.case_id, e.at, e.status_to, waiting=False)
    elif env.type == "case.reopened.v1":
        await clocks.on_reopened(tx, env, e.case_id, e.at, e.status_to)


async def on_mail_requested(tx: Tx, env: Envelope) -> None:
    e = CaseMailRequested.model_validate(env.data)
    await clocks.on_first_response(tx, env, e.case_id, e.at, [*e.to, *e.cc])


async def on_assigned(tx: Tx, env: Envelope) -> None:
    e = CaseAssigned.model_validate(env.data)
    await clocks.on_assigned(tx, env, e.case_id, e.responsible_id)


async def on_priority_changed(tx: Tx, env: Envelope) -> None:
    """Re-target resolution to the new priority's target; R0.4: a raise tells the scheme's roles."""
    e = CasePriorityChanged.model_validate(env.data)
    ct = await clocks.on_priority_changed(tx, env, e.case_id, e.new)
    if e.raised and e.notify:
        people = await copies.people_of(tx.conn, env.tenant)
        area = await copies.area_of(tx.conn, env.tenant, e.area or ct.row["area"])
        recipients = escalation.priority_raise_recipients(
            e.notify, people, responsible_id=ct.row["responsible_id"], area_head_id=area.head_user_id if area else None,
            by=e.by)
        await clocks.tell(tx, ct, kind="priority_raised", recipients=recipients, message=e.reason_text or e.reason,
                          urgent=e.new == "urgent", at=e.at)


async def on_reclassified(tx: Tx, env: Envelope) -> None:
    e = CaseReclassified.model_validate(env.data)
    await clocks.on_reclassified(tx, env, e.case_id, e.case_type.code, e.case_type.deadline.model_dump(mode="json"),
                                 e.case_type.sla.model_dump(mode="json") if e.case_type.sla else None)


async def on_triage_escalated(tx: Tx, env: Envelope) -> None:
    """R3.4 rules 6–8: the supervisor of the original case's area gets the triage's message."""
    e = CaseTriageEscalated.model_validate(env.data)
    ct = await clocks.load(tx, e.case_id, env)
    clocks.applied(ct, env)
    people = await copies.people_of(tx.conn, env.tenant)
    area = await copies.area_of(tx.conn, env.tenant, e.area or ct.row["area"])
    recipients = escalation.supervisor_recipients(people, area_head_id=area.head_user_id if area else None)
    await clocks.tell(tx, ct, kind="triage_supervisor", recipients=recipients, message=e.message, urgent=False, at=e.at)
    await clocks.save(tx, ct, e.at, reason="triage escalated")


async def on_task_created(tx: Tx, env: Envelope) -> None:
    await tasks.start_task_clock(tx, env, TaskCreated.model_validate(env.data))


async def on_task_closed(tx: Tx, env: Envelope) -> None:
    await tasks.close_task_clock(tx, env, TaskClosed.model_validate(env.data))


async def on_sla_settings_changed(tx: Tx, env: Envelope) -> None:
    await copies.keep_sla_settings(tx, env.tenant, SlaSettingsChanged.model_validate(env.data))


async def on_area_changed(tx: Tx, env: Envelope) -> None:
    await copies.keep_area(tx, env.tenant, AreaChanged.model_validate(env.data))


async def on_user_upserted(tx: Tx, env: Envelope) -> None:
    """The manager chain and subscriptions for escalations; the token check's copy too."""
    await copies.keep_person(tx, env.tenant, UserProfile.model_validate(env.data), env.time)
    await sessions.on_user_upserted(tx, env)


TRANSITIONS = ("case.executed.v1", "case.finished.v1", "case.paused.v1", "case.resumed.v1", "case.reopened.v1")
HANDLERS = {"case.created.v1": on_case_created, **{t: on_transition for t in TRANSITIONS},
            "case.mail_requested.v1": on_mail_requested, "case.assigned.v1": on_assigned,
            "case.priority_changed.v1": on_priority_changed, "case.reclassified.v1": on_reclassified,
            "case.triage_escalated.v1": on_triage_escalated,
            "task.created.v1": on_task_created, "task.closed.v1": on_task_closed,
            "catalog.calendar_changed.v1": policies.on_calendar_changed,
            "catalog.case_type_changed.v1": policies.on_case_type_changed,
            "catalog.sla_settings_changed.v1": on_sla_settings_changed,
            "catalog.area_changed.v1": on_area_changed, "user.upserted.v1": on_user_upserted}
TIMER_FIRINGS: dict[str, FireFn] = {clocks.TIMER: clocks.fire_clock, tasks.TIMER: tasks.fire_task,
                                    LEGACY_OVERDUE_TIMER: clocks.fire_clock}

"""Use cases of tasks ("tickets", R2.4), technical work orders (R2.5) and a case's activities (R0.2).

- A task exists only under a case; one responsible (an active user of the tenant), optional CC
  users, due no later than the case's internal commitment date (else its deadline). Creating it
  e-mails them (``task.created.v1`` → notifier) and puts it in the responsible's task inbox.
- A work order hangs from a task; a technical manager approves or rejects it; it is executed
  only once approved. A task does not close while its work order awaits approval or execution.
- Activities: notes, tasks, logged calls with priority, reason, type, dates and an owner.

Each change is one transaction: the case is locked first (``case_for_update``: the same order
as finishing it, R2.6), then the row changed; permissions are judged on the rows as locked; a
history line on the case; the event in the outbox. Their events keep the case as subject and
are not numbered with the case version (they are not events of the case's lifecycle)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters import case_tables as q
from services.intake.adapters.catalog_tables import active_codes
from services.intake.adapters.list_counts import bounded_count
from services.intake.domain import hierarchy
from services.intake.domain.access import CaseAction, Principal, can_act_on_case
from services.intake.service_layer.cases import case_for_update, visible_case
from services.intake.service_layer.unit_of_work import UnitOfWork
from shared.contracts.events import ActivityEvent, TaskClosed, TaskCreated, UserRef, WorkOrderEvent
from shared.db import Database, utcnow
from shared.paging import CountedPage, Page, PageQuery
from shared.refusals import FieldErrors, Refused, conflict, field_error, forbidden, invalid, not_found

T = TypeVar("T")
TASK_NOT_FOUND = ("Tarea no encontrada", "Task not found")
WORK_ORDER_NOT_FOUND = ("Orden de trabajo no encontrada", "Work order not found")
ACTIVITY_NOT_FOUND = ("Actividad no encontrada", "Activity not found")


class Tenants(Protocol):
    """The catalog cache's view of tenants (time zone, language)."""

    async def tenant(self, slug: str) -> Any: ...


@dataclass(frozen=True)
class TaskView:
    """A task as the API shows it: its row (with its case's number and subject, its responsible's
    name, its work order) and whether it is overdue on the tenant's today (R2.4)."""

    row: q.Record
    overdue: bool

    @classmethod
    def of(cls, row: q.Record, today: date) -> TaskView:
        return cls(row, hierarchy.task_overdue(row.status, row.due_date, today))


def _by_name(p: Principal) -> str | None:
    return p.name or p.email


def _conflict(exc: hierarchy.Refused) -> Refused:
    return conflict(exc.code.replace("_", "-"), ("Acción no permitida", "Action not allowed"), exc.message,
                    **exc.extra)


async def _today(tenants: Tenants, tenant: str) -> date:
    row = await tenants.tenant(tenant)
    return datetime.now(ZoneInfo(row.timezone if row is not None else "UTC")).date()


def _manages(p: Principal, case: Any) -> bool:
    return can_act_on_case(p, CaseAction.MANAGE_TASKS, responsible_id=case.responsible_id, project=case.project)


async def _emit(uow: UnitOfWork, case: Any, type_: str, payload: BaseModel) -> None:
    await uow.emit(case.tenant, type_, payload, subject=str(case.id))


async def _task_of_tenant(conn: AsyncConnection, who: Principal, task_id: uuid.UUID, *,
                          for_update: bool = False) -> q.Record:
    row = await q.get_task(conn, task_id, for_update=for_update)
    if row is None or row.tenant != who.tenant:
        raise not_found(TASK_NOT_FOUND)
    return row


# -- tasks (R2.4) ---------------------------------------------------------------------------------
async def create_task(db: Database, tenants: Tenants, who: Principal, case_id: uuid.UUID, *, title: str,
                      description: str, responsible_id: uuid.UUID, cc_user_ids: list[uuid.UUID],
                      area: str | None, due_date: date) -> TaskView:
    """R2.4: a task under the case, with one responsible and optional CC users, due no later
    than the case's internal commitment date (else its deadline). Every bad field at once."""
    today = await _today(tenants, who.tenant)
    tenant = await tenants.tenant(who.tenant)
    default_lang = tenant.language if tenant is not None else "es"
    cc_ids = list(dict.fromkeys(u for u in cc_user_ids if u != responsible_id))
    async with UnitOfWork(db) as uow:
        case = await case_for_update(uow, who, case_id, CaseAction.MANAGE_TASKS)  # finishing waits (R2.6)
        errors = FieldErrors()
        found = await q.active_users(uow.conn, who.tenant, {responsible_id, *cc_ids})
        if area is not None and not await active_codes(uow.conn, "area", who.tenant, {area}):
            errors.add("area", ("El área no existe o está inactiva.", "No such area, or it is inactive."),
                       "unknown_area")
        if responsible_id not in found:
            errors.add("responsible_id", ("El responsable no es un usuario activo de este cliente.",
                                          "The responsible is not an active user of this tenant."),
                       "unknown_responsible")
        for i, uid in enumerate(cc_user_ids):
            if uid != responsible_id and uid not in found:
                errors.add(f"cc_user_ids.{i}", ("No es un usuario activo de este cliente.",
                                                "Not an active user of this tenant."), "unknown_user")
        if hierarchy.case_is_finished(case.status):
            raise conflict("case-finished", ("La solicitud está finalizada", "The case is finished"),
                           ("No se pueden crear tareas en una solicitud finalizada; reábrala primero.",
                            "Tasks cannot be added to a finished case; reopen it first."), status_now=case.status)
        try:
            hierarchy.check_task_due_date(due_date, hierarchy.task_due_limit(
                case.internal_commitment_date, case.due_date), today)
        except hierarchy.Refused as exc:
            errors.add("due_date", exc.message, exc.code, **exc.extra)
        errors.raise_if_any()
        now = utcnow()
        row: dict[str, Any] = {"id": uuid.uuid4(), "tenant": who.tenant, "case_id": case_id, "title": title,
               "description": description, "responsible_id": responsible_id, "cc_user_ids": [str(u) for u in cc_ids],
               "area": area, "due_date": due_date, "status": "open", "created_by": who.user_id, "created_at": now,
               "closed_at": None, "closing_note": None}
        await q.insert_task(uow.conn, row)
        resp = found[responsible_id]
        await uow.record(case, who, "task_created", {
            "task_id": str(row["id"]), "title": title, "responsible_id": str(resp.id),
            "responsible_email": resp.email, "cc": [found[u].email for u in cc_ids], "due_date": due_date.isoformat()})

        def ref(u: Any) -> UserRef:
            lang = u.language if u.language in ("es", "en") else default_lang
            return UserRef(user_id=u.id, email=u.email, name=u.name, language="en" if lang == "en" else "es")

        await _emit(uow, case, "task.created.v1", TaskCreated(
            task_id=row["id"], case_id=case_id, case_number=case.number, case_subject=case.subject, title=title,
            description=description, area=area, due_date=due_date, responsible=ref(resp),
            cc=[ref(found[u]) for u in cc_ids], by=who.user_id, by_name=_by_name(who), created_at=now))
        created = await q.get_task(uow.conn, row["id"])
    assert created is not None
    return TaskView.of(created, today)


async def case_tasks(db: Database, tenants: Tenants, who: Principal, case_id: uuid.UUID, page: PageQuery,
                     item: Callable[[TaskView], T]) -> Page[T]:
    """The case's tasks, oldest first."""
    after = page.after("case-tasks", datetime, uuid.UUID)
    await visible_case(db, who, case_id, CaseAction.READ)
    today = await _today(tenants, who.tenant)
    async with db.read() as conn:
        rows = await q.case_tasks(conn, case_id, after=after, limit=page.limit + 1)
    return Page.of(rows, page, "case-tasks", key=lambda r: (r.created_at, r.id),
                   item=lambda r: item(TaskView.of(r, today)))


async def task_inbox(db: Database, tenants: Tenants, who: Principal, page: PageQuery,
                     item: Callable[[TaskView], T], *, mine: bool, status: str | None,
                     case_id: uuid.UUID | None) -> CountedPage[T]:
    """R2.4 task inbox: by default the caller's open tasks, soonest due first, with their total
    (adapters/list_counts.py). ``mine=False``: every task of the tenant the caller may see."""
    if mine and who.user_id is None:
        raise invalid(field_error("mine", ("Una clave de API no tiene tareas propias; use mine=false.",
                                           "An API key has no tasks of its own; use mine=false."),
                                  "no_user", where="query"))
    after = page.after("tasks", date, uuid.UUID)
    today = await _today(tenants, who.tenant)
    listed = q.task_list(who, responsible_id=who.user_id if mine else None, status=status, case_id=case_id)
    async with db.read() as conn:
        rows = await q.list_tasks(conn, listed, after=after, limit=page.limit + 1)
        total, exact = await bounded_count(conn, listed)
    return CountedPage.of(rows, page, "tasks", key=lambda r: (r.due_date, r.id),
                          item=lambda r: item(TaskView.of(r, today)), total=total, total_exact=exact)


async def get_task(db: Database, who: Principal, task_id: uuid.UUID) -> q.Record:
    """The task if its case is visible to the caller; another tenant's is 404."""
    async with db.read() as conn:
        row = await _task_of_tenant(conn, who, task_id)
    await visible_case(db, who, row.case_id, CaseAction.READ)
    return row


async def show_task(db: Database, tenants: Tenants, who: Principal, task_id: uuid.UUID) -> TaskView:
    """``GET /tasks/{id}``: the task (as ``get_task``) and whether it is overdue."""
    return TaskView.of(await get_task(db, who, task_id), await _today(tenants, who.tenant))


async def task_for_attachment(uow: UnitOfWork, who: Principal, task_id: uuid.UUID, action: CaseAction) -> q.Record:
    """The case of a task, locked and checked for ``action`` (attachments on a task)."""
    task = await _task_of_tenant(uow.conn, who, task_id)
    return await case_for_update(uow, who, task.case_id, action)


async def close_task(db: Database, tenants: Tenants, who: Principal, task_id: uuid.UUID, note: str) -> TaskView:
    """R2.4: the responsible closes the task with a note (admins and supervisors may too).
    Refused while its work order awaits approval or execution."""
    async with UnitOfWork(db) as uow:
        first = await _task_of_tenant(uow.conn, who, task_id)
        case = await case_for_update(uow, who, first.case_id, CaseAction.READ)  # same lock order as finishing
        task = await _task_of_tenant(uow.conn, who, task_id, for_update=True)
        if not hierarchy.can_close_task(who, task.responsible_id):
            raise forbidden(("Sólo el responsable de la tarea, un supervisor o un administrador puede cerrarla.",
                             "Only the task's responsible, a supervisor or an administrator may close it."))
        if task.status == "closed":
            raise conflict("already-closed", ("La tarea ya está cerrada", "The task is already closed"))
        wo = await q.work_order_of_task(uow.conn, task_id)
        if wo is not None and wo.status in hierarchy.BLOCKS_TASK_CLOSING:
            raise conflict("open-children", ("La orden de trabajo sigue pendiente", "The work order is still pending"),
                           ("La tarea tiene una orden de trabajo pendiente de aprobación o de ejecución.",
                            "The task has a work order awaiting approval or execution."),
                           work_order={"id": str(wo.id), "status": wo.status})
        now = utcnow()
        row = await q.update_task(uow.conn, task_id, status="closed", closed_at=now, closing_note=note)
        await uow.record(case, who, "task_closed", {"task_id": str(task_id), "title": task.title, "note": note})
        await _emit(uow, case, "task.closed.v1", TaskClosed(
            task_id=task_id, case_id=case.id, responsible_id=task.responsible_id, note=note, by=who.user_id,
            by_name=_by_name(who), closed_at=now))
    return TaskView.of(row, await _today(tenants, who.tenant))


# -- work orders (R2.5) ---------------------------------------------------------------------------
async def request_work_order(db: Database, who: Principal, task_id: uuid.UUID, description: str) -> q.Record:
    """R2.5: attach a technical work order to the task; it waits for a technical manager's
    approval before it can be executed."""
    async with UnitOfWork(db) as uow:
        first = await _task_of_tenant(uow.conn, who, task_id)
        case = await case_for_update(uow, who, first.case_id, CaseAction.READ)
        task = await _task_of_tenant(uow.conn, who, task_id, for_update=True)
        if not (who.user_id is not None and who.user_id == task.responsible_id) and not _manages(who, case):
            raise forbidden(("Sólo el responsable de la tarea o de la solicitud, un supervisor o un administrador "
                             "puede pedir una orden de trabajo.",
                             "Only the task's or the case's responsible, a supervisor or an administrator may "
                             "request a work order."))
        if task.status != "open":
            raise conflict("task-closed", ("La tarea está cerrada", "The task is closed"))
        existing = await q.work_order_of_task(uow.conn, task_id)
        if existing is not None:
            raise conflict("work-order-exists", ("La tarea ya tiene una orden de trabajo",
                                                 "The task already has a work order"),
                           work_order={"id": str(existing.id), "status": existing.status})
        now = utcnow()
        row: dict[str, Any] = {"id": uuid.uuid4(), "tenant": who.tenant, "task_id": task_id, "description": description,
               "status": hierarchy.WorkOrderStatus.PENDING_APPROVAL.value, "decided_by": None, "decided_at": None,
               "decision_comment": None, "executed_at": None, "executed_by": None, "execution_note": None,
               "created_by": who.user_id, "created_at": now}
        created = await q.insert_work_order(uow.conn, row)
        await uow.record(case, who, "work_order_requested", {"work_order_id": str(row["id"]),
                                                             "task_id": str(task_id), "description": description})
        await _emit(uow, case, "workorder.requested.v1", WorkOrderEvent(
            work_order_id=row["id"], task_id=task_id, case_id=case.id, status="pending_approval",
            description=description, comment=None, by=who.user_id, by_name=_by_name(who), at=now))
    return created


async def list_work_orders(db: Database, who: Principal, page: PageQuery, item: Callable[[Any], T], *,
                           status: str | None) -> CountedPage[T]:
    """The technical manager's inbox: by default the work orders awaiting approval, oldest first,
    with their total (adapters/list_counts.py)."""
    after = page.after("work-orders", datetime, uuid.UUID)
    listed = q.work_order_list(who, status=status)
    async with db.read() as conn:
        rows = await q.list_work_orders(conn, listed, after=after, limit=page.limit + 1)
        total, exact = await bounded_count(conn, listed)
    return CountedPage.of(rows, page, "work-orders", key=lambda r: (r.created_at, r.id), item=item, total=total,
                          total_exact=exact)


async def get_work_order(db: Database, who: Principal, work_order_id: uuid.UUID) -> q.Record:
    async with db.read() as conn:
        row = await q.get_work_order(conn, work_order_id)
    if row is None or row.tenant != who.tenant:
        raise not_found(WORK_ORDER_NOT_FOUND)
    await visible_case(db, who, row.case_id, CaseAction.READ)
    return row


_KINDS = {hierarchy.WorkOrderStatus.APPROVED: "approved", hierarchy.WorkOrderStatus.REJECTED: "rejected",
          hierarchy.WorkOrderStatus.EXECUTED: "executed"}


async def _move_work_order(db: Database, who: Principal, work_order_id: uuid.UUID, *, approve: bool | None,
                           text: str | None) -> q.Record:
    """approve True/False: the technical manager's decision; None: execution."""
    async with UnitOfWork(db) as uow:
        first = await q.get_work_order(uow.conn, work_order_id)
        if first is None or first.tenant != who.tenant:
            raise not_found(WORK_ORDER_NOT_FOUND)
        case = await case_for_update(uow, who, first.case_id, CaseAction.READ)
        wo = await q.get_work_order(uow.conn, work_order_id, for_update=True)
        assert wo is not None  # work orders are never deleted
        if approve is not None:
            if not can_act_on_case(who, CaseAction.APPROVE_WORK_ORDER, responsible_id=case.responsible_id,
                                   project=case.project):
                raise forbidden(("Sólo un Gerente Técnico aprueba o rechaza órdenes de trabajo.",
                                 "Only a technical manager approves or rejects work orders."))
        elif not _manages(who, case) and (who.user_id is None
                                          or who.user_id not in (wo.created_by, wo.task_responsible_id)):
            raise forbidden(("Sólo el responsable de la tarea o de la solicitud, un supervisor o un administrador "
                             "ejecuta la orden de trabajo.",
                             "Only the task's or the case's responsible, a supervisor or an administrator executes "
                             "the work order."))
        try:
            status = hierarchy.WorkOrderStatus(wo.status)
            new = (hierarchy.execute_work_order(status) if approve is None
                   else hierarchy.decide_work_order(status, approve))
        except hierarchy.Refused as exc:
            raise _conflict(exc) from None
        now = utcnow()
        values: dict[str, Any] = {"status": new.value}
        if approve is None:
            values |= {"executed_at": now, "executed_by": who.user_id, "execution_note": text}
        else:
            values |= {"decided_at": now, "decided_by": who.user_id, "decision_comment": text}
        row = await q.update_work_order(uow.conn, work_order_id, **values)
        kind = _KINDS[new]
        await uow.record(case, who, f"work_order_{kind}", {"work_order_id": str(work_order_id),
                                                           "task_id": str(wo.task_id), "text": text})
        await _emit(uow, case, f"workorder.{kind}.v1", WorkOrderEvent(
            work_order_id=work_order_id, task_id=wo.task_id, case_id=case.id, status=new.value,
            description=wo.description, comment=text, by=who.user_id, by_name=_by_name(who), at=now))
    return row


async def approve_work_order(db: Database, who: Principal, work_order_id: uuid.UUID, comment: str | None
                             ) -> q.Record:
    """R2.5: a technical manager approves the work order (optional comment)."""
    return await _move_work_order(db, who, work_order_id, approve=True, text=comment or None)


async def reject_work_order(db: Database, who: Principal, work_order_id: uuid.UUID, comment: str | None
                            ) -> q.Record:
    """R2.5: a technical manager rejects it, saying why; a rejected work order is never executed."""
    if not comment:
        raise invalid(field_error("comment", ("Indique por qué se rechaza.", "Say why it is rejected."),
                                  "comment_required"))
    return await _move_work_order(db, who, work_order_id, approve=False, text=comment)


async def execute_work_order(db: Database, who: Principal, work_order_id: uuid.UUID, note: str) -> q.Record:
    """R2.5: record the field work done; refused until a technical manager has approved it."""
    return await _move_work_order(db, who, work_order_id, approve=None, text=note)


# -- activities (R0.2) ----------------------------------------------------------------------------
def _activity_event(r: Any, p: Principal, at: datetime) -> ActivityEvent:
    return ActivityEvent(activity_id=r.id, case_id=r.case_id, kind=r.kind, priority=r.priority, reason=r.reason,
                         type=r.type, planned_date=r.planned_date, done_date=r.done_date, status=r.status,
                         owner_id=r.owner_id, by=p.user_id, at=at)


async def add_activity(db: Database, who: Principal, case_id: uuid.UUID, *, kind: hierarchy.ActivityKind,
                       priority: str, reason: str, type_: str | None, description: str, planned_date: date | None,
                       done_date: date | None, owner_id: uuid.UUID | None) -> q.Record:
    """R0.2: a note, task or logged call on the case; with ``done_date`` it is recorded as completed."""
    async with UnitOfWork(db) as uow:
        case = await case_for_update(uow, who, case_id, CaseAction.MANAGE_TASKS)
        owner = owner_id or who.user_id
        if owner is None:
            raise invalid(field_error("owner_id", ("Indique el dueño de la actividad.", "Give the activity's owner."),
                                      "owner_required"))
        if owner not in await q.active_users(uow.conn, who.tenant, {owner}):
            raise invalid(field_error("owner_id", ("El dueño no es un usuario activo de este cliente.",
                                                   "The owner is not an active user of this tenant."),
                                      "unknown_owner"))
        now = utcnow()
        done = done_date is not None
        row = await q.insert_activity(uow.conn, {
            "id": uuid.uuid4(), "tenant": who.tenant, "case_id": case_id, "kind": kind.value, "priority": priority,
            "reason": reason, "type": type_ or kind.value, "description": description or None,
            "planned_date": planned_date, "done_date": done_date,
            "status": (hierarchy.ActivityStatus.COMPLETED if done else hierarchy.ActivityStatus.OPEN).value,
            "owner_id": owner, "created_by": who.user_id, "created_at": now,
            "completed_by": who.user_id if done else None, "completed_at": now if done else None})
        await uow.record(case, who, "activity_added", {
            "activity_id": str(row.id), "kind": row.kind, "priority": row.priority, "reason": reason,
            "type": row.type, "status": row.status, "owner_id": str(owner),
            "planned_date": planned_date.isoformat() if planned_date else None,
            "done_date": done_date.isoformat() if done_date else None})
        await _emit(uow, case, "activity.created.v1", _activity_event(row, who, now))
    return row


async def list_activities(db: Database, who: Principal, case_id: uuid.UUID, page: PageQuery,
                          item: Callable[[Any], T], *, status: str | None) -> Page[T]:
    """R0.2: the case's activities, open and finished (``status``), oldest first."""
    after = page.after("activities", datetime, uuid.UUID)
    await visible_case(db, who, case_id, CaseAction.READ)
    async with db.read() as conn:
        rows = await q.list_activities(conn, case_id, status=status, after=after, limit=page.limit + 1)
    return Page.of(rows, page, "activities", key=lambda r: (r.created_at, r.id), item=item)


async def complete_activity(db: Database, tenants: Tenants, who: Principal, case_id: uuid.UUID,
                            activity_id: uuid.UUID, *, done_date: date | None, note: str) -> q.Record:
    """R0.2: finish an activity (its owner, or whoever manages the case's tasks)."""
    today = await _today(tenants, who.tenant)
    async with UnitOfWork(db) as uow:
        case = await case_for_update(uow, who, case_id, CaseAction.READ)
        cur = await q.get_activity(uow.conn, case_id, activity_id, for_update=True)
        if cur is None:
            raise not_found(ACTIVITY_NOT_FOUND)
        if not hierarchy.can_complete_activity(who, cur.owner_id, _manages(who, case)):
            raise forbidden(("Sólo el dueño de la actividad o quien gestiona la solicitud puede completarla.",
                             "Only the activity's owner or whoever manages the case may complete it."))
        if cur.status == hierarchy.ActivityStatus.COMPLETED.value:
            raise conflict("already-completed", ("La actividad ya está completada",
                                                 "The activity is already completed"))
        now = utcnow()
        done = done_date or today
        row = await q.update_activity(uow.conn, activity_id, status=hierarchy.ActivityStatus.COMPLETED.value,
                                      done_date=done, completed_by=who.user_id, completed_at=now)
        await uow.record(case, who, "activity_completed", {"activity_id": str(activity_id),
                                                           "done_date": done.isoformat(), "note": note or None})
        await _emit(uow, case, "activity.completed.v1", _activity_event(row, who, now))
    return row

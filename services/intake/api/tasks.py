"""Tasks ("tickets", R2.4), technical work orders (R2.5) and a case's activities (R0.2).

- A task exists only under a case; it has one responsible (an active user of the tenant),
  optional CC users, and a due date no later than the case's internal commitment date (or,
  without one, the case's deadline). Creating it e-mails the responsible and the CC users
  (``task.created.v1`` → notifier) and puts it in the responsible's task inbox (``GET /tasks``),
  where they close it. A case finishes only when its tasks are closed (R2.6, in case_actions).
- A work order hangs from a task; a technical manager approves or rejects it; it is executed
  only once approved. A task does not close while its work order awaits approval or execution.
- Activities (notes, tasks, logged calls) with priority, reason, type, planned and done dates
  and an owner; completed by their owner or whoever manages the case.

Every change locks what it changes, appends a line to the case's history and writes its event
to the outbox in the same transaction. Refusals change nothing."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from types import SimpleNamespace
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters.case_tables import activities, tasks, work_orders
from services.intake.adapters.catalog_tables import areas
from services.intake.adapters.db import cases, users
from services.intake.adapters.party_tables import party_visible
from services.intake.api.case_actions import _locked_case, emit, record
from services.intake.api.cases import visible_case
from services.intake.api.deps import CurrentPrincipal
from services.intake.api.parties import decode_cursor, encode_cursor
from services.intake.domain import hierarchy, lifecycle
from services.intake.domain.access import CaseAction, Principal, can_act_on_case
from shared.contracts.events import ActivityEvent, TaskClosed, TaskCreated, UserRef, WorkOrderEvent
from shared.db import utcnow
from shared.problems import Problem, field_error, forbidden, invalid, not_found
from shared.runtime import runtime_of

router = APIRouter(tags=["tasks and work orders"])
TASK_NOT_FOUND = ("Tarea no encontrada", "Task not found")
WORK_ORDER_NOT_FOUND = ("Orden de trabajo no encontrada", "Work order not found")
ACTIVITY_NOT_FOUND = ("Actividad no encontrada", "Activity not found")
Slug = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
OptionalBody = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]


# -- models ---------------------------------------------------------------------------------------
class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "title": "Inspeccionar el empalme", "description": "Revisar el empalme del suministro 123456.",
        "responsible_id": "<GET /users>", "cc_user_ids": [], "area": "departamento-tecnico",
        "due_date": "2026-12-04"}})
    title: Title
    description: OptionalBody = ""
    responsible_id: uuid.UUID = Field(description="R2.4: the one person who must do it")
    cc_user_ids: list[uuid.UUID] = Field(default_factory=list, max_length=20, description="Copied on the e-mail")
    area: Slug | None = Field(default=None, description="Catalog area (e.g. the technical department)")
    due_date: date = Field(description="No later than the case's internal commitment date (R2.4)")


class TaskOut(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    case_number: str
    case_subject: str
    title: str
    description: str
    responsible_id: uuid.UUID
    cc_user_ids: list[uuid.UUID]
    area: str | None
    due_date: date
    status: Literal["open", "closed"]
    created_by: uuid.UUID | None
    created_at: datetime
    closed_at: datetime | None
    closing_note: str | None
    work_order_id: uuid.UUID | None = None
    work_order_status: str | None = None


class TaskPage(BaseModel):
    items: list[TaskOut]
    next_after: str | None = Field(description="Pass as `after` for the next page; null on the last")


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Body


class WorkOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: Body


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: OptionalBody = ""


class WorkOrderOut(BaseModel):
    id: uuid.UUID
    task_id: uuid.UUID
    task_title: str
    case_id: uuid.UUID
    case_number: str
    description: str
    status: hierarchy.WorkOrderStatus
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    decision_comment: str | None
    executed_by: uuid.UUID | None
    executed_at: datetime | None
    execution_note: str | None
    created_by: uuid.UUID | None
    created_at: datetime


class WorkOrderPage(BaseModel):
    items: list[WorkOrderOut]
    next_after: str | None


class ActivityIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "kind": "call", "priority": "normal", "reason": "Seguimiento", "type": "llamada-saliente",
        "description": "Se llamó al cliente para confirmar la visita.", "done_date": "2026-11-24"}})
    kind: hierarchy.ActivityKind
    priority: lifecycle.Priority = lifecycle.Priority.NORMAL
    reason: Title
    type: Slug | None = Field(default=None, description="Free classification; default: the kind")
    description: OptionalBody = ""
    planned_date: date | None = None
    done_date: date | None = Field(default=None, description="Given: the activity is recorded as completed")
    owner_id: uuid.UUID | None = Field(default=None, description="Default: the caller")


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    done_date: date | None = Field(default=None, description="Default: today (tenant's time zone)")
    note: OptionalBody = ""


class ActivityOut(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    kind: hierarchy.ActivityKind
    priority: str
    reason: str
    type: str
    description: str | None
    planned_date: date | None
    done_date: date | None
    status: hierarchy.ActivityStatus
    owner_id: uuid.UUID
    created_by: uuid.UUID | None
    created_at: datetime
    completed_by: uuid.UUID | None
    completed_at: datetime | None


# -- plumbing -------------------------------------------------------------------------------------
def _by_name(p: Principal) -> str | None:
    return p.name or p.email


def _conflict(exc: hierarchy.Refused) -> Problem:
    return Problem(409, exc.code.replace("_", "-"), ("Acción no permitida", "Action not allowed"), exc.message,
                   **exc.extra)


async def _tenant_today(request: Request, tenant: str) -> date:
    row = await runtime_of(request).extras["catalog"].tenant(tenant)
    return datetime.now(ZoneInfo(row.timezone if row is not None else "UTC")).date()


async def _active_users(conn: AsyncConnection, tenant: str, ids: set[uuid.UUID]) -> dict[uuid.UUID, Any]:
    if not ids:
        return {}
    rows = await conn.execute(select(users.c.id, users.c.email, users.c.name, users.c.language).where(
        users.c.tenant == tenant, users.c.id.in_(ids), users.c.active.is_(True)))
    return {r.id: r for r in rows}


def _task_query() -> Any:
    return (select(tasks, cases.c.number.label("case_number"), cases.c.subject.label("case_subject"),
                   work_orders.c.id.label("work_order_id"), work_orders.c.status.label("work_order_status"))
            .select_from(tasks.join(cases, cases.c.id == tasks.c.case_id)
                         .outerjoin(work_orders, work_orders.c.task_id == tasks.c.id)))


def task_out(r: Any) -> TaskOut:
    return TaskOut(id=r.id, case_id=r.case_id, case_number=r.case_number, case_subject=r.case_subject, title=r.title,
                   description=r.description, responsible_id=r.responsible_id,
                   cc_user_ids=[uuid.UUID(str(u)) for u in r.cc_user_ids], area=r.area, due_date=r.due_date,
                   status=r.status, created_by=r.created_by, created_at=r.created_at, closed_at=r.closed_at,
                   closing_note=r.closing_note, work_order_id=r.work_order_id, work_order_status=r.work_order_status)


async def visible_task(request: Request, p: Principal, task_id: uuid.UUID,
                       action: CaseAction = CaseAction.READ) -> tuple[Any, Any]:
    """(task, case) if the task's case is visible to the caller for ``action``; another tenant's
    task is 404."""
    async with runtime_of(request).db.read() as conn:
        row = (await conn.execute(_task_query().where(tasks.c.id == task_id))).first()
    if row is None or row.tenant != p.tenant:
        raise not_found(TASK_NOT_FOUND)
    case = await visible_case(request, p, row.case_id, action)
    return row, case


def _manages(p: Principal, case: Any) -> bool:
    return can_act_on_case(p, CaseAction.MANAGE_TASKS, responsible_id=case.responsible_id, project=case.project)


def _keyset(after: str | None, first: Any, second: Any, parse: Any) -> Any:
    """Rows after the cursor in (first, second) ascending order."""
    if not after:
        return None
    a, b = decode_cursor(after, 2)
    try:
        va, vb = parse(a), uuid.UUID(b)
    except ValueError:
        raise invalid(field_error("after", ("El cursor de página no es válido.", "Invalid page cursor."),
                                  "invalid_cursor", where="query")) from None
    return or_(first > va, and_(first == va, second > vb))


# -- tasks ----------------------------------------------------------------------------------------
@router.post("/cases/{case_id}/tasks", status_code=201, response_model=TaskOut,
             responses={404: {"description": "No such case (a task exists only under a case)"},
                        409: {"description": "The case is finished"},
                        422: {"description": "Invalid input; e.g. due after the internal commitment date"}})
async def create_task(case_id: uuid.UUID, body: TaskIn, request: Request, p: CurrentPrincipal) -> JSONResponse:
    """R2.4: a task under the case, with one responsible and optional CC users, due no later
    than the case's internal commitment date (else its deadline). The responsible and the CC
    users are e-mailed; the task is in the responsible's inbox (``GET /tasks``)."""
    await visible_case(request, p, case_id, CaseAction.MANAGE_TASKS)
    rt = runtime_of(request)
    errors: list[dict[str, Any]] = []
    cc_ids = list(dict.fromkeys(u for u in body.cc_user_ids if u != body.responsible_id))
    async with rt.db.read() as conn:
        found = await _active_users(conn, p.tenant, {body.responsible_id, *cc_ids})
        if body.area is not None and (await conn.execute(select(areas.c.code).where(
                areas.c.tenant == p.tenant, areas.c.code == body.area, areas.c.active.is_(True)))).first() is None:
            errors.append(field_error("area", ("El área no existe o está inactiva.", "No such area, or it is inactive."),
                                      "unknown_area"))
    if body.responsible_id not in found:
        errors.append(field_error("responsible_id", ("El responsable no es un usuario activo de este cliente.",
                                                     "The responsible is not an active user of this tenant."),
                                  "unknown_responsible"))
    for i, uid in enumerate(body.cc_user_ids):
        if uid != body.responsible_id and uid not in found:
            errors.append(field_error(f"cc_user_ids.{i}", ("No es un usuario activo de este cliente.",
                                                           "Not an active user of this tenant."), "unknown_user"))
    today = await _tenant_today(request, p.tenant)
    tenant = await rt.extras["catalog"].tenant(p.tenant)
    default_lang = tenant.language if tenant is not None else "es"
    async with rt.db.transaction() as tx:
        case = await _locked_case(tx, case_id)  # finishing the case waits for this (R2.6)
        if hierarchy.case_is_finished(case.status):
            raise Problem(409, "case-finished", ("La solicitud está finalizada", "The case is finished"),
                          ("No se pueden crear tareas en una solicitud finalizada; reábrala primero.",
                           "Tasks cannot be added to a finished case; reopen it first."), status_now=case.status)
        try:
            hierarchy.check_task_due_date(body.due_date, hierarchy.task_due_limit(
                case.internal_commitment_date, case.due_date), today)
        except hierarchy.Refused as exc:
            errors.append({**field_error("due_date", exc.message, exc.code), **exc.extra})
        if errors:
            raise invalid(*errors)
        now = utcnow()
        row = {"id": uuid.uuid4(), "tenant": p.tenant, "case_id": case_id, "title": body.title,
               "description": body.description, "responsible_id": body.responsible_id,
               "cc_user_ids": [str(u) for u in cc_ids], "area": body.area, "due_date": body.due_date,
               "status": "open", "created_by": p.user_id, "created_at": now, "closed_at": None, "closing_note": None}
        await tx.conn.execute(insert(tasks), row)
        resp = found[body.responsible_id]
        await record(tx, case, p, "task_created", {
            "task_id": str(row["id"]), "title": body.title, "responsible_id": str(resp.id),
            "responsible_email": resp.email, "cc": [found[u].email for u in cc_ids],
            "due_date": body.due_date.isoformat()})

        def ref(u: Any) -> UserRef:
            return UserRef(user_id=u.id, email=u.email, name=u.name,
                           language=u.language if u.language in ("es", "en") else default_lang)

        await emit(tx, case, "task.created.v1", TaskCreated(
            task_id=row["id"], case_id=case_id, case_number=case.number, case_subject=case.subject,
            title=body.title, description=body.description, area=body.area, due_date=body.due_date,
            responsible=ref(resp), cc=[ref(found[u]) for u in cc_ids], by=p.user_id, by_name=_by_name(p),
            created_at=now))
    out = task_out(SimpleNamespace(**row, case_number=case.number, case_subject=case.subject, work_order_id=None,
                                   work_order_status=None))
    return JSONResponse(out.model_dump(mode="json"), status_code=201, headers={"Location": f"/tasks/{row['id']}"})


@router.get("/cases/{case_id}/tasks", response_model=list[TaskOut])
async def case_tasks(case_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> list[TaskOut]:
    """The case's tasks, oldest first."""
    await visible_case(request, p, case_id, CaseAction.READ)
    async with runtime_of(request).db.read() as conn:
        rows = (await conn.execute(_task_query().where(tasks.c.case_id == case_id)
                                   .order_by(tasks.c.created_at, tasks.c.id))).all()
    return [task_out(r) for r in rows]


@router.get("/tasks", response_model=TaskPage)
async def task_inbox(request: Request, p: CurrentPrincipal,
                     mine: Annotated[bool, Query(description="Only the caller's tasks (the task inbox)")] = True,
                     status: Annotated[Literal["open", "closed", "all"], Query()] = "open",
                     case_id: uuid.UUID | None = None,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50,
                     after: Annotated[str | None, Query(description="next_after of the previous page")] = None,
                     ) -> TaskPage:
    """R2.4 task inbox: by default the caller's open tasks, soonest due first (keyset paging).
    ``mine=false``: every task of the tenant the caller may see."""
    if mine and p.user_id is None:
        raise invalid(field_error("mine", ("Una clave de API no tiene tareas propias; use mine=false.",
                                           "An API key has no tasks of its own; use mine=false."),
                                  "no_user", where="query"))
    q = _task_query().where(tasks.c.tenant == p.tenant, party_visible(p, cases.c.party_id))
    if mine:
        q = q.where(tasks.c.responsible_id == p.user_id)
    if status != "all":
        q = q.where(tasks.c.status == status)
    if case_id is not None:
        q = q.where(tasks.c.case_id == case_id)
    cond = _keyset(after, tasks.c.due_date, tasks.c.id, date.fromisoformat)
    if cond is not None:
        q = q.where(cond)
    async with runtime_of(request).db.read() as conn:
        rows = (await conn.execute(q.order_by(tasks.c.due_date, tasks.c.id).limit(limit + 1))).all()
    page = rows[:limit]
    nxt = encode_cursor(page[-1].due_date.isoformat(), page[-1].id) if len(rows) > limit else None
    return TaskPage(items=[task_out(r) for r in page], next_after=nxt)


@router.get("/tasks/{task_id}", response_model=TaskOut, responses={404: {"description": "No such task"}})
async def get_task(task_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> TaskOut:
    return task_out((await visible_task(request, p, task_id))[0])


@router.post("/tasks/{task_id}/close", response_model=TaskOut,
             responses={409: {"description": "Already closed, or its work order is still pending"}})
async def close_task(task_id: uuid.UUID, body: NoteIn, request: Request, p: CurrentPrincipal) -> TaskOut:
    """R2.4: the responsible closes the task with a note (admins and supervisors may too).
    Refused while its work order awaits approval or execution."""
    task, _ = await visible_task(request, p, task_id)
    if not hierarchy.can_close_task(p, task.responsible_id):
        raise forbidden(("Sólo el responsable de la tarea, un supervisor o un administrador puede cerrarla.",
                         "Only the task's responsible, a supervisor or an administrator may close it."))
    async with runtime_of(request).db.transaction() as tx:
        case = await _locked_case(tx, task.case_id)  # same lock order as creating a task and finishing
        cur = (await tx.conn.execute(select(tasks).where(tasks.c.id == task_id).with_for_update())).one()
        if cur.status == "closed":
            raise Problem(409, "already-closed", ("La tarea ya está cerrada", "The task is already closed"))
        wo = (await tx.conn.execute(select(work_orders.c.id, work_orders.c.status)
                                    .where(work_orders.c.task_id == task_id))).first()
        if wo is not None and wo.status in hierarchy.BLOCKS_TASK_CLOSING:
            raise Problem(409, "open-children", ("La orden de trabajo sigue pendiente",
                                                 "The work order is still pending"),
                          ("La tarea tiene una orden de trabajo pendiente de aprobación o de ejecución.",
                           "The task has a work order awaiting approval or execution."),
                          work_order={"id": str(wo.id), "status": wo.status})
        now = utcnow()
        await tx.conn.execute(update(tasks).where(tasks.c.id == task_id).values(
            status="closed", closed_at=now, closing_note=body.note))
        await record(tx, case, p, "task_closed", {"task_id": str(task_id), "title": task.title, "note": body.note})
        await emit(tx, case, "task.closed.v1", TaskClosed(
            task_id=task_id, case_id=case.id, responsible_id=task.responsible_id, note=body.note, by=p.user_id,
            by_name=_by_name(p), closed_at=now))
        row = (await tx.conn.execute(_task_query().where(tasks.c.id == task_id))).one()
    return task_out(row)


# -- work orders (R2.5) ---------------------------------------------------------------------------
def _work_order_query() -> Any:
    return (select(work_orders, tasks.c.title.label("task_title"), tasks.c.case_id,
                   tasks.c.responsible_id.label("task_responsible_id"), cases.c.number.label("case_number"))
            .select_from(work_orders.join(tasks, tasks.c.id == work_orders.c.task_id)
                         .join(cases, cases.c.id == tasks.c.case_id)))


def work_order_out(r: Any) -> WorkOrderOut:
    return WorkOrderOut(id=r.id, task_id=r.task_id, task_title=r.task_title, case_id=r.case_id,
                        case_number=r.case_number, description=r.description, status=r.status,
                        decided_by=r.decided_by, decided_at=r.decided_at, decision_comment=r.decision_comment,
                        executed_by=r.executed_by, executed_at=r.executed_at, execution_note=r.execution_note,
                        created_by=r.created_by, created_at=r.created_at)


async def _visible_work_order(request: Request, p: Principal, wo_id: uuid.UUID) -> tuple[Any, Any]:
    async with runtime_of(request).db.read() as conn:
        row = (await conn.execute(_work_order_query().where(work_orders.c.id == wo_id))).first()
    if row is None or row.tenant != p.tenant:
        raise not_found(WORK_ORDER_NOT_FOUND)
    return row, await visible_case(request, p, row.case_id, CaseAction.READ)


@router.post("/tasks/{task_id}/work-order", status_code=201, response_model=WorkOrderOut,
             responses={409: {"description": "The task is closed or already has a work order"}})
async def request_work_order(task_id: uuid.UUID, body: WorkOrderIn, request: Request,
                             p: CurrentPrincipal) -> JSONResponse:
    """R2.5: attach a technical work order to the task; it waits for a technical manager's
    approval (``GET /work-orders?status=pending_approval``) before it can be executed."""
    task, case = await visible_task(request, p, task_id)
    if not (p.user_id is not None and p.user_id == task.responsible_id) and not _manages(p, case):
        raise forbidden(("Sólo el responsable de la tarea o de la solicitud, un supervisor o un administrador "
                         "puede pedir una orden de trabajo.",
                         "Only the task's or the case's responsible, a supervisor or an administrator may request "
                         "a work order."))
    async with runtime_of(request).db.transaction() as tx:
        cur = (await tx.conn.execute(select(tasks.c.status).where(tasks.c.id == task_id).with_for_update())).one()
        if cur.status != "open":
            raise Problem(409, "task-closed", ("La tarea está cerrada", "The task is closed"))
        existing = (await tx.conn.execute(select(work_orders.c.id, work_orders.c.status)
                                          .where(work_orders.c.task_id == task_id))).first()
        if existing is not None:
            raise Problem(409, "work-order-exists", ("La tarea ya tiene una orden de trabajo",
                                                     "The task already has a work order"),
                          work_order={"id": str(existing.id), "status": existing.status})
        now = utcnow()
        row = {"id": uuid.uuid4(), "tenant": p.tenant, "task_id": task_id, "description": body.description,
               "status": hierarchy.WorkOrderStatus.PENDING_APPROVAL.value, "decided_by": None, "decided_at": None,
               "decision_comment": None, "executed_at": None, "executed_by": None, "execution_note": None,
               "created_by": p.user_id, "created_at": now}
        await tx.conn.execute(insert(work_orders), row)
        await record(tx, case, p, "work_order_requested", {"work_order_id": str(row["id"]),
                                                           "task_id": str(task_id), "description": body.description})
        await emit(tx, case, "workorder.requested.v1", WorkOrderEvent(
            work_order_id=row["id"], task_id=task_id, case_id=case.id, status="pending_approval",
            description=body.description, comment=None, by=p.user_id, by_name=_by_name(p), at=now))
    out = work_order_out(SimpleNamespace(**{**row, "task_title": task.title, "case_id": case.id,
                                            "case_number": case.number}))
    return JSONResponse(out.model_dump(mode="json"), status_code=201,
                        headers={"Location": f"/work-orders/{row['id']}"})


@router.get("/work-orders", response_model=WorkOrderPage)
async def list_work_orders(request: Request, p: CurrentPrincipal,
                           status: Annotated[Literal["pending_approval", "approved", "rejected", "executed", "all"],
                                             Query()] = "pending_approval",
                           limit: Annotated[int, Query(ge=1, le=200)] = 50,
                           after: Annotated[str | None, Query()] = None) -> WorkOrderPage:
    """The technical manager's inbox: by default the work orders awaiting approval, oldest first."""
    q = _work_order_query().where(work_orders.c.tenant == p.tenant, party_visible(p, cases.c.party_id))
    if status != "all":
        q = q.where(work_orders.c.status == status)
    cond = _keyset(after, work_orders.c.created_at, work_orders.c.id, datetime.fromisoformat)
    if cond is not None:
        q = q.where(cond)
    async with runtime_of(request).db.read() as conn:
        rows = (await conn.execute(q.order_by(work_orders.c.created_at, work_orders.c.id).limit(limit + 1))).all()
    page = rows[:limit]
    nxt = encode_cursor(page[-1].created_at.isoformat(), page[-1].id) if len(rows) > limit else None
    return WorkOrderPage(items=[work_order_out(r) for r in page], next_after=nxt)


@router.get("/work-orders/{work_order_id}", response_model=WorkOrderOut)
async def get_work_order(work_order_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> WorkOrderOut:
    return work_order_out((await _visible_work_order(request, p, work_order_id))[0])


async def _move_work_order(request: Request, p: Principal, wo_id: uuid.UUID, *, approve: bool | None,
                           text: str | None) -> WorkOrderOut:
    """approve True/False: the technical manager's decision; None: execution."""
    wo, case = await _visible_work_order(request, p, wo_id)
    if approve is not None:
        if not can_act_on_case(p, CaseAction.APPROVE_WORK_ORDER, responsible_id=case.responsible_id,
                               project=case.project):
            raise forbidden(("Sólo un Gerente Técnico aprueba o rechaza órdenes de trabajo.",
                             "Only a technical manager approves or rejects work orders."))
    elif not _manages(p, case) and (p.user_id is None or p.user_id not in (wo.created_by, wo.task_responsible_id)):
        raise forbidden(("Sólo el responsable de la tarea o de la solicitud, un supervisor o un administrador "
                         "ejecuta la orden de trabajo.",
                         "Only the task's or the case's responsible, a supervisor or an administrator executes "
                         "the work order."))
    async with runtime_of(request).db.transaction() as tx:
        cur = (await tx.conn.execute(select(work_orders).where(work_orders.c.id == wo_id).with_for_update())).one()
        try:
            status = hierarchy.WorkOrderStatus(cur.status)
            new = (hierarchy.execute_work_order(status) if approve is None
                   else hierarchy.decide_work_order(status, approve))
        except hierarchy.Refused as exc:
            raise _conflict(exc) from None
        now = utcnow()
        values: dict[str, Any] = {"status": new.value}
        if approve is None:
            values |= {"executed_at": now, "executed_by": p.user_id, "execution_note": text}
        else:
            values |= {"decided_at": now, "decided_by": p.user_id, "decision_comment": text}
        await tx.conn.execute(update(work_orders).where(work_orders.c.id == wo_id).values(**values))
        kind = {hierarchy.WorkOrderStatus.APPROVED: "approved", hierarchy.WorkOrderStatus.REJECTED: "rejected",
                hierarchy.WorkOrderStatus.EXECUTED: "executed"}[new]
        await record(tx, case, p, f"work_order_{kind}", {"work_order_id": str(wo_id), "task_id": str(wo.task_id),
                                                          "text": text})
        await emit(tx, case, f"workorder.{kind}.v1", WorkOrderEvent(
            work_order_id=wo_id, task_id=wo.task_id, case_id=case.id, status=new.value, description=cur.description,
            comment=text, by=p.user_id, by_name=_by_name(p), at=now))
        row = (await tx.conn.execute(_work_order_query().where(work_orders.c.id == wo_id))).one()
    return work_order_out(row)


@router.post("/work-orders/{work_order_id}/approve", response_model=WorkOrderOut,
             responses={403: {"description": "Not a technical manager"}, 409: {"description": "Not pending"}})
async def approve_work_order(work_order_id: uuid.UUID, body: DecisionIn, request: Request,
                             p: CurrentPrincipal) -> WorkOrderOut:
    """R2.5: a technical manager approves the work order (optional comment); it may then be executed."""
    return await _move_work_order(request, p, work_order_id, approve=True, text=body.comment or None)


@router.post("/work-orders/{work_order_id}/reject", response_model=WorkOrderOut,
             responses={403: {"description": "Not a technical manager"}, 409: {"description": "Not pending"}})
async def reject_work_order(work_order_id: uuid.UUID, body: DecisionIn, request: Request,
                            p: CurrentPrincipal) -> WorkOrderOut:
    """R2.5: a technical manager rejects it, saying why; a rejected work order is never executed."""
    if not body.comment:
        raise invalid(field_error("comment", ("Indique por qué se rechaza.", "Say why it is rejected."),
                                  "comment_required"))
    return await _move_work_order(request, p, work_order_id, approve=False, text=body.comment)


@router.post("/work-orders/{work_order_id}/execute", response_model=WorkOrderOut,
             responses={409: {"description": "Not approved (pending or rejected), or already executed"}})
async def execute_work_order(work_order_id: uuid.UUID, body: NoteIn, request: Request,
                             p: CurrentPrincipal) -> WorkOrderOut:
    """R2.5: record the field work done; refused until a technical manager has approved it."""
    return await _move_work_order(request, p, work_order_id, approve=None, text=body.note)


# -- activities (R0.2) ----------------------------------------------------------------------------
def activity_out(r: Any) -> ActivityOut:
    return ActivityOut.model_validate(r, from_attributes=True)


def _activity_event(r: Any, p: Principal, at: datetime) -> ActivityEvent:
    return ActivityEvent(activity_id=r.id, case_id=r.case_id, kind=r.kind, priority=r.priority, reason=r.reason,
                         type=r.type, planned_date=r.planned_date, done_date=r.done_date, status=r.status,
                         owner_id=r.owner_id, by=p.user_id, at=at)


@router.post("/cases/{case_id}/activities", status_code=201, response_model=ActivityOut)
async def add_activity(case_id: uuid.UUID, body: ActivityIn, request: Request, p: CurrentPrincipal) -> JSONResponse:
    """R0.2: a note, task or logged call on the case with priority, reason, type, planned date and
    owner (default: the caller); with ``done_date`` it is recorded as already completed."""
    await visible_case(request, p, case_id, CaseAction.MANAGE_TASKS)
    owner_id = body.owner_id or p.user_id
    if owner_id is None:
        raise invalid(field_error("owner_id", ("Indique el dueño de la actividad.", "Give the activity's owner."),
                                  "owner_required"))
    async with runtime_of(request).db.read() as conn:
        if owner_id not in await _active_users(conn, p.tenant, {owner_id}):
            raise invalid(field_error("owner_id", ("El dueño no es un usuario activo de este cliente.",
                                                   "The owner is not an active user of this tenant."),
                                      "unknown_owner"))
    now = utcnow()
    done = body.done_date is not None
    row = {"id": uuid.uuid4(), "tenant": p.tenant, "case_id": case_id, "kind": body.kind.value,
           "priority": body.priority.value, "reason": body.reason, "type": body.type or body.kind.value,
           "description": body.description or None, "planned_date": body.planned_date, "done_date": body.done_date,
           "status": (hierarchy.ActivityStatus.COMPLETED if done else hierarchy.ActivityStatus.OPEN).value,
           "owner_id": owner_id, "created_by": p.user_id, "created_at": now,
           "completed_by": p.user_id if done else None, "completed_at": now if done else None}
    view = SimpleNamespace(**row)
    async with runtime_of(request).db.transaction() as tx:
        case = await _locked_case(tx, case_id)
        await tx.conn.execute(insert(activities), row)
        await record(tx, case, p, "activity_added", {
            "activity_id": str(row["id"]), "kind": row["kind"], "priority": row["priority"], "reason": body.reason,
            "type": row["type"], "status": row["status"], "owner_id": str(owner_id),
            "planned_date": body.planned_date.isoformat() if body.planned_date else None,
            "done_date": body.done_date.isoformat() if body.done_date else None})
        await emit(tx, case, "activity.created.v1", _activity_event(view, p, now))
    return JSONResponse(activity_out(view).model_dump(mode="json"), status_code=201)


@router.get("/cases/{case_id}/activities", response_model=list[ActivityOut])
async def list_activities(case_id: uuid.UUID, request: Request, p: CurrentPrincipal,
                          status: Annotated[Literal["open", "completed", "all"], Query()] = "all",
                          ) -> list[ActivityOut]:
    """R0.2: the case's activities, open and finished (``status``), oldest first."""
    await visible_case(request, p, case_id, CaseAction.READ)
    q = select(activities).where(activities.c.case_id == case_id)
    if status != "all":
        q = q.where(activities.c.status == status)
    async with runtime_of(request).db.read() as conn:
        rows = (await conn.execute(q.order_by(activities.c.created_at, activities.c.id))).all()
    return [activity_out(r) for r in rows]


@router.post("/cases/{case_id}/activities/{activity_id}/complete", response_model=ActivityOut,
             responses={409: {"description": "Already completed"}})
async def complete_activity(case_id: uuid.UUID, activity_id: uuid.UUID, body: CompleteIn, request: Request,
                            p: CurrentPrincipal) -> ActivityOut:
    """R0.2: finish an activity (its owner, or whoever manages the case's tasks)."""
    case = await visible_case(request, p, case_id, CaseAction.READ)
    today = await _tenant_today(request, p.tenant)
    async with runtime_of(request).db.transaction() as tx:
        cur = (await tx.conn.execute(select(activities).where(
            activities.c.id == activity_id, activities.c.case_id == case_id).with_for_update())).first()
        if cur is None:
            raise not_found(ACTIVITY_NOT_FOUND)
        if not hierarchy.can_complete_activity(p, cur.owner_id, _manages(p, case)):
            raise forbidden(("Sólo el dueño de la actividad o quien gestiona la solicitud puede completarla.",
                             "Only the activity's owner or whoever manages the case may complete it."))
        if cur.status == hierarchy.ActivityStatus.COMPLETED.value:
            raise Problem(409, "already-completed", ("La actividad ya está completada",
                                                     "The activity is already completed"))
        now = utcnow()
        done = body.done_date or today
        await tx.conn.execute(update(activities).where(activities.c.id == activity_id).values(
            status=hierarchy.ActivityStatus.COMPLETED.value, done_date=done, completed_by=p.user_id, completed_at=now))
        row = (await tx.conn.execute(select(activities).where(activities.c.id == activity_id))).one()
        await record(tx, case, p, "activity_completed", {"activity_id": str(activity_id), "done_date": done.isoformat(),
                                                         "note": body.note or None})
        await emit(tx, case, "activity.completed.v1", _activity_event(row, p, now))
    return activity_out(row)


__all__ = ["router", "visible_task"]

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

Routes only: the use cases are in ``service_layer/tasks.py`` (each one transaction that locks
what it changes, appends a line to the case's history and writes its event to the outbox).
Refusals change nothing."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.intake.api.deps import CurrentPrincipal
from services.intake.domain import hierarchy, lifecycle
from services.intake.service_layer import tasks
from shared.fields import InputModel
from shared.openapi import problem_responses
from shared.paging import CountedPage, Page, PageParams
from shared.runtime import runtime_of

router = APIRouter(tags=["tasks and work orders"])
Slug = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
OptionalBody = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]


# -- models ---------------------------------------------------------------------------------------
class TaskIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {
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
    responsible_name: str | None = Field(default=None, description="The responsible's name (as GET /users gives it)")
    overdue: bool = Field(default=False, description="R2.4: open and its due day is over (the tenant's today)")


class CloseTaskIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {"note": "Empalme revisado; sin filtraciones."}})
    note: Body = Field(description="How it was done (required)")


class ExecuteIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {"note": "Empalme cambiado en el poste 12."}})
    note: Body = Field(description="The field work done (required)")


class WorkOrderIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {"description": "Cambio de empalme en poste 12."}})
    description: Body


class ApproveIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {"comment": "Proceda el lunes."}})
    comment: OptionalBody = Field(default="", description="Optional")


class RejectIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {"comment": "Corresponde al municipio."}})
    comment: OptionalBody = Field(default="", description="Why it is rejected (required: 422 comment_required)")


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
    task_responsible_id: uuid.UUID | None = Field(default=None, description="Who does the task (R2.4)")
    task_responsible_name: str | None = None
    case_subject: str | None = None
    created_by_name: str | None = Field(default=None, description="Who requested the work order")
    decided_by_name: str | None = Field(default=None, description="The technical manager who decided (R2.5)")


class ActivityIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {
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


class CompleteIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {"done_date": "2026-11-25", "note": "Visita realizada."}})
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


# -- mapping --------------------------------------------------------------------------------------
def task_out(v: tasks.TaskView) -> TaskOut:
    r = v.row
    return TaskOut(id=r.id, case_id=r.case_id, case_number=r.case_number, case_subject=r.case_subject, title=r.title,
                   description=r.description, responsible_id=r.responsible_id,
                   cc_user_ids=[uuid.UUID(str(u)) for u in r.cc_user_ids], area=r.area, due_date=r.due_date,
                   status=r.status, created_by=r.created_by, created_at=r.created_at, closed_at=r.closed_at,
                   closing_note=r.closing_note, work_order_id=r.work_order_id, work_order_status=r.work_order_status,
                   responsible_name=r.responsible_name, overdue=v.overdue)


def work_order_out(r: Any) -> WorkOrderOut:
    return WorkOrderOut(id=r.id, task_id=r.task_id, task_title=r.task_title, case_id=r.case_id,
                        case_number=r.case_number, description=r.description, status=r.status,
                        decided_by=r.decided_by, decided_at=r.decided_at, decision_comment=r.decision_comment,
                        executed_by=r.executed_by, executed_at=r.executed_at, execution_note=r.execution_note,
                        created_by=r.created_by, created_at=r.created_at, task_responsible_id=r.task_responsible_id,
                        task_responsible_name=r.task_responsible_name, case_subject=r.case_subject,
                        created_by_name=r.created_by_name, decided_by_name=r.decided_by_name)


def activity_out(r: Any) -> ActivityOut:
    return ActivityOut.model_validate(r, from_attributes=True)


def _created(body: BaseModel, location: str | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(mode="json"), status_code=201,
                        headers={"Location": location} if location else None)


# -- tasks (R2.4) ---------------------------------------------------------------------------------
@router.post("/cases/{case_id}/tasks", status_code=201, response_model=TaskOut,
             responses=problem_responses(401, 403, 404, 409, 422))
async def create_task(case_id: uuid.UUID, body: TaskIn, request: Request, p: CurrentPrincipal) -> JSONResponse:
    """R2.4: a task under the case, with one responsible and optional CC users, due no later
    than the case's internal commitment date (else its deadline). The responsible and the CC
    users are e-mailed; the task is in the responsible's inbox (``GET /tasks``). 404: no such
    case (a task exists only under a case); 409: the case is finished."""
    rt = runtime_of(request)
    row = await tasks.create_task(rt.db, rt.extras["catalog"], p, case_id, title=body.title,
                                  description=body.description, responsible_id=body.responsible_id,
                                  cc_user_ids=body.cc_user_ids, area=body.area, due_date=body.due_date)
    return _created(task_out(row), f"/tasks/{row.row.id}")


@router.get("/cases/{case_id}/tasks", response_model=Page[TaskOut], responses=problem_responses(401, 403, 404, 422))
async def case_tasks(case_id: uuid.UUID, request: Request, p: CurrentPrincipal, page: PageParams) -> Page[TaskOut]:
    """The case's tasks, oldest first."""
    rt = runtime_of(request)
    return await tasks.case_tasks(rt.db, rt.extras["catalog"], p, case_id, page, task_out)


@router.get("/tasks", response_model=CountedPage[TaskOut], responses=problem_responses(401, 422))
async def task_inbox(request: Request, p: CurrentPrincipal, page: PageParams,
                     mine: Annotated[bool, Query(description="Only the caller's tasks (the task inbox)")] = True,
                     status: Annotated[Literal["open", "closed", "all"], Query()] = "open",
                     case_id: uuid.UUID | None = None) -> CountedPage[TaskOut]:
    """R2.4 task inbox: by default the caller's open tasks, soonest due first, each with its
    responsible's name and whether it is overdue; ``total``: how many match (exact up to 10,000,
    then an estimate: ``total_exact`` false). ``mine=false``: every task of the tenant the caller
    may see."""
    rt = runtime_of(request)
    return await tasks.task_inbox(rt.db, rt.extras["catalog"], p, page, task_out, mine=mine,
                                  status=None if status == "all" else status, case_id=case_id)


@router.get("/tasks/{task_id}", response_model=TaskOut, responses=problem_responses(401, 404, 422))
async def get_task(task_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> TaskOut:
    rt = runtime_of(request)
    return task_out(await tasks.show_task(rt.db, rt.extras["catalog"], p, task_id))


@router.post("/tasks/{task_id}/close", response_model=TaskOut, responses=problem_responses(401, 403, 404, 409, 422))
async def close_task(task_id: uuid.UUID, body: CloseTaskIn, request: Request, p: CurrentPrincipal) -> TaskOut:
    """R2.4: the responsible closes the task with a note (admins and supervisors may too).
    409: already closed, or its work order awaits approval or execution."""
    rt = runtime_of(request)
    return task_out(await tasks.close_task(rt.db, rt.extras["catalog"], p, task_id, body.note))


# -- work orders (R2.5) ---------------------------------------------------------------------------
@router.post("/tasks/{task_id}/work-order", status_code=201, response_model=WorkOrderOut,
             responses=problem_responses(401, 403, 404, 409, 422))
async def request_work_order(task_id: uuid.UUID, body: WorkOrderIn, request: Request,
                             p: CurrentPrincipal) -> JSONResponse:
    """R2.5: attach a technical work order to the task; it waits for a technical manager's
    approval (``GET /work-orders?status=pending_approval``) before it can be executed.
    409: the task is closed or already has a work order."""
    row = await tasks.request_work_order(runtime_of(request).db, p, task_id, body.description)
    return _created(work_order_out(row), f"/work-orders/{row.id}")


@router.get("/work-orders", response_model=CountedPage[WorkOrderOut], responses=problem_responses(401, 422))
async def list_work_orders(request: Request, p: CurrentPrincipal, page: PageParams,
                           status: Annotated[Literal["pending_approval", "approved", "rejected", "executed", "all"],
                                             Query()] = "pending_approval") -> CountedPage[WorkOrderOut]:
    """The technical manager's inbox: by default the work orders awaiting approval, oldest first,
    with the names of the task's responsible, the requester and the decider; ``total`` as on
    ``GET /tasks``."""
    return await tasks.list_work_orders(runtime_of(request).db, p, page, work_order_out,
                                        status=None if status == "all" else status)


@router.get("/work-orders/{work_order_id}", response_model=WorkOrderOut,
            responses=problem_responses(401, 404, 422))
async def get_work_order(work_order_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> WorkOrderOut:
    return work_order_out(await tasks.get_work_order(runtime_of(request).db, p, work_order_id))


@router.post("/work-orders/{work_order_id}/approve", response_model=WorkOrderOut,
             responses=problem_responses(401, 403, 404, 409, 422))
async def approve_work_order(work_order_id: uuid.UUID, body: ApproveIn, request: Request,
                             p: CurrentPrincipal) -> WorkOrderOut:
    """R2.5: a technical manager approves the work order (optional comment); it may then be
    executed. 403: not a technical manager; 409: not pending."""
    return work_order_out(await tasks.approve_work_order(runtime_of(request).db, p, work_order_id, body.comment))


@router.post("/work-orders/{work_order_id}/reject", response_model=WorkOrderOut,
             responses=problem_responses(401, 403, 404, 409, 422))
async def reject_work_order(work_order_id: uuid.UUID, body: RejectIn, request: Request,
                            p: CurrentPrincipal) -> WorkOrderOut:
    """R2.5: a technical manager rejects it, saying why; a rejected work order is never executed."""
    return work_order_out(await tasks.reject_work_order(runtime_of(request).db, p, work_order_id, body.comment))


@router.post("/work-orders/{work_order_id}/execute", response_model=WorkOrderOut,
             responses=problem_responses(401, 403, 404, 409, 422))
async def execute_work_order(work_order_id: uuid.UUID, body: ExecuteIn, request: Request,
                             p: CurrentPrincipal) -> WorkOrderOut:
    """R2.5: record the field work done; 409 until a technical manager has approved it (pending
    or rejected), or once executed."""
    return work_order_out(await tasks.execute_work_order(runtime_of(request).db, p, work_order_id, body.note))


# -- activities (R0.2) ----------------------------------------------------------------------------
@router.post("/cases/{case_id}/activities", status_code=201, response_model=ActivityOut,
             responses=problem_responses(401, 403, 404, 422))
async def add_activity(case_id: uuid.UUID, body: ActivityIn, request: Request, p: CurrentPrincipal) -> JSONResponse:
    """R0.2: a note, task or logged call on the case with priority, reason, type, planned date and
    owner (default: the caller); with ``done_date`` it is recorded as already completed."""
    row = await tasks.add_activity(runtime_of(request).db, p, case_id, kind=body.kind, priority=body.priority.value,
                                   reason=body.reason, type_=body.type, description=body.description,
                                   planned_date=body.planned_date, done_date=body.done_date, owner_id=body.owner_id)
    return _created(activity_out(row))


@router.get("/cases/{case_id}/activities", response_model=Page[ActivityOut],
            responses=problem_responses(401, 403, 404, 422))
async def list_activities(case_id: uuid.UUID, request: Request, p: CurrentPrincipal, page: PageParams,
                          status: Annotated[Literal["open", "completed", "all"], Query()] = "all",
                          ) -> Page[ActivityOut]:
    """R0.2: the case's activities, open and finished (``status``), oldest first."""
    return await tasks.list_activities(runtime_of(request).db, p, case_id, page, activity_out,
                                       status=None if status == "all" else status)


@router.post("/cases/{case_id}/activities/{activity_id}/complete", response_model=ActivityOut,
             responses=problem_responses(401, 403, 404, 409, 422))
async def complete_activity(case_id: uuid.UUID, activity_id: uuid.UUID, body: CompleteIn, request: Request,
                            p: CurrentPrincipal) -> ActivityOut:
    """R0.2: finish an activity (its owner, or whoever manages the case's tasks); 409 if done."""
    rt = runtime_of(request)
    return activity_out(await tasks.complete_activity(rt.db, rt.extras["catalog"], p, case_id, activity_id,
                                                      done_date=body.done_date, note=body.note))

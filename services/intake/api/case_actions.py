"""What agents do on a case (R4.6, R0.2–R0.5): execute, comment, send mail, pause/resume,
finish, reopen, change priority, reassign, and read the history.

Every action runs in one transaction that locks the case row, checks R4.4 and the lifecycle,
appends to the case's history, and writes the event to the outbox. Refusals change nothing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints
from sqlalchemy import func, insert, select, update

from services.intake.adapters.case_tables import case_history, tasks
from services.intake.adapters.db import cases
from services.intake.api.cases import CASE_NOT_FOUND, visible_case
from services.intake.api.deps import CurrentPrincipal
from services.intake.domain import lifecycle
from services.intake.domain.access import CaseAction, Principal
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    CaseAssigned,
    CaseCommented,
    CaseMailRequested,
    CasePriorityChanged,
    CaseTransition,
)
from shared.db import Tx, utcnow
from shared.logs import correlation_id
from shared.problems import Problem, field_error, invalid, not_found
from shared.runtime import runtime_of

router = APIRouter(prefix="/cases/{case_id}", tags=["case actions"])
SOURCE = "atiende/intake"
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]


class TextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Text


class FinishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["success", "failure"]
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] = ""


class MailIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: list[EmailStr] | None = Field(default=None, description="default: the case's contact")
    cc: list[EmailStr] = Field(default_factory=list)
    subject: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    body: Text
    include_details: bool = Field(default=False, description="append the case's details (R4.6 'Enviar Detalle')")


class PriorityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    priority: lifecycle.Priority
    reason: lifecycle.RaiseReason | None = None
    reason_text: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    responsible_id: uuid.UUID


class HistoryEntry(BaseModel):
    at: datetime
    kind: str
    actor_id: uuid.UUID | None
    actor_name: str | None
    data: dict[str, Any]


class ActionResult(BaseModel):
    id: uuid.UUID
    status: str
    priority: str
    allowed_actions: list[str]


# -- plumbing -------------------------------------------------------------------------------------
async def _locked_case(tx: Tx, case_id: uuid.UUID) -> Any:
    row = (await tx.conn.execute(select(cases).where(cases.c.id == case_id).with_for_update())).first()
    if row is None:
        raise not_found(CASE_NOT_FOUND)
    return row


async def record(tx: Tx, case: Any, p: Principal, kind: str, data: dict[str, Any]) -> None:
    """Append one line to the case's history (never updated or deleted)."""
    await tx.conn.execute(insert(case_history), {"case_id": case.id, "tenant": case.tenant, "at": utcnow(),
                                                 "actor_id": p.user_id, "actor_name": p.name or p.email,
                                                 "kind": kind, "data": data})


async def emit(tx: Tx, case: Any, type_: str, payload: BaseModel) -> None:
    await tx.emit(Envelope(source=SOURCE, type=type_, subject=str(case.id), tenant=case.tenant,
                           correlationid=correlation_id.get(), data=payload.model_dump(mode="json")))


def _result(case_id: uuid.UUID, status: str, priority: str) -> ActionResult:
    return ActionResult(id=case_id, status=status, priority=priority,
                        allowed_actions=[a.value for a in lifecycle.allowed_actions(lifecycle.Status(status))])


TRANSITION_EVENTS = {lifecycle.Action.EXECUTE: "case.executed.v1", lifecycle.Action.WAIT: "case.paused.v1",
                     lifecycle.Action.RESUME: "case.resumed.v1", lifecycle.Action.FINISH_SUCCESS: "case.finished.v1",
                     lifecycle.Action.FINISH_FAILURE: "case.finished.v1", lifecycle.Action.REOPEN: "case.reopened.v1"}


async def transition(request: Request, p: Principal, case_id: uuid.UUID, permission: CaseAction,
                     action: lifecycle.Action, text: str | None) -> ActionResult:
    await visible_case(request, p, case_id, permission)
    rt = runtime_of(request)
    async with rt.db.transaction() as tx:
        case = await _locked_case(tx, case_id)
        try:
            new = lifecycle.next_status(lifecycle.Status(case.status), action)
        except lifecycle.IllegalTransition as exc:
            raise Problem(409, "illegal-transition", ("Acción no permitida en este estado",
                                                      "Action not allowed in this state"),
                          (f"La solicitud está en estado «{case.status}»; acciones posibles: "
                           f"{', '.join(exc.allowed) or 'ninguna'}.",
                           f"The case is «{case.status}»; allowed actions: {', '.join(exc.allowed) or 'none'}."),
                          status_now=case.status, allowed_actions=[a.value for a in exc.allowed]) from None
        if action in (lifecycle.Action.FINISH_SUCCESS, lifecycle.Action.FINISH_FAILURE):
            await _refuse_if_tasks_open(tx, case_id)
        now = utcnow()
        values: dict[str, Any] = {"status": new.value, "updated_at": now, "version": case.version + 1}
        if action == lifecycle.Action.EXECUTE and case.answered_at is None:
            values["answered_at"] = now  # "the area answered" (R3.3, R3.4)
        if new in lifecycle.FINISHED:
            values["finished_at"] = now
        if action == lifecycle.Action.REOPEN:
            values["finished_at"] = None
        await tx.conn.execute(update(cases).where(cases.c.id == case_id).values(**values))
        await record(tx, case, p, action.value, {"from": case.status, "to": new.value, "text": text})
        await emit(tx, case, TRANSITION_EVENTS[action], CaseTransition(
            case_id=case_id, status_from=case.status, status_to=new.value, by=p.user_id, by_name=p.name, at=now,
            text=text, responsible_id=case.responsible_id))
    return _result(case_id, new.value, case.priority)


async def _refuse_if_tasks_open(tx: Tx, case_id: uuid.UUID) -> None:
    """R2.6: a case closes only when all its tasks are closed; the refusal names them."""
    open_tasks = (await tx.conn.execute(select(tasks.c.id, tasks.c.title).where(
        tasks.c.case_id == case_id, tasks.c.status != "closed").order_by(tasks.c.created_at))).all()
    if open_tasks:
        raise Problem(409, "open-children", ("Hay tareas abiertas", "Tasks are still open"),
                      (f"Cierre primero {len(open_tasks)} tarea(s) de esta solicitud.",
                       f"Close this case's {len(open_tasks)} open task(s) first."),
                      open_tasks=[{"id": str(t.id), "title": t.title} for t in open_tasks])


# -- endpoints ------------------------------------------------------------------------------------
@router.post("/execute", response_model=ActionResult)
async def execute(case_id: uuid.UUID, body: TextIn, request: Request, p: CurrentPrincipal) -> ActionResult:
    """R4.6 "Ejecutar": log what was done; the case is in execution (and its overdue alert ends, R4.8)."""
    return await transition(request, p, case_id, CaseAction.EXECUTE, lifecycle.Action.EXECUTE, body.text)


@router.post("/pause", response_model=ActionResult)
async def pause(case_id: uuid.UUID, body: TextIn, request: Request, p: CurrentPrincipal) -> ActionResult:
    """Waiting on the customer (the SLA pause comes in a later issue)."""
    return await transition(request, p, case_id, CaseAction.EXECUTE, lifecycle.Action.WAIT, body.text)


@router.post("/resume", response_model=ActionResult)
async def resume(case_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> ActionResult:
    return await transition(request, p, case_id, CaseAction.EXECUTE, lifecycle.Action.RESUME, None)


@router.post("/finish", response_model=ActionResult)
async def finish(case_id: uuid.UUID, body: FinishIn, request: Request, p: CurrentPrincipal) -> ActionResult:
    """R4.6 "Finalizar" with or without success; without success needs a comment saying why. The
    contact and the responsible are e-mailed. Refused while tasks are open (R2.6)."""
    if body.outcome == "failure" and not body.comment:
        raise invalid(field_error("comment", ("Indique por qué se cierra sin éxito.",
                                              "Say why the case is closed without success."), "comment_required"))
    action = lifecycle.Action.FINISH_SUCCESS if body.outcome == "success" else lifecycle.Action.FINISH_FAILURE
    return await transition(request, p, case_id, CaseAction.FINISH, action, body.comment or None)


@router.post("/reopen", response_model=ActionResult)
async def reopen(case_id: uuid.UUID, body: TextIn, request: Request, p: CurrentPrincipal) -> ActionResult:
    """Admins and supervisors reopen a finished case, with a reason."""
    return await transition(request, p, case_id, CaseAction.REOPEN, lifecycle.Action.REOPEN, body.text)


@router.post("/comments", status_code=201)
async def comment(case_id: uuid.UUID, body: TextIn, request: Request, p: CurrentPrincipal) -> Response:
    """R4.6 internal comment; allowed to every executor on any case (R4.4)."""
    await visible_case(request, p, case_id, CaseAction.COMMENT)
    async with runtime_of(request).db.transaction() as tx:
        case = await _locked_case(tx, case_id)
        await record(tx, case, p, "commented", {"text": body.text})
        await emit(tx, case, "case.commented.v1", CaseCommented(
            case_id=case_id, text=body.text, by=p.user_id, by_name=p.name, at=utcnow(),
            responsible_id=case.responsible_id))
    return Response(status_code=201)


@router.post("/mails", status_code=202)
async def send_mail(case_id: uuid.UUID, body: MailIn, request: Request, p: CurrentPrincipal) -> Response:
    """R4.6 "Enviar mail": notifier sends it (to the contact unless told otherwise); it is in history."""
    await visible_case(request, p, case_id, CaseAction.SEND_MAIL)
    async with runtime_of(request).db.transaction() as tx:
        case = await _locked_case(tx, case_id)
        to = [str(a).lower() for a in body.to] if body.to else [case.contact_email]
        cc = [str(a).lower() for a in body.cc]
        await record(tx, case, p, "mail_requested", {"to": to, "cc": cc, "subject": body.subject,
                                                     "include_details": body.include_details})
        await emit(tx, case, "case.mail_requested.v1", CaseMailRequested(
            case_id=case_id, to=to, cc=cc, subject=body.subject, body=body.body,
            include_details=body.include_details, by=p.user_id, by_name=p.name, at=utcnow()))
    return Response(status_code=202)


@router.post("/priority", response_model=ActionResult)
async def set_priority(case_id: uuid.UUID, body: PriorityIn, request: Request, p: CurrentPrincipal) -> ActionResult:
    """R0.4: raising needs a reason (customer called again, came to the branch again, other + text);
    lowering does not. Every change is in history and in the R0.5 priority-use report."""
    await visible_case(request, p, case_id, CaseAction.CHANGE_PRIORITY)
    async with runtime_of(request).db.transaction() as tx:
        case = await _locked_case(tx, case_id)
        try:
            ch = lifecycle.change_priority(lifecycle.Priority(case.priority), body.priority, body.reason,
                                           body.reason_text)
        except lifecycle.PriorityRefused as exc:
            raise invalid(field_error("reason" if "reason" in exc.code else "priority", exc.message, exc.code)) from None
        now = utcnow()
        await tx.conn.execute(update(cases).where(cases.c.id == case_id).values(
            priority=ch.new.value, updated_at=now, version=case.version + 1))
        await record(tx, case, p, "priority_changed", {"from": ch.old.value, "to": ch.new.value,
                                                       "reason": ch.reason, "reason_text": ch.reason_text})
        await emit(tx, case, "case.priority_changed.v1", CasePriorityChanged(
            case_id=case_id, old=ch.old.value, new=ch.new.value, raised=ch.raised, reason=ch.reason,
            reason_text=ch.reason_text, notify=list(ch.notify), by=p.user_id, by_name=p.name, at=now,
            responsible_id=case.responsible_id, area=case.area))
    return _result(case_id, case.status, ch.new.value)


@router.post("/assign", response_model=ActionResult)
async def assign(case_id: uuid.UUID, body: AssignIn, request: Request, p: CurrentPrincipal) -> ActionResult:
    """Give the case another responsible (an active user of the tenant)."""
    await visible_case(request, p, case_id, CaseAction.ASSIGN)
    rt = runtime_of(request)
    user = await rt.extras["catalog"].active_user(p.tenant, body.responsible_id)
    if user is None:
        raise invalid(field_error("responsible_id", ("El responsable no es un usuario activo de este cliente.",
                                                     "The responsible is not an active user of this tenant."),
                                  "unknown_responsible"))
    async with rt.db.transaction() as tx:
        case = await _locked_case(tx, case_id)
        now = utcnow()
        await tx.conn.execute(update(cases).where(cases.c.id == case_id).values(
            responsible_id=user.id, responsible_email=user.email, updated_at=now, version=case.version + 1))
        await record(tx, case, p, "assigned", {"from": str(case.responsible_id) if case.responsible_id else None,
                                               "to": str(user.id), "to_email": user.email})
        await emit(tx, case, "case.assigned.v1", CaseAssigned(
            case_id=case_id, responsible_id=user.id, responsible_email=user.email,
            previous_responsible_id=case.responsible_id, by=p.user_id, at=now))
    return _result(case_id, case.status, case.priority)


@router.get("/history", response_model=list[HistoryEntry])
async def history(case_id: uuid.UUID, request: Request, p: CurrentPrincipal,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                  after: Annotated[int | None, Query(description="continue after this entry number")] = None,
                  ) -> list[HistoryEntry]:
    """R4.6 "Historial": every comment, mail, state and field change, who and when, oldest first."""
    await visible_case(request, p, case_id, CaseAction.HISTORY)
    q = select(case_history).where(case_history.c.case_id == case_id).order_by(case_history.c.id).limit(limit)
    if after is not None:
        q = q.where(case_history.c.id > after)
    async with runtime_of(request).db.read() as conn:
        rows = (await conn.execute(q)).all()
    return [HistoryEntry(at=r.at, kind=r.kind, actor_id=r.actor_id, actor_name=r.actor_name,
                         data={**r.data, "entry": r.id}) for r in rows]


__all__ = ["func", "record", "router"]

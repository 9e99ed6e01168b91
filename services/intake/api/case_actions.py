"""What agents do on a case (R4.6, R0.2–R0.5, R1.4): execute, comment, send mail, pause/resume,
finish, reopen, revert (during its hold), change priority, reassign, and read the history.

Each route calls one use case of ``service_layer/cases.py``: one transaction that locks the case
row, checks R4.4 and the lifecycle on it, appends to the case's history and writes the event to
the outbox. Refusals change nothing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from services.intake.api.deps import CurrentPrincipal
from services.intake.domain import lifecycle
from services.intake.service_layer import cases
from shared.fields import InputModel
from shared.openapi import problem_responses
from shared.paging import Page, PageParams
from shared.refusals import field_error, invalid
from shared.runtime import runtime_of

router = APIRouter(prefix="/cases/{case_id}", tags=["case actions"])
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
MAX_ADDRESSES = 200  # per list; the tenant's max_mail_recipients (default 20) caps to + cc together


class TextIn(InputModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "text": "Llamé al cliente; se solicitó la copia a la notaría."}})
    text: Text


class FinishIn(InputModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "outcome": "success", "comment": "Copia de la escritura enviada al cliente."}})
    outcome: Literal["success", "failure"]
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] = ""


class RevertIn(InputModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "reason": "El cliente desistió del rescate tras la oferta de préstamo."}})
    reason: Text


class MailIn(InputModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "subject": "Documentos pendientes", "body": "Necesitamos su cédula de identidad.",
        "cc": ["notaria@example.cl"], "include_details": True}})
    to: list[EmailStr] | None = Field(default=None, max_length=MAX_ADDRESSES, description=(
        "default: the case's contact. To + cc: at most the tenant's max_mail_recipients (default 20)"))
    cc: list[EmailStr] = Field(default_factory=list, max_length=MAX_ADDRESSES)
    subject: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    body: Text
    include_details: bool = Field(default=False, description="append the case's details (R4.6 'Enviar Detalle')")
    attachment_ids: list[uuid.UUID] = Field(default_factory=list, max_length=10, description=(
        "files of this case (or of its tasks) to attach; together at most 10 MiB"))


class PriorityIn(InputModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "priority": "high", "reason": "customer_called_again"}})
    priority: lifecycle.Priority
    reason: lifecycle.RaiseReason | None = None
    reason_text: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class AssignIn(InputModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "responsible_id": "<a user id of your tenant: GET /users>"}})
    responsible_id: uuid.UUID


class ReclassifyIn(InputModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "type": "reclamo", "reason": "El cliente reclama, no consulta."}})
    type: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class EscalateIn(InputModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "message": "El cliente sigue sin respuesta tras el seguimiento; pide hablar con la jefatura."}})
    message: Text
    customer_disagrees: bool | None = Field(default=None, description=(
        "R3.4 rule 8: the customer still disagrees (default: the answered case's 'not satisfied' flag)"))


class EscalatedOut(BaseModel):
    id: uuid.UUID
    rule: int


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


class RevertedResult(ActionResult):
    outcome: Literal["reverted"] = "reverted"


def _result(row: Any) -> ActionResult:
    return ActionResult(id=row.id, status=row.status, priority=row.priority,
                        allowed_actions=[a.value for a in lifecycle.allowed_actions(lifecycle.Status(row.status))])


_REFUSALS = problem_responses(401, 403, 404, 409, 422)


# -- endpoints ------------------------------------------------------------------------------------
@router.post("/execute", response_model=ActionResult, responses=_REFUSALS)
async def execute(case_id: uuid.UUID, body: TextIn, request: Request, p: CurrentPrincipal) -> ActionResult:
    """R4.6 "Ejecutar": log what was done; the case is in execution (and its overdue alert ends, R4.8)."""
    return _result(await cases.transition(runtime_of(request).db, p, case_id, lifecycle.Action.EXECUTE, body.text))


@router.post("/pause", response_model=ActionResult, responses=_REFUSALS)
async def pause(case_id: uuid.UUID, body: TextIn, request: Request, p: CurrentPrincipal) -> ActionResult:
    """Waiting on the customer (the SLA pause comes in a later issue)."""
    return _result(await cases.transition(runtime_of(request).db, p, case_id, lifecycle.Action.WAIT, body.text))


@router.post("/resume", response_model=ActionResult, responses=_REFUSALS)
async def resume(case_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> ActionResult:
    return _result(await cases.transition(runtime_of(request).db, p, case_id, lifecycle.Action.RESUME, None))


@router.post("/finish", response_model=ActionResult, responses=_REFUSALS)
async def finish(case_id: uuid.UUID, body: FinishIn, request: Request, p: CurrentPrincipal) -> ActionResult:
    """R4.6 "Finalizar" with or without success; without success needs a comment saying why. The
    contact and the responsible are e-mailed (R4.8: the overdue alert ends). Refused (409) while
    tasks are open (R2.6) or when the type requires attachments and there are none (R1.2)."""
    if body.outcome == "failure" and not body.comment:
        raise invalid(field_error("comment", ("Indique por qué se cierra sin éxito.",
                                              "Say why the case is closed without success."), "comment_required"))
    action = lifecycle.Action.FINISH_SUCCESS if body.outcome == "success" else lifecycle.Action.FINISH_FAILURE
    return _result(await cases.transition(runtime_of(request).db, p, case_id, action, body.comment or None))


@router.post("/reopen", response_model=ActionResult, responses=_REFUSALS)
async def reopen(case_id: uuid.UUID, body: TextIn, request: Request, p: CurrentPrincipal) -> ActionResult:
    """Admins and supervisors reopen a finished case, with a reason."""
    return _result(await cases.transition(runtime_of(request).db, p, case_id, lifecycle.Action.REOPEN, body.text))


@router.post("/revert", response_model=RevertedResult, responses=_REFUSALS)
async def revert(case_id: uuid.UUID, body: RevertIn, request: Request, p: CurrentPrincipal) -> RevertedResult:
    """R1.4: while the case is on hold (before ``executable_from``), its responsible (the
    commercial executive), a supervisor or an admin reverts it, with a reason: it ends as
    finished_failure, outcome "reverted" (history ``reverted``; case.finished.v1 is published, so
    clocks stop and the contact and responsible are mailed as for a finish). After the window:
    409 "hold-over" naming the date; a case without a hold: 409 "no-hold"."""
    row = await cases.revert(runtime_of(request).db, p, case_id, body.reason)
    return RevertedResult(**_result(row).model_dump())


@router.post("/comments", status_code=201, response_class=Response,
             responses=problem_responses(401, 403, 404, 422))
async def comment(case_id: uuid.UUID, body: TextIn, request: Request, p: CurrentPrincipal) -> Response:
    """R4.6 internal comment; allowed to every executor on any case (R4.4)."""
    await cases.comment(runtime_of(request).db, p, case_id, body.text)
    return Response(status_code=201)


@router.post("/mails", status_code=202, response_class=Response,
             responses=problem_responses(401, 403, 404, 422))
async def send_mail(case_id: uuid.UUID, body: MailIn, request: Request, p: CurrentPrincipal) -> Response:
    """R4.6 "Enviar mail": notifier sends it (to the contact unless told otherwise); it is in
    history. To + cc: at most the tenant's ``max_mail_recipients`` addresses (422 on ``to``)."""
    rt = runtime_of(request)
    await cases.send_mail(rt.db, rt.extras["catalog"], p, case_id, to=[str(a) for a in body.to] if body.to else None,
                          cc=[str(a) for a in body.cc], subject=body.subject, body=body.body,
                          include_details=body.include_details, attachment_ids=body.attachment_ids)
    return Response(status_code=202)


@router.post("/priority", response_model=ActionResult, responses=_REFUSALS)
async def set_priority(case_id: uuid.UUID, body: PriorityIn, request: Request, p: CurrentPrincipal) -> ActionResult:
    """R0.4: raising needs a reason (customer called again, came to the branch again, other + text);
    lowering does not. Every change is in history and in the R0.5 priority-use report."""
    return _result(await cases.set_priority(runtime_of(request).db, p, case_id, body.priority, body.reason,
                                            body.reason_text))


@router.post("/assign", response_model=ActionResult, responses=_REFUSALS)
async def assign(case_id: uuid.UUID, body: AssignIn, request: Request, p: CurrentPrincipal) -> ActionResult:
    """Give the case another responsible (an active user of the tenant)."""
    return _result(await cases.assign(runtime_of(request).db, p, case_id, body.responsible_id))


@router.post("/reclassify", response_model=ActionResult, responses=_REFUSALS)
async def reclassify(case_id: uuid.UUID, body: ReclassifyIn, request: Request, p: CurrentPrincipal) -> ActionResult:
    """Change the case's type (and with it its SLA policy; workflow re-targets the clocks keeping
    the time already paused). Supervisors and admins only; the type must be active and allowed in
    the case's project."""
    rt = runtime_of(request)
    return _result(await cases.reclassify(rt.db, rt.extras["catalog"], p, case_id, body.type, body.reason or None))


@router.post("/escalate-to-supervisor", response_model=EscalatedOut, responses=_REFUSALS)
async def escalate_to_supervisor(case_id: uuid.UUID, body: EscalateIn, request: Request,
                                 p: CurrentPrincipal) -> EscalatedOut:
    """R3.4 rules 6–8: "escalate to the supervisor; no new request". Allowed when triage of the case
    (GET /cases/{id}/triage) says to escalate, else 409; the supervisor of the case's area is told
    with the message."""
    rule = await cases.escalate_to_supervisor(runtime_of(request).db, p, case_id, body.message,
                                              customer_disagrees=body.customer_disagrees)
    return EscalatedOut(id=case_id, rule=rule)


@router.get("/history", response_model=Page[HistoryEntry], responses=problem_responses(401, 403, 404, 422))
async def history(case_id: uuid.UUID, request: Request, p: CurrentPrincipal, page: PageParams) -> Page[HistoryEntry]:
    """R4.6 "Historial": every comment, mail, state and field change, who and when, oldest first."""
    after = page.after("history", int)
    rows = await cases.history(runtime_of(request).db, p, case_id, after[0] if after else None, page.limit)
    return Page[HistoryEntry].of(rows, page, "history", key=lambda r: (r.id,), item=lambda r: HistoryEntry(
        at=r.at, kind=r.kind, actor_id=r.actor_id, actor_name=r.actor_name, data={**r.data, "entry": r.id}))


__all__ = ["router"]

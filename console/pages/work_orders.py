"""Technical work orders (R2.5): the technical manager's inbox (GET /work-orders, by default those
awaiting approval, oldest first) where they approve one (optional comment) or reject it saying
why (POST /work-orders/{id}/approve | reject). Only a technical manager sees those buttons — the
API refuses anyone else (403) whatever the page shows; others may still read the list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console import i18n
from console.api_client import ApiError
from console.pages.listing import Listing, api_post
from console.web import CurrentVisit, Visit, form_text

router = APIRouter()
LIST = Listing("/work-orders", ("pending_approval", "approved", "rejected", "executed", "all"),
               "work_orders/work_orders.html", "work_orders/_list.html", "work-orders")
DECISIONS = ("approve", "reject")

TEXTS: dict[str, tuple[str, str]] = {
    "nav": ("Órdenes de trabajo", "Work orders"),
    "title": ("Órdenes de trabajo", "Work orders"),
    "filter.status": ("Estado", "Status"),
    "filter.apply": ("Mostrar", "Show"),
    "status.pending_approval": ("Pendientes de aprobación", "Awaiting approval"),
    "status.approved": ("Aprobadas", "Approved"),
    "status.rejected": ("Rechazadas", "Rejected"),
    "status.executed": ("Ejecutadas", "Executed"),
    "status.all": ("(todas)", "(all)"),
    "state.pending_approval": ("Pendiente de aprobación", "Awaiting approval"),
    "state.approved": ("Aprobada", "Approved"),
    "state.rejected": ("Rechazada", "Rejected"),
    "state.executed": ("Ejecutada", "Executed"),
    "count": ("{n} órdenes de trabajo", "{n} work orders"),
    "count.one": ("1 orden de trabajo", "1 work order"),
    "count.estimate": ("unas {n} órdenes de trabajo", "about {n} work orders"),
    "empty": ("No hay órdenes de trabajo en este estado.", "No work orders in this state."),
    "not_manager": ("Sólo un Gerente Técnico aprueba o rechaza órdenes de trabajo.",
                    "Only a technical manager approves or rejects work orders."),
    "order": ("Orden de trabajo de la tarea «{task}»", "Work order of the task “{task}”"),
    "case": ("Solicitud", "Case"),
    "responsible": ("Responsable de la tarea", "The task's responsible"),
    "requested": ("Pedida el", "Requested on"),
    "status": ("Estado", "Status"),
    "decision": ("Decisión", "Decision"),
    "comment.approve": ("Comentario (opcional)", "Comment (optional)"),
    "comment.reject": ("Motivo del rechazo", "Reason for rejecting"),
    "approve": ("Aprobar", "Approve"),
    "reject": ("Rechazar", "Reject"),
    "done.approve": ("Orden de trabajo aprobada: ya puede ejecutarse.", "Work order approved: it may be executed now."),
    "done.reject": ("Orden de trabajo rechazada.", "Work order rejected."),
}
i18n.TEXTS.update({f"wo.{key}": pair for key, pair in TEXTS.items()})


def may_decide(me: dict[str, Any]) -> bool:
    """R2.5 (R4.4): only a technical manager approves or rejects, admins included only if they are one."""
    return "technical_manager" in (me.get("roles") or [])


async def _list(request: Request, v: Visit, *, done: str | None = None, error: ApiError | None = None,
                failed: tuple[str, str] | None = None, typed: str = "") -> Response:
    query = LIST.query(request)
    found = await LIST.fetch(request, v, query)
    return LIST.render(request, v, **LIST.values(query, found), decide=may_decide(v.me), done=done, error=error,
                       failed=failed, typed=typed)


@router.get("/work-orders")
async def inbox(request: Request, v: CurrentVisit) -> Response:
    return await _list(request, v)


@router.get("/work-orders/{work_order_id}/{decision}")
async def back_to_list(request: Request) -> Response:
    return LIST.back(request)


@router.post("/work-orders/{work_order_id}/{decision}")
async def decide(work_order_id: str, decision: str, request: Request, v: CurrentVisit) -> Response:
    if decision not in DECISIONS:
        return Response(status_code=404)
    comment = form_text(await request.form(), "comment")
    try:
        await api_post(request, v, f"/work-orders/{work_order_id}/{decision}", {"comment": comment})
    except ApiError as e:
        return await _list(request, v, error=e, failed=(work_order_id, decision), typed=comment)
    return await _list(request, v, done=decision)

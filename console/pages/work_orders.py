"""Technical work orders (R2.5): the technical manager's inbox (GET /work-orders, by default those
awaiting approval, oldest first) where they approve one (optional comment) or reject it saying
why (POST /work-orders/{id}/approve | reject). Only a technical manager sees those buttons — the
API refuses anyone else (403) whatever the page shows; others may still read the list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from console import i18n
from console.api_client import ApiError
from console.pages.tasks import api_get, api_post
from console.web import PREFIX, CurrentVisit, Visit, form_text, is_htmx, page

router = APIRouter()
PAGE_SIZE = 25
STATUSES = ("pending_approval", "approved", "rejected", "executed", "all")
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
    "empty": ("No hay órdenes de trabajo en este estado.", "No work orders in this state."),
    "not_manager": ("Sólo un Gerente Técnico aprueba o rechaza órdenes de trabajo.",
                    "Only a technical manager approves or rejects work orders."),
    "order": ("Orden de trabajo de la tarea «{task}»", "Work order of the task “{task}”"),
    "case": ("Solicitud", "Case"),
    "requested": ("Pedida el", "Requested on"),
    "status": ("Estado", "Status"),
    "decision": ("Decisión", "Decision"),
    "comment.approve": ("Comentario (opcional)", "Comment (optional)"),
    "comment.reject": ("Motivo del rechazo", "Reason for rejecting"),
    "approve": ("Aprobar", "Approve"),
    "reject": ("Rechazar", "Reject"),
    "done.approve": ("Orden de trabajo aprobada: ya puede ejecutarse.", "Work order approved: it may be executed now."),
    "done.reject": ("Orden de trabajo rechazada.", "Work order rejected."),
    "next": ("Siguientes", "Next"),
    "first": ("Primeras", "First"),
}
i18n.TEXTS.update({f"wo.{key}": pair for key, pair in TEXTS.items()})


def may_decide(me: dict[str, Any]) -> bool:
    """R2.5 (R4.4): only a technical manager approves or rejects, admins included only if they are one."""
    return "technical_manager" in (me.get("roles") or [])


def _query(request: Request) -> dict[str, str]:
    qp = request.query_params
    status = qp.get("status") or ""
    if status not in STATUSES:
        status = "pending_approval"
    return {"status": status, **({"cursor": qp["cursor"]} if qp.get("cursor") else {})}


async def _list(request: Request, v: Visit, *, done: str | None = None, error: ApiError | None = None,
                failed: tuple[str, str] | None = None, typed: str = "") -> Response:
    query = _query(request)
    found = await api_get(request, v, "/work-orders", {**query, "limit": PAGE_SIZE})
    base = {"status": query["status"]}
    values = {"found": found, "query": query, "statuses": STATUSES, "decide": may_decide(v.me), "done": done,
              "error": error, "failed": failed, "typed": typed, "first_query": base,
              "next_query": {**base, "cursor": found.get("next_cursor") or ""}}
    if is_htmx(request) and request.headers.get("hx-target") == "work-orders":
        return page(request, v, "work_orders/_list.html", oob=True, **values)
    return page(request, v, "work_orders/work_orders.html", **values)


@router.get("/work-orders")
async def inbox(request: Request, v: CurrentVisit) -> Response:
    return await _list(request, v)


@router.get("/work-orders/{work_order_id}/{decision}")
async def back_to_list(request: Request) -> Response:
    """After a plain form post the address is the form's (e.g. the language switch returns there)."""
    query = request.url.query
    return RedirectResponse(f"{PREFIX}/work-orders" + (f"?{query}" if query else ""), status_code=303)


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

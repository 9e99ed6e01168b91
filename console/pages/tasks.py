"""The task inbox (R2.4): the caller's tasks (GET /tasks, soonest due first), their due dates with
an overdue mark, and closing one with its note (POST /tasks/{id}/close). ``?case_id=`` shows the
tasks of one case instead (every task of it the caller may see), the view a case links to.

Overdue: the API's task carries only its ``due_date`` (no flag), so the console marks a task open
past the end of its due day in the tenant's zone (GET /tenant) — the same day workflow's
``task_overdue`` alert fires. The close button is offered to whom the API lets close (the task's
responsible, supervisors, admins); the API decides anyway.

The small ``api_get`` / ``api_post`` helpers below are also used by the other work screens
(work orders, interactions, parties): calls the console's API client has no method for."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from console import i18n
from console.api_client import ApiError, Params
from console.web import PREFIX, CurrentVisit, Visit, api_of, form_text, is_htmx, page

router = APIRouter()
PAGE_SIZE = 25
STATUSES = ("open", "closed", "all")
MANAGERS = {"admin", "supervisor"}

TEXTS: dict[str, tuple[str, str]] = {
    "nav": ("Tareas", "Tasks"),
    "title": ("Mis tareas", "My tasks"),
    "title.case": ("Tareas de la solicitud N° {number}", "Tasks of case no. {number}"),
    "filter.status": ("Estado", "Status"),
    "filter.apply": ("Mostrar", "Show"),
    "status.open": ("Abierta", "Open"),
    "status.closed": ("Cerrada", "Closed"),
    "status.all": ("(todas)", "(all)"),
    "count": ("{n} tareas", "{n} tasks"),
    "count.one": ("1 tarea", "1 task"),
    "empty": ("No hay tareas.", "No tasks."),
    "table": ("Tareas", "Tasks"),
    "col.title": ("Tarea", "Task"),
    "col.case": ("Solicitud", "Case"),
    "col.due": ("Vence", "Due"),
    "col.status": ("Estado", "Status"),
    "col.work_order": ("Orden de trabajo", "Work order"),
    "col.close": ("Cerrar", "Close"),
    "overdue": ("Atrasada", "Overdue"),
    "note": ("Nota de cierre", "Closing note"),
    "close": ("Cerrar tarea", "Close task"),
    "closed": ("Tarea «{title}» cerrada.", "Task “{title}” closed."),
    "closed_note": ("Cerrada: {note}", "Closed: {note}"),
    "case_tasks": ("Ver todas las tareas de la solicitud", "See every task of the case"),
    "next": ("Siguientes", "Next"),
    "first": ("Primeras", "First"),
    "wo.pending_approval": ("Pendiente de aprobación", "Awaiting approval"),
    "wo.approved": ("Aprobada", "Approved"),
    "wo.rejected": ("Rechazada", "Rejected"),
    "wo.executed": ("Ejecutada", "Executed"),
}
i18n.TEXTS.update({f"tk.{key}": pair for key, pair in TEXTS.items()})


# -- calls the API client has no method for (shared by the work screens) --------------------------
async def api_get(request: Request, v: Visit, path: str, params: Params | None = None) -> Any:
    return await api_of(request)._get(v.session, path, params)


async def api_post(request: Request, v: Visit, path: str, body: dict[str, Any] | None = None) -> Any:
    return await api_of(request)._post(v.session, path, body)


async def tenant_today(request: Request, v: Visit) -> date:
    """Today in the tenant's zone: where due dates end."""
    try:
        zone = ZoneInfo(str((await api_of(request).tenant(v.session)).get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.now(zone).date()


def may_close(me: dict[str, Any], task: dict[str, Any]) -> bool:
    """R2.4: the task's responsible closes it; supervisors and admins may too."""
    return task["status"] == "open" and (str(task["responsible_id"]) == str(me.get("user_id"))
                                         or bool(set(me.get("roles") or []) & MANAGERS))


# -- the screen ------------------------------------------------------------------------------------
def _query(request: Request) -> dict[str, str]:
    """This page's query (the API's names): status, case_id, cursor."""
    qp = request.query_params
    status = qp.get("status") or ""
    if status not in STATUSES:
        status = "all" if qp.get("case_id") else "open"
    return {"status": status, **{k: qp[k] for k in ("case_id", "cursor") if qp.get(k)}}


async def _list(request: Request, v: Visit, *, closed: dict[str, Any] | None = None,
                error: ApiError | None = None, failed_id: str | None = None, typed: str = "") -> Response:
    query = _query(request)
    params = {**query, "limit": PAGE_SIZE}
    if "case_id" in query:
        params["mine"] = "false"  # a case's tasks: everyone's, as far as the caller may see
    found = await api_get(request, v, "/tasks", params)
    today = await tenant_today(request, v)
    case = None
    if "case_id" in query:
        case = await api_of(request).case(v.session, query["case_id"])
    for task in found["items"]:
        task["overdue"] = task["status"] == "open" and date.fromisoformat(task["due_date"]) < today
        task["may_close"] = may_close(v.me, task)
    base = {k: val for k, val in query.items() if k != "cursor"}
    values = {"found": found, "query": query, "case": case, "statuses": STATUSES, "closed": closed, "error": error,
              "failed_id": failed_id, "typed": typed, "first_query": base,
              "next_query": {**base, "cursor": found.get("next_cursor") or ""}}
    if is_htmx(request) and request.headers.get("hx-target") == "tasks":
        return page(request, v, "tasks/_list.html", oob=True, **values)
    return page(request, v, "tasks/tasks.html", **values)


@router.get("/tasks")
async def task_inbox(request: Request, v: CurrentVisit) -> Response:
    return await _list(request, v)


@router.get("/tasks/{task_id}/close")
async def back_to_tasks(request: Request) -> Response:
    """After a plain form post the address is the form's (e.g. the language switch returns there)."""
    query = request.url.query
    return RedirectResponse(f"{PREFIX}/tasks" + (f"?{query}" if query else ""), status_code=303)


@router.post("/tasks/{task_id}/close")
async def close(task_id: str, request: Request, v: CurrentVisit) -> Response:
    note = form_text(await request.form(), "note")
    try:
        closed = await api_post(request, v, f"/tasks/{task_id}/close", {"note": note})
    except ApiError as e:
        return await _list(request, v, error=e, failed_id=task_id, typed=note)
    return await _list(request, v, closed=closed)

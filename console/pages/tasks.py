"""The task inbox (R2.4): the caller's tasks (GET /tasks, soonest due first), their due dates with
an overdue mark, and closing one with its note (POST /tasks/{id}/close). ``?case_id=`` shows the
tasks of one case instead (every task of it the caller may see), the view a case links to.

Each task comes with its responsible's name and its ``overdue`` flag (open past its due day in
the tenant's zone), and the list with its total: the console asks nothing more per row. The close
button is offered to whom the API lets close (the task's responsible, supervisors, admins); the
API decides anyway.

The list's filter, pages and count are console/pages/listing.py's, shared with the other work
screens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console import i18n
from console.api_client import ApiError
from console.pages.listing import Listing, api_post
from console.web import CurrentVisit, Visit, api_of, form_text

router = APIRouter()
LIST = Listing("/tasks", ("open", "closed", "all"), "tasks/tasks.html", "tasks/_list.html", "tasks",
               keep=("case_id",))
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
    "count.estimate": ("unas {n} tareas", "about {n} tasks"),
    "empty": ("No hay tareas.", "No tasks."),
    "table": ("Tareas", "Tasks"),
    "col.title": ("Tarea", "Task"),
    "col.case": ("Solicitud", "Case"),
    "col.responsible": ("Responsable", "Responsible"),
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
    "wo.pending_approval": ("Pendiente de aprobación", "Awaiting approval"),
    "wo.approved": ("Aprobada", "Approved"),
    "wo.rejected": ("Rechazada", "Rejected"),
    "wo.executed": ("Ejecutada", "Executed"),
}
i18n.TEXTS.update({f"tk.{key}": pair for key, pair in TEXTS.items()})


def may_close(me: dict[str, Any], task: dict[str, Any]) -> bool:
    """R2.4: the task's responsible closes it; supervisors and admins may too."""
    return task["status"] == "open" and (str(task["responsible_id"]) == str(me.get("user_id"))
                                         or bool(set(me.get("roles") or []) & MANAGERS))


# -- the screen ------------------------------------------------------------------------------------
async def _list(request: Request, v: Visit, *, closed: dict[str, Any] | None = None,
                error: ApiError | None = None, failed_id: str | None = None, typed: str = "") -> Response:
    case_id = request.query_params.get("case_id")
    query = LIST.query(request, default="all" if case_id else None)
    # a case's tasks: everyone's, as far as the caller may see
    found = await LIST.fetch(request, v, query, **({"mine": "false"} if "case_id" in query else {}))
    case = None
    if "case_id" in query:
        case = await api_of(request).case(v.session, query["case_id"])
    for task in found["items"]:
        task["may_close"] = may_close(v.me, task)
    return LIST.render(request, v, **LIST.values(query, found), case=case, closed=closed, error=error,
                       failed_id=failed_id, typed=typed)


@router.get("/tasks")
async def task_inbox(request: Request, v: CurrentVisit) -> Response:
    return await _list(request, v)


@router.get("/tasks/{task_id}/close")
async def back_to_tasks(request: Request) -> Response:
    return LIST.back(request)


@router.post("/tasks/{task_id}/close")
async def close(task_id: str, request: Request, v: CurrentVisit) -> Response:
    note = form_text(await request.form(), "note")
    try:
        closed = await api_post(request, v, f"/tasks/{task_id}/close", {"note": note})
    except ApiError as e:
        return await _list(request, v, error=e, failed_id=task_id, typed=note)
    return await _list(request, v, closed=closed)

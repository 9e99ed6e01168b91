"""A case: its fields, its clocks (GET /cases/{id}/sla, with why each is due when it is), the
timeline (GET /cases/{id}/history: changes, comments, mails) and the actions R4.4 lets this user
take on it — each an htmx form whose refusal comes back beside the field the API names."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console.api_client import ApiError
from console.permissions import case_actions
from console.web import CurrentVisit, Visit, api_of, form_text, is_htmx, page

router = APIRouter()

# Console action → the API's path under /cases/{id}/ and the form fields its body takes.
ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "execute": ("execute", ("text",)),
    "comment": ("comments", ("text",)),
    "mail": ("mails", ("to", "cc", "subject", "body", "include_details")),
    "pause": ("pause", ("text",)),
    "resume": ("resume", ()),
    "finish": ("finish", ("outcome", "comment")),
    "reopen": ("reopen", ("text",)),
    "priority": ("priority", ("priority", "reason", "reason_text")),
    "assign": ("assign", ("responsible_id",)),
}
PRIORITIES = ("low", "normal", "high", "urgent")
RAISE_REASONS = ("customer_called_again", "came_to_branch_again", "other")


def may_see_tasks(me: dict[str, Any]) -> bool:
    """R2.4 (R4.4): a case's tasks (GET /tasks?case_id=) are read by every role that reads the
    case; a user without any role of the tenant reads neither."""
    return bool(me.get("roles"))


async def _panel(request: Request, v: Visit, case_id: str, *, form: str | None = None,
                 error: ApiError | None = None, done: str | None = None, typed: dict[str, str] | None = None,
                 ) -> Response:
    """The whole case (page or htmx fragment), with the outcome of the last action."""
    api = api_of(request)
    case, sla, history, deliveries = await asyncio.gather(
        api.case(v.session, case_id), api.sla(v.session, case_id), api.history(v.session, case_id),
        api.deliveries(v.session, case_id))
    hold_type = False
    if "operations" in (v.me.get("roles") or []):  # R1.4: Operations' rights depend on the type
        hold_type = bool(((await api.case_type(v.session, case["type"])).get("sla") or {}).get("hold_business_days"))
    actions = case_actions(v.me, case, hold_type)
    users = await api.users(v.session) if "assign" in actions else []
    values = {"case": case, "sla": sla, "history": history, "deliveries": deliveries, "actions": actions, "users": users, "form": form,
              "tasks_link": may_see_tasks(v.me),
              "error": error, "done": done, "typed": typed or {}, "priorities": PRIORITIES,
              "raise_reasons": RAISE_REASONS}
    if is_htmx(request):
        return page(request, v, "case/_panel.html", **values)
    return page(request, v, "case/case.html", **values)


@router.get("/cases/{case_id}")
async def show(case_id: str, request: Request, v: CurrentVisit) -> Response:
    return await _panel(request, v, case_id)


@router.post("/cases/{case_id}/{action}")
async def act(case_id: str, action: str, request: Request, v: CurrentVisit) -> Response:
    if action not in ACTIONS:
        return Response(status_code=404)
    path, names = ACTIONS[action]
    form = await request.form()
    typed = {n: form_text(form, n) for n in names}
    body: dict[str, Any] = {n: val for n, val in typed.items() if val}  # empty: left out, the API says if needed
    if action == "finish":
        body.setdefault("comment", "")
    if action == "mail":  # R4.6 "Enviar mail": address lists, and the case's details on request
        for name in ("to", "cc"):
            if name in body:
                body[name] = [a.strip() for a in body[name].replace(";", ",").split(",") if a.strip()]
        body["include_details"] = typed["include_details"] == "on"
    try:
        await api_of(request).case_action(v.session, case_id, path, body)
    except ApiError as e:
        return await _panel(request, v, case_id, form=action, error=e, typed=typed)
    return await _panel(request, v, case_id, form=action, done=action)

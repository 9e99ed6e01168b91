"""Create a case (R4.2, R4.3), driven by the chosen type: its catalog entry (GET
/catalog/case-types/{code}) says which channels it accepts, which fields it requires and which it
pins (those are not asked). The API checks it all again and its refusals come back beside the
fields they name.

A follow-up of an earlier case (R3.1, R3.4): the agent names the earlier case (its number or id)
and the console first asks the API's triage (GET /cases/{id}/triage) and shows its verdict. Where
it says to escalate (rules 6–8: no new request), the screen offers "Escalar a supervisor" (POST
/cases/{id}/escalate-to-supervisor) instead of the create form; otherwise the form carries the
follow-up link (``follow_up_of``), with the type triage names preselected (rules 3 and 4). The
API refuses such a follow-up anyway when triage says to escalate (409)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from console import i18n
from console.api_client import ApiError
from console.pages.inbox import STATUSES
from console.permissions import may_create
from console.web import PREFIX, CurrentVisit, Visit, api_of, form_text, page, redirect

router = APIRouter()

TEXT_FIELDS = ("subject", "description", "contact.name", "contact.email", "contact.phone", "responsible_id",
               "project", "channel", "area", "follow_up_of")
ALWAYS_REQUIRED = {"subject", "description", "contact.name", "contact.email", "responsible_id"}

i18n.TEXTS.update({f"fu.{key}": pair for key, pair in {
    "heading": ("Seguimiento de una solicitud anterior", "Follow-up of an earlier case"),
    "hint": ("Antes de registrar un seguimiento se revisa la solicitud original (R3.4).",
             "Before a follow-up is filed, the original case is checked (R3.4)."),
    "of": ("N° o id de la solicitud anterior", "Number or id of the earlier case"),
    "disagrees": ("El cliente no está de acuerdo con la respuesta", "The customer disagrees with the answer"),
    "check": ("Revisar la solicitud", "Check the case"),
    "verdict": ("Solicitud N° {number}: regla {rule} de R3.4", "Case no. {number}: R3.4 rule {rule}"),
    "linked": ("La nueva solicitud quedará como seguimiento de la N° {number}.",
               "The new case will be a follow-up of no. {number}."),
    "message": ("Mensaje para el supervisor", "Message for the supervisor"),
    "escalate": ("Escalar a supervisor", "Escalate to a supervisor"),
    "escalated": ("Se avisó al supervisor (regla {rule} de R3.4); no se registra una nueva solicitud.",
                  "The supervisor was told (R3.4 rule {rule}); no new case is registered."),
    "unknown": ("No hay una solicitud con ese número o id.", "No case has that number or id."),
    "unknown.title": ("Solicitud no encontrada", "Case not found"),
}.items()})


def _body(typed: dict[str, str], code: str) -> dict[str, Any]:
    """The API's body from the form (empty fields left out: the API says which it needs)."""
    body: dict[str, Any] = {"type": code, "contact": {}}
    for name, value in typed.items():
        if not value:
            continue
        if name.startswith("contact."):
            body["contact"][name.removeprefix("contact.")] = value
        else:
            body[name] = value
    return body


async def _form(request: Request, v: Visit, code: str | None, *, typed: dict[str, str] | None = None,
                error: ApiError | None = None, follow_up: dict[str, Any] | None = None) -> Response:
    api = api_of(request)
    follow_up = follow_up or {}
    triage = follow_up.get("triage")
    if triage and not code and triage.get("follow_up"):  # rules 3 and 4: the type to file
        code = triage["follow_up"].get("case_type")
    types, channels, areas, projects = await asyncio.gather(
        api.case_types(v.session), api.entries(v.session, "channels"), api.entries(v.session, "areas"),
        api.entries(v.session, "projects"))
    ctype = next((t for t in types if t["code"] == code), None)
    users = await api.users(v.session) if ctype else []
    if ctype:
        allowed = ctype.get("allowed_channels")
        channels = [c for c in channels if allowed is None or c["code"] in allowed]
        if ctype.get("projects"):
            projects = [p for p in projects if p["code"] in ctype["projects"]]
    if not set(v.me.get("roles") or []) & {"admin", "supervisor"}:  # R4.4: executors, in their profile's
        projects = [p for p in projects if p["code"] in (v.me.get("projects") or [])]
    required = ALWAYS_REQUIRED | set((ctype or {}).get("required_fields") or [])
    if ctype and ctype.get("allowed_channels"):
        required.add("channel")
    defaults = {"responsible_id": v.me.get("user_id") or ""}
    if triage and not triage["escalate_to_supervisor"]:
        defaults["follow_up_of"] = str(triage["original"]["id"])
    return page(request, v, "create/create.html", types=types, ctype=ctype, channels=channels, areas=areas,
                projects=projects, users=users, required=required, pinned=(ctype or {}).get("pinned") or {},
                typed={**defaults, **(typed or {})}, error=error, may_create=may_create(v.me),
                fu={"asked": "", "disagrees": False, "triage": None, "error": None, "escalated": None,
                    "escalate_error": None, "message": "", **follow_up})


async def _case_id(request: Request, v: Visit, asked: str) -> str:
    """The id of the case the agent named by its id or its number (found with the inbox's search
    over every status); none is a refusal beside the field."""
    try:
        return str(uuid.UUID(asked))
    except ValueError:
        pass
    found = await api_of(request).inbox(v.session, [("q", asked), *(("status", st) for st in STATUSES),
                                                    ("limit", "10"), ("count", "false")])
    match = next((c for c in found["items"] if c["number"] == asked), None)
    if match is None:
        raise ApiError(status=404, title=i18n.text(v.lang, "fu.unknown.title"),
                       fields={"follow_up_of": i18n.text(v.lang, "fu.unknown")})
    return str(match["id"])


async def _triage(request: Request, v: Visit, asked: str, disagrees: bool) -> dict[str, Any]:
    """R3.4: the triage of the earlier case, or the refusal to show beside its field."""
    values: dict[str, Any] = {"asked": asked, "disagrees": disagrees}
    try:
        case_id = await _case_id(request, v, asked)
        params = {"customer_disagrees": "true"} if disagrees else None
        values["triage"] = await api_of(request).get(v.session, f"/cases/{quote(case_id)}/triage", params)
    except ApiError as e:
        if not e.fields:  # e.g. 404: not a case the caller may see
            e.fields = {"follow_up_of": e.detail or e.title}
        values["error"] = e
    return values


@router.get("/cases/new")
async def new_case(request: Request, v: CurrentVisit, type: str | None = None, follow_up_of: str = "",
                   disagrees: str = "") -> Response:
    asked = follow_up_of.strip()
    follow_up = await _triage(request, v, asked, disagrees == "1") if asked else None
    return await _form(request, v, type or None, follow_up=follow_up)


@router.get("/cases/new/escalate")
async def back_to_new_case() -> Response:
    """After a plain form post the address is the form's (e.g. the language switch returns there)."""
    return RedirectResponse(f"{PREFIX}/cases/new", status_code=303)


@router.post("/cases/new/escalate")
async def escalate(request: Request, v: CurrentVisit) -> Response:
    """R3.4 rules 6–8: the supervisor is told, with the agent's message; no new case."""
    form = await request.form()
    asked, message, disagrees = form_text(form, "follow_up_of"), form_text(form, "message"), form_text(form, "disagrees")
    follow_up = await _triage(request, v, asked, disagrees == "1")
    if "triage" in follow_up:
        body: dict[str, Any] = {"message": message, **({"customer_disagrees": True} if disagrees == "1" else {})}
        case_id = str(follow_up["triage"]["original"]["id"])
        try:
            follow_up["escalated"] = await api_of(request).post(
                v.session, f"/cases/{quote(case_id)}/escalate-to-supervisor", body)
        except ApiError as e:
            follow_up.update(escalate_error=e, message=message)
    return await _form(request, v, None, follow_up=follow_up)


async def _party(request: Request, v: Visit, national_id: str) -> dict[str, str]:
    """R4.2 association with the customer: the party holding this national id (RUT), found with
    GET /parties; none or several is a refusal beside the field, like the API's own."""
    if not national_id:
        return {}
    found = await api_of(request).parties_by_national_id(v.session, national_id)
    if len(found) != 1:
        key = "create.party.none" if not found else "create.party.many"
        raise ApiError(status=422, title=i18n.text(v.lang, "create.party.title"),
                       fields={"national_id": i18n.text(v.lang, key)})
    return {"party_id": str(found[0]["id"]), "association": "party"}


@router.post("/cases/new")
async def create_case(request: Request, v: CurrentVisit) -> Response:
    form = await request.form()
    code = form_text(form, "type")
    typed = {n: form_text(form, n) for n in TEXT_FIELDS}
    typed["national_id"] = form_text(form, "national_id")
    try:
        body = _body({k: val for k, val in typed.items() if k != "national_id"}, code)
        body.update(await _party(request, v, typed["national_id"]))
        made = await api_of(request).create_case(v.session, body)
    except ApiError as e:
        return await _form(request, v, code, typed=typed, error=e)
    return redirect(f"{PREFIX}/cases/{made['id']}?created=1", request)

"""Create a case (R4.2, R4.3), driven by the chosen type: its catalog entry (GET
/catalog/case-types/{code}) says which channels it accepts, which fields it requires and which it
pins (those are not asked). The API checks it all again and its refusals come back beside the
fields they name."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console import i18n
from console.api_client import ApiError
from console.permissions import may_create
from console.web import PREFIX, CurrentVisit, Visit, api_of, form_text, page, redirect

router = APIRouter()

TEXT_FIELDS = ("subject", "description", "contact.name", "contact.email", "contact.phone", "responsible_id",
               "project", "channel", "area")
ALWAYS_REQUIRED = {"subject", "description", "contact.name", "contact.email", "responsible_id"}


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
                error: ApiError | None = None) -> Response:
    api = api_of(request)
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
    return page(request, v, "create/create.html", types=types, ctype=ctype, channels=channels, areas=areas,
                projects=projects, users=users, required=required, pinned=(ctype or {}).get("pinned") or {},
                typed={**defaults, **(typed or {})}, error=error, may_create=may_create(v.me))


@router.get("/cases/new")
async def new_case(request: Request, v: CurrentVisit, type: str | None = None) -> Response:
    return await _form(request, v, type)


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

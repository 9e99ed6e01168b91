"""Interactions (R2.2) and their events (R2.3, R2.6): the list (GET /interactions: open, closed or
all, newest first; of one party with ``?party_id=``), one interaction with the cases under it
(GET /interactions/{id}) and closing it (POST /interactions/{id}/close) — which the API refuses
(409, naming them) while a case under it is open. The close form is offered to whoever registered
it, supervisors and admins, as the API decides."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from console import i18n
from console.api_client import ApiError
from console.pages.listing import Listing, api_get, api_post
from console.pages.tasks import MANAGERS
from console.web import PREFIX, CurrentVisit, Visit, api_of, form_text, is_htmx, page, redirect

router = APIRouter()
LIST = Listing("/interactions", ("all", "open", "closed"), "interactions/list.html", "interactions/_list.html",
               "interactions", keep=("party_id",))

TEXTS: dict[str, tuple[str, str]] = {
    "title": ("Atenciones", "Interactions"),
    "title.party": ("Atenciones de {name}", "Interactions of {name}"),
    "one": ("Atención {code}", "Interaction {code}"),
    "filter.status": ("Estado", "Status"),
    "filter.apply": ("Mostrar", "Show"),
    "status.all": ("(todas)", "(all)"),
    "status.open": ("Abierta", "Open"),
    "status.closed": ("Cerrada", "Closed"),
    "count": ("{n} atenciones", "{n} interactions"),
    "count.one": ("1 atención", "1 interaction"),
    "count.estimate": ("unas {n} atenciones", "about {n} interactions"),
    "empty": ("No hay atenciones.", "No interactions."),
    "col.code": ("Código", "Code"),
    "col.when": ("Fecha", "When"),
    "col.channel": ("Canal", "Channel"),
    "col.summary": ("Resumen", "Summary"),
    "col.status": ("Estado", "Status"),
    "party": ("Parte", "Party"),
    "channel": ("Canal", "Channel"),
    "when": ("Ocurrió el", "Happened on"),
    "status": ("Estado", "Status"),
    "closed_at": ("Cerrada el", "Closed on"),
    "closing_note": ("Nota de cierre", "Closing note"),
    "events": ("Eventos (solicitudes) de la atención", "The interaction's events (cases)"),
    "events.none": ("La atención no tiene solicitudes.", "The interaction has no cases."),
    "events.open": ("abierta", "open"),
    "close": ("Cerrar la atención", "Close the interaction"),
    "close.note": ("Nota de cierre (opcional)", "Closing note (optional)"),
    "closed": ("Atención cerrada.", "Interaction closed."),
    "back": ("Todas las atenciones", "Every interaction"),
    "new": ("Registrar una atención", "Register an interaction"),
    "new.with": ("Registrar una atención con {name}", "Register an interaction with {name}"),
    "new.channel": ("Canal", "Channel"),
    "new.summary": ("Resumen de la atención", "Summary of the interaction"),
    "new.submit": ("Registrar", "Register"),
}
i18n.TEXTS.update({f"ia.{key}": pair for key, pair in TEXTS.items()})


def may_close(me: dict[str, Any], interaction: dict[str, Any]) -> bool:
    """R2.6: whoever registered it, a supervisor or an admin closes an open interaction."""
    return interaction["status"] == "open" and (str(interaction.get("created_by")) == str(me.get("user_id"))
                                                or bool(set(me.get("roles") or []) & MANAGERS))


async def party_name(request: Request, v: Visit, party_id: str | None) -> str | None:
    """The party's name, or None when there is none or it is not shared with the caller (R2.7)."""
    if not party_id:
        return None
    try:
        return str((await api_get(request, v, f"/parties/{party_id}"))["name"])
    except ApiError:
        return None


async def channels(request: Request, v: Visit) -> dict[str, dict[str, Any]]:
    """The catalog's channels by code (their names in the user's language)."""
    return {c["code"]: c for c in await api_of(request).entries(v.session, "channels")}


@router.get("/interactions")
async def list_interactions(request: Request, v: CurrentVisit) -> Response:
    query = LIST.query(request)
    found = await LIST.fetch(request, v, query)
    return LIST.render(request, v, **LIST.values(query, found),
                       party=await party_name(request, v, query.get("party_id")), channels=await channels(request, v))


async def _one(request: Request, v: Visit, interaction_id: str, *, error: ApiError | None = None,
               closed: bool = False, typed: str = "") -> Response:
    interaction = await api_get(request, v, f"/interactions/{interaction_id}")
    values = {"ia": interaction, "party": await party_name(request, v, interaction.get("party_id")),
              "channels": await channels(request, v),
              "may_close": may_close(v.me, interaction), "error": error, "closed": closed, "typed": typed}
    return page(request, v, "interactions/_one.html" if is_htmx(request) else "interactions/one.html", **values)


@router.get("/interactions/new")
async def new(request: Request, v: CurrentVisit) -> Response:
    """R2.2: the form to register an interaction with a party (``?party_id=``)."""
    party_id = request.query_params.get("party_id", "")
    return await _new_form(request, v, party_id, typed={})


async def _new_form(request: Request, v: Visit, party_id: str, *, typed: dict[str, str],
                    error: ApiError | None = None) -> Response:
    values = {"party_id": party_id, "party": await party_name(request, v, party_id), "typed": typed, "error": error,
              "channels": await channels(request, v)}
    return page(request, v, "interactions/new.html", **values)


@router.post("/interactions/new")
async def create(request: Request, v: CurrentVisit) -> Response:
    form = await request.form()
    typed = {n: form_text(form, n) for n in ("party_id", "channel", "summary")}
    body = {n: val for n, val in typed.items() if val}
    try:
        made = await api_post(request, v, "/interactions", body)
    except ApiError as e:
        return await _new_form(request, v, typed["party_id"], typed=typed, error=e)
    return redirect(f"{PREFIX}/interactions/{made['id']}", request)


@router.get("/interactions/{interaction_id}")
async def show(interaction_id: str, request: Request, v: CurrentVisit) -> Response:
    return await _one(request, v, interaction_id)


@router.get("/interactions/{interaction_id}/close")
async def back_to_interaction(interaction_id: str) -> Response:
    """After a plain form post the address is the form's (e.g. the language switch returns there)."""
    return RedirectResponse(f"{PREFIX}/interactions/{quote(interaction_id)}", status_code=303)


@router.post("/interactions/{interaction_id}/close")
async def close(interaction_id: str, request: Request, v: CurrentVisit) -> Response:
    note = form_text(await request.form(), "note")
    try:
        await api_post(request, v, f"/interactions/{interaction_id}/close", {"note": note})
    except ApiError as e:
        return await _one(request, v, interaction_id, error=e, typed=note)
    return await _one(request, v, interaction_id, closed=True)

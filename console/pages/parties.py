"""Parties (R2.1, R2.7, R2.8): search them (GET /parties: name, national id, e-mail or phone, and
kind), one party with its contacts, assets (GET /parties/{id}/assets) and history (GET
/parties/{id}/history: its interactions and cases, open, closed or all), creating and changing one
(POST /parties, PATCH /parties/{id}) with each refusal beside its field; and the billing import of
supplies (POST /supplies/import, an admin's) with its outcome row by row.

Parties the caller may not see (R2.7) are the API's 404, shown as such. The create and edit
buttons are for the agents (admin, supervisor, executor, technical manager), the import for
admins: the API refuses everyone else anyway."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console import i18n
from console.api_client import ApiError
from console.pages.listing import api_get
from console.permissions import CREATORS
from console.web import PREFIX, CurrentVisit, Visit, api_of, form_text, is_htmx, page, redirect

router = APIRouter()
PAGE_SIZE = 25
KINDS = ("person", "company", "prospect", "stakeholder", "owner", "lessee", "non_owner")
HISTORY = ("all", "open", "closed")
# The form's fields; the optional ones are cleared (null) when left empty on an edit.
REQUIRED = ("kind", "name")
OPTIONAL = ("national_id", "email", "phone", "address", "notes")
IMPORT_LIMIT = 8 * 1024 * 1024  # the API's own bound for POST /supplies/import

TEXTS: dict[str, tuple[str, str]] = {
    "nav": ("Partes", "Parties"),
    "title": ("Partes", "Parties"),
    "search": ("Buscar (nombre, RUT, correo o teléfono)", "Search (name, national id, e-mail or phone)"),
    "kind": ("Tipo de parte", "Kind of party"),
    "any": ("(todos)", "(any)"),
    "apply": ("Buscar", "Search"),
    "count": ("{n} partes", "{n} parties"),
    "count.one": ("1 parte", "1 party"),
    "count.estimate": ("unas {n} partes", "about {n} parties"),
    "empty": ("No se encontraron partes.", "No parties found."),
    "new": ("Nueva parte", "New party"),
    "edit": ("Modificar la parte", "Edit the party"),
    "save": ("Guardar", "Save"),
    "create": ("Crear parte", "Create party"),
    "saved": ("Parte guardada.", "Party saved."),
    "refused": ("No se guardó la parte", "The party was not saved"),
    "next": ("Siguientes", "Next"),
    "first": ("Primeras", "First"),
    "f.name": ("Nombre", "Name"),
    "f.kind": ("Tipo", "Kind"),
    "f.national_id": ("RUT o documento", "National id"),
    "f.email": ("Correo electrónico", "E-mail"),
    "f.phone": ("Teléfono", "Phone"),
    "f.address": ("Dirección", "Address"),
    "f.notes": ("Notas", "Notes"),
    "f.internal": ("Cliente interno (sólo interesados)", "Internal customer (stakeholders only)"),
    "f.restricted": ("Acceso", "Access"),
    "restricted.yes": ("Sólo usuarios elegidos (R2.7)", "Chosen users only (R2.7)"),
    "restricted.no": ("Todo el equipo", "The whole team"),
    "f.source": ("Origen", "Source"),
    "source.user": ("Ingresada en Atiende", "Entered in Atiende"),
    "source.billing_import": ("Facturación (sólo lectura)", "Billing (read-only)"),
    "k.person": ("Persona", "Person"),
    "k.company": ("Empresa", "Company"),
    "k.prospect": ("Prospecto", "Prospect"),
    "k.stakeholder": ("Interesado", "Stakeholder"),
    "k.owner": ("Propietario", "Owner"),
    "k.lessee": ("Arrendatario", "Lessee"),
    "k.non_owner": ("No propietario", "Non-owner"),
    "contacts": ("Contactos", "Contacts"),
    "contacts.none": ("Sin contactos.", "No contacts."),
    "decision_maker": ("decide", "decision maker"),
    "assets": ("Activos (pólizas, suministros, propiedades, productos)", "Assets (policies, supplies, properties, products)"),
    "assets.none": ("Sin activos.", "No assets."),
    "a.code": ("Código", "Code"),
    "a.kind": ("Tipo", "Kind"),
    "a.name": ("Nombre", "Name"),
    "a.read_only": ("sólo lectura", "read-only"),
    "history": ("Historial", "History"),
    "history.show": ("Mostrar", "Show"),
    "history.which": ("Cuáles", "Which"),
    "h.all": ("Todas", "All"),
    "h.open": ("Abiertas", "Open"),
    "h.closed": ("Cerradas", "Closed"),
    "interactions": ("Atenciones", "Interactions"),
    "interactions.none": ("Sin atenciones.", "No interactions."),
    "interactions.all": ("Ver todas sus atenciones", "See all its interactions"),
    "cases": ("Solicitudes", "Cases"),
    "cases.none": ("Sin solicitudes.", "No cases."),
    "c.number": ("Número", "Number"),
    "c.subject": ("Asunto", "Subject"),
    "c.status": ("Estado", "Status"),
    "c.due": ("Vence", "Due"),
    "overdue": ("Atrasada", "Overdue"),
    "import": ("Importar suministros", "Import supplies"),
    "import.intro": ("Archivo CSV de facturación (separado por punto y coma), con las columnas external_id, name, "
                     "party_national_id, party_name y otras que pasan a sus atributos. Los suministros sólo cambian "
                     "por esta carga (R2.1).",
                     "A billing CSV file (semicolon-separated) with the columns external_id, name, party_national_id, "
                     "party_name and others, which become attributes. Supplies change only through this load (R2.1)."),
    "import.file": ("Archivo CSV", "CSV file"),
    "import.submit": ("Importar", "Import"),
    "import.no_file": ("Elija un archivo CSV.", "Choose a CSV file."),
    "import.too_large": ("El archivo supera 8 MiB; divídalo en partes.", "The file exceeds 8 MiB; split it."),
    "import.result": ("Resultado de la carga", "Outcome of the load"),
    "import.created": ("Creados", "Created"),
    "import.updated": ("Actualizados", "Updated"),
    "import.unchanged": ("Sin cambios", "Unchanged"),
    "import.parties_created": ("Partes creadas", "Parties created"),
    "import.errors": ("Filas rechazadas", "Rows refused"),
    "import.errors.none": ("Ninguna fila rechazada.", "No row refused."),
    "import.row": ("Fila", "Row"),
    "import.external_id": ("Suministro", "Supply"),
    "import.field": ("Campo", "Field"),
    "import.message": ("Motivo", "Reason"),
    "import.rows": ("Resultado por fila", "Outcome per row"),
    "import.outcome": ("Resultado", "Outcome"),
    "import.outcome.created": ("creado", "created"),
    "import.outcome.updated": ("actualizado", "updated"),
    "import.outcome.unchanged": ("sin cambios", "unchanged"),
    "import.outcome.refused": ("rechazado", "refused"),
}
i18n.TEXTS.update({f"pt.{key}": pair for key, pair in TEXTS.items()})


def may_write(me: dict[str, Any]) -> bool:
    return bool(set(me.get("roles") or []) & CREATORS)


def may_import(me: dict[str, Any]) -> bool:
    return "admin" in (me.get("roles") or [])


# -- search ----------------------------------------------------------------------------------------
@router.get("/parties")
async def search(request: Request, v: CurrentVisit) -> Response:
    qp = request.query_params
    query = [(k, qp[k]) for k in ("q", "cursor") if qp.get(k)] + [("kind", k) for k in qp.getlist("kind") if k]
    error: ApiError | None = None
    try:
        found = await api_get(request, v, "/parties", [*query, ("limit", str(PAGE_SIZE))])
    except ApiError as e:  # e.g. a bad kind or cursor: the form shows it beside the field
        error, found = e, {"items": [], "next_cursor": None}
    base = [(k, val) for k, val in query if k != "cursor"]
    values = {"found": found, "error": error, "chosen": {"q": qp.get("q", ""), "kind": qp.getlist("kind"),
                                                         "cursor": qp.get("cursor")},
              "query": {"cursor": qp.get("cursor")},
              "kinds": KINDS, "first_query": base, "next_query": [*base, ("cursor", found.get("next_cursor") or "")],
              "may_write": may_write(v.me), "may_import": may_import(v.me)}
    if is_htmx(request) and request.headers.get("hx-target") == "parties":
        return page(request, v, "parties/_results.html", oob=True, **values)
    return page(request, v, "parties/search.html", **values)


# -- create and edit -------------------------------------------------------------------------------
def _body(form: Any, *, editing: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The API's body from the form, and what was typed (to show it again after a refusal)."""
    typed = {n: form_text(form, n) for n in (*REQUIRED, *OPTIONAL)} | {"internal": form_text(form, "internal")}
    body: dict[str, Any] = {n: typed[n] for n in REQUIRED if typed[n] or not editing}
    for n in OPTIONAL:
        if typed[n]:
            body[n] = typed[n]
        elif editing:
            body[n] = None  # emptied on the form: cleared
    body["internal"] = typed["internal"] == "on"
    return body, typed


def _form(request: Request, v: Visit, *, party: dict[str, Any] | None, typed: dict[str, Any],
          error: ApiError | None = None, status_code: int = 200) -> Response:
    response = page(request, v, "parties/form.html", party=party, typed=typed, error=error, kinds=KINDS,
                    fields=OPTIONAL)
    response.status_code = status_code
    return response


@router.get("/parties/new")
async def new(request: Request, v: CurrentVisit) -> Response:
    return _form(request, v, party=None, typed={"kind": "person"})


@router.post("/parties/new")
async def create(request: Request, v: CurrentVisit) -> Response:
    body, typed = _body(await request.form(), editing=False)
    try:
        made = await api_of(request).post(v.session, "/parties", body)
    except ApiError as e:
        return _form(request, v, party=None, typed=typed, error=e, status_code=200 if is_htmx(request) else e.status)
    return redirect(f"{PREFIX}/parties/{made['id']}?saved=1", request)


@router.get("/parties/{party_id}/edit")
async def edit(party_id: str, request: Request, v: CurrentVisit) -> Response:
    party = await api_get(request, v, f"/parties/{party_id}")
    typed = {n: party.get(n) or "" for n in (*REQUIRED, *OPTIONAL)} | {"internal": "on" if party["internal"] else ""}
    return _form(request, v, party=party, typed=typed)


@router.post("/parties/{party_id}/edit")
async def change(party_id: str, request: Request, v: CurrentVisit) -> Response:
    body, typed = _body(await request.form(), editing=True)
    try:
        await api_of(request).patch(v.session, f"/parties/{party_id}", body)
    except ApiError as e:
        party = await api_get(request, v, f"/parties/{party_id}")
        return _form(request, v, party=party, typed=typed, error=e, status_code=200 if is_htmx(request) else e.status)
    return redirect(f"{PREFIX}/parties/{party_id}?saved=1", request)


# -- supplies import (R2.1) --------------------------------------------------------------------------
@router.get("/supplies/import")
async def import_form(request: Request, v: CurrentVisit) -> Response:
    return page(request, v, "parties/import.html", result=None, error=None)


@router.post("/supplies/import")
async def import_file(request: Request, v: CurrentVisit) -> Response:
    form = await request.form()
    upload = form.get("file")
    lang = v.lang
    result, error = None, None
    content = await upload.read(IMPORT_LIMIT + 1) if upload is not None and not isinstance(upload, str) else b""
    if not content:
        error = ApiError(422, i18n.text(lang, "pt.import.no_file"), fields={"file": i18n.text(lang, "pt.import.no_file")})
    elif len(content) > IMPORT_LIMIT:
        error = ApiError(413, i18n.text(lang, "pt.import.too_large"))
    else:
        api = api_of(request)
        try:
            r = await api.request(v.session, "POST", "/supplies/import", content=content,
                                  headers={"Content-Type": "text/csv"})
            result = r.json()
        except ApiError as e:
            error = e
    template = "parties/_import_result.html" if is_htmx(request) else "parties/import.html"
    return page(request, v, template, result=result, error=error)


# -- one party -------------------------------------------------------------------------------------
@router.get("/parties/{party_id}")
async def show(party_id: str, request: Request, v: CurrentVisit) -> Response:
    which = request.query_params.get("history")
    which = which if which in HISTORY else "all"
    party, assets, history = await asyncio.gather(
        api_get(request, v, f"/parties/{party_id}"),
        api_get(request, v, f"/parties/{party_id}/assets", {"limit": 200}),
        api_get(request, v, f"/parties/{party_id}/history", {"status": which}))
    values = {"party": party, "assets": assets, "history": history, "which": which, "histories": HISTORY,
              "may_write": may_write(v.me), "saved": bool(request.query_params.get("saved"))}
    if is_htmx(request) and request.headers.get("hx-target") == "history":
        return page(request, v, "parties/_history.html", **values)
    return page(request, v, "parties/party.html", **values)

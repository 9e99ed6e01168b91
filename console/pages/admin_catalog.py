"""Admin — the catalog ("mantenedores", R4.2): one list per kind (channels, areas, case types with
their rules, categories, calendars) and an edit form per entry for channels, areas and case types
(PATCH /catalog/{kind}/{code}: only the fields sent change; entries are deactivated, never
deleted). Categories and calendars are shown read-only here. A case type's SLA policy is shown as
the API exposes it (first response, resolution per priority, warnings, hold, calendar) and is not
edited on this screen. The API's refusals come back beside the fields they name."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from console import i18n
from console.api_client import ApiError
from console.pages.admin import admin_page, all_pages, call, forbidden_page, is_admin
from console.web import PREFIX, CurrentVisit, Visit, form_text, redirect

router = APIRouter()

# Console path → the API's list; the ones with an edit form.
KINDS = {"channels": "/catalog/channels", "areas": "/catalog/areas", "case-types": "/catalog/case-types",
         "categories": "/catalog/categories", "calendars": "/catalog/calendars"}
EDITABLE = ("channels", "areas", "case-types")
# services/intake/domain/catalog.py's REQUIRED_FIELD_CHOICES, as the API's schema lists them.
REQUIRED_FIELDS = ("contact.phone", "contact.email", "description", "project")
UNITS = ("business_days", "business_hours")
PRIORITIES = ("urgent", "high", "normal", "low")

TEXTS: dict[str, tuple[str, str]] = {
    "title": ("Catálogo", "Catalog"),
    "kinds": ("Listas del catálogo", "Catalog lists"),
    "kind.channels": ("Canales", "Channels"),
    "kind.areas": ("Áreas", "Areas"),
    "kind.case-types": ("Tipos de solicitud", "Case types"),
    "kind.categories": ("Categorías", "Categories"),
    "kind.calendars": ("Calendarios", "Calendars"),
    "count": ("{n} entradas", "{n} entries"),
    "read_only": ("Esta lista se muestra sólo para consulta en la consola.",
                  "The console shows this list read-only."),
    "edit.title": ("Editar {name}", "Edit {name}"),
    "head": ("Jefatura del área", "The area's head"),
    "head.none": ("(sin jefatura)", "(no head)"),
    "calendar": ("Calendario", "Calendar"),
    "calendar.default": ("(el del cliente)", "(the tenant's)"),
    "deadline": ("Plazo de respuesta", "Response deadline"),
    "deadline.amount": ("Cantidad", "Amount"),
    "deadline.unit": ("Unidad", "Unit"),
    "allowed_channels": ("Canales permitidos", "Allowed channels"),
    "allowed_channels.hint": ("Ninguno marcado: cualquier canal activo.", "None checked: any active channel."),
    "allowed_channels.any": ("(cualquiera)", "(any)"),
    "required_fields": ("Campos obligatorios", "Required fields"),
    "sla": ("Metas de servicio (SLA)", "Service targets (SLA)"),
    "sla.none": ("Sólo el plazo de respuesta, con los umbrales del cliente.",
                 "Only the response deadline, with the tenant's thresholds."),
    "sla.first_response": ("Primera respuesta", "First response"),
    "sla.resolution": ("Resolución por prioridad", "Resolution by priority"),
    "sla.warnings": ("Avisos al (% del plazo)", "Warnings at (% of the time)"),
    "sla.hold": ("Espera (R1.4, días hábiles)", "Hold (R1.4, business days)"),
    "sla.read_only": ("Las metas se muestran como las entrega la API; esta pantalla no las edita.",
                      "The targets are shown as the API gives them; this screen does not edit them."),
    "path": ("Ruta", "Path"),
    "level": ("Nivel", "Level"),
    "country": ("País", "Country"),
    "timezone": ("Zona horaria", "Time zone"),
    "work_days": ("Días hábiles", "Working days"),
    "work_hours": ("Horario", "Hours"),
    "field.contact.phone": ("Teléfono del contacto", "Contact's phone"),
    "field.contact.email": ("Correo del contacto", "Contact's e-mail"),
    "field.description": ("Descripción", "Description"),
    "field.project": ("Proyecto", "Project"),
}
i18n.TEXTS.update({f"ac.{key}": pair for key, pair in TEXTS.items()})


@router.get("/admin/catalog")
async def catalog_home() -> Response:
    return RedirectResponse(f"{PREFIX}/admin/catalog/channels", status_code=303)


@router.get("/admin/catalog/{kind}")
async def entries(request: Request, v: CurrentVisit, kind: str) -> Response:
    if kind not in KINDS:
        raise ApiError(404, "Not found")
    if not is_admin(v.me):
        return forbidden_page(request, v)
    found = await call(request, v, "GET", KINDS[kind])
    return admin_page(request, v, "admin/catalog.html", "catalog", kind=kind, kinds=KINDS, editable=EDITABLE,
                      found=found, priorities=PRIORITIES, done=request.query_params.get("done"))


async def _edit(request: Request, v: Visit, kind: str, code: str, *, typed: dict[str, Any] | None = None,
                error: ApiError | None = None) -> Response:
    if kind not in EDITABLE:
        raise ApiError(404, "Not found")
    if not is_admin(v.me):
        return forbidden_page(request, v)
    entry = await call(request, v, "GET", f"{KINDS[kind]}/{quote(code)}")
    extra: dict[str, Any] = {}
    if kind == "areas":
        extra["users"], extra["calendars"] = await asyncio.gather(
            all_pages(request, v, "/users", {"active": "true"}), call(request, v, "GET", "/catalog/calendars"))
    if kind == "case-types":
        extra["channels"] = await call(request, v, "GET", "/catalog/channels")
    return admin_page(request, v, "admin/entry.html", "catalog", kind=kind, kinds=KINDS, entry=entry,
                      typed={**entry, **(typed or {})}, error=error, units=UNITS, required_fields=REQUIRED_FIELDS,
                      priorities=PRIORITIES, status_code=422 if error else 200, **extra)


@router.get("/admin/catalog/{kind}/{code}")
async def entry(request: Request, v: CurrentVisit, kind: str, code: str) -> Response:
    return await _edit(request, v, kind, code)


def _patch(kind: str, form: Any) -> dict[str, Any]:
    """The PATCH body from the form (and, for a refusal, what was typed: the same values)."""
    body: dict[str, Any] = {"name_es": form_text(form, "name_es"), "name_en": form_text(form, "name_en"),
                            "active": form_text(form, "active") == "true"}
    if kind == "areas":
        body["head_user_id"] = form_text(form, "head_user_id") or None
        body["calendar"] = form_text(form, "calendar") or None
    if kind == "case-types":
        amount = form_text(form, "deadline.amount")
        # A non-number goes as typed: the API's refusal names deadline.amount.
        body["deadline"] = {"unit": form_text(form, "deadline.unit"),
                            "amount": int(amount) if amount.isdigit() else amount}
        body["allowed_channels"] = [c for c in form.getlist("allowed_channels") if isinstance(c, str)] or None
        body["required_fields"] = [f for f in form.getlist("required_fields") if isinstance(f, str)]
    return body


@router.post("/admin/catalog/{kind}/{code}")
async def change(request: Request, v: CurrentVisit, kind: str, code: str) -> Response:
    if kind not in EDITABLE:
        raise ApiError(404, "Not found")
    if not is_admin(v.me):
        return forbidden_page(request, v)
    body = _patch(kind, await request.form())
    try:
        await call(request, v, "PATCH", f"{KINDS[kind]}/{quote(code)}", body=body)
    except ApiError as e:
        return await _edit(request, v, kind, code, typed=body, error=e)
    return redirect(f"{PREFIX}/admin/catalog/{kind}?done={quote(code)}", request)

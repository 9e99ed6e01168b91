"""Admin — the catalog ("mantenedores", R4.2): one list per kind (channels, areas, case types with
their rules, categories, calendars), a form to create an entry of each kind and an edit form per
entry, and the tenant's SLA settings (warning thresholds, escalation ladder, quiet hours).

- Channels, areas and case types: POST /catalog/{kind} to create, PATCH /catalog/{kind}/{code}
  to change (only the fields sent change; entries are deactivated, never deleted).
- Categories (R3.2, up to three levels): POST /catalog/categories creates a first-level node or a
  child of one; PATCH /catalog/categories/{id} renames it or (de)activates it (its code and place
  never change).
- Calendars: PUT /catalog/calendars/{code} replaces one as a whole (name, country and region
  whose holidays count, zone, periods per weekday, extra closed and extra working days). The
  create form refuses a code already in use instead of replacing that calendar.
- SLA settings: GET/PUT /catalog/sla-settings (R4.8 warnings, R4.9 ladder).

A case type's own SLA policy is shown as the API exposes it and is not edited here. The API's
refusals come back beside the fields they name. Only admins get these screens (R4.4); the API
refuses everyone else by itself."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from console import i18n
from console.api_client import ApiError
from console.pages.admin import admin_page, all_pages, call, forbidden_page, is_admin
from console.web import PREFIX, CurrentVisit, Visit, form_text, redirect

router = APIRouter()

# Console path → the API's list. Every kind has a create and an edit form; the SLA settings are
# one form of their own (the last tab).
KINDS = {"channels": "/catalog/channels", "areas": "/catalog/areas", "case-types": "/catalog/case-types",
         "categories": "/catalog/categories", "calendars": "/catalog/calendars"}
TABS = (*KINDS, "sla-settings")
# services/intake/domain/catalog.py's REQUIRED_FIELD_CHOICES, as the API's schema lists them.
REQUIRED_FIELDS = ("contact.phone", "contact.email", "description", "project")
UNITS = ("business_days", "business_hours")
PRIORITIES = ("urgent", "high", "normal", "low")
WEEKDAYS = tuple(str(d) for d in range(1, 8))  # ISO: 1 = Monday
LADDER_TO = ("manager_chain", "area_head")
LADDER_CHANNELS = ("email", "sms", "in_app")

TEXTS: dict[str, tuple[str, str]] = {
    "title": ("Catálogo", "Catalog"),
    "kinds": ("Listas del catálogo", "Catalog lists"),
    "kind.channels": ("Canales", "Channels"),
    "kind.areas": ("Áreas", "Areas"),
    "kind.case-types": ("Tipos de solicitud", "Case types"),
    "kind.categories": ("Categorías", "Categories"),
    "kind.calendars": ("Calendarios", "Calendars"),
    "kind.sla-settings": ("Metas y escalamiento", "Targets and escalation"),
    "count": ("{n} entradas", "{n} entries"),
    "edit.title": ("Editar {name}", "Edit {name}"),
    "new": ("Crear", "Create"),
    "new.title.channels": ("Nuevo canal", "New channel"),
    "new.title.areas": ("Nueva área", "New area"),
    "new.title.case-types": ("Nuevo tipo de solicitud", "New case type"),
    "new.title.categories": ("Nueva categoría", "New category"),
    "new.title.calendars": ("Nuevo calendario", "New calendar"),
    "created": ("Entrada creada.", "Entry created."),
    "code.hint": ("Minúsculas, números y guiones; no cambia después.",
                  "Lower-case letters, digits and hyphens; it never changes."),
    "code.taken": ("Ya existe un calendario con ese código.", "A calendar with that code exists already."),
    "parent": ("Categoría superior", "Parent category"),
    "parent.none": ("(ninguna: primer nivel)", "(none: first level)"),
    "parent.hint": ("Hasta tres niveles (R3.2).", "Up to three levels (R3.2)."),
    "child": ("Crear subcategoría", "Create a subcategory"),
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
    "sla.read_only": ("Las metas del tipo se muestran como las entrega la API; esta pantalla no las edita.",
                      "The type's targets are shown as the API gives them; this screen does not edit them."),
    "path": ("Ruta", "Path"),
    "level": ("Nivel", "Level"),
    "name": ("Nombre", "Name"),
    "country": ("País", "Country"),
    "country.hint": ("Dos letras (CL): sus feriados nacionales no son hábiles.",
                     "Two letters (CL): its national holidays are not working days."),
    "subdivision": ("Región", "Region"),
    "subdivision.hint": ("Opcional: sus feriados regionales también cuentan (p. ej. RM, BI).",
                         "Optional: its regional holidays count too (e.g. RM, BI)."),
    "timezone": ("Zona horaria", "Time zone"),
    "work_days": ("Días hábiles", "Working days"),
    "work_hours": ("Horario", "Hours"),
    "hours": ("Horario por día", "Hours per day"),
    "hours.hint": ("Tramos HH:MM-HH:MM separados por comas (09:00-13:00, 14:00-18:00); vacío: no hábil.",
                   "Periods HH:MM-HH:MM separated by commas (09:00-13:00, 14:00-18:00); empty: not a working day."),
    "closed_days": ("Días no hábiles adicionales (feriados)", "Extra closed days (holidays)"),
    "working_days": ("Días hábiles adicionales", "Extra working days"),
    "days.hint": ("Uno por línea: AAAA-MM-DD y, si quiere, su nombre.",
                  "One a line: YYYY-MM-DD and, optionally, its name."),
    "day.1": ("Lunes", "Monday"), "day.2": ("Martes", "Tuesday"), "day.3": ("Miércoles", "Wednesday"),
    "day.4": ("Jueves", "Thursday"), "day.5": ("Viernes", "Friday"), "day.6": ("Sábado", "Saturday"),
    "day.7": ("Domingo", "Sunday"),
    "field.contact.phone": ("Teléfono del contacto", "Contact's phone"),
    "field.contact.email": ("Correo del contacto", "Contact's e-mail"),
    "field.description": ("Descripción", "Description"),
    "field.project": ("Proyecto", "Project"),
    "ss.intro": ("Los umbrales de aviso (R4.8), la escalera de escalamiento tras el vencimiento (R4.9) y el "
                 "horario de silencio valen para todo el cliente.",
                 "The warning thresholds (R4.8), the escalation ladder after a breach (R4.9) and quiet hours "
                 "apply to the whole tenant."),
    "ss.warning_percents": ("Avisos al (% del plazo hábil)", "Warnings at (% of the business time)"),
    "ss.warning_percents.hint": ("Números de 1 a 99, ascendentes, separados por comas (50, 75).",
                                 "Numbers 1 to 99, ascending, separated by commas (50, 75)."),
    "ss.quiet_hours": ("Correos y SMS de escalamientos no urgentes esperan el horario hábil",
                       "E-mail and SMS of non-urgent escalations wait for working time"),
    "ss.churn_alert_levels": ("Niveles de jefatura de las alertas de fuga (R1.1)",
                              "Manager levels the churn alerts reach (R1.1)"),
    "ss.ladder": ("Escalera de escalamiento", "Escalation ladder"),
    "ss.level": ("Nivel {n}", "Level {n}"),
    "ss.level.new": ("Agregar un nivel", "Add a level"),
    "ss.after": ("Tras el vencimiento", "After the breach"),
    "ss.to": ("Destinatario", "To"),
    "ss.to.manager_chain": ("Jefaturas del responsable", "The responsible's managers"),
    "ss.to.area_head": ("Jefatura del área", "The area's head"),
    "ss.steps_up": ("Niveles hacia arriba", "Levels up"),
    "ss.channels": ("Canales", "Channels"),
    "ss.channel.email": ("Correo", "E-mail"),
    "ss.channel.sms": ("SMS", "SMS"),
    "ss.channel.in_app": ("En la consola", "In the console"),
    "ss.remove": ("Quitar este nivel", "Remove this level"),
}
i18n.TEXTS.update({f"ac.{key}": pair for key, pair in TEXTS.items()})


def _known(kind: str) -> None:
    if kind not in KINDS:
        raise ApiError(404, "Not found")


@router.get("/admin/catalog")
async def catalog_home() -> Response:
    return RedirectResponse(f"{PREFIX}/admin/catalog/channels", status_code=303)


# -- SLA settings (before the kinds' routes: "sla-settings" is no kind) ------------------------
def _sla_form(settings: dict[str, Any]) -> dict[str, Any]:
    """What the SLA form shows for the API's settings (and one blank level to add)."""
    return {"warning_percents": ", ".join(str(p) for p in settings.get("warning_percents") or []),
            "quiet_hours": bool(settings.get("quiet_hours")),
            "churn_alert_levels": settings.get("churn_alert_levels", 2),
            "ladder": [*(settings.get("ladder") or []), {}]}


def _number(text: str) -> Any:
    """An integer, or the text as typed (the API's refusal then names the field)."""
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def _sla_body(form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The PUT body from the form, and what was typed (to show again after a refusal)."""
    percents = [p.strip() for p in form_text(form, "warning_percents").split(",") if p.strip()]
    ladder: list[dict[str, Any]] = []
    typed_ladder: list[dict[str, Any]] = []
    i = 0
    while f"ladder.{i}.to" in form:
        amount = form_text(form, f"ladder.{i}.after.amount")
        channels = [c for c in form.getlist(f"ladder.{i}.channels") if isinstance(c, str)]
        level = {"after": {"unit": form_text(form, f"ladder.{i}.after.unit"), "amount": _number(amount)},
                 "to": form_text(form, f"ladder.{i}.to"),
                 "steps_up": _number(form_text(form, f"ladder.{i}.steps_up") or "1"), "channels": channels}
        i += 1
        if form_text(form, f"ladder.{i - 1}.remove") == "true" or (not amount and not channels):
            continue  # removed, or the blank level left blank
        ladder.append({"level": len(ladder) + 1, **level})
        typed_ladder.append(ladder[-1])
    body = {"warning_percents": [_number(p) for p in percents], "ladder": ladder,
            "quiet_hours": form_text(form, "quiet_hours") == "true",
            "churn_alert_levels": _number(form_text(form, "churn_alert_levels") or "2")}
    typed = {**_sla_form(body), "warning_percents": form_text(form, "warning_percents"),
             "churn_alert_levels": form_text(form, "churn_alert_levels"), "ladder": [*typed_ladder, {}]}
    return body, typed


async def _sla_page(request: Request, v: Visit, *, typed: dict[str, Any] | None = None,
                    error: ApiError | None = None) -> Response:
    if not is_admin(v.me):
        return forbidden_page(request, v)
    if typed is None:
        typed = _sla_form(await call(request, v, "GET", "/catalog/sla-settings"))
    return admin_page(request, v, "admin/sla_settings.html", "catalog", kind="sla-settings", kinds=TABS,
                      typed=typed, error=error, units=UNITS, ladder_to=LADDER_TO, ladder_channels=LADDER_CHANNELS,
                      done=request.query_params.get("done"), status_code=422 if error else 200)


@router.get("/admin/catalog/sla-settings")
async def sla_settings(request: Request, v: CurrentVisit) -> Response:
    return await _sla_page(request, v)


@router.post("/admin/catalog/sla-settings")
async def change_sla_settings(request: Request, v: CurrentVisit) -> Response:
    if not is_admin(v.me):
        return forbidden_page(request, v)
    body, typed = _sla_body(await request.form())
    try:
        await call(request, v, "PUT", "/catalog/sla-settings", body=body)
    except ApiError as e:
        return await _sla_page(request, v, typed=typed, error=e)
    return redirect(f"{PREFIX}/admin/catalog/sla-settings?done=saved", request)


# -- the lists ---------------------------------------------------------------------------------
@router.get("/admin/catalog/{kind}")
async def entries(request: Request, v: CurrentVisit, kind: str) -> Response:
    _known(kind)
    if not is_admin(v.me):
        return forbidden_page(request, v)
    found = await call(request, v, "GET", KINDS[kind])
    return admin_page(request, v, "admin/catalog.html", "catalog", kind=kind, kinds=TABS, found=found,
                      priorities=PRIORITIES, done=request.query_params.get("done"),
                      created=request.query_params.get("created"))


# -- calendars: the form's texts <-> the API's fields ------------------------------------------
def _periods_text(periods: list[dict[str, str]]) -> str:
    return ", ".join(f"{p['start']}-{p['end']}" for p in periods)


def _days_text(days: list[dict[str, Any]]) -> str:
    return "\n".join(f"{d['date']} {d.get('name') or ''}".strip() for d in days)


def _calendar_form(entry: dict[str, Any]) -> dict[str, Any]:
    """The form's texts for a calendar of the API (a new one: Monday to Friday, 09:00–18:00)."""
    hours = entry.get("hours") or ({} if entry else {d: [{"start": "09:00", "end": "18:00"}] for d in WEEKDAYS[:5]})
    return {"code": entry.get("code", ""), "name": entry.get("name") or "", "country": entry.get("country", "CL"),
            "subdivision": entry.get("subdivision") or "", "timezone": entry.get("timezone", "America/Santiago"),
            "active": entry.get("active", True),
            **{f"hours.{d}": _periods_text(hours.get(d, [])) for d in WEEKDAYS},
            "extra_closed_days": _days_text(entry.get("extra_closed_days") or []),
            "extra_working_days": _days_text(entry.get("extra_working_days") or [])}


def _period(text: str) -> dict[str, str]:
    start, _, end = text.partition("-")
    return {"start": start.strip(), "end": end.strip()}


def _days(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if line.strip():
            day, _, name = line.strip().partition(" ")
            out.append({"date": day, "name": name.strip() or None})
    return out


def _calendar_body(form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    typed: dict[str, Any] = {"code": form_text(form, "code"), "active": form_text(form, "active") == "true",
             **{k: form_text(form, k) for k in ("name", "country", "subdivision", "timezone", "extra_closed_days",
                                                "extra_working_days")},
             **{f"hours.{d}": form_text(form, f"hours.{d}") for d in WEEKDAYS}}
    hours = {d: [_period(p) for p in typed[f"hours.{d}"].split(",") if p.strip()] for d in WEEKDAYS}
    body = {"name": typed["name"] or None, "country": typed["country"], "subdivision": typed["subdivision"] or None,
            "timezone": typed["timezone"], "hours": {d: ps for d, ps in hours.items() if ps},
            "extra_closed_days": _days(typed["extra_closed_days"]),
            "extra_working_days": _days(typed["extra_working_days"]), "active": typed["active"]}
    return body, typed


# -- channels, areas, case types, categories: the form's fields -------------------------------
def _entry_body(kind: str, form: Any, creating: bool) -> dict[str, Any]:
    """The POST (``creating``) or PATCH body from the form; also what was typed after a refusal."""
    body: dict[str, Any] = {"name_es": form_text(form, "name_es"), "name_en": form_text(form, "name_en")}
    if creating:
        body["code"] = form_text(form, "code")
        if not body["name_en"]:
            del body["name_en"]  # the API's default: the Spanish name
    if not (creating and kind == "categories"):  # a new category is active; the API takes no flag
        body["active"] = form_text(form, "active") == "true"
    if creating and kind == "categories":
        body["parent"] = form_text(form, "parent") or None
    if kind == "areas":
        body["head_user_id"] = form_text(form, "head_user_id") or None
        body["calendar"] = form_text(form, "calendar") or None
    if kind == "case-types":
        # A non-number goes as typed: the API's refusal names deadline.amount.
        body["deadline"] = {"unit": form_text(form, "deadline.unit"),
                            "amount": _number(form_text(form, "deadline.amount"))}
        body["allowed_channels"] = [c for c in form.getlist("allowed_channels") if isinstance(c, str)] or None
        body["required_fields"] = [f for f in form.getlist("required_fields") if isinstance(f, str)]
    return body


async def _choices(request: Request, v: Visit, kind: str) -> dict[str, Any]:
    """What the form's selects offer."""
    if kind == "areas":
        users, calendars = await asyncio.gather(all_pages(request, v, "/users", {"active": "true"}),
                                                call(request, v, "GET", "/catalog/calendars"))
        return {"users": users, "calendars": calendars}
    if kind == "case-types":
        return {"channels": await call(request, v, "GET", "/catalog/channels")}
    if kind == "categories":
        found = await call(request, v, "GET", "/catalog/categories", params={"active": "true"})
        return {"parents": [c for c in found if c["level"] < 3]}
    return {}


async def _form(request: Request, v: Visit, kind: str, key: str | None, *, typed: dict[str, Any] | None = None,
                error: ApiError | None = None) -> Response:
    """The edit form of the entry ``key`` (its code; a category's id), or the create form (None)."""
    _known(kind)
    if not is_admin(v.me):
        return forbidden_page(request, v)
    entry = await call(request, v, "GET", f"{KINDS[kind]}/{quote(key)}") if key else {}
    shown = _calendar_form(entry) if kind == "calendars" else {
        "active": True, "deadline": {"unit": "business_days", "amount": ""}, "required_fields": [], **entry}
    if key is None and request.query_params.get("parent"):
        shown["parent"] = request.query_params["parent"]
    return admin_page(request, v, "admin/entry.html", "catalog", kind=kind, kinds=TABS, entry=entry, key=key,
                      typed={**shown, **(typed or {})}, error=error, units=UNITS, required_fields=REQUIRED_FIELDS,
                      priorities=PRIORITIES, weekdays=WEEKDAYS, status_code=422 if error else 200,
                      **await _choices(request, v, kind))


@router.get("/admin/catalog/new/{kind}")
async def new_entry(request: Request, v: CurrentVisit, kind: str) -> Response:
    return await _form(request, v, kind, None)


@router.post("/admin/catalog/new/{kind}")
async def create(request: Request, v: CurrentVisit, kind: str) -> Response:
    return await _save(request, v, kind, None)


@router.get("/admin/catalog/{kind}/{key}")
async def entry(request: Request, v: CurrentVisit, kind: str, key: str) -> Response:
    return await _form(request, v, kind, key)


@router.post("/admin/catalog/{kind}/{key}")
async def change(request: Request, v: CurrentVisit, kind: str, key: str) -> Response:
    return await _save(request, v, kind, key)


async def _save(request: Request, v: Visit, kind: str, key: str | None) -> Response:
    """Create (``key`` None) or change an entry; a refusal shows the form again with the API's
    messages beside their fields."""
    _known(kind)
    if not is_admin(v.me):
        return forbidden_page(request, v)
    form = await request.form()
    try:
        if kind == "calendars":  # PUT creates or replaces: a new one must not replace another
            body, typed = _calendar_body(form)
            if key is None and typed["code"] in {c["code"] for c in await call(request, v, "GET", KINDS[kind])}:
                raise ApiError(422, i18n.text(v.lang, "ac.code.taken"),
                               fields={"code": i18n.text(v.lang, "ac.code.taken")}, code="validation")
            # No code: "-", which the API refuses as it would any bad code.
            saved = await call(request, v, "PUT", f"{KINDS[kind]}/{quote(key or typed['code'] or '-')}", body=body)
        else:
            typed = _entry_body(kind, form, creating=key is None)
            saved = await call(request, v, "POST" if key is None else "PATCH",
                               KINDS[kind] + ("" if key is None else f"/{quote(key)}"), body=typed)
    except ApiError as e:
        return await _form(request, v, kind, key, typed=typed, error=e)
    shown = str(saved.get("path") or saved.get("code") or key)  # a category by its path, not its id
    return redirect(f"{PREFIX}/admin/catalog/{kind}?{'done' if key else 'created'}={quote(shown)}", request)

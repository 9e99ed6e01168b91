"""Admin — notification templates (notifier's api_admin.py): every template × channel × language
with its source (shipped or the tenant's), an editor per template, its preview on a sample case
(rendered subject and body; an SMS's length, encoding and segments) and the way back to the
shipped text. notifier checks every draft (syntax with its line, unknown variables, a text that
cannot render) and its refusals come back beside the subject or the body."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console import i18n
from console.api_client import ApiError
from console.pages.admin import admin_page, all_pages, call, forbidden_page, is_admin
from console.web import PREFIX, CurrentVisit, Visit, form_text, is_htmx, redirect

router = APIRouter()
BASE = "/notification-templates"

TEXTS: dict[str, tuple[str, str]] = {
    "title": ("Plantillas de notificación", "Notification templates"),
    "list": ("Plantillas por canal e idioma", "Templates by channel and language"),
    "count": ("{n} plantillas", "{n} templates"),
    "template": ("Plantilla", "Template"),
    "channel": ("Canal", "Channel"),
    "language": ("Idioma", "Language"),
    "language.es": ("español (Chile)", "Spanish (Chile)"),
    "language.en": ("inglés", "English"),
    "source": ("Origen", "Source"),
    "source.shipped": ("texto original", "shipped text"),
    "source.tenant": ("texto propio (v{version})", "own text (v{version})"),
    "edit.title": ("Plantilla {template} · {channel} · {language}", "Template {template} · {channel} · {language}"),
    "subject": ("Asunto", "Subject"),
    "body": ("Texto", "Body"),
    "variables": ("Variables disponibles", "Available variables"),
    "preview": ("Vista previa", "Preview"),
    "preview.title": ("Vista previa con una solicitud de ejemplo", "Preview with a sample case"),
    "preview.none": ("Pida una vista previa para ver el mensaje generado.",
                     "Ask for a preview to see the message it makes."),
    "sms.size": ("{length} caracteres, {encoding}, {segments} segmento(s) de SMS",
                 "{length} characters, {encoding}, {segments} SMS segment(s)"),
    "save": ("Guardar plantilla", "Save template"),
    "saved": ("Plantilla guardada: los próximos mensajes la usan.", "Template saved: the next messages use it."),
    "reset": ("Volver al texto original", "Back to the shipped text"),
    "reset.done": ("Se restauró el texto original.", "The shipped text is back."),
}
i18n.TEXTS.update({f"at.{key}": pair for key, pair in TEXTS.items()})


def _path(template: str, channel: str, language: str) -> str:
    return f"{quote(template)}/{quote(channel)}/{quote(language)}"


@router.get("/admin/templates")
async def templates(request: Request, v: CurrentVisit) -> Response:
    if not is_admin(v.me):
        return forbidden_page(request, v)
    found = await all_pages(request, v, BASE)
    return admin_page(request, v, "admin/templates.html", "templates", found=found)


async def _editor(request: Request, v: Visit, key: str, *, typed: dict[str, Any] | None = None,
                  preview: dict[str, Any] | None = None, error: ApiError | None = None) -> Response:
    """The editor page, or (htmx) only its region: the form with its messages and the preview."""
    if not is_admin(v.me):
        return forbidden_page(request, v)
    current = await call(request, v, "GET", f"{BASE}/{key}")
    template = "admin/_template_editor.html" if is_htmx(request) else "admin/template.html"
    return admin_page(request, v, template, "templates", current=current, key=key, preview=preview, error=error,
                      typed=typed or {"subject": current["subject"] or "", "body": current["body"]},
                      done=request.query_params.get("done"), status_code=422 if error and not is_htmx(request) else 200)


@router.get("/admin/templates/{template}/{channel}/{language}")
async def edit(request: Request, v: CurrentVisit, template: str, channel: str, language: str) -> Response:
    return await _editor(request, v, _path(template, channel, language))


def _draft(form: Any, channel: str) -> dict[str, Any]:
    """The typed text; an SMS has no subject (notifier refuses one)."""
    draft: dict[str, Any] = {"body": form_text(form, "body")}
    if channel != "sms":
        draft["subject"] = form_text(form, "subject")
    return draft


@router.post("/admin/templates/{template}/{channel}/{language}/preview")
async def preview(request: Request, v: CurrentVisit, template: str, channel: str, language: str) -> Response:
    if not is_admin(v.me):
        return forbidden_page(request, v)
    key = _path(template, channel, language)
    draft = _draft(await request.form(), channel)
    try:
        shown = await call(request, v, "POST", f"{BASE}/{key}/preview", body=draft)
    except ApiError as e:
        return await _editor(request, v, key, typed=draft, error=e)
    return await _editor(request, v, key, typed=draft, preview=shown)


@router.post("/admin/templates/{template}/{channel}/{language}")
async def save(request: Request, v: CurrentVisit, template: str, channel: str, language: str) -> Response:
    if not is_admin(v.me):
        return forbidden_page(request, v)
    key = _path(template, channel, language)
    form = await request.form()
    try:
        if form_text(form, "reset") == "true":
            await call(request, v, "DELETE", f"{BASE}/{key}")
            done = "reset"
        else:
            await call(request, v, "PUT", f"{BASE}/{key}", body=_draft(form, channel))
            done = "saved"
    except ApiError as e:
        return await _editor(request, v, key, typed=_draft(form, channel), error=e)
    return redirect(f"{PREFIX}/admin/templates/{key}?done={done}", request)

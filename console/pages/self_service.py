"""Customer self-service (R3.5: meter customers file their follow-ups themselves): the one public
page of the console, ``/console/p/{tenant}/``. No log-in: the customer types the request's number
and their national id, reads its status and maximum response date, and files a late-response or
disagreement follow-up; a refusal (R3.4: "escalate to the supervisor" and the like) is the API's
message, shown beside the field it names.

The API's public endpoints (``POST /public/{tenant}/requests/lookup`` and ``…/followups``) do the
work and the limits; the look-up's token (one case, 30 minutes) is kept in an HttpOnly cookie of
this page's path, never in the page. The customer's address is passed on (``X-Forwarded-For``) so
the API limits failed look-ups per customer, not per console."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from console import i18n
from console.api_client import ApiError
from console.web import PREFIX, api_of, form_text, is_htmx, lang_of, render

router = APIRouter()
TOKEN_COOKIE = "atiende_self_service"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")

# This page's texts (es-CL, en); the frame's (language switch, skip link) are console/i18n.py's.
TEXTS: dict[str, tuple[str, str]] = {
    "title": ("Consulte su solicitud", "Check your request"),
    "intro": ("Ingrese el número de su solicitud y su RUT. Verá su estado y su fecha máxima de respuesta y, si "
              "corresponde, podrá ingresar un seguimiento.",
              "Enter your request's number and your national id. You will see its status and maximum response "
              "date and, where it applies, you can file a follow-up."),
    "number": ("Número de solicitud", "Request number"),
    "number.hint": ("Aparece en el correo de confirmación, p. ej. 000123.",
                    "It is in the confirmation e-mail, e.g. 000123."),
    "national_id": ("RUT o documento de identidad", "National id (RUT)"),
    "national_id.hint": ("Con o sin puntos y guion, p. ej. 12.345.678-5.", "With or without dots and dash, "
                                                                            "e.g. 12.345.678-5."),
    "search": ("Buscar mi solicitud", "Find my request"),
    "result": ("Su solicitud", "Your request"),
    "result.none": ("Aún no ha buscado una solicitud.", "You have not looked a request up yet."),
    "not_found": ("No encontramos su solicitud", "We did not find your request"),
    "field.number": ("Número", "Number"),
    "field.type": ("Tipo", "Type"),
    "field.status": ("Estado", "Status"),
    "field.created": ("Ingresada el", "Filed on"),
    "field.due": ("Fecha máxima de respuesta", "Maximum response date"),
    "field.due.pending": ("aún se está calculando", "still being set"),
    "followup": ("Ingresar un seguimiento", "File a follow-up"),
    "followup.kind": ("Motivo del seguimiento", "Reason for the follow-up"),
    "followup.text": ("Cuéntenos qué ocurre", "Tell us what is happening"),
    "followup.submit": ("Enviar seguimiento", "Send follow-up"),
    "followup.done": ("Ingresamos su seguimiento N° {number} sobre la solicitud N° {of}. Le responderemos por "
                      "correo.",
                      "We filed your follow-up no. {number} on request no. {of}. We will answer by e-mail."),
    "followup.refused": ("No se ingresó el seguimiento", "The follow-up was not filed"),
    "followup.expired": ("Su consulta expiró: busque su solicitud de nuevo.",
                         "Your look-up expired: find your request again."),
    "text.required": ("Escriba su comentario.", "Write your comment."),
}


# They join the console's texts (under "ss."), so templates use the one ``t()``.
i18n.TEXTS.update({f"ss.{key}": pair for key, pair in TEXTS.items()})


def _base(tenant: str) -> str:
    return f"{PREFIX}/p/{tenant}"


def _show(request: Request, tenant: str, template: str, *, status_code: int = 200, **values: Any) -> Response:
    """A fragment for htmx, else the whole page around it (the page works without JavaScript)."""
    values = {"tenant": tenant, "base": _base(tenant), "fragment": template, "found": None, "filed": None, "error": None, "values": {}, **values}
    return render(request, template if is_htmx(request) else "self_service/page.html", lang=lang_of(request),
                  status_code=status_code, **values)


async def _post(request: Request, path: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    """One call of the API's public self-service endpoints, through the console's API client."""
    headers: dict[str, str] = {}
    if request.client is not None:
        headers["X-Forwarded-For"] = request.client.host  # limits count per customer, not per console
    if token:
        headers["Authorization"] = f"Bearer {token}"
    r = await api_of(request).request(None, "POST", path, json=body, headers=headers, lang=lang_of(request))
    return dict(r.json())


def _tenant_or_404(request: Request, tenant: str) -> Response | None:
    if _SLUG.match(tenant):
        return None
    lang = lang_of(request)
    return render(request, "self_service/page.html", lang=lang, status_code=404, tenant="", base=PREFIX,
                  fragment="self_service/_lookup.html", found=None, filed=None, values={},
                  error=ApiError(404, i18n.text(lang, "ss.not_found")))


@router.get("/p/{tenant}")
@router.get("/p/{tenant}/")
async def page(request: Request, tenant: str) -> Response:
    return _tenant_or_404(request, tenant) or _show(request, tenant, "self_service/_lookup.html")


@router.get("/p/{tenant}/lookup")
@router.get("/p/{tenant}/followups")
async def back_to_page(tenant: str) -> Response:
    """After a plain form post the address is the form's (e.g. the language switch returns there)."""
    return RedirectResponse(f"{_base(quote(tenant))}/", status_code=303)


@router.post("/p/{tenant}/lookup")
async def look_up(request: Request, tenant: str) -> Response:
    if (bad := _tenant_or_404(request, tenant)) is not None:
        return bad
    form = await request.form()
    values = {k: form_text(form, k) for k in ("number", "national_id")}
    try:
        found = await _post(request, f"/public/{quote(tenant)}/requests/lookup", values)
    except ApiError as e:
        # Every mismatch is the API's one 404: the page shows it as it came, and nothing else.
        response = _show(request, tenant, "self_service/_lookup.html", values=values, error=e)
        response.delete_cookie(TOKEN_COOKIE, path=_base(tenant))
        return response
    token = str(found.pop("token"))
    response = _show(request, tenant, "self_service/_lookup.html", values=values, found=found)
    response.set_cookie(TOKEN_COOKIE, token, path=_base(tenant), httponly=True, samesite="strict",
                        max_age=int(found.get("token_expires_in") or 1800), secure=request.url.scheme == "https")
    return response


@router.post("/p/{tenant}/followups")
async def file_follow_up(request: Request, tenant: str) -> Response:
    if (bad := _tenant_or_404(request, tenant)) is not None:
        return bad
    form = await request.form()
    values = {k: form_text(form, k) for k in ("kind", "text")}
    lang = lang_of(request)
    kinds = [{"kind": k, "label": form_text(form, f"label_{k}") or k} for k in form.getlist("kinds")
             if isinstance(k, str)]
    try:
        filed = await _post(request, f"/public/{quote(tenant)}/requests/followups", values,
                            token=request.cookies.get(TOKEN_COOKIE))
    except ApiError as e:
        if e.status == 401:
            e = ApiError(401, i18n.text(lang, "ss.followup.expired"))
        return _show(request, tenant, "self_service/_followup.html", values=values, error=e, kinds=kinds)
    return _show(request, tenant, "self_service/_followup.html", filed=filed, kinds=kinds)

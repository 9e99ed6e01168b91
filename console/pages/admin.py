"""What the admin screens share (R4.4: only admins administer a tenant): the check that hides them
from everyone else, the texts of the admin frame (under "adm.") and the helper that renders an
admin page. The API refuses non-admins by itself; the check here only spares them a screen of
buttons that would all be refused."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from console import i18n
from console.api_client import ApiError
from console.web import Visit, api_of, page

TEXTS: dict[str, tuple[str, str]] = {
    "nav": ("Administración", "Administration"),
    "subnav": ("Secciones de administración", "Administration sections"),
    "users": ("Usuarios y roles", "Users and roles"),
    "catalog": ("Catálogo", "Catalog"),
    "templates": ("Plantillas de notificación", "Notification templates"),
    "forbidden": ("Sin acceso", "No access"),
    "forbidden.detail": ("Sólo un administrador del cliente puede usar esta pantalla.",
                         "Only an administrator of the tenant can use this screen."),
    "save": ("Guardar", "Save"),
    "saved": ("Cambios guardados.", "Changes saved."),
    "back": ("Volver a la lista", "Back to the list"),
    "yes": ("sí", "yes"),
    "no": ("no", "no"),
    "active": ("Activo", "Active"),
    "edit": ("Editar", "Edit"),
    "name_es": ("Nombre (español)", "Name (Spanish)"),
    "name_en": ("Nombre (inglés)", "Name (English)"),
    "code": ("Código", "Code"),
}
i18n.TEXTS.update({f"adm.{key}": pair for key, pair in TEXTS.items()})


def is_admin(me: dict[str, Any]) -> bool:
    return "admin" in (me.get("roles") or [])


def forbidden_page(request: Request, v: Visit) -> Response:
    """The 403 a non-admin gets when typing an admin address (the nav never offers it)."""
    error = ApiError(403, i18n.text(v.lang, "adm.forbidden"), i18n.text(v.lang, "adm.forbidden.detail"),
                     code="forbidden")
    return page(request, v, "error.html", error=error, status_code=403)


def admin_page(request: Request, v: Visit, template: str, section: str, **values: Any) -> Response:
    """An admin screen, or the 403 page for anyone else; ``section`` marks the current sub-nav entry."""
    if not is_admin(v.me):
        return forbidden_page(request, v)
    return page(request, v, template, section=section, **values)


async def call(request: Request, v: Visit, method: str, path: str, *, body: Any | None = None,
               params: Any | None = None) -> Any:
    """One JSON call of the API with the user's token (the client's public ``call``); a refusal
    raises ``ApiError`` like every other call of the console."""
    return await api_of(request).call(v.session, method, path, body=body, params=params)


async def all_pages(request: Request, v: Visit, path: str, params: dict[str, Any] | None = None) -> list[Any]:
    """Every item of a paged list (shared/paging.py's ``items`` + ``next_cursor``)."""
    return await api_of(request).all_pages(v.session, path, params)

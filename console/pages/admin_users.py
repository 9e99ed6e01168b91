"""Admin — users and roles (R4.1, R4.4): the tenant's users page by page (GET /users), inviting one
(POST /users: the API mails them the one-time password link), changing their roles and manager
(PATCH /users/{id}) and deactivating or reactivating them (PATCH ``active``: the API ends their
sessions at once). The invitation also takes the user's mobile (SMS), projects (R4.4) and
escalation subscriptions (R4.9), as POST /users does. Only admins see the screen; the API's
refusals come back beside their fields."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console import i18n
from console.api_client import ApiError
from console.pages.admin import admin_page, all_pages, call, forbidden_page, is_admin
from console.web import PREFIX, CurrentVisit, Visit, form_text, redirect

router = APIRouter()
ROLES = ("admin", "supervisor", "executor", "technical_manager", "operations", "viewer")  # the API's RoleName
PAGE_SIZE = 50

TEXTS: dict[str, tuple[str, str]] = {
    "title": ("Usuarios y roles", "Users and roles"),
    "list": ("Usuarios del cliente", "The tenant's users"),
    "count": ("{n} usuarios en esta página", "{n} users on this page"),
    "next": ("Página siguiente", "Next page"),
    "first": ("Primera página", "First page"),
    "name": ("Nombre", "Name"),
    "email": ("Correo electrónico", "E-mail"),
    "roles": ("Roles", "Roles"),
    "manager": ("Jefatura", "Manager"),
    "manager.none": ("(sin jefatura)", "(no manager)"),
    "state": ("Estado", "State"),
    "state.active": ("activo", "active"),
    "state.inactive": ("desactivado", "deactivated"),
    "state.no_password": ("invitado (sin contraseña)", "invited (no password yet)"),
    "invite": ("Invitar a un usuario", "Invite a user"),
    "mobile": ("Celular (para SMS)", "Mobile (for SMS)"),
    "mobile.hint": ("+56912345678, o un número nacional (9 1234 5678).",
                    "+56912345678, or a national number (9 1234 5678)."),
    "projects": ("Proyectos", "Projects"),
    "projects.hint": ("Donde un ejecutivo registra solicitudes (R4.4).", "Where an executive enters cases (R4.4)."),
    "subscriptions": ("Suscripciones de escalamiento (R4.9)", "Escalation subscriptions (R4.9)"),
    "invite.submit": ("Invitar", "Invite"),
    "invite.hint": ("Recibirá un correo con un enlace para definir su contraseña.",
                    "They will receive an e-mail with a link to set their password."),
    "invited": ("Invitamos a {email}: le enviamos el enlace para definir su contraseña.",
                "We invited {email}: the link to set their password is on its way."),
    "edit.title": ("Usuario {name}", "User {name}"),
    "edit.roles": ("Roles y jefatura", "Roles and manager"),
    "deactivate": ("Desactivar usuario", "Deactivate user"),
    "deactivate.hint": ("Cierra sus sesiones de inmediato; su historial se conserva.",
                        "Ends their sessions at once; their history is kept."),
    "reactivate": ("Reactivar usuario", "Reactivate user"),
    "deactivated": ("Usuario desactivado.", "User deactivated."),
    "reactivated": ("Usuario reactivado.", "User reactivated."),
    "role.admin": ("Administrador", "Administrator"),
    "role.supervisor": ("Supervisor", "Supervisor"),
    "role.executor": ("Ejecutivo", "Executive"),
    "role.technical_manager": ("Gerencia técnica", "Technical manager"),
    "role.operations": ("Operaciones (R1.4)", "Operations (R1.4)"),
    "role.viewer": ("Sólo lectura", "Viewer"),
}
i18n.TEXTS.update({f"au.{key}": pair for key, pair in TEXTS.items()})


def _chosen(form: Any) -> dict[str, Any]:
    """The form's roles and manager, as typed (to show them again after a refusal)."""
    return {"roles": [r for r in form.getlist("roles") if isinstance(r, str)],
            "manager_id": form_text(form, "manager_id")}


async def _list(request: Request, v: Visit, *, typed: dict[str, Any] | None = None,
                error: ApiError | None = None, status_code: int = 200) -> Response:
    if not is_admin(v.me):
        return forbidden_page(request, v)
    cursor = request.query_params.get("cursor")
    found, active, projects, kinds = await asyncio.gather(
        call(request, v, "GET", "/users", params={"limit": PAGE_SIZE, **({"cursor": cursor} if cursor else {})}),
        all_pages(request, v, "/users", {"active": "true"}),
        call(request, v, "GET", "/catalog/projects", params={"active": "true"}),
        call(request, v, "GET", "/catalog/escalation-kinds", params={"active": "true"}))
    return admin_page(request, v, "admin/users.html", "users", found=found, managers=active,
                      projects=projects, escalation_kinds=kinds,
                      names={u["id"]: u["name"] for u in active}, roles=ROLES, paged=bool(cursor),
                      typed=typed or {"roles": [], "manager_id": ""}, error=error,
                      invited=request.query_params.get("invited"), status_code=status_code)


@router.get("/admin/users")
async def users(request: Request, v: CurrentVisit) -> Response:
    return await _list(request, v)


@router.post("/admin/users")
async def invite(request: Request, v: CurrentVisit) -> Response:
    if not is_admin(v.me):
        return forbidden_page(request, v)
    form = await request.form()
    typed = {"name": form_text(form, "name"), "email": form_text(form, "email"), "mobile": form_text(form, "mobile"),
             **_chosen(form), **{k: [x for x in form.getlist(k) if isinstance(x, str)]
                                 for k in ("projects", "escalation_subscriptions")}}
    body = {"name": typed["name"], "email": typed["email"], "mobile": typed["mobile"] or None,
            "roles": typed["roles"], "manager_id": typed["manager_id"] or None, "projects": typed["projects"],
            "escalation_subscriptions": typed["escalation_subscriptions"], "language": v.lang}
    try:
        await call(request, v, "POST", "/users", body=body)
    except ApiError as e:
        return await _list(request, v, typed=typed, error=e, status_code=422 if e.status == 422 else e.status)
    return redirect(f"{PREFIX}/admin/users?invited={quote(typed['email'])}", request)


async def _edit(request: Request, v: Visit, user_id: str, *, typed: dict[str, Any] | None = None,
                error: ApiError | None = None, done: str | None = None) -> Response:
    if not is_admin(v.me):
        return forbidden_page(request, v)
    user, managers = await asyncio.gather(call(request, v, "GET", f"/users/{quote(user_id)}"),
                                          all_pages(request, v, "/users", {"active": "true"}))
    typed = typed or {"roles": user["roles"], "manager_id": user["manager_id"] or ""}
    return admin_page(request, v, "admin/user.html", "users", user=user, roles=ROLES, error=error, typed=typed,
                      managers=[m for m in managers if m["id"] != user["id"]],
                      done=done or request.query_params.get("done"), status_code=422 if error else 200)


@router.get("/admin/users/{user_id}")
async def user(request: Request, v: CurrentVisit, user_id: str) -> Response:
    return await _edit(request, v, user_id)


@router.post("/admin/users/{user_id}")
async def change(request: Request, v: CurrentVisit, user_id: str) -> Response:
    """Roles and manager (one PATCH), or ``active`` alone from the deactivate/reactivate button."""
    if not is_admin(v.me):
        return forbidden_page(request, v)
    form = await request.form()
    state = form_text(form, "active")
    if state in ("true", "false"):
        body: dict[str, Any] = {"active": state == "true"}
        done = "reactivated" if state == "true" else "deactivated"
        typed = None
    else:
        typed = _chosen(form)
        body = {"roles": typed["roles"], "manager_id": typed["manager_id"] or None}
        done = "saved"
    try:
        await call(request, v, "PATCH", f"/users/{quote(user_id)}", body=body)
    except ApiError as e:
        return await _edit(request, v, user_id, typed=typed, error=e)
    return redirect(f"{PREFIX}/admin/users/{quote(user_id)}?done={done}", request)

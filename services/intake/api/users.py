"""Users of a tenant: admins create and change them (R4.1); everyone in the tenant can list
them (to pick a responsible)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake import accounts
from services.intake.adapters import catalog_tables as catalog_store
from services.intake.adapters.db import access_tokens, tenants, users
from services.intake.api.deps import AdminPrincipal, CurrentPrincipal
from services.intake.domain.access import Principal, Role
from shared.db import Tx, utcnow
from shared.problems import field_error, invalid, not_found, refuse_null
from shared.runtime import runtime_of

router = APIRouter(prefix="/users", tags=["users"])

Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+[1-9][0-9]{6,14}$")]
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9._-]{0,59}$")]
RoleName = Literal["admin", "supervisor", "executor", "viewer", "technical_manager"]
USER_NOT_FOUND = ("Usuario no encontrado", "User not found")
UNKNOWN_PROJECT = ("No existe un proyecto con ese código en este cliente.", "This tenant has no project with that code.")
INACTIVE_PROJECT = ("El proyecto está inactivo; reactívelo en el catálogo o elija otro.",
                    "That project is inactive; reactivate it in the catalog or pick another.")


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    mobile: Phone | None = Field(default=None, description="E.164, e.g. +56912345678 (SMS)")
    roles: list[RoleName] = Field(min_length=1)
    manager_id: uuid.UUID | None = None
    projects: list[Code] = Field(default_factory=list)
    escalation_subscriptions: list[Code] = Field(default_factory=list)
    language: Literal["es", "en"] | None = None


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    mobile: Phone | None = None
    roles: list[RoleName] | None = Field(default=None, min_length=1)
    manager_id: uuid.UUID | None = None
    projects: list[Code] | None = None
    escalation_subscriptions: list[Code] | None = None
    language: Literal["es", "en"] | None = None
    active: bool | None = None

    _no_null = refuse_null("name", "roles", "projects", "escalation_subscriptions", "active")


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    mobile: str | None
    roles: list[str]
    manager_id: uuid.UUID | None
    projects: list[str]
    escalation_subscriptions: list[str]
    language: str | None
    active: bool
    has_password: bool
    created_at: datetime


def user_out(row: object) -> UserOut:
    r = row
    return UserOut(id=r.id, email=r.email, name=r.name, mobile=r.mobile, roles=r.roles,  # type: ignore[attr-defined]
                   manager_id=r.manager_id, projects=r.projects,  # type: ignore[attr-defined]
                   escalation_subscriptions=r.escalation_subscriptions, language=r.language,  # type: ignore[attr-defined]
                   active=r.active, has_password=r.password_hash is not None,  # type: ignore[attr-defined]
                   created_at=r.created_at)  # type: ignore[attr-defined]


async def _tenant(tx: Tx, slug: str) -> object:
    return (await tx.conn.execute(select(tenants).where(tenants.c.slug == slug))).one()


async def _check_manager(tx: Tx, p: Principal, user_id: uuid.UUID | None, manager_id: uuid.UUID | None) -> None:
    """The manager must be an active user of the tenant, and the line above must not loop."""
    seen = {user_id} if user_id else set()
    current = manager_id
    while current is not None:
        if current in seen:
            raise invalid(field_error("manager_id", ("La línea jerárquica formaría un ciclo.",
                                                     "The management line would loop."), "manager_cycle"))
        seen.add(current)
        row = (await tx.conn.execute(select(users.c.manager_id, users.c.active).where(
            users.c.id == current, users.c.tenant == p.tenant))).first()
        if row is None:
            raise invalid(field_error("manager_id", ("El jefe indicado no existe en este cliente.",
                                                     "No such manager in this tenant."), "unknown_manager"))
        current = row.manager_id


async def _checked_projects(conn: AsyncConnection, p: Principal, codes: list[str],
                            assigned: Iterable[str] = ()) -> list[str]:
    """R4.4: an executor creates cases in the projects of their profile, so those must be projects
    of the caller's tenant's catalog (``/catalog/projects``; another tenant's same code does not
    count), active unless already ``assigned`` to the user. Returns the codes de-duplicated, in
    order (a repeated code is dropped silently); otherwise 422 with one error per bad code, at its
    first position (``#/body/projects/<i>``). Reads only: call it before the write transaction."""
    unique = list(dict.fromkeys(codes))
    states = await catalog_store.entry_states(conn, "project", p.tenant, set(unique))
    kept = set(assigned)
    errors = []
    for code in unique:
        if code not in states:
            errors.append(field_error(f"projects.{codes.index(code)}", UNKNOWN_PROJECT, "unknown_project"))
        elif not states[code] and code not in kept:
            errors.append(field_error(f"projects.{codes.index(code)}", INACTIVE_PROJECT, "inactive_project"))
    if errors:
        raise invalid(*errors)
    return unique


@router.post("", status_code=201, response_model=UserOut)
async def create_user(body: UserIn, request: Request, p: AdminPrincipal) -> UserOut:
    """Create a user; they receive an e-mail with a one-time link to set their password (R4.1).
    Their ``projects`` must be active projects of the tenant's catalog (R4.4); repeats are dropped."""
    rt = runtime_of(request)
    async with rt.db.read() as conn:  # refused here: nothing stored, no user.*.v1 event, no e-mail
        projects = await _checked_projects(conn, p, body.projects)
    try:
        async with rt.db.transaction() as tx:
            await _check_manager(tx, p, None, body.manager_id)
            tenant = await _tenant(tx, p.tenant)
            row = await accounts.create_user(tx, tenant, {**body.model_dump(), "projects": projects})
            await accounts.invite(tx, tenant, row, rt.settings)
    except IntegrityError:
        raise invalid(field_error("email", ("Ya existe un usuario con ese correo.",
                                            "A user with that e-mail exists."), "duplicate_email")) from None
    return user_out(row)


@router.get("", response_model=list[UserOut])
async def list_users(request: Request, p: CurrentPrincipal,
                     active: Annotated[bool | None, Query()] = None,
                     role: Annotated[RoleName | None, Query()] = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 100,
                     after: Annotated[str | None, Query(description="e-mail to continue after (paging)")] = None,
                     ) -> list[UserOut]:
    q = select(users).where(users.c.tenant == p.tenant).order_by(users.c.email).limit(limit)
    if active is not None:
        q = q.where(users.c.active.is_(active))
    if after:
        q = q.where(users.c.email > after.lower())
    async with runtime_of(request).db.read() as conn:
        rows = (await conn.execute(q)).all()
    if role:
        rows = [r for r in rows if role in r.roles]
    return [user_out(r) for r in rows]


@router.get("/{user_id}", response_model=UserOut)
async def get_user(user_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> UserOut:
    async with runtime_of(request).db.read() as conn:
        row = (await conn.execute(select(users).where(users.c.id == user_id, users.c.tenant == p.tenant))).first()
    if row is None:
        raise not_found(USER_NOT_FOUND)
    return user_out(row)


@router.patch("/{user_id}", response_model=UserOut)
async def change_user(user_id: uuid.UUID, body: UserPatch, request: Request, p: AdminPrincipal) -> UserOut:
    """Change a user's profile, roles, manager, projects, subscriptions or active flag.
    Deactivating ends the user's sessions at once. New ``projects`` must be active projects of the
    tenant's catalog (R4.4); an inactive one the user already has may stay; repeats are dropped."""
    rt = runtime_of(request)
    changes = body.model_dump(exclude_unset=True)
    if "projects" in changes:
        async with rt.db.read() as conn:  # refused here: nothing stored, no user.upserted.v1
            current = (await conn.execute(select(users.c.projects).where(
                users.c.id == user_id, users.c.tenant == p.tenant))).first()
            if current is None:
                raise not_found(USER_NOT_FOUND)
            changes["projects"] = await _checked_projects(conn, p, changes["projects"], current.projects)
    async with rt.db.transaction() as tx:
        row = (await tx.conn.execute(select(users).where(users.c.id == user_id, users.c.tenant == p.tenant))).first()
        if row is None:
            raise not_found(USER_NOT_FOUND)
        if "manager_id" in changes:
            await _check_manager(tx, p, user_id, changes["manager_id"])
        if user_id == p.user_id and (changes.get("active") is False or
                                     ("roles" in changes and Role.ADMIN.value not in changes["roles"])):
            raise invalid(field_error("roles", ("No puede quitarse a sí mismo la administración.",
                                                "You cannot remove your own administration."), "self_lockout"))
        if changes:
            changes["updated_at"] = utcnow()
            await tx.conn.execute(update(users).where(users.c.id == user_id).values(**changes))
        if changes.get("active") is False:
            await tx.conn.execute(update(access_tokens).where(access_tokens.c.user_id == user_id,
                                                              access_tokens.c.revoked_at.is_(None))
                                  .values(revoked_at=utcnow()))
        row = (await tx.conn.execute(select(users).where(users.c.id == user_id))).one()
        tenant = await _tenant(tx, p.tenant)
        await accounts.emit_profile(tx, row, tenant.language)  # type: ignore[attr-defined]
    return user_out(row)


@router.post("/{user_id}/invitation", status_code=202)
async def resend_invitation(user_id: uuid.UUID, request: Request, p: AdminPrincipal) -> Response:
    """E-mail a new one-time password set-up link (earlier links stop working)."""
    rt = runtime_of(request)
    async with rt.db.transaction() as tx:
        row = (await tx.conn.execute(select(users).where(users.c.id == user_id, users.c.tenant == p.tenant))).first()
        if row is None:
            raise not_found(USER_NOT_FOUND)
        await accounts.invite(tx, await _tenant(tx, p.tenant), row, rt.settings)
    return Response(status_code=202)

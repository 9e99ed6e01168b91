"""Users of a tenant: admins create and change them (R4.1, R4.4); everyone in the tenant can list
them (to pick a responsible). Use cases in services/intake/service_layer/accounts.py."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from services.intake.api.deps import AdminPrincipal, AppSettings, CurrentPrincipal, Db
from services.intake.domain.accounts import unique
from services.intake.service_layer import accounts
from shared.fields import InputModel, PhoneInput
from shared.openapi import problem_responses
from shared.paging import Page, PageParams
from shared.problems import refuse_null

router = APIRouter(prefix="/users", tags=["users"])

Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9._-]{0,59}$")]
RoleName = Literal["admin", "supervisor", "executor", "viewer", "technical_manager", "operations"]  # operations: R1.4


class UserIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "email": "nueva.ejecutiva@example.cl", "name": "Nueva Ejecutiva", "mobile": "+56911112222",
        "roles": ["executor"], "projects": ["edificio-los-robles"], "escalation_subscriptions": [],
        "language": "es"}})
    email: EmailStr
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    mobile: PhoneInput | None = Field(default=None, description=(
        "For SMS: +56912345678, or a national number of the tenant's country (9 1234 5678); stored as E.164"))
    roles: list[RoleName] = Field(min_length=1, description="A set: repeats are dropped (R4.4)")
    manager_id: uuid.UUID | None = None
    projects: list[Code] = Field(default_factory=list, description="Where an executor creates cases (R4.4)")
    escalation_subscriptions: list[Code] = Field(default_factory=list)
    language: Literal["es", "en"] | None = None


class UserPatch(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {"roles": ["executor", "technical_manager"],
                                                             "projects": ["edificio-los-robles"]}})
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    mobile: PhoneInput | None = Field(default=None, description="As in POST /users; null clears it")
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


def user_out(r: Any) -> UserOut:
    return UserOut(id=r.id, email=r.email, name=r.name, mobile=r.mobile, roles=unique(r.roles),
                   manager_id=r.manager_id, projects=unique(r.projects),
                   escalation_subscriptions=unique(r.escalation_subscriptions), language=r.language,
                   active=r.active, has_password=r.password_hash is not None, created_at=r.created_at)


@router.post("", status_code=201, response_model=UserOut, responses=problem_responses(401, 403, 422))
async def create_user(body: UserIn, p: AdminPrincipal, db: Db, settings: AppSettings) -> UserOut:
    """Create a user; they receive an e-mail with a one-time link to set their password (R4.1).
    Their ``projects`` must be active projects of the tenant's catalog (R4.4); repeats are dropped."""
    return user_out(await accounts.add_user(db, settings, p, body.model_dump()))


@router.get("", response_model=Page[UserOut], responses=problem_responses(401, 422))
async def list_users(p: CurrentPrincipal, db: Db, page: PageParams,
                     active: Annotated[bool | None, Query()] = None,
                     role: Annotated[RoleName | None, Query()] = None) -> Page[UserOut]:
    """The tenant's users by e-mail; ``active`` and ``role`` filter before the page is cut."""
    found = await accounts.list_users(db, p, page, active=active, role=role)
    return Page[UserOut](items=[user_out(r) for r in found.items], next_cursor=found.next_cursor)


@router.get("/{user_id}", response_model=UserOut, responses=problem_responses(401, 404))
async def get_user(user_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> UserOut:
    return user_out(await accounts.get_user(db, p, user_id))


@router.patch("/{user_id}", response_model=UserOut, responses=problem_responses(401, 403, 404, 422))
async def change_user(user_id: uuid.UUID, body: UserPatch, p: AdminPrincipal, db: Db) -> UserOut:
    """Change a user's profile, roles, manager, projects, subscriptions or active flag.
    Deactivating ends the user's sessions at once. New ``projects`` must be active projects of the
    tenant's catalog (R4.4); an inactive one the user already has may stay; repeats are dropped."""
    return user_out(await accounts.change_user(db, p, user_id, body.model_dump(exclude_unset=True)))


@router.post("/{user_id}/invitation", status_code=202, response_class=Response,
             responses=problem_responses(401, 403, 404))
async def resend_invitation(user_id: uuid.UUID, p: AdminPrincipal, db: Db, settings: AppSettings) -> Response:
    """E-mail a new one-time password set-up link (earlier links stop working)."""
    await accounts.resend_invitation(db, settings, p, user_id)
    return Response(status_code=202)

"""Tenants: the platform operator creates them (with their first admin); a tenant's users read
their own tenant."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict, EmailStr, StringConstraints, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.intake import accounts
from services.intake.adapters.db import tenants
from services.intake.api.deps import CurrentPrincipal
from shared.problems import Problem, field_error, invalid
from shared.runtime import runtime_of

router = APIRouter(tags=["tenants"])


class TenantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,59}$")]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    country: Annotated[str, StringConstraints(to_upper=True, pattern=r"^[A-Za-z]{2}$")]
    timezone: str
    language: Literal["es", "en"] = "es"
    admin_email: EmailStr
    admin_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown IANA time zone") from None
        return v

    @field_validator("country")
    @classmethod
    def _country(cls, v: str) -> str:
        if v.upper() not in holidays.list_supported_countries():
            raise ValueError("no holiday calendar for this country")
        return v.upper()


class TenantOut(BaseModel):
    slug: str
    name: str
    country: str
    timezone: str
    language: str
    created_at: datetime


async def create_tenant_with_admin(rt: object, body: TenantIn) -> TenantOut:
    try:
        async with rt.db.transaction() as tx:  # type: ignore[attr-defined]
            await accounts.create_tenant(tx, slug=body.slug, name=body.name, country=body.country,
                                         timezone=body.timezone, language=body.language)
            tenant = (await tx.conn.execute(select(tenants).where(tenants.c.slug == body.slug))).one()
            admin = await accounts.create_user(tx, tenant, {"email": body.admin_email, "name": body.admin_name,
                                                            "roles": ["admin"]})
            await accounts.invite(tx, tenant, admin, rt.settings)  # type: ignore[attr-defined]
    except IntegrityError:
        raise invalid(field_error("slug", ("Ya existe un cliente con ese identificador.",
                                           "A tenant with that slug exists."), "duplicate_slug")) from None
    return TenantOut.model_validate(tenant, from_attributes=True)


@router.post("/operator/tenants", status_code=201, response_model=TenantOut)
async def operator_create_tenant(body: TenantIn, request: Request,
                                 x_operator_token: Annotated[str | None, Header(alias="X-Operator-Token")] = None,
                                 ) -> TenantOut:
    """Platform operator only (``X-Operator-Token`` = ``ATIENDE_OPERATOR_TOKEN``). Creates the
    tenant and its first admin, who receives a password set-up link by e-mail."""
    rt = runtime_of(request)
    expected = rt.settings.operator_token
    if not expected or not x_operator_token or not hmac.compare_digest(expected, x_operator_token):
        raise Problem(403, "forbidden", ("Acción no permitida", "Forbidden"),
                      ("Sólo el operador de la plataforma crea clientes.", "Only the platform operator creates tenants."))
    return await create_tenant_with_admin(rt, body)


@router.get("/tenant", response_model=TenantOut)
async def my_tenant(request: Request, p: CurrentPrincipal) -> TenantOut:
    async with runtime_of(request).db.read() as conn:
        row = (await conn.execute(select(tenants).where(tenants.c.slug == p.tenant))).one()
    return TenantOut.model_validate(row, from_attributes=True)

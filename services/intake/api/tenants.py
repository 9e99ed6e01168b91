"""Tenants: the platform operator creates them (with their first admin); a tenant's users read
their own tenant. Use cases in services/intake/service_layer/accounts.py."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from fastapi import APIRouter, Header
from pydantic import BaseModel, ConfigDict, EmailStr, StringConstraints, field_validator

from services.intake.api.deps import AppSettings, CurrentPrincipal, Db
from services.intake.service_layer import accounts
from shared.db import Database
from shared.fields import InputModel
from shared.openapi import problem_responses
from shared.problems import forbidden
from shared.settings import Settings

router = APIRouter(tags=["tenants"])


class TenantIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "slug": "aguas-del-sur", "name": "Aguas del Sur", "country": "CL", "timezone": "America/Santiago",
        "language": "es", "admin_email": "admin@aguasdelsur.cl", "admin_name": "Administración"}})
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


async def create_tenant_with_admin(rt: Any, body: TenantIn) -> TenantOut:
    """For the CLI (``atiende tenant create``) and the operator route alike."""
    return await _create(rt.db, rt.settings, body)


async def _create(db: Database, settings: Settings, body: TenantIn) -> TenantOut:
    row = await accounts.create_tenant_with_admin(db, settings, **body.model_dump())
    return TenantOut.model_validate(row, from_attributes=True)


@router.post("/operator/tenants", status_code=201, response_model=TenantOut, responses=problem_responses(403, 422))
async def operator_create_tenant(body: TenantIn, db: Db, settings: AppSettings,
                                 x_operator_token: Annotated[str | None, Header(alias="X-Operator-Token")] = None,
                                 ) -> TenantOut:
    """Platform operator only (``X-Operator-Token`` = ``ATIENDE_OPERATOR_TOKEN``). Creates the
    tenant and its first admin, who receives a password set-up link by e-mail (R4.1)."""
    expected = settings.operator_token
    if not expected or not x_operator_token or not hmac.compare_digest(expected, x_operator_token):
        raise forbidden(("Sólo el operador de la plataforma crea clientes.", "Only the platform operator creates tenants."))
    return await _create(db, settings, body)


@router.get("/tenant", response_model=TenantOut, responses=problem_responses(401))
async def my_tenant(p: CurrentPrincipal, db: Db) -> TenantOut:
    return TenantOut.model_validate(await accounts.tenant_of(db, p), from_attributes=True)

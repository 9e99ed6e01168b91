"""API keys for a tenant's integrations (importers, frontends): shown once, stored hashed,
revocable. A key acts with the ``integration`` role: it creates and reads cases, imports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy import insert, select, update

from services.intake.adapters.credentials import digest, new_api_key
from services.intake.adapters.db import api_keys
from services.intake.api.deps import AdminPrincipal
from shared.db import utcnow
from shared.problems import not_found
from shared.runtime import runtime_of

router = APIRouter(prefix="/api-keys", tags=["api keys"])


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str  # the only time it is shown


@router.post("", status_code=201, response_model=ApiKeyCreated)
async def create_key(body: ApiKeyIn, request: Request, p: AdminPrincipal) -> ApiKeyCreated:
    key = new_api_key()
    row = {"id": uuid.uuid4(), "tenant": p.tenant, "name": body.name, "prefix": key[:10], "key_hash": digest(key),
           "created_by": p.user_id, "created_at": utcnow(), "last_used_at": None, "revoked_at": None}
    async with runtime_of(request).db.engine.begin() as conn:
        await conn.execute(insert(api_keys), row)
    return ApiKeyCreated(key=key, **{k: row[k] for k in ApiKeyOut.model_fields})


@router.get("", response_model=list[ApiKeyOut])
async def list_keys(request: Request, p: AdminPrincipal) -> list[ApiKeyOut]:
    async with runtime_of(request).db.read() as conn:
        rows = (await conn.execute(select(api_keys).where(api_keys.c.tenant == p.tenant)
                                   .order_by(api_keys.c.created_at))).all()
    return [ApiKeyOut.model_validate(r, from_attributes=True) for r in rows]


@router.delete("/{key_id}", status_code=204)
async def revoke_key(key_id: uuid.UUID, request: Request, p: AdminPrincipal) -> Response:
    async with runtime_of(request).db.engine.begin() as conn:
        res = await conn.execute(update(api_keys).where(api_keys.c.id == key_id, api_keys.c.tenant == p.tenant,
                                                        api_keys.c.revoked_at.is_(None)).values(revoked_at=utcnow()))
    if res.rowcount == 0:
        raise not_found(("Clave no encontrada", "API key not found"))
    return Response(status_code=204)

"""API keys for a tenant's integrations (importers, frontends): shown once, stored hashed,
revocable. A key acts with the ``integration`` role: it creates and reads cases, imports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, StringConstraints

from services.intake.api.deps import AdminPrincipal, Db
from services.intake.service_layer import accounts
from shared.fields import InputModel
from shared.openapi import problem_responses
from shared.paging import Page, PageParams

router = APIRouter(prefix="/api-keys", tags=["api keys"])


class ApiKeyIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {"name": "Importador de la web"}})
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


@router.post("", status_code=201, response_model=ApiKeyCreated, responses=problem_responses(401, 403, 422))
async def create_key(body: ApiKeyIn, p: AdminPrincipal, db: Db) -> ApiKeyCreated:
    new = await accounts.create_api_key(db, p, body.name)
    return ApiKeyCreated(key=new.key, **{k: new.row[k] for k in ApiKeyOut.model_fields})


@router.get("", response_model=Page[ApiKeyOut], responses=problem_responses(401, 403, 422))
async def list_keys(p: AdminPrincipal, db: Db, page: PageParams) -> Page[ApiKeyOut]:
    """The tenant's keys, oldest first (revoked ones too, with ``revoked_at``)."""
    found = await accounts.list_api_keys(db, p, page)
    return Page[ApiKeyOut](items=[ApiKeyOut.model_validate(r, from_attributes=True) for r in found.items],
                           next_cursor=found.next_cursor)


@router.delete("/{key_id}", status_code=204, response_class=Response, responses=problem_responses(401, 403, 404))
async def revoke_key(key_id: uuid.UUID, p: AdminPrincipal, db: Db) -> Response:
    await accounts.revoke_api_key(db, p, key_id)
    return Response(status_code=204)

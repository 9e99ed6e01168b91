"""The tenant's audit trail (``GET /audit``): who did what, newest first, for admins only (R4.4).
Today's lines: ``inbox.exported`` (R4.10), one per download of the inbox, direct or of a job, with
its format, filters and row count."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from services.intake.api.deps import AdminPrincipal
from services.intake.service_layer import audit
from shared.openapi import problem_responses
from shared.paging import Page, PageParams
from shared.runtime import runtime_of

router = APIRouter(tags=["audit"])


class ActorOut(BaseModel):
    id: uuid.UUID | None
    api_key_id: uuid.UUID | None
    name: str | None
    email: str | None


class AuditLineOut(BaseModel):
    id: uuid.UUID
    at: datetime
    actor: ActorOut
    action: str
    details: dict[str, Any]


def _line(r: Any) -> AuditLineOut:
    return AuditLineOut(id=r.id, at=r.at, actor=ActorOut(id=r.actor_id, api_key_id=r.actor_api_key_id,
                                                        name=r.actor_name, email=r.actor_email),
                        action=r.action, details=r.details)


@router.get("/audit", response_model=Page[AuditLineOut], responses=problem_responses(401, 403, 422))
async def audit_trail(request: Request, p: AdminPrincipal, page: PageParams,
                      action: Annotated[Literal["inbox.exported"] | None, Query(
                          description="Only lines of this action")] = None) -> Page[AuditLineOut]:
    """The tenant's audit lines, newest first (admins only)."""
    rows = await audit.lines(runtime_of(request).db, p, action, page.after("audit", datetime, uuid.UUID), page.limit)
    return Page[AuditLineOut].of(rows, page, "audit", key=lambda r: (r.at, r.id), item=_line)

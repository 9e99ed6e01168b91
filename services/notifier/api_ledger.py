"""notifier's per-user view of the delivery ledger (issue 11 item 7): what was sent to one user.

- ``GET /deliveries/mine`` — the caller's own deliveries: those whose recipient is the caller's
  e-mail or mobile as notifier's user directory has them (from ``user.upserted.v1``), in the
  caller's tenant, newest first, paged (shared/paging.py). A user the directory does not know
  yet has none.
- ``GET /deliveries?user_id=…`` — the same list for one user of the tenant (admins only; a user
  of another tenant, or unknown, is 404). Without ``user_id``: every delivery of the tenant.

Each item is a delivery row (one per event, channel and recipient) with its case and its state
history (``delivery_events``: each state the provider reported, oldest first)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import and_, or_, select

from services.notifier.adapters.db import deliveries, delivery_events, user_directory
from services.notifier.api import DeliveryOut
from shared.openapi import problem_responses
from shared.paging import Page, PageParams, PageQuery
from shared.refusals import not_found
from shared.runtime import runtime_of
from shared.sessions import CurrentCaller

router = APIRouter(tags=["deliveries"])
USER_NOT_FOUND = ("Usuario no encontrado", "User not found")
ADMINS_ONLY = ("Sólo un administrador ve los envíos de otros usuarios.",
               "Only an admin sees other users' deliveries.")


class StateChange(BaseModel):
    state: str
    error_code: str | None
    at: datetime


class LedgerEntry(DeliveryOut):
    case_id: uuid.UUID | None
    history: list[StateChange]


async def _page(request: Request, tenant: str, page: PageQuery, recipients: set[str] | None,
                kind: str) -> Page[LedgerEntry]:
    """Deliveries of ``tenant`` (to ``recipients`` when given), newest first, with their history."""
    d = deliveries.c
    q = select(deliveries).where(d.tenant == tenant)
    if recipients is not None:
        if not recipients:
            return Page[LedgerEntry](items=[], next_cursor=None)
        q = q.where(d.recipient.in_(recipients))
    after = page.after(kind, datetime, uuid.UUID)
    if after is not None:
        at, last = after
        q = q.where(or_(d.created_at < at, and_(d.created_at == at, d.id < last)))
    async with runtime_of(request).db.read() as conn:
        rows = (await conn.execute(q.order_by(d.created_at.desc(), d.id.desc()).limit(page.limit + 1))).all()
        ids = [r.id for r in rows[: page.limit]]
        history: dict[uuid.UUID, list[StateChange]] = {}
        if ids:
            e = delivery_events.c
            for h in await conn.execute(select(delivery_events).where(e.delivery_id.in_(ids)).order_by(e.at)):
                history.setdefault(h.delivery_id, []).append(StateChange(state=h.state, error_code=h.error_code,
                                                                         at=h.at))

    def item(r: Any) -> LedgerEntry:
        base = DeliveryOut.model_validate(r, from_attributes=True).model_dump()
        return LedgerEntry(**base, case_id=r.case_id, history=history.get(r.id, []))

    return Page[LedgerEntry].of(rows, page, kind, key=lambda r: (r.created_at, r.id), item=item)


async def _addresses(request: Request, tenant: str, user_id: uuid.UUID) -> set[str] | None:
    """The user's e-mail (as stored and lower-cased) and mobile; None when not of ``tenant``."""
    ud = user_directory.c
    async with runtime_of(request).db.read() as conn:
        row = (await conn.execute(select(user_directory).where(ud.user_id == user_id, ud.tenant == tenant))).first()
    if row is None:
        return None
    return {a for a in (row.email, row.email.lower(), row.mobile) if a}


@router.get("/deliveries/mine", response_model=Page[LedgerEntry], responses=problem_responses(401, 422))
async def my_deliveries(request: Request, who: CurrentCaller, page: PageParams) -> Page[LedgerEntry]:
    """What notifier sent to the caller (e-mail to their address, SMS to their mobile), newest first."""
    return await _page(request, who.tenant, page, await _addresses(request, who.tenant, who.user_id) or set(),
                       "deliveries-mine")


@router.get("/deliveries", response_model=Page[LedgerEntry], responses=problem_responses(401, 403, 404, 422))
async def deliveries_of(request: Request, who: CurrentCaller, page: PageParams,
                        user_id: Annotated[uuid.UUID | None, Query(description=(
                            "Only what was sent to this user of the tenant"))] = None) -> Page[LedgerEntry]:
    """Admins: the tenant's deliveries, newest first; ``user_id`` picks one user's (404 when that
    user is not of the tenant)."""
    who.require_any({"admin"}, ADMINS_ONLY)
    recipients = None
    if user_id is not None:
        recipients = await _addresses(request, who.tenant, user_id)
        if recipients is None:
            raise not_found(USER_NOT_FOUND)
    return await _page(request, who.tenant, page, recipients, "deliveries")

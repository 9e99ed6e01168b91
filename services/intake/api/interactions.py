"""Interactions ("atenciones", R2.2, R2.6): a call, e-mail, letter or visit with a party — or a
milestone worth recording — with a code unique per tenant ("AT-000123"). Cases may be created
under an open one (``POST /cases`` with ``interaction_id``); it closes only when all its cases
are finished, and the refusal lists the ones still open.

Visibility: the caller's tenant, and (R2.7) an interaction whose party is restricted is seen
only by the users the party is shared with; anything else is 404."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters.case_tables import interaction_counters, interactions
from services.intake.adapters.catalog_tables import channels
from services.intake.adapters.db import cases
from services.intake.adapters.party_tables import assets, can_see_party_id, party_visible
from services.intake.api.deps import CurrentPrincipal
from services.intake.api.parties import decode_cursor, encode_cursor
from services.intake.domain import hierarchy
from services.intake.domain.access import Principal
from shared.contracts.envelope import Envelope
from shared.contracts.events import InteractionClosed, InteractionCreated
from shared.db import Tx, utcnow
from shared.logs import correlation_id
from shared.problems import Problem, field_error, forbidden, invalid, not_found
from shared.runtime import runtime_of

router = APIRouter(tags=["interactions"])
SOURCE = "atiende/intake"
INTERACTION_NOT_FOUND = ("Atención no encontrada", "Interaction not found")
Slug = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
Summary = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
FUTURE_SKEW = timedelta(minutes=5)


class InteractionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "party_id": "<GET /parties>", "channel": "telefono",
        "summary": "El cliente llama por corte de suministro en su local.",
        "occurred_at": "2026-11-24T10:15:00-03:00"}})
    party_id: uuid.UUID | None = Field(default=None, description="R2.2: the party it is with (or give asset_id)")
    asset_id: uuid.UUID | None = Field(default=None, description="A supply, policy, property…: its owner is the party")
    channel: Slug = Field(description="Catalog channel code: telefono, correo, carta…")
    summary: Summary
    occurred_at: datetime | None = Field(default=None, description="When it happened (default: now)")


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Note = ""


class CaseRef(BaseModel):
    id: uuid.UUID
    number: str
    subject: str
    status: str
    finished: bool


class InteractionOut(BaseModel):
    id: uuid.UUID
    code: str
    party_id: uuid.UUID | None
    asset_id: uuid.UUID | None
    channel: str
    summary: str
    occurred_at: datetime
    status: Literal["open", "closed"]
    created_by: uuid.UUID | None
    created_at: datetime
    closed_at: datetime | None = None
    closed_by: uuid.UUID | None = None
    closing_note: str | None = None


class InteractionDetail(InteractionOut):
    cases: list[CaseRef] = Field(default_factory=list)


class InteractionPage(BaseModel):
    items: list[InteractionOut]
    next_after: str | None = Field(description="Pass as `after` for the next page; null on the last")


def interaction_out(row: Any) -> InteractionOut:
    return InteractionOut(id=row.id, code=row.code, party_id=row.party_id, asset_id=row.asset_id,
                          channel=row.channel, summary=row.summary, occurred_at=row.occurred_at, status=row.status,
                          created_by=row.created_by, created_at=row.created_at, closed_at=row.closed_at,
                          closed_by=row.closed_by, closing_note=row.closing_note)


# -- shared with attachments.py --------------------------------------------------------------------
async def visible_interaction(conn: AsyncConnection, p: Principal, interaction_id: uuid.UUID,
                              for_update: bool = False) -> Any:
    """The interaction if it is of the caller's tenant and its party is visible (R2.7); else 404."""
    q = select(interactions).where(interactions.c.id == interaction_id)
    if for_update:
        q = q.with_for_update()
    row = (await conn.execute(q)).first()
    if row is None or row.tenant != p.tenant or not await can_see_party_id(conn, p, row.party_id):
        raise not_found(INTERACTION_NOT_FOUND)
    return row


async def emit_for(tx: Tx, tenant: str, subject: uuid.UUID, type_: str, payload: BaseModel) -> None:
    await tx.emit(Envelope(source=SOURCE, type=type_, subject=str(subject), tenant=tenant,
                           correlationid=correlation_id.get(), data=payload.model_dump(mode="json")))


async def next_interaction_number(conn: AsyncConnection, tenant: str) -> int:
    """Take the tenant's next interaction number. One upsert: concurrent creations queue on the
    counter row until the first commits, so no two get the same number (PostgreSQL and SQLite)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    stmt = upsert(interaction_counters).values(tenant=tenant, last_number=1)
    stmt = stmt.on_conflict_do_update(index_elements=[interaction_counters.c.tenant],
                                      set_={"last_number": interaction_counters.c.last_number + 1})
    return int((await conn.execute(stmt.returning(interaction_counters.c.last_number))).scalar_one())


def _by_name(p: Principal) -> str | None:
    return p.name or p.email


# -- endpoints ----------------------------------------------------------------------------------
@router.post("/interactions", status_code=201, response_model=InteractionOut,
             responses={422: {"description": "Invalid input (RFC 9457 problem details)"}})
async def create_interaction(body: InteractionIn, request: Request, p: CurrentPrincipal) -> JSONResponse:
    """R2.2: register an interaction with a party (``party_id``, or ``asset_id`` whose owner is
    the party). It gets the tenant's next code (``AT-000001``, …) and may stand alone."""
    if not hierarchy.can_register_interaction(p):
        raise forbidden(("Su perfil no puede registrar atenciones.", "Your profile may not register interactions."))
    rt = runtime_of(request)
    now = utcnow()
    errors: list[dict[str, Any]] = []
    party_id = body.party_id
    async with rt.db.read() as conn:
        if body.asset_id is not None:
            asset = (await conn.execute(select(assets.c.party_id).where(
                assets.c.id == body.asset_id, assets.c.tenant == p.tenant))).first()
            if asset is None:
                errors.append(field_error("asset_id", ("El bien (suministro, póliza, propiedad) no existe.",
                                                       "No such asset (supply, policy, property)."), "unknown_asset"))
            elif party_id is None:
                party_id = asset.party_id  # the asset's owner (R2.7 applies to it as well)
                if not await can_see_party_id(conn, p, party_id):
                    errors.append(field_error("asset_id", ("El bien (suministro, póliza, propiedad) no existe.",
                                                           "No such asset (supply, policy, property)."),
                                              "unknown_asset"))
        if body.party_id is not None and not await can_see_party_id(conn, p, body.party_id):
            errors.append(field_error("party_id", ("El cliente o stakeholder no existe.", "No such party."),
                                      "unknown_party"))
        elif party_id is None and body.asset_id is None:
            errors.append(field_error("party_id", ("Indique con quién fue la atención (party_id o asset_id).",
                                                   "Say who the interaction was with (party_id or asset_id)."),
                                      "party_required"))
        known = (await conn.execute(select(channels.c.code).where(
            channels.c.tenant == p.tenant, channels.c.code == body.channel, channels.c.active.is_(True)))).first()
        if known is None:
            errors.append(field_error("channel", ("El canal no existe o está inactivo.",
                                                  "No such channel, or it is inactive."), "unknown_channel"))
    occurred_at = body.occurred_at or now
    if occurred_at.tzinfo is None:
        errors.append(field_error("occurred_at", ("Indique la zona horaria (p. ej. -03:00).",
                                                  "Give the time zone (e.g. -03:00)."), "timezone_required"))
    elif occurred_at > now + FUTURE_SKEW:
        errors.append(field_error("occurred_at", ("La atención no puede ser futura.",
                                                  "The interaction cannot be in the future."), "in_future"))
    if errors:
        raise invalid(*errors)
    async with rt.db.transaction() as tx:
        number = await next_interaction_number(tx.conn, p.tenant)
        row = {"id": uuid.uuid4(), "tenant": p.tenant, "code": hierarchy.interaction_code(number),
               "party_id": party_id, "asset_id": body.asset_id, "channel": body.channel, "summary": body.summary,
               "occurred_at": occurred_at, "status": "open", "created_by": p.user_id, "created_at": now,
               "closed_at": None, "closed_by": None, "closing_note": None}
        await tx.conn.execute(insert(interactions), row)
        await emit_for(tx, p.tenant, row["id"], "interaction.created.v1", InteractionCreated(
            interaction_id=row["id"], code=row["code"], party_id=party_id, asset_id=body.asset_id,
            channel=body.channel, summary=body.summary, occurred_at=occurred_at, created_by=p.user_id,
            created_at=now))
    out = InteractionOut(**row)
    return JSONResponse(out.model_dump(mode="json"), status_code=201,
                        headers={"Location": f"/interactions/{row['id']}"})


@router.get("/interactions", response_model=InteractionPage)
async def list_interactions(request: Request, p: CurrentPrincipal,
                            party_id: uuid.UUID | None = None, asset_id: uuid.UUID | None = None,
                            status: Annotated[Literal["open", "closed", "all"], Query()] = "all",
                            limit: Annotated[int, Query(ge=1, le=200)] = 50,
                            after: Annotated[str | None, Query(description="next_after of the previous page")] = None,
                            ) -> InteractionPage:
    """R2.8: open, closed or all interactions (of a party or an asset), newest first."""
    q = select(interactions).where(interactions.c.tenant == p.tenant, party_visible(p, interactions.c.party_id))
    if party_id is not None:
        q = q.where(interactions.c.party_id == party_id)
    if asset_id is not None:
        q = q.where(interactions.c.asset_id == asset_id)
    if status != "all":
        q = q.where(interactions.c.status == status)
    if after:
        at_s, id_s = decode_cursor(after, 2)
        try:
            at, last = datetime.fromisoformat(at_s), uuid.UUID(id_s)
        except ValueError:
            raise invalid(field_error("after", ("El cursor de página no es válido.", "Invalid page cursor."),
                                      "invalid_cursor", where="query")) from None
        q = q.where(or_(interactions.c.created_at < at,
                        and_(interactions.c.created_at == at, interactions.c.id < last)))
    q = q.order_by(interactions.c.created_at.desc(), interactions.c.id.desc()).limit(limit + 1)
    async with runtime_of(request).db.read() as conn:
        rows = (await conn.execute(q)).all()
    page = rows[:limit]
    nxt = encode_cursor(page[-1].created_at.isoformat(), page[-1].id) if len(rows) > limit else None
    return InteractionPage(items=[interaction_out(r) for r in page], next_after=nxt)


async def _cases_of(conn: AsyncConnection, p: Principal, interaction_id: uuid.UUID) -> list[CaseRef]:
    rows = (await conn.execute(select(cases.c.id, cases.c.number, cases.c.subject, cases.c.status).where(
        cases.c.interaction_id == interaction_id, cases.c.tenant == p.tenant)
        .order_by(cases.c.created_at, cases.c.id))).all()
    return [CaseRef(id=r.id, number=r.number, subject=r.subject, status=r.status,
                    finished=hierarchy.case_is_finished(r.status)) for r in rows]


@router.get("/interactions/{interaction_id}", response_model=InteractionDetail,
            responses={404: {"description": "No such interaction"}})
async def get_interaction(interaction_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> InteractionDetail:
    """The interaction with its cases (the "events" under it, R2.3)."""
    async with runtime_of(request).db.read() as conn:
        row = await visible_interaction(conn, p, interaction_id)
        found = await _cases_of(conn, p, interaction_id)
    return InteractionDetail(**interaction_out(row).model_dump(), cases=found)


@router.post("/interactions/{interaction_id}/close", response_model=InteractionDetail,
             responses={409: {"description": "Already closed, or cases still open (listed)"}})
async def close_interaction(interaction_id: uuid.UUID, body: CloseIn, request: Request,
                            p: CurrentPrincipal) -> InteractionDetail:
    """R2.6: close it once every case under it is finished; otherwise 409 listing the open ones.
    Admins, supervisors and whoever registered it may close it."""
    async with runtime_of(request).db.transaction() as tx:
        row = await visible_interaction(tx.conn, p, interaction_id, for_update=True)
        if not hierarchy.can_close_interaction(p, row.created_by):
            raise forbidden(("Sólo quien registró la atención, un supervisor o un administrador puede cerrarla.",
                             "Only whoever registered the interaction, a supervisor or an administrator may "
                             "close it."))
        if row.status == "closed":
            raise Problem(409, "already-closed", ("La atención ya está cerrada", "The interaction is already closed"),
                          (f"La atención {row.code} se cerró el {row.closed_at:%Y-%m-%d}.",
                           f"Interaction {row.code} was closed on {row.closed_at:%Y-%m-%d}."))
        found = await _cases_of(tx.conn, p, interaction_id)
        still_open = [c for c in found if not c.finished]
        if still_open:
            numbers = ", ".join(c.number for c in still_open)
            raise Problem(409, "open-children", ("Hay solicitudes abiertas", "Cases are still open"),
                          (f"Finalice primero {len(still_open)} solicitud(es) de la atención {row.code}: {numbers}.",
                           f"Finish interaction {row.code}'s {len(still_open)} open case(s) first: {numbers}."),
                          open_cases=[c.model_dump(mode="json", exclude={"finished"}) for c in still_open])
        now = utcnow()
        note = body.note or None
        await tx.conn.execute(update(interactions).where(interactions.c.id == interaction_id).values(
            status="closed", closed_at=now, closed_by=p.user_id, closing_note=note))
        await emit_for(tx, p.tenant, interaction_id, "interaction.closed.v1", InteractionClosed(
            interaction_id=interaction_id, code=row.code, party_id=row.party_id, case_ids=[c.id for c in found],
            note=note, by=p.user_id, by_name=_by_name(p), closed_at=now))
    closed = {**interaction_out(row).model_dump(), "status": "closed", "closed_at": now, "closed_by": p.user_id,
              "closing_note": note}
    return InteractionDetail(**closed, cases=found)

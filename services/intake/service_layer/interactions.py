"""Use cases of interactions ("atenciones", R2.2, R2.6): register one, list them, read one with
its cases, close it once its cases are finished.

Visibility: the caller's tenant, and (R2.7) an interaction whose party is restricted is seen only
by the users the party is shared with; anything else is 404."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters import case_tables as q
from services.intake.adapters.catalog_tables import active_codes
from services.intake.adapters.list_counts import bounded_count
from services.intake.adapters.party_tables import assets, can_see_party_id
from services.intake.domain import hierarchy
from services.intake.domain.access import Principal
from services.intake.service_layer.unit_of_work import UnitOfWork
from shared.contracts.events import InteractionClosed, InteractionCreated
from shared.db import Database, utcnow
from shared.paging import CountedPage, Page, PageQuery
from shared.refusals import FieldErrors, conflict, forbidden, not_found

T = TypeVar("T")
INTERACTION_NOT_FOUND = ("Atención no encontrada", "Interaction not found")
FUTURE_SKEW = timedelta(minutes=5)
_NO_ASSET = ("El bien (suministro, póliza, propiedad) no existe.", "No such asset (supply, policy, property).")


async def visible_interaction(conn: AsyncConnection, who: Principal, interaction_id: uuid.UUID, *,
                              lock: str | None = None) -> q.Record:
    """The interaction if it is of the caller's tenant and its party is visible (R2.7); else 404.
    ``lock`` ("update"/"share") locks it first, so the check is on the row as locked."""
    row = await q.get_interaction(conn, interaction_id, lock=lock)
    if row is None or row.tenant != who.tenant or not await can_see_party_id(conn, who, row.party_id):
        raise not_found(INTERACTION_NOT_FOUND)
    return row


async def create(db: Database, who: Principal, *, party_id: uuid.UUID | None, asset_id: uuid.UUID | None,
                 channel: str, summary: str, occurred_at: datetime | None) -> dict[str, Any]:
    """R2.2: register an interaction with a party (``party_id``, or ``asset_id`` whose owner is
    the party); it gets the tenant's next code (``AT-000001``, …). Every bad field at once."""
    if not hierarchy.can_register_interaction(who):
        raise forbidden(("Su perfil no puede registrar atenciones.", "Your profile may not register interactions."))
    now = utcnow()
    errors = FieldErrors()
    async with UnitOfWork(db) as uow:
        conn = uow.conn
        owner = party_id
        if asset_id is not None:
            asset = (await conn.execute(select(assets.c.party_id).where(
                assets.c.id == asset_id, assets.c.tenant == who.tenant))).first()
            if asset is None:
                errors.add("asset_id", _NO_ASSET, "unknown_asset")
            elif owner is None:
                owner = asset.party_id  # the asset's owner (R2.7 applies to it as well)
                if not await can_see_party_id(conn, who, owner):
                    errors.add("asset_id", _NO_ASSET, "unknown_asset")
        if party_id is not None and not await can_see_party_id(conn, who, party_id):
            errors.add("party_id", ("El cliente o stakeholder no existe.", "No such party."), "unknown_party")
        elif owner is None and asset_id is None:
            errors.add("party_id", ("Indique con quién fue la atención (party_id o asset_id).",
                                    "Say who the interaction was with (party_id or asset_id)."), "party_required")
        if not await active_codes(conn, "channel", who.tenant, {channel}):
            errors.add("channel", ("El canal no existe o está inactivo.", "No such channel, or it is inactive."),
                       "unknown_channel")
        at = occurred_at or now
        if at.tzinfo is None:
            errors.add("occurred_at", ("Indique la zona horaria (p. ej. -03:00).", "Give the time zone (e.g. -03:00)."),
                       "timezone_required")
        elif at > now + FUTURE_SKEW:
            errors.add("occurred_at", ("La atención no puede ser futura.", "The interaction cannot be in the future."),
                       "in_future")
        errors.raise_if_any()
        number = await q.next_interaction_number(conn, who.tenant)
        row: dict[str, Any] = {"id": uuid.uuid4(), "tenant": who.tenant, "code": hierarchy.interaction_code(number),
               "party_id": owner, "asset_id": asset_id, "channel": channel, "summary": summary,
               "occurred_at": at, "status": "open", "created_by": who.user_id, "created_at": now,
               "closed_at": None, "closed_by": None, "closing_note": None}
        await q.insert_interaction(conn, row)
        await uow.emit(who.tenant, "interaction.created.v1", InteractionCreated(
            interaction_id=row["id"], code=row["code"], party_id=owner, asset_id=asset_id, channel=channel,
            summary=summary, occurred_at=at, created_by=who.user_id, created_at=now), subject=str(row["id"]))
    return row


async def list_(db: Database, who: Principal, page: PageQuery, item: Callable[[Any], T], *,
                party_id: uuid.UUID | None, asset_id: uuid.UUID | None, status: str | None) -> CountedPage[T]:
    """R2.8: open, closed or all interactions (of a party or an asset), newest first, with their
    total (adapters/list_counts.py)."""
    after = page.after("interactions", datetime, uuid.UUID)
    listed = q.interaction_list(who, party_id=party_id, asset_id=asset_id, status=status)
    async with db.read() as conn:
        rows = await q.list_interactions(conn, listed, after=after, limit=page.limit + 1)
        total, exact = await bounded_count(conn, listed)
    return CountedPage.of(rows, page, "interactions", key=lambda r: (r.created_at, r.id), item=item, total=total,
                          total_exact=exact)


async def get(db: Database, who: Principal, interaction_id: uuid.UUID) -> tuple[Row[Any], list[Row[Any]]]:
    """The interaction with its cases (the "events" under it, R2.3)."""
    async with db.read() as conn:
        row = await visible_interaction(conn, who, interaction_id)
        return row, await q.interaction_cases(conn, who.tenant, interaction_id)


async def cases_of(db: Database, who: Principal, interaction_id: uuid.UUID, page: PageQuery,
                   item: Callable[[Any], T]) -> Page[T]:
    """The cases under the interaction, oldest first, in pages."""
    after = page.after("interaction-cases", datetime, uuid.UUID)
    async with db.read() as conn:
        await visible_interaction(conn, who, interaction_id)
        rows = await q.interaction_cases(conn, who.tenant, interaction_id, after=after, limit=page.limit + 1)
    return Page.of(rows, page, "interaction-cases", key=lambda r: (r.created_at, r.id), item=item)


async def close(db: Database, who: Principal, interaction_id: uuid.UUID, note: str | None
                ) -> tuple[Row[Any], list[Row[Any]]]:
    """R2.6: close it once every case under it is finished; otherwise 409 listing the open ones.
    Admins, supervisors and whoever registered it may close it. The interaction is locked first
    (new cases under it wait), and who may close it is judged on the locked row."""
    async with UnitOfWork(db) as uow:
        row = await visible_interaction(uow.conn, who, interaction_id, lock="update")
        if not hierarchy.can_close_interaction(who, row.created_by):
            raise forbidden(("Sólo quien registró la atención, un supervisor o un administrador puede cerrarla.",
                             "Only whoever registered the interaction, a supervisor or an administrator may "
                             "close it."))
        if row.status == "closed":
            raise conflict("already-closed", ("La atención ya está cerrada", "The interaction is already closed"),
                           (f"La atención {row.code} se cerró el {row.closed_at:%Y-%m-%d}.",
                            f"Interaction {row.code} was closed on {row.closed_at:%Y-%m-%d}."))
        found = await q.interaction_cases(uow.conn, who.tenant, interaction_id)
        still_open = hierarchy.open_cases(found)
        if still_open:
            numbers = ", ".join(c.number for c in still_open)
            raise conflict("open-children", ("Hay solicitudes abiertas", "Cases are still open"),
                           (f"Finalice primero {len(still_open)} solicitud(es) de la atención {row.code}: {numbers}.",
                            f"Finish interaction {row.code}'s {len(still_open)} open case(s) first: {numbers}."),
                           open_cases=[{"id": str(c.id), "number": c.number, "subject": c.subject,
                                        "status": c.status} for c in still_open])
        now = utcnow()
        closed = await q.update_interaction(uow.conn, interaction_id, status="closed", closed_at=now,
                                            closed_by=who.user_id, closing_note=note or None)
        await uow.emit(who.tenant, "interaction.closed.v1", InteractionClosed(
            interaction_id=interaction_id, code=row.code, party_id=row.party_id, case_ids=[c.id for c in found],
            note=note or None, by=who.user_id, by_name=who.name or who.email, closed_at=now),
            subject=str(interaction_id))
    return closed, found

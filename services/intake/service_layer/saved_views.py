"""Saved inbox views (R4.5): each user names inbox query strings to open again. A view is its
owner's only — another user (or tenant) neither lists nor deletes it (404, not 403: its
existence is not revealed). The route has already checked the query against the inbox's own
parameters; this module stores, lists and deletes."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError

from services.intake.adapters import saved_view_tables as q
from services.intake.domain.access import Principal
from shared.db import Database, utcnow
from shared.refusals import conflict, field_error, forbidden, not_found

NOT_FOUND = ("La vista guardada no existe.", "The saved view does not exist.")
USERS_ONLY = ("Sólo un usuario puede guardar vistas; una clave de API no.", "Only a user may save views, not an API key.")
DUPLICATE = ("Ya tiene una vista con ese nombre.", "You already have a view with that name.")


def _owner(who: Principal) -> uuid.UUID:
    if who.user_id is None:
        raise forbidden(USERS_ONLY)
    return who.user_id


async def create(db: Database, who: Principal, name: str, query: str) -> dict[str, Any]:
    """Store the caller's view; 409 if they already have one with that name."""
    row = {"id": uuid.uuid4(), "tenant": who.tenant, "user_id": _owner(who), "name": name, "query": query,
           "created_at": utcnow()}
    try:
        async with db.transaction() as tx:
            await q.insert_view(tx.conn, row)
    except IntegrityError:  # the unique (tenant, user_id, name)
        raise conflict("duplicate-view-name", DUPLICATE, None,
                       [field_error("name", DUPLICATE, "duplicate_view_name")]) from None
    return row


async def mine(db: Database, who: Principal, after: list[Any] | None, limit: int) -> list[Any]:
    """The caller's views by name, ``limit + 1`` at most (``Page.of`` cuts the page)."""
    async with db.read() as conn:
        return await q.views_page(conn, who.tenant, _owner(who), after, limit + 1)


async def delete(db: Database, who: Principal, view_id: uuid.UUID) -> None:
    async with db.transaction() as tx:
        if not await q.delete_view(tx.conn, who.tenant, _owner(who), view_id):
            raise not_found(NOT_FOUND)

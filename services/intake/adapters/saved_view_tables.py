"""Saved inbox views (R4.5): a user's named inbox query strings (migration intake_0015_saved_views)
and the queries their use cases need. A view belongs to one user of one tenant; its name is unique
per user."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Column, Index, String, Table, Uuid, delete, insert, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters.db import metadata
from shared.db import UTCDateTime

QUERY_MAX = 2000  # an inbox query string: every filter of GET /inbox fits well within it

saved_views = Table(
    "saved_views", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("user_id", Uuid(), nullable=False),
    Column("name", String(80), nullable=False),
    Column("query", String(QUERY_MAX), nullable=False),  # GET /inbox's query string, without a page
    Column("created_at", UTCDateTime(), nullable=False),
)
Index("saved_views_owner_name", saved_views.c.tenant, saved_views.c.user_id, saved_views.c.name, unique=True)


async def insert_view(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(saved_views), row)


async def views_page(conn: AsyncConnection, tenant: str, user_id: uuid.UUID, after: list[Any] | None,
                     limit: int) -> list[Any]:
    """One user's views by name (name, id ascending); ``limit`` rows."""
    t = saved_views
    q = select(t).where(t.c.tenant == tenant, t.c.user_id == user_id)
    if after:
        q = q.where(tuple_(t.c.name, t.c.id) > tuple_(literal(after[0], t.c.name.type), literal(after[1], t.c.id.type)))
    return list((await conn.execute(q.order_by(t.c.name, t.c.id).limit(limit))).all())


async def delete_view(conn: AsyncConnection, tenant: str, user_id: uuid.UUID, view_id: uuid.UUID) -> bool:
    """Delete the view if it is this user's; whether there was one."""
    t = saved_views
    result = await conn.execute(delete(t).where(t.c.id == view_id, t.c.tenant == tenant, t.c.user_id == user_id))
    return bool(result.rowcount)

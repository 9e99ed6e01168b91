"""R1.3 retention offers on a retention request (migration intake_0010_retention_offers), with
their queries. An offer is one row, its acceptance changed in place (each change is a history
line and an event); offers are never deleted."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Boolean, Column, Index, String, Table, Text, Uuid, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters.db import metadata
from shared.db import UTCDateTime

retention_offers = Table(
    "retention_offers", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("case_id", Uuid(), nullable=False),
    Column("kind", String(30), nullable=False),  # domain.retention.OfferKind
    Column("description", Text(), nullable=True),  # what was offered, in the executive's words
    Column("offered_at", UTCDateTime(), nullable=False),
    Column("accepted", Boolean, nullable=True),  # None: the customer has not answered
    Column("created_by", Uuid(), nullable=True),
    Column("created_by_name", String(200), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
Index("retention_offers_case", retention_offers.c.case_id, retention_offers.c.offered_at)

Record = Any


async def insert_offer(conn: AsyncConnection, values: dict[str, Any]) -> Record:
    await conn.execute(insert(retention_offers), values)
    return (await conn.execute(select(retention_offers).where(retention_offers.c.id == values["id"]))).one()


async def offer_of_case(conn: AsyncConnection, case_id: uuid.UUID, offer_id: uuid.UUID) -> Record | None:
    return (await conn.execute(select(retention_offers).where(
        retention_offers.c.id == offer_id, retention_offers.c.case_id == case_id))).first()


async def update_offer(conn: AsyncConnection, offer_id: uuid.UUID, values: dict[str, Any]) -> Record:
    return (await conn.execute(update(retention_offers).where(retention_offers.c.id == offer_id)
                               .values(**values).returning(*retention_offers.c))).one()


async def offers_of_case(conn: AsyncConnection, case_id: uuid.UUID) -> list[Record]:
    """Oldest offer first."""
    return list((await conn.execute(select(retention_offers).where(retention_offers.c.case_id == case_id)
                                    .order_by(retention_offers.c.offered_at, retention_offers.c.id))).all())

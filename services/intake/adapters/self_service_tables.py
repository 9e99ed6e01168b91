"""Customer self-service (R3.5): its failed look-ups (migration intake_0014_self_service)
and the queries its use cases need.

A failed look-up is one row per limit it counts against — ``scope`` "ip" (the client's address)
and "number" (the request number typed) — keyed by an HMAC of the value, so the table holds no
address or number in the clear. The rows live in intake's database so every replica counts the
same attempts; rows older than the window are deleted as new failures are written."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, String, Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from services.intake.adapters.case_tables import case_history
from services.intake.adapters.db import case_types, cases, metadata, tenants
from services.intake.adapters.party_tables import assets, parties
from shared.db import UTCDateTime
from shared.migrations import big_id

self_service_attempts = Table(
    "self_service_attempts", metadata,
    Column("id", big_id(), primary_key=True, autoincrement=True),
    Column("tenant", String(60), nullable=False),  # as typed in the path (an unknown one counts too)
    Column("scope", String(10), nullable=False),  # ip | number
    Column("key_hash", String(64), nullable=False),  # HMAC-SHA256 of the address or number
    Column("at", UTCDateTime(), nullable=False),
)
Index("self_service_attempts_key", self_service_attempts.c.tenant, self_service_attempts.c.scope,
      self_service_attempts.c.key_hash, self_service_attempts.c.at)
Index("self_service_attempts_at", self_service_attempts.c.at)

SCOPES = ("ip", "number")


def key_hash(secret: str, scope: str, value: str) -> str:
    return hmac.new(secret.encode(), f"self-service:{scope}:{value}".encode(), hashlib.sha256).hexdigest()


async def failures_since(conn: AsyncConnection, tenant: str, scope: str, key: str, since: datetime) -> list[datetime]:
    """The failed look-ups counted against one key since ``since``, oldest first."""
    t = self_service_attempts
    rows = await conn.execute(select(t.c.at).where(t.c.tenant == tenant, t.c.scope == scope, t.c.key_hash == key,
                                                   t.c.at >= since).order_by(t.c.at))
    return [r.at for r in rows]


async def add_failure(conn: AsyncConnection, tenant: str, keys: dict[str, str], now: datetime,
                      forget_before: datetime) -> None:
    """One failed look-up against each key (scope → key hash); what has left the window goes."""
    t = self_service_attempts
    await conn.execute(delete(t).where(t.c.at < forget_before))
    await conn.execute(insert(t), [{"tenant": tenant, "scope": s, "key_hash": k, "at": now} for s, k in keys.items()])


async def tenant(conn: AsyncConnection, slug: str) -> Any | None:
    return (await conn.execute(select(tenants).where(tenants.c.slug == slug))).first()


_owner = aliased(parties, name="asset_owner")


async def case_by_number(conn: AsyncConnection, tenant: str, number: str) -> Any | None:
    """The tenant's case with that number, with the national-id keys it may be found by: its
    party's, and (a case filed on an asset) the asset owner's; and its type's names."""
    q = (select(cases, parties.c.national_id_key.label("party_key"), _owner.c.national_id_key.label("owner_key"),
                case_types.c.name_es.label("type_name_es"), case_types.c.name_en.label("type_name_en"))
         .select_from(cases.outerjoin(parties, parties.c.id == cases.c.party_id)
                      .outerjoin(assets, assets.c.id == cases.c.asset_id)
                      .outerjoin(_owner, _owner.c.id == assets.c.party_id)
                      .outerjoin(case_types, (case_types.c.tenant == cases.c.tenant)
                                 & (case_types.c.code == cases.c.type_code)))
         .where(cases.c.tenant == tenant, cases.c.number == number))
    return (await conn.execute(q)).first()


async def escalated_since(conn: AsyncConnection, case_id: uuid.UUID, actor_name: str, since: datetime) -> bool:
    """Whether self-service already escalated this case to the supervisor since ``since`` (so a
    customer pressing the button again does not e-mail the supervisor again)."""
    h = case_history
    return (await conn.execute(select(h.c.id).where(
        h.c.case_id == case_id, h.c.kind == "escalated_to_supervisor", h.c.actor_name == actor_name,
        h.c.at >= since).limit(1))).first() is not None

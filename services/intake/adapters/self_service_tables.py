"""Customer self-service (R3.5): the queries its use cases need. Its failed look-ups are rows of
``attempt_tables.failed_attempts`` — one per limit a failure counts against, ``scope`` "ip" (the
client's address) and "number" (the request number typed) — with every other rate limit's."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from services.intake.adapters.attempt_tables import add_failure, key_hash, wait_for
from services.intake.adapters.case_tables import case_history
from services.intake.adapters.db import case_types, cases, tenants
from services.intake.adapters.party_tables import assets, parties

__all__ = ["add_failure", "case_by_number", "escalated_since", "key_hash", "tenant", "wait_for"]


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

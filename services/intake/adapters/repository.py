"""intake's queries. Tenants and case types change rarely and are read on every POST /cases,
so they are cached for a short time in the process."""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters.catalog_tables import calendars
from services.intake.adapters.db import case_types, cases, idempotency_keys, tenants, users
from shared.db import Database


class CatalogCache:
    def __init__(self, db: Database, ttl_s: float = 30.0) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self._tenants: dict[str, tuple[float, Row[Any] | None]] = {}
        self._types: dict[tuple[str, str], tuple[float, Row[Any] | None]] = {}

    async def tenant(self, slug: str) -> Row[Any] | None:
        hit = self._tenants.get(slug)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        async with self.db.read() as conn:
            # With its business calendar's version (None: none set), which case.created.v1 carries.
            row = (await conn.execute(
                select(tenants, calendars.c.version.label("calendar_version"))
                .select_from(tenants.outerjoin(calendars, calendars.c.tenant == tenants.c.slug))
                .where(tenants.c.slug == slug))).first()
        self._tenants[slug] = (time.monotonic() + self.ttl_s, row)
        return row

    async def case_type(self, tenant: str, code: str) -> Row[Any] | None:
        hit = self._types.get((tenant, code))
        if hit and hit[0] > time.monotonic():
            return hit[1]
        async with self.db.read() as conn:
            row = (await conn.execute(select(case_types).where(
                case_types.c.tenant == tenant, case_types.c.code == code, case_types.c.active.is_(True)))).first()
        self._types[(tenant, code)] = (time.monotonic() + self.ttl_s, row)
        return row

    async def active_user(self, tenant: str, user_id: uuid.UUID | None, email: str | None = None) -> Row[Any] | None:
        """By id or e-mail. Not cached: a deactivated user must stop receiving cases at once."""
        key = users.c.id == user_id if user_id is not None else users.c.email == (email or "").lower()
        async with self.db.read() as conn:
            return (await conn.execute(select(users.c.id, users.c.email, users.c.name).where(
                key, users.c.tenant == tenant, users.c.active.is_(True)))).first()

    def clear(self) -> None:
        self._tenants.clear()
        self._types.clear()


async def next_case_number(conn: AsyncConnection, tenant: str) -> int:
    """Take the tenant's next number (the row lock makes concurrent creations queue briefly)."""
    res = await conn.execute(update(tenants).where(tenants.c.slug == tenant)
                             .values(next_case_number=tenants.c.next_case_number + 1)
                             .returning(tenants.c.next_case_number))
    return int(res.scalar_one()) - 1


async def insert_case(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(cases), row)


async def get_case(conn: AsyncConnection, case_id: uuid.UUID) -> Row[Any] | None:
    return (await conn.execute(select(cases).where(cases.c.id == case_id))).first()


async def find_idempotent(conn: AsyncConnection, tenant: str, key: str) -> Row[Any] | None:
    return (await conn.execute(select(idempotency_keys).where(
        idempotency_keys.c.tenant == tenant, idempotency_keys.c.key == key))).first()


async def save_idempotent(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(idempotency_keys), row)


async def record_history(conn: AsyncConnection, case: dict[str, Any], principal: Any, kind: str,
                         data: dict[str, Any]) -> None:
    from services.intake.adapters.case_tables import case_history
    from shared.db import utcnow

    await conn.execute(insert(case_history), {"case_id": case["id"], "tenant": case["tenant"], "at": utcnow(),
                                              "actor_id": principal.user_id,
                                              "actor_name": principal.name or principal.email, "kind": kind,
                                              "data": data})


async def reference_errors(db: Database, tenant: str, *, interaction_id: uuid.UUID | None,
                           follow_up_of: uuid.UUID | None) -> list[dict[str, Any]]:
    """Field errors for references to an interaction (R2.3: must be this tenant's and open) and
    to the original of a follow-up (R3.1: must be this tenant's case)."""
    from services.intake.adapters.case_tables import interactions
    from shared.problems import field_error

    errors: list[dict[str, Any]] = []
    if interaction_id is None and follow_up_of is None:
        return errors  # the usual case: no round trip
    async with db.read() as conn:
        if interaction_id is not None:
            row = (await conn.execute(select(interactions.c.status).where(
                interactions.c.id == interaction_id, interactions.c.tenant == tenant))).first()
            if row is None:
                errors.append(field_error("interaction_id", ("La atención no existe.", "No such interaction."),
                                          "unknown_interaction"))
            elif row.status != "open":
                errors.append(field_error("interaction_id", ("La atención está cerrada.", "The interaction is closed."),
                                          "interaction_closed"))
        if follow_up_of is not None:
            row = (await conn.execute(select(cases.c.id).where(cases.c.id == follow_up_of,
                                                               cases.c.tenant == tenant))).first()
            if row is None:
                errors.append(field_error("follow_up_of", ("La solicitud original no existe.",
                                                           "No such original case."), "unknown_original"))
    return errors


async def lock_open_interaction(conn: AsyncConnection, tenant: str, interaction_id: uuid.UUID) -> None:
    """Share-lock the interaction a new case goes under and make sure it is still open."""
    from services.intake.adapters.case_tables import interactions
    from shared.problems import field_error, invalid

    row = (await conn.execute(select(interactions.c.status).where(
        interactions.c.id == interaction_id, interactions.c.tenant == tenant).with_for_update(read=True))).first()
    if row is None or row.status != "open":
        raise invalid(field_error("interaction_id", ("La atención está cerrada.", "The interaction is closed."),
                                  "interaction_closed"))

"""intake's queries. Tenants and case types change rarely and are read on every POST /cases,
so they are cached for a short time in the process."""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

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
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(tenants).where(tenants.c.slug == slug))).first()
        self._tenants[slug] = (time.monotonic() + self.ttl_s, row)
        return row

    async def case_type(self, tenant: str, code: str) -> Row[Any] | None:
        hit = self._types.get((tenant, code))
        if hit and hit[0] > time.monotonic():
            return hit[1]
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(case_types).where(
                case_types.c.tenant == tenant, case_types.c.code == code, case_types.c.active.is_(True)))).first()
        self._types[(tenant, code)] = (time.monotonic() + self.ttl_s, row)
        return row

    async def active_user(self, tenant: str, user_id: uuid.UUID | None, email: str | None = None) -> Row[Any] | None:
        """By id or e-mail. Not cached: a deactivated user must stop receiving cases at once."""
        key = users.c.id == user_id if user_id is not None else users.c.email == (email or "").lower()
        async with self.db.engine.connect() as conn:
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

"""Queries of accounts: tenants, users, their access and password set-up tokens, API keys
(tables in db.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, insert, literal_column, select, type_coerce, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters.db import access_tokens, api_keys, password_setup_tokens, tenants, users


async def tenant(conn: AsyncConnection, slug: str) -> Row[Any] | None:
    return (await conn.execute(select(tenants).where(tenants.c.slug == slug))).first()


async def insert_tenant(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(tenants), row)


# -- users -------------------------------------------------------------------------------------
async def user(conn: AsyncConnection, tenant: str, user_id: uuid.UUID, *, lock: bool = False) -> Row[Any] | None:
    q = select(users).where(users.c.id == user_id, users.c.tenant == tenant)
    return (await conn.execute(q.with_for_update() if lock else q)).first()


async def user_by_email(conn: AsyncConnection, tenant: str, email: str, *, lock: bool = False) -> Row[Any] | None:
    q = select(users).where(users.c.tenant == tenant, users.c.email == email)
    return (await conn.execute(q.with_for_update() if lock else q)).first()


async def manager_link(conn: AsyncConnection, tenant: str, user_id: uuid.UUID) -> Row[Any] | None:
    """The user's own manager (one step up the line), or None if no such user in the tenant."""
    return (await conn.execute(select(users.c.manager_id).where(users.c.id == user_id,
                                                                 users.c.tenant == tenant))).first()


async def insert_user(conn: AsyncConnection, row: dict[str, Any]) -> Row[Any]:
    await conn.execute(insert(users), row)
    return (await conn.execute(select(users).where(users.c.id == row["id"]))).one()


async def update_user(conn: AsyncConnection, user_id: uuid.UUID, values: dict[str, Any]) -> Row[Any]:
    if values:
        await conn.execute(update(users).where(users.c.id == user_id).values(**values))
    return (await conn.execute(select(users).where(users.c.id == user_id))).one()


def _has_role(conn: AsyncConnection, role: str) -> ColumnElement[bool]:
    """``role`` is one of the user's roles (a JSON array): JSONB containment on PostgreSQL,
    ``json_each`` on SQLite (embedded mode)."""
    if conn.dialect.name == "postgresql":
        return type_coerce(users.c.roles, JSONB()).contains([role])
    each = func.json_each(users.c.roles).table_valued("value")
    return exists(select(literal_column("1")).select_from(each).where(each.c.value == role))


async def list_users(conn: AsyncConnection, tenant: str, *, active: bool | None, role: str | None,
                     after_email: str | None, limit: int) -> list[Row[Any]]:
    """Users by e-mail; every filter is in the query, so a page is cut after filtering."""
    q = select(users).where(users.c.tenant == tenant)
    if active is not None:
        q = q.where(users.c.active.is_(active))
    if role is not None:
        q = q.where(_has_role(conn, role))
    if after_email is not None:
        q = q.where(users.c.email > after_email)
    return list((await conn.execute(q.order_by(users.c.email).limit(limit))).all())


# -- access tokens (sessions) --------------------------------------------------------------------
async def add_access_token(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(access_tokens), row)


async def session(conn: AsyncConnection, token_hash: str) -> Row[Any] | None:
    """A token's row with its user's columns (authentication on every request)."""
    return (await conn.execute(
        select(access_tokens.c.expires_at, access_tokens.c.revoked_at, users)
        .join(users, users.c.id == access_tokens.c.user_id)
        .where(access_tokens.c.token_hash == token_hash))).first()


async def lock_access_token(conn: AsyncConnection, token_hash: str) -> Row[Any] | None:
    return (await conn.execute(select(access_tokens).where(access_tokens.c.token_hash == token_hash)
                               .with_for_update())).first()


async def revoke_access_token(conn: AsyncConnection, token_hash: str, at: datetime) -> None:
    await conn.execute(update(access_tokens).where(access_tokens.c.token_hash == token_hash).values(revoked_at=at))


async def revoke_sessions_of(conn: AsyncConnection, user_id: uuid.UUID, at: datetime) -> None:
    await conn.execute(update(access_tokens).where(access_tokens.c.user_id == user_id,
                                                   access_tokens.c.revoked_at.is_(None)).values(revoked_at=at))


# -- password set-up links -------------------------------------------------------------------
async def void_setup_links(conn: AsyncConnection, user_id: uuid.UUID, at: datetime) -> None:
    await conn.execute(update(password_setup_tokens).where(password_setup_tokens.c.user_id == user_id,
                                                           password_setup_tokens.c.used_at.is_(None))
                       .values(used_at=at))


async def add_setup_link(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(password_setup_tokens), row)


async def lock_setup_link(conn: AsyncConnection, token_hash: str) -> Row[Any] | None:
    """The link with its user's e-mail, locked (a link works once, also under concurrency)."""
    return (await conn.execute(
        select(password_setup_tokens, users.c.email, users.c.tenant)
        .join(users, users.c.id == password_setup_tokens.c.user_id)
        .where(password_setup_tokens.c.token_hash == token_hash)
        .with_for_update(of=password_setup_tokens))).first()


async def use_setup_link(conn: AsyncConnection, token_hash: str, at: datetime) -> None:
    await conn.execute(update(password_setup_tokens).where(password_setup_tokens.c.token_hash == token_hash)
                       .values(used_at=at))


# -- API keys ----------------------------------------------------------------------------------
async def api_key_by_hash(conn: AsyncConnection, key_hash: str) -> Row[Any] | None:
    return (await conn.execute(select(api_keys).where(api_keys.c.key_hash == key_hash))).first()


async def touch_api_key(conn: AsyncConnection, key_id: uuid.UUID, at: datetime) -> None:
    await conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=at))


async def insert_api_key(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(api_keys), row)


async def lock_api_key(conn: AsyncConnection, tenant: str, key_id: uuid.UUID) -> Row[Any] | None:
    return (await conn.execute(select(api_keys).where(api_keys.c.id == key_id, api_keys.c.tenant == tenant)
                               .with_for_update())).first()


async def revoke_api_key(conn: AsyncConnection, key_id: uuid.UUID, at: datetime) -> None:
    await conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=at))


async def list_api_keys(conn: AsyncConnection, tenant: str, *, after: tuple[datetime, uuid.UUID] | None,
                        limit: int) -> list[Row[Any]]:
    q = select(api_keys).where(api_keys.c.tenant == tenant)
    if after is not None:
        at, key_id = after
        q = q.where((api_keys.c.created_at > at) | ((api_keys.c.created_at == at) & (api_keys.c.id > key_id)))
    return list((await conn.execute(q.order_by(api_keys.c.created_at, api_keys.c.id).limit(limit))).all())

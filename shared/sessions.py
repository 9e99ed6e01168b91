"""Bearer tokens on the services other than intake (workflow, notifier, reporting).

A token is verified locally (``shared.auth.verify_token``: signature, issuer, expiry), then
checked against a small copy each service keeps from intake's events, so that what stops a
token on intake stops it everywhere:

- ``user.upserted.v1`` → ``token_users`` (id, tenant, roles, active; the newest event wins):
  a deactivated user's token is refused (401) and a changed user's roles are those of the copy,
  not the token's (a demoted user loses the old roles at once, 403 where roles matter);
- ``user.session_revoked.v1`` → ``revoked_tokens`` (the jti until the token's own expiry; expired
  rows are purged as new ones arrive): a token revoked by logout is refused (401).

A user the copy does not know yet (its ``user.upserted.v1`` still on its way) is taken with the
token's own claims: every change to a user reaches the copy as an event, so "unknown" can only
mean "created moments ago". API keys (integrations) are intake's: here they are refused as 401.

Routes use one dependency: ``CurrentCaller`` (``Annotated[Caller, Depends(current_caller)]``).
The 401 texts are intake's (services/intake/api/deps.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from alembic import op
from fastapi import Depends, Header, Request
from sqlalchemy import Boolean, Column, MetaData, String, Table, Uuid, delete, select, update

from shared.auth import InvalidToken, verify_token
from shared.contracts.envelope import Envelope
from shared.contracts.events import UserProfile, UserSessionRevoked
from shared.db import Database, JsonType, Tx, UTCDateTime, insert_ignoring_duplicates, utcnow
from shared.refusals import (
    TOKEN_EXPIRED,
    TOKEN_INVALID,
    TOKEN_MISSING,
    TOKEN_REVOKED,
    USER_DEACTIVATED,
    Text,
    forbidden,
    unauthenticated,
)

MISSING, EXPIRED, INVALID, REVOKED, DEACTIVATED = (TOKEN_MISSING, TOKEN_EXPIRED, TOKEN_INVALID, TOKEN_REVOKED,
                                                   USER_DEACTIVATED)
API_KEY: Text = ("Este servicio acepta sólo tokens de usuario, no claves de API.",
                 "This service accepts user tokens only, not API keys.")




@dataclass(frozen=True)
class Caller:
    """Who asks: a user of ``tenant`` with ``roles`` (as of the service's copy)."""

    user_id: uuid.UUID
    tenant: str
    roles: frozenset[str]
    token_id: str

    def require_any(self, roles: set[str], detail: Text) -> None:
        """403 unless the caller has one of ``roles``."""
        if not self.roles & roles:
            raise forbidden(detail)


class SessionCopies:
    """The two tables of one service's copy, their event handlers and the request check."""

    def __init__(self, metadata: MetaData) -> None:
        self.users = Table(
            "token_users", metadata,
            Column("user_id", Uuid(), primary_key=True),
            Column("tenant", String(60), nullable=False),
            Column("roles", JsonType, nullable=False),
            Column("active", Boolean, nullable=False),
            Column("changed_at", UTCDateTime(), nullable=False),  # the event's time: the newest wins
        )
        self.revoked = Table(
            "revoked_tokens", metadata,
            Column("token_id", String(120), primary_key=True),
            Column("user_id", Uuid(), nullable=False),
            Column("expires_at", UTCDateTime(), nullable=False, index=True),
        )

    @property
    def handlers(self) -> dict[str, Any]:
        return {"user.upserted.v1": self.on_user_upserted, "user.session_revoked.v1": self.on_session_revoked}

    async def on_user_upserted(self, tx: Tx, env: Envelope) -> None:
        e = UserProfile.model_validate(env.data)
        values = {"tenant": env.tenant, "roles": sorted(set(e.roles)), "active": e.active, "changed_at": env.time}
        if not await insert_ignoring_duplicates(tx.conn, self.users, {"user_id": e.user_id, **values}):
            await tx.conn.execute(update(self.users).where(self.users.c.user_id == e.user_id,
                                                           self.users.c.changed_at <= env.time).values(**values))

    async def on_session_revoked(self, tx: Tx, env: Envelope) -> None:
        e = UserSessionRevoked.model_validate(env.data)
        await tx.conn.execute(delete(self.revoked).where(self.revoked.c.expires_at < utcnow()))
        await insert_ignoring_duplicates(tx.conn, self.revoked, {"token_id": e.token_id, "user_id": e.user_id,
                                                                 "expires_at": e.expires_at})

    async def caller(self, db: Database, secret: str, authorization: str | None,
                     api_key: str | None = None) -> Caller:
        """The caller of a request, or a 401 ``Refused``."""
        if api_key and not authorization:
            raise unauthenticated(API_KEY)
        if not authorization or not authorization.lower().startswith("bearer "):
            raise unauthenticated(MISSING)
        try:
            claims = verify_token(secret, authorization[7:].strip())
        except InvalidToken as exc:
            raise unauthenticated(EXPIRED if exc.reason == "expired" else INVALID) from None
        async with db.read() as conn:
            revoked = (await conn.execute(select(self.revoked.c.token_id)
                                          .where(self.revoked.c.token_id == claims.jti))).first()
            user = (await conn.execute(select(self.users).where(self.users.c.user_id == claims.user_id))).first()
        if revoked is not None or (user is not None and user.tenant != claims.tenant):
            raise unauthenticated(REVOKED)
        if user is not None and not user.active:
            raise unauthenticated(DEACTIVATED)
        roles = frozenset(user.roles) if user is not None else claims.roles
        return Caller(user_id=claims.user_id, tenant=claims.tenant, roles=roles, token_id=claims.jti)


def create_session_tables(schema: str) -> None:
    """Migration helper: the tables ``SessionCopies`` describes."""
    op.create_table(
        "token_users",
        sa.Column("user_id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("roles", JsonType, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        schema=schema,
    )
    op.create_table(
        "revoked_tokens",
        sa.Column("token_id", sa.String(120), primary_key=True),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        schema=schema,
    )
    op.create_index("ix_revoked_tokens_expires_at", "revoked_tokens", ["expires_at"], schema=schema)


async def current_caller(request: Request, authorization: Annotated[str | None, Header()] = None,
                         x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None) -> Caller:
    """FastAPI dependency: the service's runtime holds ``extras["sessions"]`` (a ``SessionCopies``)
    and ``extras["token_secret"]``."""
    rt = request.app.state.runtime
    copies: SessionCopies = rt.extras["sessions"]
    return await copies.caller(rt.db, rt.extras["token_secret"], authorization, x_api_key)


CurrentCaller = Annotated[Caller, Depends(current_caller)]


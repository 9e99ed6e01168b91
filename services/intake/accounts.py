"""Tenants and users as intake changes them: the few steps the API, the CLI and the seed share
(create a tenant, create or change a user, issue a password set-up link), each emitting the
events other services keep their copies from."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select, update

from services.intake.adapters.credentials import digest, new_token
from services.intake.adapters.db import password_setup_tokens, tenants, users
from services.intake.domain.access import Role
from shared.contracts.envelope import Envelope
from shared.contracts.events import UserInvited, UserProfile
from shared.db import Tx, utcnow
from shared.logs import correlation_id
from shared.settings import Settings

SOURCE = "atiende/intake"
ASSIGNABLE_ROLES = [r.value for r in Role if r != Role.INTEGRATION]


def user_profile(row: Any, tenant_language: str) -> UserProfile:
    return UserProfile(user_id=row.id, email=row.email, name=row.name, mobile=row.mobile, roles=list(row.roles),
                       manager_id=row.manager_id, projects=list(row.projects),
                       escalation_subscriptions=list(row.escalation_subscriptions),
                       language=row.language or tenant_language, active=row.active)


async def emit_profile(tx: Tx, row: Any, tenant_language: str) -> None:
    await tx.emit(Envelope(source=SOURCE, type="user.upserted.v1", subject=str(row.id), tenant=row.tenant,
                           correlationid=correlation_id.get(),
                           data=user_profile(row, tenant_language).model_dump(mode="json")))


async def create_tenant(tx: Tx, *, slug: str, name: str, country: str, timezone: str, language: str) -> None:
    await tx.conn.execute(insert(tenants), {"slug": slug, "name": name, "country": country.upper(),
                                            "timezone": timezone, "language": language, "next_case_number": 1,
                                            "created_at": utcnow()})


async def create_user(tx: Tx, tenant: Any, data: dict[str, Any], *, password_hash: str | None = None) -> Any:
    now = utcnow()
    row = {"id": uuid.uuid4(), "tenant": tenant.slug, "email": data["email"].lower(), "name": data["name"],
           "mobile": data.get("mobile"), "roles": list(data["roles"]), "manager_id": data.get("manager_id"),
           "projects": list(data.get("projects") or []),
           "escalation_subscriptions": list(data.get("escalation_subscriptions") or []),
           "language": data.get("language"), "active": True, "password_hash": password_hash, "failed_logins": 0,
           "locked_until": None, "created_at": now, "updated_at": now}
    await tx.conn.execute(insert(users), row)
    created = (await tx.conn.execute(select(users).where(users.c.id == row["id"]))).one()
    await emit_profile(tx, created, tenant.language)
    return created


async def invite(tx: Tx, tenant: Any, user: Any, settings: Settings) -> str:
    """Issue a one-time password set-up link (earlier unused links stop working) and have
    notifier e-mail it. Returns the raw token (only the digest is stored)."""
    now = utcnow()
    await tx.conn.execute(update(password_setup_tokens)
                          .where(password_setup_tokens.c.user_id == user.id, password_setup_tokens.c.used_at.is_(None))
                          .values(used_at=now))
    token = new_token()
    expires = now + timedelta(hours=settings.invite_ttl_hours)
    await tx.conn.execute(insert(password_setup_tokens), {"token_hash": digest(token), "user_id": user.id,
                                                          "expires_at": expires, "used_at": None})
    data = UserInvited(user_id=user.id, email=user.email, name=user.name, language=user.language or tenant.language,
                       tenant_name=tenant.name, expires_at=expires,
                       setup_url=f"{settings.public_url.rstrip('/')}/auth/password-setup?token={token}")
    await tx.emit(Envelope(source=SOURCE, type="user.invited.v1", subject=str(user.id), tenant=tenant.slug,
                           correlationid=correlation_id.get(), data=data.model_dump(mode="json")))
    return token

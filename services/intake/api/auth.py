"""Log in (OAuth2 password flow), log out, set a password from an invitation, who am I."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from sqlalchemy import insert, select, update

from services.intake.adapters.credentials import digest, hash_password, new_token, password_problems, verify_password
from services.intake.adapters.db import access_tokens, password_setup_tokens, users
from services.intake.api.deps import CurrentPrincipal, unauthenticated
from shared.auth import issue_token
from shared.db import utcnow
from shared.problems import Problem, field_error, invalid
from shared.runtime import runtime_of

router = APIRouter(prefix="/auth", tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


@router.post("/token", response_model=TokenOut)
async def login(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()],
                tenant: Annotated[str, Form(min_length=1, max_length=60)]) -> TokenOut:
    """E-mail (``username``), password and tenant slug → a bearer token. Repeated failures lock
    the account for a while (``ATIENDE_LOGIN_MAX_FAILURES``, ``ATIENDE_LOGIN_LOCK_MINUTES``)."""
    rt = runtime_of(request)
    s = rt.settings
    now = utcnow()
    async with rt.db.read() as conn:
        user = (await conn.execute(select(users).where(users.c.tenant == tenant,
                                                       users.c.email == form.username.strip().lower()))).first()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        wait = math.ceil((user.locked_until - now).total_seconds())
        raise Problem(429, "login-locked", ("Demasiados intentos fallidos", "Too many failed attempts"),
                      (f"La cuenta está bloqueada; intente de nuevo en {math.ceil(wait / 60)} minuto(s).",
                       f"The account is locked; try again in {math.ceil(wait / 60)} minute(s)."),
                      headers={"Retry-After": str(wait)})
    ok = verify_password(user.password_hash if user is not None else None, form.password)
    if user is None or not ok or not user.active:
        if user is not None and not ok:
            failures = user.failed_logins + 1
            locked = now + timedelta(minutes=s.login_lock_minutes) if failures >= s.login_max_failures else None
            async with rt.db.engine.begin() as conn:
                await conn.execute(update(users).where(users.c.id == user.id).values(
                    failed_logins=0 if locked else failures, locked_until=locked))
        raise unauthenticated(("Correo, contraseña o cliente incorrectos.", "Wrong e-mail, password or tenant."))
    jti = new_token()
    ttl = timedelta(hours=s.token_ttl_hours)
    token = issue_token(rt.extras["token_secret"], user_id=user.id, tenant=user.tenant, roles=list(user.roles),
                        jti=jti, now=now, ttl=ttl)
    async with rt.db.engine.begin() as conn:
        await conn.execute(update(users).where(users.c.id == user.id).values(failed_logins=0, locked_until=None))
        await conn.execute(insert(access_tokens), {"token_hash": digest(jti), "user_id": user.id,
                                                   "tenant": user.tenant, "created_at": now, "expires_at": now + ttl,
                                                   "revoked_at": None})
    return TokenOut(access_token=token, expires_in=int(ttl.total_seconds()))


@router.post("/logout", status_code=204)
async def logout(request: Request, p: CurrentPrincipal) -> Response:
    """Revoke the token this request carries."""
    if p.user_id is not None and p.token_id:
        async with runtime_of(request).db.engine.begin() as conn:
            await conn.execute(update(access_tokens).where(access_tokens.c.token_hash == digest(p.token_id))
                               .values(revoked_at=utcnow()))
    return Response(status_code=204)


class PasswordSetupIn(BaseModel):
    token: str = Field(min_length=10, max_length=200)
    password: str = Field(min_length=1, max_length=200)


@router.post("/password-setup", status_code=204)
async def set_password(body: PasswordSetupIn, request: Request) -> Response:
    """Set a password with the one-time link an admin's invitation e-mailed (R4.1)."""
    rt = runtime_of(request)
    now = utcnow()
    async with rt.db.transaction() as tx:
        row = (await tx.conn.execute(
            select(password_setup_tokens, users.c.email).join(users, users.c.id == password_setup_tokens.c.user_id)
            .where(password_setup_tokens.c.token_hash == digest(body.token)))).first()
        if row is None or row.used_at is not None or row.expires_at <= now:
            raise invalid(field_error("token", ("El enlace no es válido, ya se usó o expiró; pida uno nuevo.",
                                                "The link is invalid, used or expired; ask for a new one."),
                                      "invalid_setup_token"))
        problems = password_problems(body.password, row.email)
        if problems:
            raise invalid(*(field_error("password", msg, "weak_password") for msg in problems))
        await tx.conn.execute(update(password_setup_tokens).where(password_setup_tokens.c.token_hash == row.token_hash)
                              .values(used_at=now))
        await tx.conn.execute(update(users).where(users.c.id == row.user_id).values(
            password_hash=hash_password(body.password), failed_logins=0, locked_until=None, updated_at=now))
        # A new password ends every open session of that user.
        await tx.conn.execute(update(access_tokens).where(access_tokens.c.user_id == row.user_id,
                                                          access_tokens.c.revoked_at.is_(None)).values(revoked_at=now))
    return Response(status_code=204)


class MeOut(BaseModel):
    tenant: str
    user_id: str | None
    api_key_id: str | None
    email: str | None
    name: str | None
    roles: list[str]
    projects: list[str]


@router.get("/me", response_model=MeOut)
async def me(p: CurrentPrincipal) -> MeOut:
    return MeOut(tenant=p.tenant, user_id=str(p.user_id) if p.user_id else None,
                 api_key_id=str(p.api_key_id) if p.api_key_id else None, email=p.email, name=p.name,
                 roles=sorted(p.roles), projects=sorted(p.projects))

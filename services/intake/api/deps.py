"""Authentication for every intake endpoint: a bearer token (users) or ``X-API-Key``
(integrations). ``CurrentPrincipal`` and ``AdminPrincipal`` are the aliases routes use."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy import select, update

from services.intake.adapters.credentials import digest
from services.intake.adapters.db import access_tokens, api_keys, users
from services.intake.domain.access import Principal, Role, can_administer
from shared.auth import InvalidToken, verify_token
from shared.db import utcnow
from shared.problems import Problem, forbidden
from shared.runtime import runtime_of

_UNAUTH = ("No autenticado", "Not authenticated")


def unauthenticated(detail: tuple[str, str]) -> Problem:
    return Problem(401, "unauthenticated", _UNAUTH, detail, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(request: Request,
                       authorization: Annotated[str | None, Header()] = None,
                       x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None) -> Principal:
    rt = runtime_of(request)
    now = utcnow()
    if x_api_key:
        async with rt.db.read() as conn:
            key = (await conn.execute(select(api_keys).where(api_keys.c.key_hash == digest(x_api_key)))).first()
        if key is None or key.revoked_at is not None:
            raise unauthenticated(("La clave de API no es válida o fue revocada.", "Invalid or revoked API key."))
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            async with rt.db.engine.begin() as conn:  # coarse: at most one write a minute per key
                await conn.execute(update(api_keys).where(api_keys.c.id == key.id).values(last_used_at=now))
        return Principal(tenant=key.tenant, roles=frozenset({Role.INTEGRATION}), api_key_id=key.id,
                         name=key.name)
    if not authorization or not authorization.lower().startswith("bearer "):
        raise unauthenticated(("Inicie sesión: falta el token de acceso.", "Log in: the access token is missing."))
    try:
        claims = verify_token(rt.extras["token_secret"], authorization[7:].strip())
    except InvalidToken as exc:
        if exc.reason == "expired":
            raise unauthenticated(("La sesión expiró; inicie sesión de nuevo.",
                                   "The session expired; log in again.")) from None
        raise unauthenticated(("El token no es válido.", "Invalid token.")) from None
    # intake checks its token table too: logout and deactivation take effect at once.
    async with rt.db.read() as conn:
        row = (await conn.execute(
            select(access_tokens.c.expires_at, access_tokens.c.revoked_at, users)
            .join(users, users.c.id == access_tokens.c.user_id)
            .where(access_tokens.c.token_hash == digest(claims.jti)))).first()
    if row is None or row.revoked_at is not None or row.tenant != claims.tenant:
        raise unauthenticated(("El token fue revocado; inicie sesión de nuevo.", "The token was revoked; log in again."))
    if row.expires_at <= now:
        raise unauthenticated(("La sesión expiró; inicie sesión de nuevo.", "The session expired; log in again."))
    if not row.active:
        raise unauthenticated(("El usuario está desactivado.", "The user is deactivated."))
    # Roles and projects come from the table, not the token: a change applies to the next request.
    return Principal(tenant=row.tenant, roles=frozenset(Role(r) for r in row.roles), user_id=row.id,
                     email=row.email, name=row.name, projects=frozenset(row.projects), token_id=claims.jti)


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


async def require_admin(p: CurrentPrincipal) -> Principal:
    if not can_administer(p):
        raise forbidden(("Sólo un administrador puede hacer esto.", "Only an administrator may do this."))
    return p


AdminPrincipal = Annotated[Principal, Depends(require_admin)]

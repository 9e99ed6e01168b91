"""Access tokens: JWTs signed with ``ATIENDE_TOKEN_SECRET`` (HS256), issued by intake when a user
logs in. Any service verifies them locally and learns the caller's tenant and roles; intake also
checks its token table on every request; the other services check a copy built from intake's
events (shared/sessions.py), so a logout, a deactivation or a role change stops a token everywhere."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from shared import clock

ALGORITHM = "HS256"
ISSUER = "atiende/intake"


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    tenant: str
    roles: frozenset[str]
    jti: str
    expires_at: datetime


class InvalidToken(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "expired" | "invalid"


def issue_token(secret: str, *, user_id: uuid.UUID, tenant: str, roles: list[str], jti: str, now: datetime,
                ttl: timedelta) -> str:
    claims: dict[str, Any] = {"iss": ISSUER, "sub": str(user_id), "tenant": tenant, "roles": sorted(roles),
                              "jti": jti, "iat": int(now.timestamp()), "exp": int((now + ttl).timestamp())}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> TokenClaims:
    try:
        # Expiry is judged against the one "now" (shared/clock.py), not the library's wall clock,
        # so that a test moving time moves token lifetimes with it.
        c = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                       options={"require": ["exp", "sub", "jti", "iss"], "verify_exp": False, "verify_iat": False})
    except jwt.PyJWTError:
        raise InvalidToken("invalid") from None
    if not isinstance(c["exp"], int | float) or c["exp"] <= clock.now().timestamp():
        raise InvalidToken("expired")
    try:
        return TokenClaims(user_id=uuid.UUID(c["sub"]), tenant=str(c["tenant"]), roles=frozenset(c.get("roles", [])),
                           jti=str(c["jti"]), expires_at=datetime.fromtimestamp(c["exp"]).astimezone())
    except (KeyError, ValueError):
        raise InvalidToken("invalid") from None


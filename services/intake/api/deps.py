"""Authentication for every intake endpoint: a bearer token (users) or ``X-API-Key``
(integrations). ``CurrentPrincipal`` and ``AdminPrincipal`` are the aliases routes use; ``Db``
and ``AppSettings`` hand a route the runtime's database and settings for its use case.

The two FastAPI security schemes only read the headers (``auto_error=False``: the answers below
stay ours, RFC 9457 problems with ``WWW-Authenticate``); declaring them puts an OAuth2 password
scheme and an API-key scheme in the OpenAPI document, so /docs has an Authorize button."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from services.intake.domain.access import Principal, can_administer
from services.intake.service_layer import accounts
from shared.db import Database
from shared.problems import forbidden
from shared.refusals import TOKEN_MISSING, unauthenticated
from shared.runtime import runtime_of
from shared.settings import Settings

__all__ = ["AdminPrincipal", "AppSettings", "CatalogCache", "ClientIp", "CurrentPrincipal", "Db", "TokenSecret", "authenticate",
           "unauthenticated"]

bearer_scheme = OAuth2PasswordBearer(
    tokenUrl="/auth/token", auto_error=False, scheme_name="OAuth2Password",
    description="Log in with your e-mail (username), password and tenant slug. In the /docs "
                "Authorize dialog, put the tenant slug in client_id.")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey",
                              description="An integration's API key (POST /api-keys, shown once)")


def _db(request: Request) -> Database:
    return runtime_of(request).db


def _settings(request: Request) -> Settings:
    return runtime_of(request).settings


def _token_secret(request: Request) -> str:
    return str(runtime_of(request).extras["token_secret"])


def _catalog_cache(request: Request) -> Any:
    return runtime_of(request).extras["catalog"]


Db = Annotated[Database, Depends(_db)]
CatalogCache = Annotated[Any, Depends(_catalog_cache)]  # cleared by catalog writes
AppSettings = Annotated[Settings, Depends(_settings)]
TokenSecret = Annotated[str, Depends(_token_secret)]


def client_ip(request: Request) -> str:
    """The client's address, which rate limits count failures against (behind a proxy: what
    uvicorn takes from ``X-Forwarded-For`` of the trusted ``FORWARDED_ALLOW_IPS``)."""
    return request.client.host if request.client else "unknown"


ClientIp = Annotated[str, Depends(client_ip)]


async def authenticate(db: Db, secret: TokenSecret, settings: AppSettings, ip: ClientIp,
                       token: Annotated[str | None, Depends(bearer_scheme)] = None,
                       x_api_key: Annotated[str | None, Depends(api_key_scheme)] = None) -> Principal:
    if x_api_key:
        return await accounts.principal_of_api_key(db, settings, secret, x_api_key, ip)
    if not token or not token.strip():
        raise unauthenticated(TOKEN_MISSING)
    return await accounts.principal_of_token(db, secret, token.strip())


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


async def require_admin(p: CurrentPrincipal) -> Principal:
    if not can_administer(p):
        raise forbidden(("Sólo un administrador puede hacer esto.", "Only an administrator may do this."))
    return p


AdminPrincipal = Annotated[Principal, Depends(require_admin)]

"""Log in (OAuth2 password flow), log out, set a password from an invitation (R4.1), who am I."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field

from services.intake.api.deps import AppSettings, ClientIp, CurrentPrincipal, Db, TokenSecret
from services.intake.service_layer import accounts
from shared.fields import InputModel, SafeText, check_text
from shared.openapi import problem_responses
from shared.refusals import field_error, invalid

router = APIRouter(prefix="/auth", tags=["auth"])

TENANT_MISSING = ("Indique el cliente (tenant; en el formulario de /docs, client_id).",
                  "Give the tenant (in the /docs form, client_id).")
UNSAFE_TEXT = ("El texto contiene caracteres no permitidos (NUL o sustitutos sueltos).",
               "The text contains characters that are not allowed (NUL or lone surrogates).")


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


def _basic_client_id(request: Request) -> str | None:
    """The client id of an ``Authorization: Basic`` header (RFC 6749 §2.3.1), which the /docs
    Authorize dialog sends by default."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        client_id = base64.b64decode(value, validate=True).decode().partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id or None


@router.post("/token", response_model=TokenOut, responses=problem_responses(401, 422, 429))
async def login(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], db: Db,
                settings: AppSettings, secret: TokenSecret, ip: ClientIp,
                tenant: Annotated[SafeText | None, Form(min_length=1, max_length=60,
                                                        description="The tenant's slug, e.g. inmobiliaria-demo")] = None,
                ) -> TokenOut:
    """E-mail (``username``), password and ``tenant`` (the tenant's slug) → a bearer token.
    Clients that only speak the OAuth2 password flow (the /docs Authorize dialog) may give the
    tenant as ``client_id`` instead, in the form or in an ``Authorization: Basic`` header.
    Repeated failures lock the account for a while (``ATIENDE_LOGIN_MAX_FAILURES``,
    ``ATIENDE_LOGIN_LOCK_MINUTES``), and failures from one client address on any accounts are
    limited too (``ATIENDE_LOGIN_IP_MAX_FAILURES`` in ``ATIENDE_ATTEMPT_WINDOW_MINUTES``): 429
    with ``Retry-After``, even for the right password."""
    slug = tenant or form.client_id or _basic_client_id(request)
    if not slug or len(slug) > 60:
        raise invalid(field_error("tenant", TENANT_MISSING, "missing"))
    for name, text in (("tenant", slug), ("username", form.username), ("password", form.password)):
        try:
            check_text(text)
        except ValueError:
            raise invalid(field_error(name, UNSAFE_TEXT, "unsafe_text")) from None
    issued = await accounts.log_in(db, settings, secret, tenant=slug, email=form.username, password=form.password,
                                   client_ip=ip)
    return TokenOut(access_token=issued.access_token, expires_in=issued.expires_in)


@router.post("/logout", status_code=204, response_class=Response, responses=problem_responses(401))
async def logout(p: CurrentPrincipal, db: Db) -> Response:
    """Revoke the token this request carries, on intake at once and on the other services
    through ``user.session_revoked.v1``."""
    await accounts.log_out(db, p)
    return Response(status_code=204)


class PasswordSetupIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "token": "the token of the e-mailed link", "password": "una-clave-bien-larga"}})
    token: str = Field(min_length=10, max_length=200, description="The ``token`` of the e-mailed link")
    password: str = Field(min_length=1, max_length=200)


@router.post("/password-setup", status_code=204, response_class=Response, responses=problem_responses(422, 429))
async def set_password(body: PasswordSetupIn, db: Db, settings: AppSettings, secret: TokenSecret,
                       ip: ClientIp) -> Response:
    """Set a password with the one-time link an admin's invitation e-mailed (R4.1). The link
    works once and expires; a new password ends every open session of the user. Bad links from
    one client address are limited (``ATIENDE_PASSWORD_SETUP_MAX_FAILURES``): 429 with
    ``Retry-After``."""
    await accounts.set_password(db, settings, secret, body.token, body.password, ip)
    return Response(status_code=204)


class MeOut(BaseModel):
    tenant: str
    user_id: str | None
    api_key_id: str | None
    email: str | None
    name: str | None
    roles: list[str]
    projects: list[str]


@router.get("/me", response_model=MeOut, responses=problem_responses(401))
async def me(p: CurrentPrincipal) -> MeOut:
    return MeOut(tenant=p.tenant, user_id=str(p.user_id) if p.user_id else None,
                 api_key_id=str(p.api_key_id) if p.api_key_id else None, email=p.email, name=p.name,
                 roles=sorted(p.roles), projects=sorted(p.projects))

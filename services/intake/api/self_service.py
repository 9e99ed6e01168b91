"""Customer self-service (R3.5: meter customers file their follow-ups themselves): the only
intake routes a customer reaches, without an account. The rules are
``domain/self_service.py``, the use cases ``service_layer/self_service.py``.

- ``POST /public/{tenant}/requests/lookup`` {number, national_id}: the request, if both match
  (the national id of its party, or of its asset's owner, compared normalised). Only its number,
  type, status, creation date, maximum response date and which follow-ups the customer may file,
  with a 30-minute token for that one case. Any mismatch — unknown tenant or number, another
  party's id — is the same 404. Failed look-ups are limited per client address and per number
  (5 in 15 minutes): 429 with ``Retry-After``.
- ``POST /public/{tenant}/requests/followups`` {kind, text} with ``Authorization: Bearer <that
  token>``: files the follow-up (201 with its number), or refuses with what R3.4's triage says —
  after escalating to the supervisor where it says so (rules 6–8)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.intake.api.cases import CaseIn
from services.intake.api.deps import CatalogCache, Db, TokenSecret
from services.intake.domain import self_service as rules
from services.intake.domain import triage
from services.intake.service_layer import self_service as usecases
from shared.fields import InputModel, SafeText
from shared.openapi import problem_responses
from shared.problems import language

router = APIRouter(prefix="/public/{tenant}/requests", tags=["self-service"])

TenantSlug = Annotated[str, Path(min_length=1, max_length=60, description="The company's slug, e.g. gas-demo")]
self_service_scheme = HTTPBearer(auto_error=False, scheme_name="SelfServiceToken",
                                 description="The token of POST /public/{tenant}/requests/lookup (one case, 30 min)")


class LookupIn(InputModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "number": "000123", "national_id": "7.654.321-6"}})
    number: Annotated[SafeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)] = Field(
        description="The request's number, as the confirmation e-mail gave it")
    national_id: Annotated[SafeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] = Field(
        description="The customer's national id (RUT), with or without dots and dash")


class KindOut(BaseModel):
    kind: triage.FollowUpKind
    label: str


class RequestOut(BaseModel):
    """What the customer sees of their request: nothing else of it or of the company."""

    number: str
    type_name: str
    status: str = Field(description="new | in_execution | waiting_on_customer | finished_success | finished_failure")
    status_label: str
    created_on: date
    max_response_date: date | None = Field(description="The maximum response date (null until it is set)")
    can_file_follow_up: bool
    follow_up_kinds: list[KindOut] = Field(description="What the customer may file now (R3.4, R3.5)")
    message: str = Field(description="What R3.4 says about the request, addressed to the customer")
    token: str = Field(description="For POST …/followups on this request only")
    token_expires_in: int = Field(description="Seconds")


class FollowUpIn(InputModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "kind": "late_response", "text": "Pasaron los 5 días y nadie me ha respondido por el cobro de mi medidor."}})
    kind: Literal["late_response", "disagreement"] = Field(description="R3.4's two follow-up kinds")
    text: Annotated[SafeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class FiledOut(BaseModel):
    number: str = Field(description="The follow-up's number")
    follow_up_of: str = Field(description="The original request's number")


def _pick(text: tuple[str, str], lang: str) -> str:
    return text[1] if lang == "en" else text[0]


@router.post("/lookup", response_model=RequestOut, responses=problem_responses(404, 422, 429))
async def look_up(tenant: TenantSlug, body: LookupIn, request: Request, db: Db, secret: TokenSecret) -> RequestOut:
    """R3.5: find a request by its number and the customer's national id (both must match)."""
    found = await usecases.look_up(db, secret, tenant=tenant, number=body.number, national_id=body.national_id,
                                   client_ip=request.client.host if request.client else "unknown")
    lang = language(request)
    return RequestOut(
        number=found.number, type_name=_pick(found.type_name, lang), status=found.status,
        status_label=_pick(found.status_label, lang), created_on=found.created_on,
        max_response_date=found.max_response_date, can_file_follow_up=bool(found.kinds),
        follow_up_kinds=[KindOut(kind=k, label=_pick(rules.kind_label(k), lang)) for k in found.kinds],
        message=_pick(found.message, lang), token=found.token, token_expires_in=found.expires_in)


@router.post("/followups", status_code=201, response_model=FiledOut, responses=problem_responses(401, 409, 422))
async def file_follow_up(tenant: TenantSlug, body: FollowUpIn, db: Db, catalog: CatalogCache, secret: TokenSecret,
                         credentials: Annotated[HTTPAuthorizationCredentials | None,
                                                Depends(self_service_scheme)] = None) -> FiledOut:
    """R3.5 with R3.4: file a late-response or disagreement follow-up on the looked-up request.
    409 ``escalated-to-supervisor`` (rules 6–8: the supervisor was told instead, no new request)
    or ``follow-up-not-called-for`` (the message says what applies), each naming ``kind``."""
    filed = await usecases.file_follow_up(db, catalog, secret, tenant=tenant,
                                          token=credentials.credentials if credentials else None,
                                          kind=triage.FollowUpKind(body.kind), text=body.text,
                                          case_body=CaseIn)
    return FiledOut(number=filed.number, follow_up_of=filed.follow_up_of)


__all__ = ["router"]

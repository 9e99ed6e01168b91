"""Routes of assets (policies, supplies, properties, products; R0.1, R2.1, R4.2) and of the
billing import of supplies (``POST /supplies/import``, R2.1): parse, name who asks, call one use
case of ``service_layer/assets.py`` (where the rules and the import's format are described), map
its answer. Lists page with ``limit`` (1–200) and ``cursor`` → ``{items, next_cursor}``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from services.intake.api.deps import CurrentPrincipal
from services.intake.domain import parties as rules
from services.intake.service_layer import assets as uc
from shared.fields import SafeText
from shared.openapi import problem_responses
from shared.paging import Page, PageParams
from shared.problems import language
from shared.refusals import TITLES, Refused
from shared.runtime import runtime_of

router = APIRouter(tags=["assets"])


class AssetOut(BaseModel):
    id: uuid.UUID
    kind: str
    code: str
    name: str
    attributes: dict[str, Any]
    party_id: uuid.UUID | None
    active: bool
    source: str
    read_only: bool = Field(description="Supplies: changed only by the billing import (R2.1)")
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class ImportRowError(BaseModel):
    row: int = Field(description="1-based number of the data row (the CSV header is not counted)")
    external_id: str | None
    field: str
    message: str
    code: str


class ImportRowOutcome(BaseModel):
    row: int = Field(description="1-based number of the data row (the CSV header is not counted)")
    external_id: str | None
    outcome: Literal["created", "updated", "unchanged", "refused"]
    reasons: list[ImportRowError] = Field(default_factory=list, description="Why a refused row was refused")


class ImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    parties_created: int
    errors: list[ImportRowError]
    rows: list[ImportRowOutcome] = Field(default_factory=list, description=(
        "Every data row's outcome in the file's order (a refused row's reasons are also in ``errors``)"))


def asset_out(row: Any) -> AssetOut:
    return AssetOut(id=row.id, kind=row.kind, code=row.code, name=row.name, attributes=row.attributes,
                    party_id=row.party_id, active=row.active, source=row.source,
                    read_only=row.kind == rules.AssetKind.SUPPLY, created_by=row.created_by,
                    created_at=row.created_at, updated_at=row.updated_at)


def asset_page(found: Page[Any]) -> Page[AssetOut]:
    return Page[AssetOut](items=[asset_out(r) for r in found.items], next_cursor=found.next_cursor)


@router.post("/assets", status_code=201, response_model=AssetOut, responses=problem_responses(401, 403, 422))
async def create_asset(body: uc.AssetIn, request: Request, response: Response, p: CurrentPrincipal) -> AssetOut:
    """Register a policy, property or product, optionally with its owning party. A supply is 403:
    supplies come only from the billing import (R2.1)."""
    row = await uc.create_asset(runtime_of(request).db, p, body)
    response.headers["Location"] = f"/assets/{row.id}"
    return asset_out(row)


@router.get("/assets", response_model=Page[AssetOut], responses=problem_responses(401, 422))
async def list_assets(request: Request, p: CurrentPrincipal, page: PageParams,
                      kind: Annotated[list[rules.AssetKind] | None, Query()] = None,
                      party_id: Annotated[uuid.UUID | None, Query()] = None,
                      code: Annotated[SafeText | None, Query(max_length=80, description="exact external id")] = None,
                      q: Annotated[SafeText | None, Query(max_length=200,
                                                          description="name (partial) or code prefix")] = None,
                      active: Annotated[bool | None, Query()] = None) -> Page[AssetOut]:
    """Assets the caller may see (R2.7: not those of a party hidden from them), ordered by kind
    then code; all filters combine (AND)."""
    search = uc.AssetSearch(kinds=[k.value for k in kind or []], party_id=party_id, code=code, q=q, active=active)
    return asset_page(await uc.list_assets(runtime_of(request).db, p, search, page))


@router.get("/parties/{party_id}/assets", response_model=Page[AssetOut], tags=["parties"],
            responses=problem_responses(401, 404, 422))
async def party_assets(party_id: uuid.UUID, request: Request, p: CurrentPrincipal,
                       page: PageParams) -> Page[AssetOut]:
    """What the party holds (policies, supplies, properties, products), by kind then code."""
    return asset_page(await uc.party_assets(runtime_of(request).db, p, party_id, page))


@router.get("/assets/{asset_id}", response_model=AssetOut, responses=problem_responses(401, 404, 422))
async def get_asset(asset_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> AssetOut:
    return asset_out(await uc.get_asset(runtime_of(request).db, p, asset_id))


@router.patch("/assets/{asset_id}", response_model=AssetOut, responses=problem_responses(401, 403, 404, 422))
async def change_asset(asset_id: uuid.UUID, body: uc.AssetPatch, request: Request, p: CurrentPrincipal) -> AssetOut:
    """Change a policy, property or product; supplies are read-only (403, R2.1)."""
    return asset_out(await uc.change_asset(runtime_of(request).db, p, asset_id, body))


@router.delete("/assets/{asset_id}", status_code=204, response_class=Response,
               responses=problem_responses(401, 403, 404, 422))
async def retire_asset(asset_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> Response:
    """Retire a policy, property or product: it stays (cases may name it) but ``active`` is false.
    Supplies are read-only (403, R2.1)."""
    await uc.retire_asset(runtime_of(request).db, p, asset_id)
    return Response(status_code=204)


# -- supplies: the billing import (R2.1) ----------------------------------------------------------

_ROW_SCHEMA = uc.SupplyRow.model_json_schema()
_IMPORT_BODY = {"required": True, "description": (
    f"At most {rules.MAX_IMPORT_ROWS} rows and {rules.MAX_IMPORT_BYTES // (1024 * 1024)} MiB (413 beyond)"),
    "content": {
        "application/json": {"schema": {"oneOf": [
            {"type": "array", "items": _ROW_SCHEMA, "maxItems": rules.MAX_IMPORT_ROWS},
            {"type": "object", "properties": {"supplies": {"type": "array", "items": _ROW_SCHEMA,
                                                           "maxItems": rules.MAX_IMPORT_ROWS}}}]},
            "example": [{"external_id": "100200300", "name": "Suministro Av. Roosevelt 123",
                         "party_national_id": "00016297-5", "party_name": "María López",
                         "address": "Av. Roosevelt 123", "tariff": "BT-1"}]},
        "text/csv": {"schema": {"type": "string"}, "example":
                     "external_id;name;party_national_id;party_name;address;tariff\n"
                     "100200300;Suministro Av. Roosevelt 123;00016297-5;María López;Av. Roosevelt 123;BT-1\n"}}}


async def _bounded_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` bytes (never read whole first)."""
    too_large = Refused(413, "content-too-large", TITLES[413], (
        f"El archivo supera {limit // (1024 * 1024)} MiB; divídalo en partes.",
        f"The file exceeds {limit // (1024 * 1024)} MiB; split it."))
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


@router.post("/supplies/import", response_model=ImportResult, tags=["assets"],
             openapi_extra={"requestBody": _IMPORT_BODY}, responses=problem_responses(401, 403, 409, 413, 415, 422))
async def import_supplies(request: Request, p: CurrentPrincipal) -> ImportResult:
    """Load supplies from the billing system (R2.1), as CSV (``text/csv``) or JSON
    (``application/json``): upsert by ``external_id``; idempotent; bad rows are reported one by
    one and do not stop the others. An admin or an API key."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    report = await uc.import_supplies(runtime_of(request).db, p,
                                      lambda: _bounded_body(request, rules.MAX_IMPORT_BYTES),
                                      content_type, language(request))
    return ImportResult(created=report.created, updated=report.updated, unchanged=report.unchanged,
                        parties_created=report.parties_created,
                        errors=[ImportRowError(**vars(e)) for e in report.errors],
                        rows=[ImportRowOutcome(row=r.row, external_id=r.external_id, outcome=r.outcome,
                                               reasons=[ImportRowError(**vars(e)) for e in r.reasons])
                              for r in report.rows])

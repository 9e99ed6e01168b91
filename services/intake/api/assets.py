"""Assets a party holds: policies, supplies (service points), properties, products (R0.1, R2.1, R4.2).

- Policies, properties and products are created and changed by agents (the roles that write
  parties). An asset whose owning party is hidden from the caller (R2.7) is hidden too (404).
- Supplies are NOT created by users (R2.1): the billing system loads them through
  ``POST /supplies/import`` (an admin or an API key), as CSV (``text/csv``) or JSON
  (``application/json``), upserting by external id. Everywhere else they are read-only:
  creating one, ``PATCH`` or ``DELETE`` is 403 with the reason; ``PUT`` exists for no asset (405).

The import is idempotent: a row equal to what is stored counts as ``unchanged`` and emits
nothing; a bad row is reported (``errors``: row number, field, message) and the others are still
loaded. Each row is the supply's whole state as billing has it: name, ``active`` and
``attributes`` (every CSV column or JSON key besides the known ones, e.g. address, tariff,
meter), and its holder by ``party_national_id`` — the party with that national id in the tenant,
created (kind ``party_kind``: person or company, name ``party_name``) when missing. A row
without a holder leaves the supply without one."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator
from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters.party_tables import (
    assets,
    emit_asset,
    emit_party,
    insert_asset,
    parties,
    party_visible,
)
from services.intake.api.deps import CurrentPrincipal
from services.intake.api.parties import (
    Name,
    NationalIdRaw,
    decode_cursor,
    encode_cursor,
    require_writer,
    small_json,
    tenant_country,
    visible_party_or_404,
)
from services.intake.domain import parties as rules
from services.intake.domain.access import Principal, can_import_supplies
from shared.db import Tx, insert_ignoring_duplicates, utcnow
from shared.problems import (
    Problem,
    field_error,
    forbidden,
    invalid,
    language,
    not_found,
    refuse_null,
    validation_errors,
)
from shared.runtime import runtime_of

router = APIRouter(tags=["assets"])

ASSET_NOT_FOUND = ("Bien no encontrado", "Asset not found")
NO_IMPORT = ("Sólo un administrador o una integración (clave de API) puede importar suministros.",
             "Only an administrator or an integration (API key) may import supplies.")
MAX_IMPORT_ROWS = 10_000

ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80,
                                              pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:#-]*$")]


class AssetIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "kind": "policy", "code": "POL-2024-000123", "name": "Seguro de vida individual",
        "attributes": {"plan": "Vida Plus", "start": "2024-03-01"}, "party_id": "<a party id>"}})
    kind: rules.AssetKind = Field(description="policy, property or product (supplies come from the billing import)")
    code: ExternalId = Field(description="External id: policy number, property or product code")
    name: Name
    attributes: dict[str, Any] = Field(default_factory=dict, description="Kind-specific attributes")
    party_id: uuid.UUID | None = Field(default=None, description="The owning party")

    _attributes = field_validator("attributes")(small_json)


class AssetPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: ExternalId | None = None
    name: Name | None = None
    attributes: dict[str, Any] | None = None
    party_id: uuid.UUID | None = None
    active: bool | None = None

    _attributes = field_validator("attributes")(lambda v: v if v is None else small_json(v))
    _no_null = refuse_null("code", "name", "attributes", "active")


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


class AssetPage(BaseModel):
    items: list[AssetOut]
    next_after: str | None


def asset_out(row: Any) -> AssetOut:
    return AssetOut(id=row.id, kind=row.kind, code=row.code, name=row.name, attributes=row.attributes,
                    party_id=row.party_id, active=row.active, source=row.source,
                    read_only=row.kind == rules.AssetKind.SUPPLY, created_by=row.created_by,
                    created_at=row.created_at, updated_at=row.updated_at)


def _visible_assets(p: Principal) -> Any:
    return and_(assets.c.tenant == p.tenant, party_visible(p, assets.c.party_id))


async def _asset_or_404(conn: AsyncConnection, p: Principal, asset_id: uuid.UUID) -> Any:
    row = (await conn.execute(select(assets).where(assets.c.id == asset_id, _visible_assets(p)))).first()
    if row is None:
        raise not_found(ASSET_NOT_FOUND)
    return row


def _refuse_supply(kind: str) -> None:
    if kind == rules.AssetKind.SUPPLY:
        raise forbidden(rules.SUPPLIES_READ_ONLY)


async def _check_party(conn: AsyncConnection, p: Principal, party_id: uuid.UUID | None) -> None:
    if party_id is None:
        return
    try:
        await visible_party_or_404(conn, p, party_id)
    except Problem:
        raise invalid(field_error("party_id", ("El cliente o parte no existe en este cliente.",
                                               "No such party in this tenant."), "unknown_party")) from None


DUPLICATE_CODE = field_error("code", ("Ya existe un bien de ese tipo con ese código.",
                                      "An asset of that kind with that code exists."), "duplicate_code")


@router.post("/assets", status_code=201, response_model=AssetOut,
             responses={403: {"description": "Viewer, API key, or a supply (imported only, R2.1)"}})
async def create_asset(body: AssetIn, request: Request, response: Response, p: CurrentPrincipal) -> AssetOut:
    """Register a policy, property or product, optionally with its owning party."""
    require_writer(p)
    _refuse_supply(body.kind)
    try:
        async with runtime_of(request).db.transaction() as tx:
            await _check_party(tx.conn, p, body.party_id)
            now = utcnow()
            row = await insert_asset(tx, {
                "id": uuid.uuid4(), "tenant": p.tenant, "kind": body.kind.value, "code": body.code, "name": body.name,
                "search_name": rules.fold(body.name), "attributes": body.attributes, "party_id": body.party_id,
                "active": True, "source": "user", "created_by": p.user_id, "created_at": now, "updated_at": now})
    except IntegrityError:
        raise invalid(DUPLICATE_CODE) from None
    response.headers["Location"] = f"/assets/{row.id}"
    return asset_out(row)


@router.get("/assets", response_model=AssetPage)
async def list_assets(request: Request, p: CurrentPrincipal,
                      kind: Annotated[list[rules.AssetKind] | None, Query()] = None,
                      party_id: Annotated[uuid.UUID | None, Query()] = None,
                      code: Annotated[str | None, Query(max_length=80, description="exact external id")] = None,
                      q: Annotated[str | None, Query(max_length=200, description="name (partial) or code prefix")] = None,
                      active: Annotated[bool | None, Query()] = None,
                      limit: Annotated[int, Query(ge=1, le=500)] = 100,
                      after: Annotated[str | None, Query(max_length=600)] = None) -> AssetPage:
    """Assets the caller may see, ordered by kind then code (keyset paging with ``after``)."""
    stmt = select(assets).where(_visible_assets(p))
    if kind:
        stmt = stmt.where(assets.c.kind.in_([k.value for k in kind]))
    if party_id is not None:
        stmt = stmt.where(assets.c.party_id == party_id)
    if code:
        stmt = stmt.where(assets.c.code == code.strip())
    if q and q.strip():
        stmt = stmt.where(or_(assets.c.search_name.like(f"%{rules.like_escape(rules.fold(q))}%", escape="\\"),
                              assets.c.code.like(f"{rules.like_escape(q.strip())}%", escape="\\")))
    if active is not None:
        stmt = stmt.where(assets.c.active.is_(active))
    if after:
        last_kind, last_code = decode_cursor(after, 2)
        stmt = stmt.where(or_(assets.c.kind > last_kind, and_(assets.c.kind == last_kind, assets.c.code > last_code)))
    async with runtime_of(request).db.read() as conn:
        rows = (await conn.execute(stmt.order_by(assets.c.kind, assets.c.code).limit(limit + 1))).all()
    page = rows[:limit]
    nxt = encode_cursor(page[-1].kind, page[-1].code) if len(rows) > limit else None
    return AssetPage(items=[asset_out(r) for r in page], next_after=nxt)


@router.get("/parties/{party_id}/assets", response_model=list[AssetOut], tags=["parties"])
async def party_assets(party_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> list[AssetOut]:
    """What the party holds (policies, supplies, properties, products)."""
    async with runtime_of(request).db.read() as conn:
        await visible_party_or_404(conn, p, party_id)
        rows = (await conn.execute(select(assets).where(assets.c.tenant == p.tenant, assets.c.party_id == party_id)
                                   .order_by(assets.c.kind, assets.c.code))).all()
    return [asset_out(r) for r in rows]


@router.get("/assets/{asset_id}", response_model=AssetOut)
async def get_asset(asset_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> AssetOut:
    async with runtime_of(request).db.read() as conn:
        return asset_out(await _asset_or_404(conn, p, asset_id))


@router.patch("/assets/{asset_id}", response_model=AssetOut,
              responses={403: {"description": "Supplies are read-only (R2.1)"}})
async def change_asset(asset_id: uuid.UUID, body: AssetPatch, request: Request, p: CurrentPrincipal) -> AssetOut:
    require_writer(p)
    changes = body.model_dump(exclude_unset=True)
    try:
        async with runtime_of(request).db.transaction() as tx:
            row = await _asset_or_404(tx.conn, p, asset_id)
            _refuse_supply(row.kind)
            if changes.get("party_id"):
                await _check_party(tx.conn, p, changes["party_id"])
            if "name" in changes:
                changes["search_name"] = rules.fold(changes["name"])
            row = await _update_asset(tx, row, changes)
    except IntegrityError:
        raise invalid(DUPLICATE_CODE) from None
    return asset_out(row)


async def _update_asset(tx: Tx, row: Any, changes: dict[str, Any]) -> Any:
    if any(getattr(row, k) != v for k, v in changes.items()):
        changes["updated_at"] = utcnow()
        await tx.conn.execute(update(assets).where(assets.c.id == row.id).values(**changes))
        row = (await tx.conn.execute(select(assets).where(assets.c.id == row.id))).one()
        await emit_asset(tx, row)
    return row


@router.delete("/assets/{asset_id}", status_code=204,
               responses={403: {"description": "Supplies are read-only (R2.1)"}})
async def retire_asset(asset_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> Response:
    """Retire a policy, property or product: it stays (cases may name it) but ``active`` is false."""
    require_writer(p)
    async with runtime_of(request).db.transaction() as tx:
        row = await _asset_or_404(tx.conn, p, asset_id)
        _refuse_supply(row.kind)
        await _update_asset(tx, row, {"active": False})
    return Response(status_code=204)


# -- supplies: the billing import (R2.1) ----------------------------------------------------------

class SupplyRow(BaseModel):
    """One supply as the billing system has it. Other CSV columns / JSON keys go to ``attributes``."""

    model_config = ConfigDict(extra="forbid")
    external_id: ExternalId = Field(description="The supply number in the billing system")
    name: Name = Field(description="How agents recognise it (holder and address, e.g.)")
    party_national_id: NationalIdRaw | None = Field(default=None, description="The holder's national id")
    party_name: Name | None = Field(default=None, description="The holder's name (to create a missing party)")
    party_kind: Literal["person", "company"] = "person"
    active: bool = True
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("active", mode="before")
    @classmethod
    def _spanish_yes(cls, v: Any) -> Any:
        return "true" if isinstance(v, str) and v.strip().lower() in ("si", "sí", "s") else v

    _attributes = field_validator("attributes")(small_json)


KNOWN = frozenset(SupplyRow.model_fields)


class ImportRowError(BaseModel):
    row: int = Field(description="1-based number of the data row (the CSV header is not counted)")
    external_id: str | None
    field: str
    message: str
    code: str


class ImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    parties_created: int
    errors: list[ImportRowError]


def _parse_body(raw: bytes, content_type: str) -> list[Any]:
    """The rows of a CSV or JSON body; a 422 (415) problem when the body as a whole is unusable."""

    def bad(reason_es: str, reason_en: str, code: str) -> Problem:
        return invalid(field_error("body", (f"No se pudo leer el archivo: {reason_es}.",
                                            f"The file could not be read: {reason_en}."), code))

    if content_type in ("text/csv", "application/csv"):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")  # Excel's export in Latin America
        if not text.strip():
            raise bad("está vacío", "it is empty", "empty_import")
        try:
            dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel  # type: ignore[assignment]
        try:
            reader = csv.DictReader(io.StringIO(text), dialect=dialect)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in ("external_id", "name") if c not in header]
            if missing:
                raise bad(f"faltan las columnas {', '.join(missing)}", f"missing columns {', '.join(missing)}",
                          "missing_columns")
            reader.fieldnames = header
            rows: list[Any] = []
            for rec in reader:
                rows.append({k: (v.strip() if isinstance(v, str) else v) for k, v in rec.items()
                             if k is not None and v not in (None, "")})
                if len(rows) > MAX_IMPORT_ROWS:
                    break
        except csv.Error as exc:
            raise bad(f"CSV mal formado ({exc})", f"malformed CSV ({exc})", "malformed_csv") from None
    elif content_type == "application/json":
        try:
            data = json.loads(raw)
        except ValueError:
            raise bad("no es JSON válido", "it is not valid JSON", "json_invalid") from None
        rows = data.get("supplies") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise bad('se espera una lista de filas o {"supplies": [...]}',
                      'expected a list of rows or {"supplies": [...]}', "not_a_list")
    else:
        raise Problem(415, "unsupported-media-type", ("Tipo de contenido no soportado", "Unsupported media type"),
                      ("Envíe los suministros como text/csv o application/json.",
                       "Send the supplies as text/csv or application/json."))
    if not rows:
        raise bad("no tiene filas", "it has no rows", "empty_import")
    if len(rows) > MAX_IMPORT_ROWS:
        raise bad(f"más de {MAX_IMPORT_ROWS} filas; divídalo", f"more than {MAX_IMPORT_ROWS} rows; split it",
                  "too_many_rows")
    return rows


def _row_model(raw: Any) -> SupplyRow:
    """Validate one row; keys besides the known ones join ``attributes`` (raises ValidationError)."""
    if not isinstance(raw, dict):
        return SupplyRow.model_validate(raw)  # raises: not an object
    attributes = raw.get("attributes", {})
    if isinstance(attributes, dict):
        attributes = {**{k: v for k, v in raw.items() if k not in KNOWN}, **attributes}
    known = {k: v for k, v in raw.items() if k in KNOWN and k != "attributes"}
    return SupplyRow.model_validate({**known, "attributes": attributes})


_IMPORT_BODY = {"required": True, "content": {
    "application/json": {"schema": {"oneOf": [
        {"type": "array", "items": SupplyRow.model_json_schema()},
        {"type": "object", "properties": {"supplies": {"type": "array", "items": SupplyRow.model_json_schema()}}}]}},
    "text/csv": {"schema": {"type": "string"}, "example":
                 "external_id;name;party_national_id;party_name;address;tariff\n"
                 "100200300;Suministro Av. Roosevelt 123;00016297-5;María López;Av. Roosevelt 123;BT-1\n"}}}


@router.post("/supplies/import", response_model=ImportResult, tags=["assets"], openapi_extra={"requestBody": _IMPORT_BODY},
             responses={403: {"description": "Only an admin or an API key"}, 415: {"description": "Not CSV or JSON"}})
async def import_supplies(request: Request, p: CurrentPrincipal) -> ImportResult:
    """Load supplies from the billing system (R2.1): upsert by ``external_id``; idempotent; bad rows
    are reported one by one and do not stop the others."""
    if not can_import_supplies(p):
        raise forbidden(NO_IMPORT)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw_rows = _parse_body(await request.body(), content_type)
    try:
        return await _import(runtime_of(request), p, raw_rows, language(request))
    except IntegrityError:  # another import created some of these supplies or holders meanwhile
        raise Problem(409, "import-conflict", ("Conflicto", "Conflict"),
                      ("Otra importación de estos suministros terminó al mismo tiempo; envíe el archivo de nuevo.",
                       "Another import of these supplies finished meanwhile; send the file again.")) from None


async def _import(rt: Any, p: Principal, raw_rows: list[Any], lang: str) -> ImportResult:
    i = 0 if lang == "es" else 1
    errors: list[ImportRowError] = []

    def fail(n: int, ext: Any, field: str, message: tuple[str, str] | str, code: str) -> None:
        errors.append(ImportRowError(row=n, external_id=ext if isinstance(ext, str) else None, field=field,
                                     message=message if isinstance(message, str) else message[i], code=code))

    async with rt.db.transaction() as tx:
        country = await tenant_country(tx.conn, p.tenant)
        valid: list[tuple[int, SupplyRow, rules.NationalId | None]] = []
        seen: set[str] = set()
        for n, raw in enumerate(raw_rows, start=1):
            ext = raw.get("external_id") if isinstance(raw, dict) else None
            try:
                row = _row_model(raw)
            except ValidationError as exc:
                for e in validation_errors(list(exc.errors()), lang):
                    fail(n, ext, e["field"] or "row", e["message"], e["code"])
                continue
            if row.external_id in seen:
                fail(n, row.external_id, "external_id", ("El suministro se repite en el archivo.",
                                                         "The supply appears twice in the file."), "duplicate_in_batch")
                continue
            seen.add(row.external_id)
            nid = None
            if row.party_national_id:
                try:
                    nid = rules.normalize_national_id(row.party_national_id, country)
                except rules.InvalidNationalId as exc:
                    fail(n, row.external_id, "party_national_id", exc.message, "invalid_national_id")
                    continue
            elif row.party_name:
                fail(n, row.external_id, "party_national_id",
                     ("Indique el número de identificación del titular para asociarlo.",
                      "Give the holder's national id to link them."), "party_national_id_required")
                continue
            valid.append((n, row, nid))

        holders, parties_created = await _resolve_holders(tx, p, valid, fail)
        existing = await _existing_supplies(tx.conn, p.tenant, [r.external_id for _, r, _ in valid])
        updated = unchanged = 0
        now = utcnow()
        new: list[dict[str, Any]] = []
        for _n, row, nid in valid:
            if nid is not None and nid.key not in holders:
                continue  # reported by _resolve_holders
            state = {"name": row.name, "search_name": rules.fold(row.name), "attributes": row.attributes,
                     "party_id": holders[nid.key] if nid is not None else None, "active": row.active}
            current = existing.get(row.external_id)
            if current is None:
                new.append({"id": uuid.uuid4(), "tenant": p.tenant, "kind": rules.AssetKind.SUPPLY.value,
                            "code": row.external_id, **state, "source": "billing_import", "created_by": None,
                            "created_at": now, "updated_at": now})
            elif all(getattr(current, k) == v for k, v in state.items()):
                unchanged += 1
            else:
                await tx.conn.execute(update(assets).where(assets.c.id == current.id).values(**state, updated_at=now))
                await emit_asset(tx, _Row({**current._mapping, **state, "updated_at": now}))
                updated += 1
        for start in range(0, len(new), 1000):
            await tx.conn.execute(insert(assets), new[start:start + 1000])
        for values in new:
            await emit_asset(tx, _Row(values))
    errors.sort(key=lambda e: e.row)
    return ImportResult(created=len(new), updated=updated, unchanged=unchanged, parties_created=parties_created,
                        errors=errors)


class _Row:
    def __init__(self, d: dict[str, Any]) -> None:
        self.__dict__.update(d)


async def _existing_supplies(conn: AsyncConnection, tenant: str, codes: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for start in range(0, len(codes), 500):
        chunk = codes[start:start + 500]
        for r in await conn.execute(select(assets).where(assets.c.tenant == tenant,
                                                         assets.c.kind == rules.AssetKind.SUPPLY.value,
                                                         assets.c.code.in_(chunk))):
            found[r.code] = r
    return found


async def _resolve_holders(tx: Tx, p: Principal, valid: list[tuple[int, SupplyRow, rules.NationalId | None]],
                           fail: Any) -> tuple[dict[str, uuid.UUID], int]:
    """The holder party of each national id in the batch: found in the tenant, or created (kind
    person or company, from the first row naming it). Rows whose holder is missing and unnamed
    are reported."""
    keys = sorted({nid.key for _, _, nid in valid if nid is not None})
    holders: dict[str, uuid.UUID] = {}
    for start in range(0, len(keys), 500):
        for r in await tx.conn.execute(select(parties.c.id, parties.c.national_id_key).where(
                parties.c.tenant == p.tenant, parties.c.national_id_key.in_(keys[start:start + 500]))):
            holders[r.national_id_key] = r.id
    created = 0
    unnamed: set[str] = set()
    for n, row, nid in valid:
        if nid is None or nid.key in holders:
            continue
        if nid.key in unnamed or not row.party_name:
            # Another row of the file may still name them: look ahead before giving up.
            namer = next((r for _, r, k in valid if k is not None and k.key == nid.key and r.party_name), None)
            if namer is None:
                unnamed.add(nid.key)
                fail(n, row.external_id, "party_name",
                     ("El titular no existe: indique su nombre para crearlo.",
                      "The holder does not exist: give their name to create them."), "party_name_required")
                continue
            row = namer
        now = utcnow()
        values = {"id": uuid.uuid4(), "tenant": p.tenant, "kind": row.party_kind, "internal": False,
                  "name": row.party_name, "search_name": rules.fold(row.party_name or ""),
                  "national_id": nid.value, "national_id_key": nid.key, "email": None, "phone": None,
                  "address": None, "notes": None, "details": {}, "restricted": False, "active": True,
                  "source": "billing_import", "created_by": None, "created_at": now, "updated_at": now}
        if await insert_ignoring_duplicates(tx.conn, parties, values):
            await emit_party(tx, _Row(values), [])
            holders[nid.key] = values["id"]
            created += 1
        else:  # created meanwhile by someone else
            holders[nid.key] = (await tx.conn.execute(select(parties.c.id).where(
                parties.c.tenant == p.tenant, parties.c.national_id_key == nid.key))).scalar_one()
    return holders, created


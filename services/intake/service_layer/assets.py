"""Use cases of the assets a party holds: policies, supplies (service points), properties,
products (R0.1, R2.1, R4.2), each one transaction.

- Policies, properties and products are created and changed by agents (the roles that write
  parties). An asset whose owning party is hidden from the caller (R2.7) is hidden too (404).
  A change locks the asset row (``FOR UPDATE``) and decides visibility and the supply rule on it.
- Supplies are NOT created by users (R2.1): the billing system loads them through
  ``import_supplies`` (an admin or an API key), as CSV or JSON, upserting by external id.
  Everywhere else they are read-only: creating, changing or retiring one is 403 with the reason.
- Events: ``asset.upserted.v1`` (subject: the asset id) for every created or changed asset, and
  ``party.upserted.v1`` for a holder the import creates.

The import is idempotent: a row equal to what is stored counts as ``unchanged`` and emits
nothing; a bad row is reported (row number, field, message) and the others are still loaded.
Each row is the supply's whole state as billing has it: name, ``active`` and ``attributes``
(every CSV column or JSON key besides the known ones, e.g. address, tariff, meter), and its
holder by ``party_national_id`` — the party with that national id in the tenant, created (kind
``party_kind``: person or company, name ``party_name``) when missing. A row without a holder
leaves the supply without one.

Bounds of one import (``domain/parties.py``): at most ``MAX_IMPORT_ROWS`` (10,000) rows and
``MAX_IMPORT_BYTES`` (8 MiB, 413 beyond); a JSON file is a list of rows or ``{"supplies": [...]}``,
each row's values at most ``MAX_FREE_JSON_DEPTH`` levels deep, numbers finite. A file that breaks
them is refused whole (422 naming the row and field) before any row is stored."""

from __future__ import annotations

import csv
import io
import json
import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from services.intake.adapters import party_tables as tables
from services.intake.domain import parties as rules
from services.intake.domain.access import Principal, can_import_supplies
from services.intake.service_layer.parties import (
    FreeJson,
    Name,
    NationalIdRaw,
    emit_party,
    require_writer,
    visible_party,
)
from services.intake.service_layer.unit_of_work import UnitOfWork
from shared.contracts.events import AssetUpserted
from shared.db import Database, insert_ignoring_duplicates, utcnow
from shared.fields import InputModel, check_text
from shared.paging import Page, PageQuery
from shared.problems import refuse_null, validation_errors
from shared.refusals import FieldErrors, Refused, conflict, field_error, forbidden, invalid, not_found

ASSET_NOT_FOUND = ("Bien no encontrado", "Asset not found")
NO_IMPORT = ("Sólo un administrador o una integración (clave de API) puede importar suministros.",
             "Only an administrator or an integration (API key) may import supplies.")
DUPLICATE_CODE = field_error("code", ("Ya existe un bien de ese tipo con ese código.",
                                      "An asset of that kind with that code exists."), "duplicate_code")
SUPPLY = rules.AssetKind.SUPPLY.value

ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80,
                                              pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:#-]*$")]


class AssetIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "kind": "policy", "code": "POL-2024-000123", "name": "Seguro de vida individual",
        "attributes": {"plan": "Vida Plus", "start": "2024-03-01"},
        "party_id": "0d5e23fa-dbda-4684-b944-ec2887645f22"}})
    kind: rules.AssetKind = Field(description="policy, property or product (supplies come from the billing import)")
    code: ExternalId = Field(description="External id: policy number, property or product code")
    name: Name
    attributes: FreeJson = Field(default_factory=dict, description="Kind-specific attributes")
    party_id: uuid.UUID | None = Field(default=None, description="The owning party")


class AssetPatch(InputModel):
    """Fields to change; ``party_id: null`` detaches the asset from its owner."""

    model_config = ConfigDict(json_schema_extra={"example": {"name": "Los Robles departamento 1204"}})
    code: ExternalId | None = None
    name: Name | None = None
    attributes: FreeJson | None = None
    party_id: uuid.UUID | None = None
    active: bool | None = None

    _no_null = refuse_null("code", "name", "attributes", "active")


class SupplyRow(InputModel):
    """One supply as the billing system has it. Other CSV columns / JSON keys go to ``attributes``."""

    external_id: ExternalId = Field(description="The supply number in the billing system")
    name: Name = Field(description="How agents recognise it (holder and address, e.g.)")
    party_national_id: NationalIdRaw | None = Field(default=None, description="The holder's national id")
    party_name: Name | None = Field(default=None, description="The holder's name (to create a missing party)")
    party_kind: Literal["person", "company"] = "person"
    active: bool = True
    attributes: FreeJson = Field(default_factory=dict)

    @field_validator("active", mode="before")
    @classmethod
    def _spanish_yes(cls, v: Any) -> Any:
        return "true" if isinstance(v, str) and v.strip().lower() in ("si", "sí", "s") else v


KNOWN = frozenset(SupplyRow.model_fields)


@dataclass(frozen=True)
class AssetSearch:
    kinds: list[str] = field(default_factory=list)
    party_id: uuid.UUID | None = None
    code: str | None = None
    q: str | None = None
    active: bool | None = None


@dataclass(frozen=True)
class RowError:
    row: int
    external_id: str | None
    field: str
    message: str
    code: str


@dataclass(frozen=True)
class RowOutcome:
    """What became of one data row: ``created``, ``updated``, ``unchanged`` or ``refused`` (its
    reasons: the row's errors)."""

    row: int
    external_id: str | None
    outcome: Literal["created", "updated", "unchanged", "refused"]
    reasons: list[RowError] = field(default_factory=list)


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int
    unchanged: int
    parties_created: int
    errors: list[RowError]
    rows: list[RowOutcome] = field(default_factory=list)  # every data row, in the file's order


# -- assets ------------------------------------------------------------------------------------

def asset_event(row: Any) -> AssetUpserted:
    return AssetUpserted(asset_id=row.id, kind=row.kind, code=row.code, name=row.name, party_id=row.party_id,
                         active=row.active, source=row.source, created_at=row.created_at,
                         updated_at=row.updated_at)


async def emit_asset(uow: UnitOfWork, row: Any) -> None:
    await uow.emit(row.tenant, "asset.upserted.v1", asset_event(row), subject=str(row.id))


async def store_asset(uow: UnitOfWork, values: dict[str, Any]) -> Row[Any]:
    """Insert an asset and emit ``asset.upserted.v1``."""
    row = await tables.insert_asset(uow.conn, values)
    await emit_asset(uow, row)
    return row


def _refuse_supply(kind: str) -> None:
    if kind == SUPPLY:
        raise forbidden(rules.SUPPLIES_READ_ONLY)


async def _check_party(conn: Any, who: Principal, party_id: uuid.UUID | None) -> None:
    """The owning party must be a party the caller sees (R2.7) — else 422, not a 404 of the asset."""
    if party_id is None:
        return
    try:
        await visible_party(conn, who, party_id)
    except Refused:
        raise invalid(field_error("party_id", ("El cliente o parte no existe en este cliente.",
                                               "No such party in this tenant."), "unknown_party")) from None


async def create_asset(db: Database, who: Principal, body: AssetIn) -> Row[Any]:
    """Register a policy, property or product, optionally with its owning party (not a supply, R2.1)."""
    require_writer(who)
    _refuse_supply(body.kind)
    try:
        async with UnitOfWork(db) as uow:
            await _check_party(uow.conn, who, body.party_id)
            now = utcnow()
            return await store_asset(uow, {
                "id": uuid.uuid4(), "tenant": who.tenant, "kind": body.kind.value, "code": body.code,
                "name": body.name, "search_name": rules.fold(body.name), "attributes": body.attributes,
                "party_id": body.party_id, "active": True, "source": "user", "created_by": who.user_id,
                "created_at": now, "updated_at": now})
    except IntegrityError:
        raise invalid(DUPLICATE_CODE) from None


async def list_assets(db: Database, who: Principal, search: AssetSearch, page: PageQuery) -> Page[Any]:
    """Assets the caller may see matching every filter, by kind then code; items are rows."""
    after = page.after("assets", str, str)
    q = search.q.strip() if search.q and search.q.strip() else None
    conds = tables.asset_filters(
        kinds=search.kinds, party_id=search.party_id, code=search.code.strip() if search.code else None,
        name_pattern=f"%{rules.like_escape(rules.fold(q))}%" if q else None,
        code_prefix=f"{rules.like_escape(q)}%" if q else None, active=search.active)
    async with db.read() as conn:
        rows = await tables.find_assets(conn, who, conds, after=after, limit=page.limit + 1)
    return Page[Any].of(rows, page, "assets", key=lambda r: (r.kind, r.code), item=lambda r: r)


async def party_assets(db: Database, who: Principal, party_id: uuid.UUID, page: PageQuery) -> Page[Any]:
    """What a visible party holds (policies, supplies, properties, products); 404 if hidden (R2.7)."""
    after = page.after("party-assets", str, str)
    async with db.read() as conn:
        await visible_party(conn, who, party_id)
        rows = await tables.find_assets(conn, who, tables.asset_filters(party_id=party_id), after=after,
                                        limit=page.limit + 1)
    return Page[Any].of(rows, page, "party-assets", key=lambda r: (r.kind, r.code), item=lambda r: r)


async def get_asset(db: Database, who: Principal, asset_id: uuid.UUID) -> Row[Any]:
    async with db.read() as conn:
        row = await tables.get_visible_asset(conn, who, asset_id)
    if row is None:
        raise not_found(ASSET_NOT_FOUND)
    return row


async def _locked_asset(uow: UnitOfWork, who: Principal, asset_id: uuid.UUID) -> Row[Any]:
    """The asset locked for a change; 404 unless its owner is visible to ``who`` (R2.7), decided
    on the locked row; 403 for a supply (R2.1)."""
    row = await tables.lock_asset(uow.conn, who.tenant, asset_id)
    if row is None or not await tables.can_see_party_id(uow.conn, who, row.party_id):
        raise not_found(ASSET_NOT_FOUND)
    _refuse_supply(row.kind)
    return row


async def _apply(uow: UnitOfWork, row: Row[Any], changes: dict[str, Any]) -> Row[Any]:
    if any(getattr(row, k) != v for k, v in changes.items()):  # a no-op emits nothing
        row = await tables.update_asset(uow.conn, row.id, {**changes, "updated_at": utcnow()})
        await emit_asset(uow, row)
    return row


async def change_asset(db: Database, who: Principal, asset_id: uuid.UUID, body: AssetPatch) -> Row[Any]:
    require_writer(who)
    changes = body.model_dump(exclude_unset=True)
    try:
        async with UnitOfWork(db) as uow:
            row = await _locked_asset(uow, who, asset_id)
            if changes.get("party_id"):
                await _check_party(uow.conn, who, changes["party_id"])
            if "name" in changes:
                changes["search_name"] = rules.fold(changes["name"])
            return await _apply(uow, row, changes)
    except IntegrityError:
        raise invalid(DUPLICATE_CODE) from None


async def retire_asset(db: Database, who: Principal, asset_id: uuid.UUID) -> None:
    """A retired policy, property or product stays (cases may name it) with ``active`` false."""
    require_writer(who)
    async with UnitOfWork(db) as uow:
        await _apply(uow, await _locked_asset(uow, who, asset_id), {"active": False})


# -- supplies: the billing import (R2.1) ----------------------------------------------------------

def _unreadable(reason: tuple[str, str], code: str) -> Refused:
    return invalid(field_error("body", (f"No se pudo leer el archivo: {reason[0]}.",
                                        f"The file could not be read: {reason[1]}."), code))


class _NotFinite(ValueError):
    pass


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(text)
    return value


def _no_constant(name: str) -> Any:
    raise _NotFinite(name)  # NaN, Infinity: not JSON, and jsonb refuses them


def _csv_rows(raw: bytes) -> list[Any]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")  # Excel's export in Latin America
    if not text.strip():
        raise _unreadable(("está vacío", "it is empty"), "empty_import")
    try:
        dialect: Any = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        reader = csv.DictReader(io.StringIO(text), dialect=dialect)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in ("external_id", "name") if c not in header]
        if missing:
            raise _unreadable((f"faltan las columnas {', '.join(missing)}", f"missing columns {', '.join(missing)}"),
                              "missing_columns")
        reader.fieldnames = header
        rows: list[Any] = []
        for rec in reader:
            rows.append({k: (v.strip() if isinstance(v, str) else v) for k, v in rec.items()
                         if k is not None and v not in (None, "")})
            if len(rows) > rules.MAX_IMPORT_ROWS:
                break
    except csv.Error as exc:
        raise _unreadable((f"CSV mal formado ({exc})", f"malformed CSV ({exc})"), "malformed_csv") from None
    return rows


def _json_rows(raw: bytes) -> tuple[list[Any], str]:
    """The rows of a JSON import and the pointer prefix of a row (``#/body/{i}`` or
    ``#/body/supplies/{i}``)."""
    try:
        data = json.loads(raw, parse_float=_finite, parse_constant=_no_constant)
    except _NotFinite:
        raise _unreadable(("tiene números no finitos (NaN o infinito)", "it has non-finite numbers (NaN or infinity)"),
                          "number_not_finite") from None
    except RecursionError:
        raise _unreadable((f"está anidado demasiado (una fila tiene a lo más {rules.MAX_FREE_JSON_DEPTH} niveles)",
                           f"it is nested too deeply (a row has at most {rules.MAX_FREE_JSON_DEPTH} levels)"),
                          "json_too_deep") from None
    except ValueError:  # also UnicodeDecodeError and integers beyond Python's digit limit
        raise _unreadable(("no es JSON válido", "it is not valid JSON"), "json_invalid") from None
    if isinstance(data, dict) and isinstance(data.get("supplies"), list):
        return data["supplies"], "supplies."
    if isinstance(data, list):
        return data, ""
    raise _unreadable(('se espera una lista de filas o {"supplies": [...]}',
                       'expected a list of rows or {"supplies": [...]}'), "not_a_list")


def _printable(value: Any) -> str | None:
    """``value`` if it is text that can be echoed back (no NUL, no lone surrogate)."""
    if not isinstance(value, str):
        return None
    try:
        check_text(value)
    except PydanticCustomError:
        return None
    return value


def _check_structure(rows: list[Any], prefix: str) -> None:
    """Before any row is looked at: no value nested beyond the bound. A file that breaks it is
    refused whole, each offending row and field named (the row number counts from 1)."""
    errors = FieldErrors()
    too_deep = (f"Anidado demasiado (máximo {rules.MAX_FREE_JSON_DEPTH} niveles).",
                f"Nested too deeply (at most {rules.MAX_FREE_JSON_DEPTH} levels).")
    for i, row in enumerate(rows):
        if isinstance(row, dict):
            for key, value in row.items():
                if rules.json_depth(value) > rules.MAX_FREE_JSON_DEPTH:
                    name = _printable(key)
                    where = f"{prefix}{i}.{name}" if name and "." not in name and "/" not in name else f"{prefix}{i}"
                    errors.add(where, too_deep, "json_too_deep", row=i + 1)
        elif rules.json_depth(row) > rules.MAX_FREE_JSON_DEPTH:
            errors.add(f"{prefix}{i}", too_deep, "json_too_deep", row=i + 1)
    errors.raise_if_any()


def read_supply_file(raw: bytes, content_type: str) -> list[Any]:
    """The rows of a CSV or JSON body; a 422 (415) problem when the file as a whole is unusable."""
    if content_type in ("text/csv", "application/csv"):
        rows = _csv_rows(raw)
        prefix = None
    elif content_type == "application/json":
        rows, prefix = _json_rows(raw)
    else:
        raise Refused(415, "unsupported-media-type", ("Tipo de contenido no soportado", "Unsupported media type"),
                      ("Envíe los suministros como text/csv o application/json.",
                       "Send the supplies as text/csv or application/json."))
    if not rows:
        raise _unreadable(("no tiene filas", "it has no rows"), "empty_import")
    if len(rows) > rules.MAX_IMPORT_ROWS:
        raise _unreadable((f"más de {rules.MAX_IMPORT_ROWS} filas; divídalo",
                           f"more than {rules.MAX_IMPORT_ROWS} rows; split it"), "too_many_rows")
    if prefix is not None:
        _check_structure(rows, prefix)
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


async def import_supplies(db: Database, who: Principal, body: Callable[[], Awaitable[bytes]], content_type: str,
                          lang: str) -> ImportReport:
    """Load supplies from the billing system (R2.1): upsert by ``external_id``; idempotent; bad rows
    are reported one by one and do not stop the others. The supplies touched are locked.
    ``body`` reads the file (bounded by the caller), only once the caller may import."""
    if not can_import_supplies(who):
        raise forbidden(NO_IMPORT)
    raw_rows = read_supply_file(await body(), content_type)
    try:
        return await _import(db, who, raw_rows, lang)
    except IntegrityError:  # another import created some of these supplies or holders meanwhile
        raise conflict("import-conflict", ("Conflicto", "Conflict"),
                       ("Otra importación de estos suministros terminó al mismo tiempo; envíe el archivo de nuevo.",
                        "Another import of these supplies finished meanwhile; send the file again.")) from None


async def _import(db: Database, who: Principal, raw_rows: list[Any], lang: str) -> ImportReport:
    i = 0 if lang == "es" else 1
    errors: list[RowError] = []

    def fail(n: int, ext: Any, field_: str, message: tuple[str, str] | str, code: str) -> None:
        errors.append(RowError(row=n, external_id=_printable(ext), field=field_,
                               message=message if isinstance(message, str) else message[i], code=code))

    async with UnitOfWork(db) as uow:
        country = await tables.tenant_country(uow.conn, who.tenant)
        valid: list[tuple[int, SupplyRow, rules.NationalId | None]] = []
        seen: set[str] = set()
        for n, raw in enumerate(raw_rows, start=1):
            ext = raw.get("external_id") if isinstance(raw, dict) else None
            try:
                row = _row_model(raw)
            except ValidationError as exc:
                for e in validation_errors([dict(e) for e in exc.errors()], lang):
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

        holders, parties_created = await _resolve_holders(uow, who, valid, fail)
        existing = await tables.lock_supplies(uow.conn, who.tenant, [r.external_id for _, r, _ in valid], SUPPLY)
        updated = unchanged = 0
        now = utcnow()
        new: list[dict[str, Any]] = []
        outcomes: dict[int, tuple[str | None, Literal["created", "updated", "unchanged"]]] = {}
        for n, row, nid in valid:
            if nid is not None and nid.key not in holders:
                continue  # reported by _resolve_holders
            state = {"name": row.name, "search_name": rules.fold(row.name), "attributes": row.attributes,
                     "party_id": holders[nid.key] if nid is not None else None, "active": row.active}
            current = existing.get(row.external_id)
            if current is None:
                new.append({"id": uuid.uuid4(), "tenant": who.tenant, "kind": SUPPLY, "code": row.external_id,
                            **state, "source": "billing_import", "created_by": None, "created_at": now,
                            "updated_at": now})
                outcomes[n] = (row.external_id, "created")
            elif all(getattr(current, k) == v for k, v in state.items()):
                unchanged += 1
                outcomes[n] = (row.external_id, "unchanged")
            else:
                await tables.update_asset(uow.conn, current.id, {**state, "updated_at": now})
                await emit_asset(uow, SimpleNamespace(**{**current._mapping, **state, "updated_at": now}))
                updated += 1
                outcomes[n] = (row.external_id, "updated")
        await tables.insert_assets(uow.conn, new)
        for values in new:
            await emit_asset(uow, SimpleNamespace(**values))
    errors.sort(key=lambda e: e.row)
    return ImportReport(created=len(new), updated=updated, unchanged=unchanged, parties_created=parties_created,
                        errors=errors, rows=_outcomes(len(raw_rows), outcomes, errors))


def _outcomes(count: int, done: dict[int, tuple[str | None, Literal["created", "updated", "unchanged"]]],
              errors: list[RowError]) -> list[RowOutcome]:
    """Each of the ``count`` rows' outcome: what was done with it, or refused with its errors."""
    refused: dict[int, list[RowError]] = {}
    for e in errors:
        refused.setdefault(e.row, []).append(e)
    out: list[RowOutcome] = []
    for n in range(1, count + 1):
        if n in refused:
            out.append(RowOutcome(row=n, external_id=refused[n][0].external_id, outcome="refused", reasons=refused[n]))
        elif n in done:
            out.append(RowOutcome(row=n, external_id=done[n][0], outcome=done[n][1]))
    return out


async def _resolve_holders(uow: UnitOfWork, who: Principal, valid: list[tuple[int, SupplyRow, rules.NationalId | None]],
                           fail: Any) -> tuple[dict[str, uuid.UUID], int]:
    """The holder party of each national id in the batch: found in the tenant, or created (kind
    person or company, from the first row naming it). Rows whose holder is missing and unnamed
    are reported."""
    keys = sorted({nid.key for _, _, nid in valid if nid is not None})
    holders = await tables.party_ids_by_key(uow.conn, who.tenant, keys)
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
        new_id = uuid.uuid4()
        values = {"id": new_id, "tenant": who.tenant, "kind": row.party_kind, "internal": False,
                  "name": row.party_name, "search_name": rules.fold(row.party_name or ""),
                  "national_id": nid.value, "national_id_key": nid.key, "email": None, "phone": None,
                  "address": None, "notes": None, "details": {}, "restricted": False, "active": True,
                  "source": "billing_import", "created_by": None, "created_at": now, "updated_at": now}
        if await insert_ignoring_duplicates(uow.conn, tables.parties, values):
            await emit_party(uow, SimpleNamespace(**values), [])
            holders[nid.key] = new_id
            created += 1
        else:  # created meanwhile by someone else
            holders[nid.key] = (await tables.party_ids_by_key(uow.conn, who.tenant, [nid.key]))[nid.key]
    return holders, created

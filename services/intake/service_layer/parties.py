"""Use cases of parties and their contacts (R2.1, R2.7, R2.8, R4.2, R0.1), each one transaction.

- Agents (admin, supervisor, executor, technical manager) create and change parties and contacts;
  viewers and API keys only read (API keys import supplies, see ``assets.py``).
- R2.7: a party may be restricted to chosen users of the tenant. Everyone else gets 404 for it
  and never finds it in a search; admins and its creator always see it. Only an admin or the
  creator changes the list. A change locks the party row first (``FOR UPDATE``) and checks who
  may see and change it on that locked row, so a sharing change cannot slip between the check
  and the write.
- National ids are validated for the tenant's country and stored normalised
  (``domain/parties.py``): a Chilean RUT as ``10359182-1``.
- Events: ``party.upserted.v1`` (subject: the party id) whenever a party is created or changed.

The request bodies the use cases take are defined here (they are the commands); the routes
(``api/parties.py``) only parse, name who asks, call one use case and map its answer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, EmailStr, Field, StringConstraints
from pydantic_core import PydanticCustomError
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from services.intake.adapters import party_tables as tables
from services.intake.adapters.list_counts import bounded_count
from services.intake.domain import parties as rules
from services.intake.domain.access import Principal, can_change_party_sharing, can_see_party, can_write_parties
from services.intake.domain.lifecycle import FINISHED
from services.intake.service_layer.unit_of_work import UnitOfWork
from shared.contracts.events import PartyUpserted
from shared.db import Database, utcnow
from shared.fields import InputModel, phone_in_region
from shared.fields import PhoneInput as Phone
from shared.paging import CountedPage, Page, PageQuery
from shared.problems import refuse_null
from shared.refusals import FieldErrors, field_error, forbidden, invalid, not_found

PARTY_NOT_FOUND = ("Cliente o parte no encontrado", "Party not found")
CONTACT_NOT_FOUND = ("Contacto no encontrado", "Contact not found")
NO_WRITE = ("Su perfil sólo permite consultar clientes y partes.", "Your profile may only read parties.")
NO_SHARING = ("Sólo un administrador o quien creó el cliente puede cambiar con quién se comparte.",
              "Only an administrator or the party's creator may change who it is shared with.")
DUPLICATE_ID = field_error("national_id", ("Ya existe un cliente o parte con ese número de identificación.",
                                           "A party with that national id exists."), "duplicate_national_id")


# -- fields of the request bodies ---------------------------------------------------------------

def _free_json(value: Any) -> Any:
    """Before pydantic walks it: bounded depth and size, finite numbers (jsonb refuses NaN)."""
    if isinstance(value, dict) and (problem := rules.free_json_problem(value)) is not None:
        raise PydanticCustomError(problem[0], problem[1][1])
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
PHONE_DOC = "+56912345678, or a national number of the tenant's country (9 1234 5678); stored as E.164"
NationalIdRaw = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
Position = Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
FreeJson = Annotated[dict[str, Any], BeforeValidator(_free_json)]
EXECUTIVE_DOC = ("R1.1: the commercial executive assigned to the customer (an active user of the tenant); "
                 "their line is told of the customer's retention requests")


class PartyIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "kind": "person", "name": "Héctor Contreras", "national_id": "10.359.182-1",
        "email": "hector@example.cl", "phone": "+56912345678"}})
    kind: rules.PartyKind
    internal: bool = Field(default=False, description="Only for a stakeholder: an internal customer (R2.1)")
    name: Name
    national_id: NationalIdRaw | None = Field(default=None, description="Validated for the tenant's country")
    email: EmailStr | None = None
    phone: Phone | None = Field(default=None, description=PHONE_DOC)
    address: Short | None = None
    notes: LongText | None = None
    details: FreeJson = Field(default_factory=dict, description=(
        f"Free-form details (R2.8): at most {rules.MAX_FREE_JSON_DEPTH} levels, "
        f"{rules.MAX_FREE_JSON_CHARS} characters"))
    restricted: bool = Field(default=False, description="R2.7: only shared users (and admins) see it")
    shared_with: list[uuid.UUID] = Field(default_factory=list, max_length=500,
                                         description="R2.7: user ids of the tenant who may see it")
    executive_id: uuid.UUID | None = Field(default=None, description=EXECUTIVE_DOC)


class PartyPatch(InputModel):
    """Fields to change; ``null`` clears an optional one (national id, e-mail, phone, address,
    notes). Sharing changes through ``PUT /parties/{id}/sharing``."""

    model_config = ConfigDict(json_schema_extra={"example": {"address": "Av. Sur 1", "national_id": "7.654.321-6"}})
    kind: rules.PartyKind | None = None
    internal: bool | None = None
    name: Name | None = None
    national_id: NationalIdRaw | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    address: Short | None = None
    notes: LongText | None = None
    details: FreeJson | None = None
    active: bool | None = None
    executive_id: uuid.UUID | None = Field(default=None, description=EXECUTIVE_DOC + "; null: none")

    _no_null = refuse_null("kind", "name", "internal", "details", "active")


class SharingIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "restricted": True, "shared_with": ["0d5e23fa-dbda-4684-b944-ec2887645f22"]}})
    restricted: bool
    shared_with: list[uuid.UUID] = Field(default_factory=list, max_length=500)


class ContactIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "name": "Lucía Muñoz", "position": "Cónyuge", "decision_maker": True, "email": "lucia@example.cl",
        "phone": "+56922233344"}})
    name: Name
    position: Position | None = None
    decision_maker: bool = False
    email: EmailStr | None = None
    phone: Phone | None = Field(default=None, description=PHONE_DOC)
    notes: LongText | None = None


class ContactPatch(InputModel):
    """Fields to change; ``null`` clears an optional one (position, e-mail, phone, notes)."""

    model_config = ConfigDict(json_schema_extra={"example": {"position": "Apoderada"}})
    name: Name | None = None
    position: Position | None = None
    decision_maker: bool | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    notes: LongText | None = None

    _no_null = refuse_null("name", "decision_maker")


class HistoryStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    ALL = "all"


@dataclass(frozen=True)
class PartySearch:
    """``GET /parties`` filters; all combine (AND)."""

    q: str | None = None
    name: str | None = None
    national_id: str | None = None
    email: str | None = None
    phone: str | None = None
    kinds: list[str] = field(default_factory=list)
    internal: bool | None = None
    active: bool | None = None


@dataclass(frozen=True)
class PartyView:
    """A party as it is answered: its row, whom it is shared with (R2.7), its contacts (R2.8)."""

    row: Any
    shares: list[uuid.UUID]
    contacts: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class PartyHistory:
    interactions: list[Any]
    cases: list[Any]


# -- helpers of the use cases -------------------------------------------------------------------

def require_writer(who: Principal) -> None:
    if not can_write_parties(who):
        raise forbidden(NO_WRITE)


def party_event(row: Any, shares: list[uuid.UUID]) -> PartyUpserted:
    return PartyUpserted(party_id=row.id, kind=row.kind, internal=row.internal, name=row.name,
                         national_id=row.national_id, restricted=row.restricted,
                         shared_with=shares if row.restricted else [], active=row.active, source=row.source,
                         created_at=row.created_at, updated_at=row.updated_at)


async def emit_party(uow: UnitOfWork, row: Any, shares: list[uuid.UUID]) -> None:
    await uow.emit(row.tenant, "party.upserted.v1", party_event(row, shares), subject=str(row.id))


async def store_party(uow: UnitOfWork, values: dict[str, Any], shares: list[uuid.UUID] | tuple[()] = ()) -> Row[Any]:
    """Insert a party (and whom it is shared with) and emit ``party.upserted.v1``."""
    row = await tables.insert_party(uow.conn, values, shares)
    await emit_party(uow, row, await tables.shared_with(uow.conn, row.id))
    return row


async def visible_party(conn: Any, who: Principal, party_id: uuid.UUID) -> Row[Any]:
    """For reads: the party if it is of the caller's tenant and (R2.7) visible to them; else 404 —
    another tenant's or a hidden party's existence is not revealed."""
    row = await tables.get_visible_party(conn, who, party_id)
    if row is None:
        raise not_found(PARTY_NOT_FOUND)
    return row


async def locked_party(uow: UnitOfWork, who: Principal, party_id: uuid.UUID) -> tuple[Row[Any], list[uuid.UUID]]:
    """The party locked for a change, and whom it is shared with; 404 unless R2.7 lets ``who``
    see it — decided on the locked row."""
    row = await tables.lock_party(uow.conn, who.tenant, party_id)
    if row is None:
        raise not_found(PARTY_NOT_FOUND)
    shares = await tables.shared_with(uow.conn, row.id)
    creator = {row.created_by} if row.created_by else set()
    if not can_see_party(who, restricted=row.restricted, shared_with=frozenset(shares) | creator):
        raise not_found(PARTY_NOT_FOUND)
    return row, shares


def _national_id(raw: str, country: str, errors: FieldErrors) -> rules.NationalId | None:
    try:
        return rules.normalize_national_id(raw, country)
    except rules.InvalidNationalId as exc:
        errors.add("national_id", exc.message, "invalid_national_id")
        return None


async def _check_users(uow: UnitOfWork, who: Principal, user_ids: list[uuid.UUID], errors: FieldErrors) -> None:
    """R2.7: a party is shared with active users of the caller's tenant only."""
    found = await tables.active_user_ids(uow.conn, who.tenant, user_ids)
    for i, uid in enumerate(user_ids):
        if uid not in found:
            errors.add(f"shared_with.{i}", ("No es un usuario activo de este cliente.",
                                            "Not an active user of this tenant."), "unknown_user")


async def _check_executive(uow: UnitOfWork, who: Principal, executive_id: uuid.UUID | None,
                           errors: FieldErrors) -> None:
    """R1.1: the customer's commercial executive is an active user of the caller's tenant."""
    if executive_id is not None and not await tables.active_user_ids(uow.conn, who.tenant, [executive_id]):
        errors.add("executive_id", ("No es un usuario activo de este cliente.", "Not an active user of this tenant."),
                   "unknown_user")


def _internal(kind: str, internal: bool, errors: FieldErrors) -> None:
    if (message := rules.internal_problem(kind, internal)) is not None:
        errors.add("internal", message, "internal_not_stakeholder")


async def _detail(conn: Any, row: Any, shares: list[uuid.UUID] | None = None) -> PartyView:
    return PartyView(row=row, shares=await tables.shared_with(conn, row.id) if shares is None else shares,
                     contacts=await tables.contacts_of(conn, row.id))


# -- parties ---------------------------------------------------------------------------------------

async def create_party(db: Database, who: Principal, body: PartyIn) -> PartyView:
    """R2.1: prospects, stakeholders and internal customers are created here (supplies are not).
    With ``restricted`` only the users in ``shared_with``, the creator and admins see it (R2.7)."""
    require_writer(who)
    errors = FieldErrors()
    _internal(body.kind, body.internal, errors)
    try:
        async with UnitOfWork(db) as uow:
            nid = None
            country = await tables.tenant_country(uow.conn, who.tenant)
            if body.national_id:
                nid = _national_id(body.national_id, country, errors)
            phone = phone_in_region(body.phone, country, "phone", errors)
            await _check_users(uow, who, body.shared_with, errors)
            await _check_executive(uow, who, body.executive_id, errors)
            errors.raise_if_any()
            now = utcnow()
            row = await store_party(uow, {
                "id": uuid.uuid4(), "tenant": who.tenant, "kind": body.kind.value, "internal": body.internal,
                "name": body.name, "search_name": rules.fold(body.name),
                "national_id": nid.value if nid else None, "national_id_key": nid.key if nid else None,
                "email": body.email.lower() if body.email else None, "phone": phone, "address": body.address,
                "notes": body.notes, "details": body.details, "restricted": body.restricted, "active": True,
                "source": "user", "created_by": who.user_id, "created_at": now, "updated_at": now,
                "executive_id": body.executive_id},
                body.shared_with if body.restricted else ())
            return PartyView(row=row, shares=await tables.shared_with(uow.conn, row.id))
    except IntegrityError:
        raise invalid(DUPLICATE_ID) from None


def _search_conditions(s: PartySearch, country: str) -> list[Any]:
    def like(text: str) -> str:
        return f"%{rules.like_escape(text)}%"

    def by_name(v: str) -> Any:
        return tables.name_matches(like(rules.fold(v)))

    def by_id(v: str) -> Any:
        return tables.national_id_is(rules.national_id_search_key(v, country))

    def by_email(v: str) -> Any:
        return tables.email_matches(like(v.strip().lower()))

    conds: list[Any] = []
    if s.name:
        conds.append(by_name(s.name))
    if s.national_id:
        conds.append(by_id(s.national_id))
    if s.email:
        conds.append(by_email(s.email))
    if s.phone:
        digits = rules.phone_digits(s.phone)
        if len(digits) < 3:
            raise invalid(field_error("phone", ("Indique al menos 3 dígitos del teléfono.",
                                                "Give at least 3 digits of the phone."), "phone_too_short",
                                      where="query"))
        conds.append(tables.phone_contains(digits))
    if s.q and s.q.strip():
        alternatives = [by_name(s.q), by_id(s.q)]
        if "@" in s.q or "." in s.q:
            alternatives.append(by_email(s.q))
        if len(rules.phone_digits(s.q)) >= 3:
            alternatives.append(tables.phone_contains(rules.phone_digits(s.q)))
        conds.append(tables.any_of(*alternatives))
    return conds + tables.party_flags(kinds=s.kinds, internal=s.internal, active=s.active)


async def search_parties(db: Database, who: Principal, search: PartySearch, page: PageQuery) -> CountedPage[Any]:
    """Parties the caller may see (R2.7) matching every filter, by name then id, with their total
    (adapters/list_counts.py); items are ``PartyView`` (without contacts)."""
    after = page.after("parties", str, uuid.UUID)
    async with db.read() as conn:
        conds = _search_conditions(search, await tables.tenant_country(conn, who.tenant))
        rows = await tables.find_parties(conn, who, conds, after=after, limit=page.limit + 1)
        shares = await tables.shares_of(conn, [r.id for r in rows[:page.limit] if r.restricted])
        total, exact = await bounded_count(conn, tables.party_list(who, conds))
    return CountedPage[Any].of(rows, page, "parties", key=lambda r: (r.search_name, r.id),
                               item=lambda r: PartyView(row=r, shares=shares.get(r.id, [])), total=total,
                               total_exact=exact)


async def get_party(db: Database, who: Principal, party_id: uuid.UUID) -> PartyView:
    """A party's details and contacts (R2.8)."""
    async with db.read() as conn:
        return await _detail(conn, await visible_party(conn, who, party_id))


async def change_party(db: Database, who: Principal, party_id: uuid.UUID, body: PartyPatch) -> PartyView:
    require_writer(who)
    changes = body.model_dump(exclude_unset=True)
    try:
        async with UnitOfWork(db) as uow:
            row, shares = await locked_party(uow, who, party_id)
            errors = FieldErrors()
            kind = changes.get("kind", row.kind)
            # A stakeholder turned into another kind stops being internal unless told otherwise.
            internal = changes.get("internal", row.internal and rules.may_be_internal(kind))
            _internal(kind, internal, errors)
            changes["internal"] = internal
            if changes.get("phone"):
                changes["phone"] = phone_in_region(changes["phone"], await tables.tenant_country(uow.conn, who.tenant),
                                                   "phone", errors)
            if "national_id" in changes:
                raw = changes.pop("national_id")
                nid = _national_id(raw, await tables.tenant_country(uow.conn, who.tenant), errors) if raw else None
                changes["national_id"] = nid.value if nid else None
                changes["national_id_key"] = nid.key if nid else None
            if changes.get("executive_id") is not None and changes["executive_id"] != row.executive_id:
                await _check_executive(uow, who, changes["executive_id"], errors)
            errors.raise_if_any()
            if "name" in changes:
                changes["search_name"] = rules.fold(changes["name"])
            if changes.get("email"):
                changes["email"] = changes["email"].lower()
            if "kind" in changes:
                changes["kind"] = str(changes["kind"])
            if any(getattr(row, k) != v for k, v in changes.items()):  # a no-op emits nothing
                row = await tables.update_party(uow.conn, row.id, {**changes, "updated_at": utcnow()})
                await emit_party(uow, row, shares)
            return await _detail(uow.conn, row, shares)
    except IntegrityError:
        raise invalid(DUPLICATE_ID) from None


async def change_sharing(db: Database, who: Principal, party_id: uuid.UUID, body: SharingIn) -> PartyView:
    """R2.7: restrict the party to chosen users of the tenant, or open it to everyone of the
    tenant. Only an admin or the party's creator may (checked on the locked row)."""
    async with UnitOfWork(db) as uow:
        row, shares = await locked_party(uow, who, party_id)
        if not can_change_party_sharing(who, created_by=row.created_by):
            raise forbidden(NO_SHARING)
        errors = FieldErrors()
        await _check_users(uow, who, body.shared_with, errors)
        errors.raise_if_any()
        wanted = sorted(set(body.shared_with)) if body.restricted else []
        if wanted != shares or body.restricted != row.restricted:
            await tables.replace_shares(uow.conn, party_id, wanted)
            row = await tables.update_party(uow.conn, party_id, {"restricted": body.restricted,
                                                                 "updated_at": utcnow()})
            await emit_party(uow, row, wanted)
            shares = wanted
        return await _detail(uow.conn, row, shares)


async def party_history(db: Database, who: Principal, party_id: uuid.UUID, status: HistoryStatus,
                        limit: int) -> PartyHistory:
    """R2.8: the party's interactions (R2.2) and cases, newest first, at most ``limit`` of each;
    ``status`` picks the open, the closed or all of them (R2.8's three tabs). A case belongs to
    the party when it names it or hangs from one of its interactions."""
    closed = [s.value for s in FINISHED]
    async with db.read() as conn:
        await visible_party(conn, who, party_id)
        found = await tables.party_interactions(conn, who.tenant, party_id,
                                                None if status == HistoryStatus.ALL else status.value, limit)
        rows = await tables.party_cases(conn, who.tenant, party_id,
                                        closed=closed if status == HistoryStatus.CLOSED else None,
                                        open_=closed if status == HistoryStatus.OPEN else None, limit=limit)
    return PartyHistory(interactions=found, cases=rows)


# -- contacts (R2.8) ---------------------------------------------------------------------------------

async def list_contacts(db: Database, who: Principal, party_id: uuid.UUID, page: PageQuery) -> Page[Any]:
    """A visible party's contacts in the order they were added; items are contact rows."""
    after = page.after("contacts", datetime, uuid.UUID)
    async with db.read() as conn:
        await visible_party(conn, who, party_id)
        rows = await tables.contacts_of(conn, party_id, after=after, limit=page.limit + 1)
    return Page[Any].of(rows, page, "contacts", key=lambda r: (r.created_at, r.id), item=lambda r: r)


async def add_contact(db: Database, who: Principal, party_id: uuid.UUID, body: ContactIn) -> Row[Any]:
    """A person met at the party, or who decides there (R2.8)."""
    require_writer(who)
    async with UnitOfWork(db) as uow:
        await locked_party(uow, who, party_id)
        now = utcnow()
        values = {"id": uuid.uuid4(), "party_id": party_id, "tenant": who.tenant, **body.model_dump(),
                  "created_at": now, "updated_at": now}
        errors = FieldErrors()
        values["phone"] = phone_in_region(values["phone"], await tables.tenant_country(uow.conn, who.tenant),
                                          "phone", errors)
        errors.raise_if_any()
        if values["email"]:
            values["email"] = values["email"].lower()
        return await tables.insert_contact(uow.conn, values)


async def _locked_contact(uow: UnitOfWork, who: Principal, party_id: uuid.UUID, contact_id: uuid.UUID) -> Row[Any]:
    await locked_party(uow, who, party_id)
    row = await tables.lock_contact(uow.conn, party_id, contact_id)
    if row is None:
        raise not_found(CONTACT_NOT_FOUND)
    return row


async def change_contact(db: Database, who: Principal, party_id: uuid.UUID, contact_id: uuid.UUID,
                         body: ContactPatch) -> Row[Any]:
    require_writer(who)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("email"):
        changes["email"] = changes["email"].lower()
    async with UnitOfWork(db) as uow:
        row = await _locked_contact(uow, who, party_id, contact_id)
        if changes.get("phone"):
            errors = FieldErrors()
            changes["phone"] = phone_in_region(changes["phone"], await tables.tenant_country(uow.conn, who.tenant),
                                               "phone", errors)
            errors.raise_if_any()
        if changes:
            row = await tables.update_contact(uow.conn, contact_id, {**changes, "updated_at": utcnow()})
        return row


async def remove_contact(db: Database, who: Principal, party_id: uuid.UUID, contact_id: uuid.UUID) -> None:
    require_writer(who)
    async with UnitOfWork(db) as uow:
        await _locked_contact(uow, who, party_id, contact_id)
        await tables.delete_contact(uow.conn, contact_id)


"""Parties (R2.1, R2.7, R2.8, R4.2, R0.1): customers, prospects, stakeholders, owners, lessees…,
their contacts, who they are shared with, and their history.

- Agents (admin, supervisor, executor, technical manager) create and change parties and contacts;
  viewers and API keys only read (API keys import supplies, see ``assets.py``).
- R2.7: a party may be restricted to chosen users of the tenant. Everyone else gets 404 for it
  and never finds it in a search; admins and its creator always see it. Only an admin or the
  creator changes the list (``PUT /parties/{id}/sharing``).
- National ids are validated for the tenant's country and stored normalised
  (``services/intake/parties.py``): a Chilean RUT as ``10359182-1``.
- Search: by name (partial, case- and accent-insensitive), national id (any punctuation), e-mail
  or phone (partial; the party's own or one of its contacts'), kind; pages by keyset
  (``limit`` and the ``next_after`` cursor of the previous page), ordered by name then id."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, field_validator
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters.case_tables import interactions
from services.intake.adapters.db import cases, tenants, users
from services.intake.adapters.party_tables import (
    emit_party,
    get_visible_party,
    insert_party,
    parties,
    party_contacts,
    party_shares,
    replace_shares,
    shared_with,
    visible_parties,
)
from services.intake.api.deps import CurrentPrincipal
from services.intake.domain import parties as rules
from services.intake.domain.access import Principal, can_change_party_sharing, can_write_parties
from services.intake.domain.lifecycle import FINISHED
from shared.db import Tx, utcnow
from shared.problems import Problem, field_error, forbidden, invalid, not_found, refuse_null
from shared.runtime import runtime_of

router = APIRouter(prefix="/parties", tags=["parties"])

PARTY_NOT_FOUND = ("Cliente o parte no encontrado", "Party not found")
CONTACT_NOT_FOUND = ("Contacto no encontrado", "Contact not found")
NO_WRITE = ("Su perfil sólo permite consultar clientes y partes.", "Your profile may only read parties.")
NO_SHARING = ("Sólo un administrador o quien creó el cliente puede cambiar con quién se comparte.",
              "Only an administrator or the party's creator may change who it is shared with.")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+[1-9][0-9]{6,14}$")]
NationalIdRaw = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
MAX_DETAILS_CHARS = 10_000


def small_json(v: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(v, default=str)) > MAX_DETAILS_CHARS:
        raise ValueError(f"at most {MAX_DETAILS_CHARS} characters of JSON")
    return v


class PartyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "kind": "person", "name": "Héctor Contreras", "national_id": "10.359.182-1",
        "email": "hector@example.cl", "phone": "+56912345678"}})
    kind: rules.PartyKind
    internal: bool = Field(default=False, description="Only for a stakeholder: an internal customer (R2.1)")
    name: Name
    national_id: NationalIdRaw | None = Field(default=None, description="Validated for the tenant's country")
    email: EmailStr | None = None
    phone: Phone | None = Field(default=None, description="E.164, e.g. +56912345678")
    address: Short | None = None
    notes: LongText | None = None
    details: dict[str, Any] = Field(default_factory=dict, description="Free-form details (R2.8)")
    restricted: bool = Field(default=False, description="R2.7: only shared users (and admins) see it")
    shared_with: list[uuid.UUID] = Field(default_factory=list, max_length=500,
                                         description="R2.7: user ids of the tenant who may see it")

    _details = field_validator("details")(small_json)


class PartyPatch(BaseModel):
    """Fields to change; ``null`` clears an optional one. Sharing changes through
    ``PUT /parties/{id}/sharing``."""

    model_config = ConfigDict(extra="forbid")
    kind: rules.PartyKind | None = None
    internal: bool | None = None
    name: Name | None = None
    national_id: NationalIdRaw | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    address: Short | None = None
    notes: LongText | None = None
    details: dict[str, Any] | None = None
    active: bool | None = None

    _details = field_validator("details")(lambda v: v if v is None else small_json(v))
    _no_null = refuse_null("kind", "name", "internal", "details", "active")


class SharingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    restricted: bool
    shared_with: list[uuid.UUID] = Field(default_factory=list, max_length=500)


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    position: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] | None = None
    decision_maker: bool = False
    email: EmailStr | None = None
    phone: Phone | None = Field(default=None, description="E.164, e.g. +56912345678")
    notes: LongText | None = None


class ContactPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    position: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] | None = None
    decision_maker: bool | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    notes: LongText | None = None

    _no_null = refuse_null("name", "decision_maker")


class ContactOut(BaseModel):
    id: uuid.UUID
    party_id: uuid.UUID
    name: str
    position: str | None
    decision_maker: bool
    email: str | None
    phone: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime


class PartyOut(BaseModel):
    id: uuid.UUID
    kind: str
    internal: bool
    name: str
    national_id: str | None
    email: str | None
    phone: str | None
    address: str | None
    notes: str | None
    details: dict[str, Any]
    restricted: bool
    shared_with: list[uuid.UUID]
    active: bool
    source: str
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class PartyDetail(PartyOut):
    contacts: list[ContactOut]


class PartyPage(BaseModel):
    items: list[PartyOut]
    next_after: str | None = Field(description="Pass as ``after`` for the next page; null on the last one")


class CaseSummary(BaseModel):
    id: uuid.UUID
    number: str
    type: str
    subject: str
    status: str
    priority: str
    created_at: datetime
    due_date: date | None
    overdue: bool


class InteractionSummary(BaseModel):
    id: uuid.UUID
    code: str
    channel: str
    summary: str
    status: str
    occurred_at: datetime
    closed_at: datetime | None
    asset_id: uuid.UUID | None


class PartyHistory(BaseModel):
    party_id: uuid.UUID
    interactions: list[InteractionSummary]
    cases: list[CaseSummary]


def party_out(row: Any, shares: list[uuid.UUID]) -> PartyOut:
    return PartyOut(id=row.id, kind=row.kind, internal=row.internal, name=row.name, national_id=row.national_id,
                    email=row.email, phone=row.phone, address=row.address, notes=row.notes, details=row.details,
                    restricted=row.restricted, shared_with=shares if row.restricted else [], active=row.active,
                    source=row.source, created_by=row.created_by, created_at=row.created_at,
                    updated_at=row.updated_at)


def contact_out(row: Any) -> ContactOut:
    return ContactOut.model_validate(row, from_attributes=True)


# -- shared with assets.py ---------------------------------------------------------------------

def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps([str(v) for v in values]).encode()).decode().rstrip("=")


def bad_cursor() -> Problem:
    return invalid(field_error("after", ("El cursor de página no es válido; use el next_after recibido.",
                                         "Invalid page cursor; pass the next_after you received."),
                               "invalid_cursor", where="query"))


def decode_cursor(after: str, n: int) -> list[str]:
    """The values ``encode_cursor`` packed (a 422 problem if ``after`` is not such a cursor)."""
    try:
        values = json.loads(base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)))
    except (ValueError, binascii.Error):
        raise bad_cursor() from None
    if isinstance(values, list) and len(values) == n and all(isinstance(v, str) for v in values):
        return values
    raise bad_cursor()


def require_writer(p: Principal) -> None:
    if not can_write_parties(p):
        raise forbidden(NO_WRITE)


async def tenant_country(conn: AsyncConnection, slug: str) -> str:
    return str((await conn.execute(select(tenants.c.country).where(tenants.c.slug == slug))).scalar_one())


async def visible_party_or_404(conn: AsyncConnection, p: Principal, party_id: uuid.UUID) -> Any:
    """The party if it is of the caller's tenant and (R2.7) shared with the caller; else 404 —
    another tenant's or a hidden party's existence is not revealed."""
    row = await get_visible_party(conn, p, party_id)
    if row is None:
        raise not_found(PARTY_NOT_FOUND)
    return row


# -- validation ----------------------------------------------------------------------------------

def _national_id(raw: str, country: str, errors: list[dict[str, Any]], field: str = "national_id") -> Any:
    try:
        return rules.normalize_national_id(raw, country)
    except rules.InvalidNationalId as exc:
        errors.append(field_error(field, exc.message, "invalid_national_id"))
        return None


async def _check_users(conn: AsyncConnection, p: Principal, user_ids: list[uuid.UUID],
                       errors: list[dict[str, Any]]) -> None:
    """R2.7: a party is shared with active users of the caller's tenant only."""
    if not user_ids:
        return
    found = set((await conn.execute(select(users.c.id).where(
        users.c.id.in_(set(user_ids)), users.c.tenant == p.tenant, users.c.active.is_(True)))).scalars())
    for i, uid in enumerate(user_ids):
        if uid not in found:
            errors.append(field_error(f"shared_with.{i}", ("No es un usuario activo de este cliente.",
                                                           "Not an active user of this tenant."), "unknown_user"))


def _internal_error(kind: str, internal: bool) -> dict[str, Any] | None:
    if internal and not rules.may_be_internal(kind):
        return field_error("internal", ("Sólo un stakeholder puede ser interno (cliente interno).",
                                        "Only a stakeholder can be internal (an internal customer)."),
                           "internal_not_stakeholder")
    return None


DUPLICATE_ID = field_error("national_id", ("Ya existe un cliente o parte con ese número de identificación.",
                                           "A party with that national id exists."), "duplicate_national_id")


# -- parties ---------------------------------------------------------------------------------------

@router.post("", status_code=201, response_model=PartyDetail,
             responses={422: {"description": "Invalid input (RFC 9457 problem details)"}})
async def create_party(body: PartyIn, request: Request, response: Response, p: CurrentPrincipal) -> PartyDetail:
    """Create a party (R2.1: prospects, stakeholders and internal customers are created here;
    supplies are not). With ``restricted`` only the users in ``shared_with``, the creator and
    admins see it (R2.7)."""
    require_writer(p)
    rt = runtime_of(request)
    errors: list[dict[str, Any]] = []
    if (e := _internal_error(body.kind, body.internal)) is not None:
        errors.append(e)
    try:
        async with rt.db.transaction() as tx:
            nid = None
            if body.national_id:
                nid = _national_id(body.national_id, await tenant_country(tx.conn, p.tenant), errors)
            await _check_users(tx.conn, p, body.shared_with, errors)
            if errors:
                raise invalid(*errors)
            now = utcnow()
            row = await insert_party(tx, {
                "id": uuid.uuid4(), "tenant": p.tenant, "kind": body.kind.value, "internal": body.internal,
                "name": body.name, "search_name": rules.fold(body.name),
                "national_id": nid.value if nid else None, "national_id_key": nid.key if nid else None,
                "email": body.email.lower() if body.email else None, "phone": body.phone, "address": body.address,
                "notes": body.notes, "details": body.details, "restricted": body.restricted, "active": True,
                "source": "user", "created_by": p.user_id, "created_at": now, "updated_at": now},
                body.shared_with if body.restricted else ())
            shares = await shared_with(tx.conn, row.id)
    except IntegrityError:
        raise invalid(DUPLICATE_ID) from None
    response.headers["Location"] = f"/parties/{row.id}"
    return PartyDetail(**party_out(row, shares).model_dump(), contacts=[])


def _like(text: str) -> str:
    return f"%{rules.like_escape(text)}%"


def _search_conditions(p: Principal, country: str, *, q: str | None, name: str | None, national_id: str | None,
                       email: str | None, phone: str | None) -> list[Any]:
    c = parties.c
    k = party_contacts.c

    def by_name(v: str) -> Any:
        return c.search_name.like(_like(rules.fold(v)), escape="\\")

    def by_id(v: str) -> Any:
        return c.national_id_key == rules.national_id_search_key(v, country)

    def by_email(v: str) -> Any:
        pattern = _like(v.strip().lower())
        return or_(c.email.like(pattern, escape="\\"), exists(select(k.id).where(
            k.party_id == c.id, k.email.like(pattern, escape="\\"))))

    def by_phone(digits: str) -> Any:
        pattern = f"%{digits}%"
        return or_(c.phone.like(pattern), exists(select(k.id).where(k.party_id == c.id, k.phone.like(pattern))))

    conds: list[Any] = []
    if name:
        conds.append(by_name(name))
    if national_id:
        conds.append(by_id(national_id))
    if email:
        conds.append(by_email(email))
    if phone:
        digits = rules.phone_digits(phone)
        if len(digits) < 3:
            raise invalid(field_error("phone", ("Indique al menos 3 dígitos del teléfono.",
                                                "Give at least 3 digits of the phone."), "phone_too_short",
                                      where="query"))
        conds.append(by_phone(digits))
    if q and q.strip():
        alternatives = [by_name(q), by_id(q)]
        if "@" in q or "." in q:
            alternatives.append(by_email(q))
        if len(rules.phone_digits(q)) >= 3:
            alternatives.append(by_phone(rules.phone_digits(q)))
        conds.append(or_(*alternatives))
    return conds


SearchText = Annotated[str | None, Query(max_length=200)]


@router.get("", response_model=PartyPage)
async def search_parties(request: Request, p: CurrentPrincipal,
                         q: Annotated[str | None, Query(max_length=200, description="name, national id, e-mail or phone")] = None,
                         name: SearchText = None, national_id: SearchText = None, email: SearchText = None,
                         phone: SearchText = None,
                         kind: Annotated[list[rules.PartyKind] | None, Query()] = None,
                         internal: Annotated[bool | None, Query()] = None,
                         active: Annotated[bool | None, Query()] = None,
                         limit: Annotated[int, Query(ge=1, le=200)] = 50,
                         after: Annotated[str | None, Query(max_length=600, description="next_after of the previous page")] = None,
                         ) -> PartyPage:
    """Parties the caller may see (R2.7), ordered by name then id; all filters combine (AND)."""
    async with runtime_of(request).db.read() as conn:
        country = await tenant_country(conn, p.tenant)
        stmt = select(parties).where(visible_parties(p), *_search_conditions(
            p, country, q=q, name=name, national_id=national_id, email=email, phone=phone))
        if kind:
            stmt = stmt.where(parties.c.kind.in_([k.value for k in kind]))
        if internal is not None:
            stmt = stmt.where(parties.c.internal.is_(internal))
        if active is not None:
            stmt = stmt.where(parties.c.active.is_(active))
        if after:
            sn, last_id = decode_cursor(after, 2)
            try:
                last = uuid.UUID(last_id)
            except ValueError:
                raise bad_cursor() from None
            stmt = stmt.where(or_(parties.c.search_name > sn,
                                  and_(parties.c.search_name == sn, parties.c.id > last)))
        rows = (await conn.execute(stmt.order_by(parties.c.search_name, parties.c.id).limit(limit + 1))).all()
        page = rows[:limit]
        shares = await _shares_of(conn, [r.id for r in page if r.restricted])
    nxt = encode_cursor(page[-1].search_name, page[-1].id) if len(rows) > limit else None
    return PartyPage(items=[party_out(r, shares.get(r.id, [])) for r in page], next_after=nxt)


async def _shares_of(conn: AsyncConnection, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    out: dict[uuid.UUID, list[uuid.UUID]] = {}
    if ids:
        for r in await conn.execute(select(party_shares).where(party_shares.c.party_id.in_(ids))
                                    .order_by(party_shares.c.user_id)):
            out.setdefault(r.party_id, []).append(r.user_id)
    return out


async def _detail(conn: AsyncConnection, row: Any) -> PartyDetail:
    contacts = (await conn.execute(select(party_contacts).where(party_contacts.c.party_id == row.id)
                                   .order_by(party_contacts.c.created_at, party_contacts.c.id))).all()
    return PartyDetail(**party_out(row, await shared_with(conn, row.id)).model_dump(),
                       contacts=[contact_out(c) for c in contacts])


@router.get("/{party_id}", response_model=PartyDetail, responses={404: {"description": "No such party (or hidden)"}})
async def get_party(party_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> PartyDetail:
    """A party's details and contacts (R2.8)."""
    async with runtime_of(request).db.read() as conn:
        return await _detail(conn, await visible_party_or_404(conn, p, party_id))


@router.patch("/{party_id}", response_model=PartyDetail)
async def change_party(party_id: uuid.UUID, body: PartyPatch, request: Request, p: CurrentPrincipal) -> PartyDetail:
    require_writer(p)
    changes = body.model_dump(exclude_unset=True)
    try:
        async with runtime_of(request).db.transaction() as tx:
            row = await visible_party_or_404(tx.conn, p, party_id)
            errors: list[dict[str, Any]] = []
            kind = changes.get("kind", row.kind)
            # A stakeholder turned into another kind stops being internal unless told otherwise.
            internal = changes.get("internal", row.internal and rules.may_be_internal(kind))
            if (e := _internal_error(kind, internal)) is not None:
                errors.append(e)
            changes["internal"] = internal
            if "national_id" in changes:
                raw = changes.pop("national_id")
                nid = _national_id(raw, await tenant_country(tx.conn, p.tenant), errors) if raw else None
                changes["national_id"] = nid.value if nid else None
                changes["national_id_key"] = nid.key if nid else None
            if errors:
                raise invalid(*errors)
            if "name" in changes:
                changes["search_name"] = rules.fold(changes["name"])
            if changes.get("email"):
                changes["email"] = changes["email"].lower()
            if "kind" in changes:
                changes["kind"] = str(changes["kind"])
            row = await _update_party(tx, row, changes)
            return await _detail(tx.conn, row)
    except IntegrityError:
        raise invalid(DUPLICATE_ID) from None


async def _update_party(tx: Tx, row: Any, changes: dict[str, Any]) -> Any:
    """Apply ``changes`` (if any differ) and emit ``party.upserted.v1``; returns the fresh row."""
    if any(getattr(row, k) != v for k, v in changes.items()):
        changes["updated_at"] = utcnow()
        await tx.conn.execute(update(parties).where(parties.c.id == row.id).values(**changes))
        row = (await tx.conn.execute(select(parties).where(parties.c.id == row.id))).one()
        await emit_party(tx, row, await shared_with(tx.conn, row.id))
    return row


@router.put("/{party_id}/sharing", response_model=PartyDetail)
async def change_sharing(party_id: uuid.UUID, body: SharingIn, request: Request, p: CurrentPrincipal) -> PartyDetail:
    """R2.7: restrict the party to chosen users of the tenant (``restricted: true`` and their ids in
    ``shared_with``), or open it to everyone of the tenant (``restricted: false``). Only an admin
    or the party's creator may; the creator and admins always keep seeing it."""
    async with runtime_of(request).db.transaction() as tx:
        row = await visible_party_or_404(tx.conn, p, party_id)
        if not can_change_party_sharing(p, created_by=row.created_by):
            raise forbidden(NO_SHARING)
        errors: list[dict[str, Any]] = []
        await _check_users(tx.conn, p, body.shared_with, errors)
        if errors:
            raise invalid(*errors)
        wanted = sorted(set(body.shared_with)) if body.restricted else []
        if wanted != await shared_with(tx.conn, party_id) or body.restricted != row.restricted:
            await replace_shares(tx.conn, party_id, wanted)
            await tx.conn.execute(update(parties).where(parties.c.id == party_id)
                                  .values(restricted=body.restricted, updated_at=utcnow()))
            row = (await tx.conn.execute(select(parties).where(parties.c.id == party_id))).one()
            await emit_party(tx, row, wanted)
        return await _detail(tx.conn, row)


@router.get("/{party_id}/history", response_model=PartyHistory)
async def party_history(party_id: uuid.UUID, request: Request, p: CurrentPrincipal,
                        status: Annotated[Literal["open", "closed", "all"], Query()] = "all",
                        limit: Annotated[int, Query(ge=1, le=500)] = 200) -> PartyHistory:
    """R2.8: the party's interactions (R2.2) and cases, newest first; ``status`` picks the open,
    the closed or all of them (R2.8's three tabs). A case belongs to the party when it names it
    or hangs from one of its interactions."""
    async with runtime_of(request).db.read() as conn:
        await visible_party_or_404(conn, p, party_id)
        i = interactions.c
        stmt = select(interactions).where(i.tenant == p.tenant, i.party_id == party_id)
        if status != "all":
            stmt = stmt.where(i.status == status)
        found_interactions = [InteractionSummary.model_validate(r, from_attributes=True) for r in (await conn.execute(
            stmt.order_by(i.occurred_at.desc(), i.id).limit(limit))).all()]
        of_party = select(i.id).where(i.tenant == p.tenant, i.party_id == party_id)
        stmt = select(cases).where(cases.c.tenant == p.tenant,
                                   or_(cases.c.party_id == party_id, cases.c.interaction_id.in_(of_party)))
        closed = [s.value for s in FINISHED]
        if status == "open":
            stmt = stmt.where(cases.c.status.not_in(closed))
        elif status == "closed":
            stmt = stmt.where(cases.c.status.in_(closed))
        rows = (await conn.execute(stmt.order_by(cases.c.created_at.desc(), cases.c.id).limit(limit))).all()
    return PartyHistory(party_id=party_id, interactions=found_interactions, cases=[
        CaseSummary(id=r.id, number=r.number, type=r.type_code, subject=r.subject, status=r.status,
                    priority=r.priority, created_at=r.created_at, due_date=r.due_date,
                    overdue=r.overdue_since is not None) for r in rows])


# -- contacts (R2.8) ---------------------------------------------------------------------------------

@router.get("/{party_id}/contacts", response_model=list[ContactOut])
async def list_contacts(party_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> list[ContactOut]:
    async with runtime_of(request).db.read() as conn:
        return (await _detail(conn, await visible_party_or_404(conn, p, party_id))).contacts


@router.post("/{party_id}/contacts", status_code=201, response_model=ContactOut)
async def add_contact(party_id: uuid.UUID, body: ContactIn, request: Request, p: CurrentPrincipal) -> ContactOut:
    """A person met at the party, or who decides there (R2.8)."""
    require_writer(p)
    async with runtime_of(request).db.transaction() as tx:
        await visible_party_or_404(tx.conn, p, party_id)
        now = utcnow()
        values = {"id": uuid.uuid4(), "party_id": party_id, "tenant": p.tenant, **body.model_dump(),
                  "created_at": now, "updated_at": now}
        if values["email"]:
            values["email"] = values["email"].lower()
        await tx.conn.execute(party_contacts.insert().values(**values))
        return contact_out((await tx.conn.execute(select(party_contacts).where(
            party_contacts.c.id == values["id"]))).one())


async def _contact_or_404(conn: AsyncConnection, p: Principal, party_id: uuid.UUID, contact_id: uuid.UUID) -> Any:
    await visible_party_or_404(conn, p, party_id)
    row = (await conn.execute(select(party_contacts).where(party_contacts.c.id == contact_id,
                                                           party_contacts.c.party_id == party_id))).first()
    if row is None:
        raise not_found(CONTACT_NOT_FOUND)
    return row


@router.patch("/{party_id}/contacts/{contact_id}", response_model=ContactOut)
async def change_contact(party_id: uuid.UUID, contact_id: uuid.UUID, body: ContactPatch, request: Request,
                         p: CurrentPrincipal) -> ContactOut:
    require_writer(p)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("email"):
        changes["email"] = changes["email"].lower()
    async with runtime_of(request).db.transaction() as tx:
        await _contact_or_404(tx.conn, p, party_id, contact_id)
        if changes:
            await tx.conn.execute(update(party_contacts).where(party_contacts.c.id == contact_id)
                                  .values(**changes, updated_at=utcnow()))
        return contact_out((await tx.conn.execute(select(party_contacts).where(
            party_contacts.c.id == contact_id))).one())


@router.delete("/{party_id}/contacts/{contact_id}", status_code=204)
async def remove_contact(party_id: uuid.UUID, contact_id: uuid.UUID, request: Request,
                         p: CurrentPrincipal) -> Response:
    require_writer(p)
    async with runtime_of(request).db.transaction() as tx:
        await _contact_or_404(tx.conn, p, party_id, contact_id)
        await tx.conn.execute(party_contacts.delete().where(party_contacts.c.id == contact_id))
    return Response(status_code=204)


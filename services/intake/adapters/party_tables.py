"""Parties, their contacts and sharing, and assets (schema ``intake``; migration intake_0003_parties),
with the queries and writes the use cases (service_layer/parties.py, assets.py), the seed and
(for R2.7) the cases code share. No rules here: callers pass folded names, id keys and patterns.

For cases (R2.7: a restricted party's cases are hidden from users it is not shared with):

- ``party_visible(p, party_id_column)`` — a SQL condition to add to any query over rows that
  carry a party id (``cases.c.party_id``): true where the row has no party, or its party is
  visible to the principal. Admins see everything.
- ``await can_see_party_id(conn, p, party_id)`` — one party (``None`` → True).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    Select,
    String,
    Table,
    Text,
    Uuid,
    and_,
    exists,
    insert,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

# The module, not its names: case_tables imports party_visible from here (a cycle at import time).
from services.intake.adapters import case_tables
from services.intake.adapters.db import SCHEMA, cases, metadata, tenants, users
from services.intake.domain.access import Principal, Role, can_see_party
from shared.db import JsonType, UTCDateTime

parties = Table(
    "parties", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), ForeignKey(f"{SCHEMA}.tenants.slug"), nullable=False),
    Column("kind", String(20), nullable=False),  # services.intake.parties.PartyKind
    Column("internal", Boolean, nullable=False),  # an internal stakeholder (internal customer)
    Column("name", String(200), nullable=False),
    Column("search_name", String(200), nullable=False),  # parties.fold(name): case/accent-insensitive
    Column("national_id", String(40), nullable=True),  # normalised for the tenant's country
    Column("national_id_key", String(40), nullable=True),  # letters and digits: unique per tenant
    Column("email", String(254), nullable=True),  # lower-case
    Column("phone", String(20), nullable=True),  # E.164
    Column("address", String(300), nullable=True),
    Column("notes", Text(), nullable=True),
    Column("details", JsonType, nullable=False),  # free-form details (R2.8)
    Column("restricted", Boolean, nullable=False),  # R2.7: only shared users (and admins) see it
    Column("active", Boolean, nullable=False),
    Column("source", String(20), nullable=False),  # user | billing_import | seed
    Column("created_by", Uuid(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # R1.1: the commercial executive assigned to the customer (a user of the tenant; intake_0011).
    Column("executive_id", Uuid(), nullable=True),
)
Index("parties_executive", parties.c.executive_id)
Index("parties_tenant_name", parties.c.tenant, parties.c.search_name, parties.c.id)
Index("parties_tenant_national_id", parties.c.tenant, parties.c.national_id_key, unique=True)
Index("parties_tenant_email", parties.c.tenant, parties.c.email)
Index("parties_tenant_phone", parties.c.tenant, parties.c.phone)

# R2.7: the users a restricted party is shared with (its creator always sees it too).
party_shares = Table(
    "party_shares", metadata,
    Column("party_id", Uuid(), ForeignKey(f"{SCHEMA}.parties.id"), primary_key=True),
    Column("user_id", Uuid(), primary_key=True),
)
Index("party_shares_user", party_shares.c.user_id)

# R2.8: people met or who decide at the party.
party_contacts = Table(
    "party_contacts", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("party_id", Uuid(), ForeignKey(f"{SCHEMA}.parties.id"), nullable=False),
    Column("tenant", String(60), nullable=False),
    Column("name", String(200), nullable=False),
    Column("position", String(120), nullable=True),
    Column("decision_maker", Boolean, nullable=False),
    Column("email", String(254), nullable=True),  # lower-case
    Column("phone", String(20), nullable=True),  # E.164
    Column("notes", Text(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
Index("party_contacts_party", party_contacts.c.party_id)
Index("party_contacts_tenant_email", party_contacts.c.tenant, party_contacts.c.email)
Index("party_contacts_tenant_phone", party_contacts.c.tenant, party_contacts.c.phone)

assets = Table(
    "assets", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), ForeignKey(f"{SCHEMA}.tenants.slug"), nullable=False),
    Column("kind", String(20), nullable=False),  # services.intake.parties.AssetKind
    Column("code", String(80), nullable=False),  # external id: policy number, supply number…
    Column("name", String(200), nullable=False),
    Column("search_name", String(200), nullable=False),
    Column("attributes", JsonType, nullable=False),  # kind-specific (address, tariff, plan…)
    Column("party_id", Uuid(), ForeignKey(f"{SCHEMA}.parties.id"), nullable=True),  # the owning party
    Column("active", Boolean, nullable=False),
    Column("source", String(20), nullable=False),  # user | billing_import | seed
    Column("created_by", Uuid(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
Index("assets_tenant_kind_code", assets.c.tenant, assets.c.kind, assets.c.code, unique=True)
Index("assets_party", assets.c.party_id)


# -- R2.7 visibility -----------------------------------------------------------------------------

def _shared_with_caller(p: Principal) -> ColumnElement[bool]:
    return exists(select(party_shares.c.party_id).where(party_shares.c.party_id == parties.c.id,
                                                        party_shares.c.user_id == p.user_id))


def _visible_party_rows(p: Principal) -> ColumnElement[bool]:
    """Condition on ``parties``: rows of the caller's tenant the caller may see."""
    if p.has(Role.ADMIN):
        return true()
    if p.user_id is None:  # an API key acts for no user: it sees only unrestricted parties
        return parties.c.restricted.is_(False)
    return or_(parties.c.restricted.is_(False), parties.c.created_by == p.user_id, _shared_with_caller(p))


def _hidden_party_rows(p: Principal) -> ColumnElement[bool]:
    """The complement, spelled out (no NULL may turn "hidden" into "unknown", so a party created
    by the seed or the import, with no creator, stays hidden): restricted, and neither created
    by nor shared with the caller. ``restricted IS NOT false`` leads, as the partial index
    ``parties_restricted`` (intake_0005_inbox) expects."""
    if p.user_id is None:
        return parties.c.restricted.is_not(False)
    return and_(parties.c.restricted.is_not(False),
                or_(parties.c.created_by.is_(None), parties.c.created_by != p.user_id),
                not_(_shared_with_caller(p)))


def visible_parties(p: Principal) -> ColumnElement[bool]:
    """Condition on ``parties``: the caller's tenant, and (R2.7) what the caller may see."""
    return and_(parties.c.tenant == p.tenant, _visible_party_rows(p))


def party_visible(p: Principal, party_id_column: Any) -> ColumnElement[bool]:
    """For other tables (cases): the row has no party, or its party is visible to ``p``."""
    if p.has(Role.ADMIN):
        return true()
    hidden = select(parties.c.id).where(parties.c.tenant == p.tenant, _hidden_party_rows(p))
    return or_(party_id_column.is_(None), party_id_column.not_in(hidden))


async def can_see_party_id(conn: AsyncConnection, p: Principal, party_id: uuid.UUID | None) -> bool:
    """R2.7 for one party id (``None``: no party, nothing to hide). A party of another tenant,
    or none at all, is False: the caller answers 404 either way."""
    if party_id is None:
        return True
    row = (await conn.execute(select(parties.c.tenant, parties.c.restricted, parties.c.created_by)
                              .where(parties.c.id == party_id))).first()
    if row is None or row.tenant != p.tenant:
        return False
    shared = frozenset(await shared_with(conn, party_id)) if row.restricted else frozenset()
    return can_see_party(p, restricted=row.restricted,
                         shared_with=shared | ({row.created_by} if row.created_by else set()))


# -- reads and writes ----------------------------------------------------------------------------

async def get_visible_party(conn: AsyncConnection, p: Principal, party_id: uuid.UUID) -> Row[Any] | None:
    return (await conn.execute(select(parties).where(parties.c.id == party_id, visible_parties(p)))).first()


async def shared_with(conn: AsyncConnection, party_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.execute(select(party_shares.c.user_id).where(party_shares.c.party_id == party_id)
                              .order_by(party_shares.c.user_id))
    return [r.user_id for r in rows]


async def replace_shares(conn: AsyncConnection, party_id: uuid.UUID, user_ids: Iterable[uuid.UUID]) -> None:
    await conn.execute(party_shares.delete().where(party_shares.c.party_id == party_id))
    ids = sorted(set(user_ids))
    if ids:
        await conn.execute(insert(party_shares), [{"party_id": party_id, "user_id": u} for u in ids])


async def tenant_country(conn: AsyncConnection, tenant: str) -> str:
    return str((await conn.execute(select(tenants.c.country).where(tenants.c.slug == tenant))).scalar_one())


async def active_user_ids(conn: AsyncConnection, tenant: str, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of ``ids`` are active users of ``tenant`` (R2.7: whom a party may be shared with)."""
    wanted = set(ids)
    if not wanted:
        return set()
    return set((await conn.execute(select(users.c.id).where(
        users.c.id.in_(wanted), users.c.tenant == tenant, users.c.active.is_(True)))).scalars())


# -- parties -------------------------------------------------------------------------------------

async def lock_party(conn: AsyncConnection, tenant: str, party_id: uuid.UUID) -> Row[Any] | None:
    """The party row of ``tenant``, locked for the change (``FOR UPDATE``); visibility is then
    checked on this row, not on an earlier read."""
    return (await conn.execute(select(parties).where(parties.c.id == party_id, parties.c.tenant == tenant)
                               .with_for_update())).first()


async def get_party(conn: AsyncConnection, party_id: uuid.UUID) -> Row[Any]:
    return (await conn.execute(select(parties).where(parties.c.id == party_id))).one()


async def insert_party(conn: AsyncConnection, values: dict[str, Any], shares: Iterable[uuid.UUID] = ()) -> Row[Any]:
    """Insert a party and its sharing list; returns the row."""
    await conn.execute(insert(parties), values)
    await replace_shares(conn, values["id"], shares)
    return await get_party(conn, values["id"])


async def update_party(conn: AsyncConnection, party_id: uuid.UUID, changes: dict[str, Any]) -> Row[Any]:
    await conn.execute(update(parties).where(parties.c.id == party_id).values(**changes))
    return await get_party(conn, party_id)


def name_matches(folded_pattern: str) -> ColumnElement[bool]:
    """``folded_pattern``: a LIKE pattern over ``fold(name)``, wildcards escaped with a backslash."""
    return parties.c.search_name.like(folded_pattern, escape="\\")


def national_id_is(key: str) -> ColumnElement[bool]:
    return parties.c.national_id_key == key


def email_matches(pattern: str) -> ColumnElement[bool]:
    """The party's own e-mail or one of its contacts' (R2.8) matches the LIKE ``pattern``."""
    k = party_contacts.c
    return or_(parties.c.email.like(pattern, escape="\\"), exists(select(k.id).where(
        k.party_id == parties.c.id, k.email.like(pattern, escape="\\"))))


def phone_contains(digits: str) -> ColumnElement[bool]:
    k = party_contacts.c
    pattern = f"%{digits}%"
    return or_(parties.c.phone.like(pattern), exists(select(k.id).where(k.party_id == parties.c.id,
                                                                        k.phone.like(pattern))))


def any_of(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return or_(*conditions)


def party_flags(*, kinds: list[str], internal: bool | None, active: bool | None) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if kinds:
        conds.append(parties.c.kind.in_(kinds))
    if internal is not None:
        conds.append(parties.c.internal.is_(internal))
    if active is not None:
        conds.append(parties.c.active.is_(active))
    return conds


def party_list(p: Principal, conditions: list[Any]) -> Select[Any]:
    """Parties ``p`` may see (R2.7) matching every condition (unordered: a page orders them, a
    count counts them)."""
    return select(parties).where(visible_parties(p), *conditions)


async def find_parties(conn: AsyncConnection, p: Principal, conditions: list[Any], *,
                       after: list[Any] | None, limit: int) -> list[Row[Any]]:
    """Parties ``p`` may see (R2.7) matching every condition, by name then id, after the keyset
    ``after`` = (search_name, id); every filter is in the query, so the page is cut after them."""
    stmt = party_list(p, conditions)
    if after is not None:
        sn, last = after
        stmt = stmt.where(or_(parties.c.search_name > sn, and_(parties.c.search_name == sn, parties.c.id > last)))
    return list((await conn.execute(stmt.order_by(parties.c.search_name, parties.c.id).limit(limit))).all())


async def shares_of(conn: AsyncConnection, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    out: dict[uuid.UUID, list[uuid.UUID]] = {}
    if ids:
        for r in await conn.execute(select(party_shares).where(party_shares.c.party_id.in_(ids))
                                    .order_by(party_shares.c.user_id)):
            out.setdefault(r.party_id, []).append(r.user_id)
    return out


async def party_interactions(conn: AsyncConnection, tenant: str, party_id: uuid.UUID, status: str | None,
                             limit: int) -> list[Row[Any]]:
    i = case_tables.interactions.c
    stmt = select(case_tables.interactions).where(i.tenant == tenant, i.party_id == party_id)
    if status is not None:
        stmt = stmt.where(i.status == status)
    return list((await conn.execute(stmt.order_by(i.occurred_at.desc(), i.id).limit(limit))).all())


async def party_cases(conn: AsyncConnection, tenant: str, party_id: uuid.UUID, *, closed: list[str] | None,
                      open_: list[str] | None, limit: int) -> list[Row[Any]]:
    """Cases naming the party or hanging from one of its interactions; ``closed``: only those
    statuses; ``open_``: all but those."""
    i = case_tables.interactions.c
    of_party = select(i.id).where(i.tenant == tenant, i.party_id == party_id)
    stmt = select(cases).where(cases.c.tenant == tenant,
                               or_(cases.c.party_id == party_id, cases.c.interaction_id.in_(of_party)))
    if closed is not None:
        stmt = stmt.where(cases.c.status.in_(closed))
    if open_ is not None:
        stmt = stmt.where(cases.c.status.not_in(open_))
    return list((await conn.execute(stmt.order_by(cases.c.created_at.desc(), cases.c.id).limit(limit))).all())


# -- contacts (R2.8) -----------------------------------------------------------------------------

def _contacts_of(party_id: uuid.UUID) -> Select[Any]:
    return select(party_contacts).where(party_contacts.c.party_id == party_id)


async def contacts_of(conn: AsyncConnection, party_id: uuid.UUID, *, after: list[Any] | None = None,
                      limit: int | None = None) -> list[Row[Any]]:
    """A party's contacts in the order they were added (keyset ``after`` = (created_at, id))."""
    k = party_contacts.c
    stmt = _contacts_of(party_id)
    if after is not None:
        at, last = after
        stmt = stmt.where(or_(k.created_at > at, and_(k.created_at == at, k.id > last)))
    stmt = stmt.order_by(k.created_at, k.id)
    return list((await conn.execute(stmt if limit is None else stmt.limit(limit))).all())


async def lock_contact(conn: AsyncConnection, party_id: uuid.UUID, contact_id: uuid.UUID) -> Row[Any] | None:
    row: Row[Any] | None = (await conn.execute(_contacts_of(party_id).where(party_contacts.c.id == contact_id)
                                                .with_for_update())).first()
    return row


async def get_contact(conn: AsyncConnection, contact_id: uuid.UUID) -> Row[Any]:
    return (await conn.execute(select(party_contacts).where(party_contacts.c.id == contact_id))).one()


async def insert_contact(conn: AsyncConnection, values: dict[str, Any]) -> Row[Any]:
    await conn.execute(insert(party_contacts), values)
    return await get_contact(conn, values["id"])


async def update_contact(conn: AsyncConnection, contact_id: uuid.UUID, changes: dict[str, Any]) -> Row[Any]:
    await conn.execute(update(party_contacts).where(party_contacts.c.id == contact_id).values(**changes))
    return await get_contact(conn, contact_id)


async def delete_contact(conn: AsyncConnection, contact_id: uuid.UUID) -> None:
    await conn.execute(party_contacts.delete().where(party_contacts.c.id == contact_id))


# -- assets --------------------------------------------------------------------------------------

def visible_assets(p: Principal) -> ColumnElement[bool]:
    """Assets of ``p``'s tenant whose owning party (if any) ``p`` may see (R2.7)."""
    return and_(assets.c.tenant == p.tenant, party_visible(p, assets.c.party_id))


async def get_visible_asset(conn: AsyncConnection, p: Principal, asset_id: uuid.UUID) -> Row[Any] | None:
    return (await conn.execute(select(assets).where(assets.c.id == asset_id, visible_assets(p)))).first()


async def lock_asset(conn: AsyncConnection, tenant: str, asset_id: uuid.UUID) -> Row[Any] | None:
    return (await conn.execute(select(assets).where(assets.c.id == asset_id, assets.c.tenant == tenant)
                               .with_for_update())).first()


async def get_asset(conn: AsyncConnection, asset_id: uuid.UUID) -> Row[Any]:
    return (await conn.execute(select(assets).where(assets.c.id == asset_id))).one()


async def insert_asset(conn: AsyncConnection, values: dict[str, Any]) -> Row[Any]:
    await conn.execute(insert(assets), values)
    return await get_asset(conn, values["id"])


async def insert_assets(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 1000):
        await conn.execute(insert(assets), rows[start:start + 1000])


async def update_asset(conn: AsyncConnection, asset_id: uuid.UUID, changes: dict[str, Any]) -> Row[Any]:
    await conn.execute(update(assets).where(assets.c.id == asset_id).values(**changes))
    return await get_asset(conn, asset_id)


def asset_filters(*, kinds: list[str] | None = None, party_id: uuid.UUID | None = None, code: str | None = None,
                  name_pattern: str | None = None, code_prefix: str | None = None,
                  active: bool | None = None) -> list[ColumnElement[bool]]:
    """Conditions on ``assets``; ``name_pattern`` (over the folded name) and ``code_prefix`` are
    LIKE patterns, escaped with a backslash, and either matches."""
    c = assets.c
    conds: list[ColumnElement[bool]] = []
    if kinds:
        conds.append(c.kind.in_(kinds))
    if party_id is not None:
        conds.append(c.party_id == party_id)
    if code is not None:
        conds.append(c.code == code)
    if name_pattern is not None and code_prefix is not None:
        conds.append(or_(c.search_name.like(name_pattern, escape="\\"), c.code.like(code_prefix, escape="\\")))
    if active is not None:
        conds.append(c.active.is_(active))
    return conds


async def find_assets(conn: AsyncConnection, p: Principal, conditions: list[ColumnElement[bool]], *,
                      after: list[Any] | None, limit: int) -> list[Row[Any]]:
    """Visible assets matching every condition, by kind then code (unique per tenant), after the
    keyset ``after`` = (kind, code)."""
    stmt = select(assets).where(visible_assets(p), *conditions)
    if after is not None:
        kind, code = after
        stmt = stmt.where(or_(assets.c.kind > kind, and_(assets.c.kind == kind, assets.c.code > code)))
    return list((await conn.execute(stmt.order_by(assets.c.kind, assets.c.code).limit(limit))).all())


async def lock_supplies(conn: AsyncConnection, tenant: str, codes: list[str], kind: str) -> dict[str, Row[Any]]:
    """The tenant's supplies with these codes, locked for the import's upsert."""
    found: dict[str, Row[Any]] = {}
    for start in range(0, len(codes), 500):
        for r in await conn.execute(select(assets).where(assets.c.tenant == tenant, assets.c.kind == kind,
                                                         assets.c.code.in_(codes[start:start + 500]))
                                    .order_by(assets.c.id).with_for_update()):
            found[r.code] = r
    return found


async def party_ids_by_key(conn: AsyncConnection, tenant: str, keys: list[str]) -> dict[str, uuid.UUID]:
    """The tenant's parties with these national id keys."""
    found: dict[str, uuid.UUID] = {}
    for start in range(0, len(keys), 500):
        for r in await conn.execute(select(parties.c.id, parties.c.national_id_key).where(
                parties.c.tenant == tenant, parties.c.national_id_key.in_(keys[start:start + 500]))):
            found[r.national_id_key] = r.id
    return found

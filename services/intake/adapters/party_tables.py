"""Parties, their contacts and sharing, and assets (schema ``intake``; migration intake_0003_parties),
with the queries and writes the API, the seed and (for R2.7) the cases code share.

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
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters.db import SCHEMA, metadata
from services.intake.domain.access import Principal, Role, can_see_party
from shared.contracts.envelope import Envelope
from shared.contracts.events import AssetUpserted, PartyUpserted
from shared.db import JsonType, Tx, UTCDateTime
from shared.logs import correlation_id

SOURCE = "atiende/intake"

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
)
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


async def emit_party(tx: Tx, row: Any, shared: list[uuid.UUID]) -> None:
    data = PartyUpserted(party_id=row.id, kind=row.kind, internal=row.internal, name=row.name,
                         national_id=row.national_id, restricted=row.restricted,
                         shared_with=shared if row.restricted else [], active=row.active, source=row.source,
                         created_at=row.created_at, updated_at=row.updated_at)
    await tx.emit(Envelope(source=SOURCE, type="party.upserted.v1", subject=str(row.id), tenant=row.tenant,
                           correlationid=correlation_id.get(), data=data.model_dump(mode="json")))


async def emit_asset(tx: Tx, row: Any) -> None:
    data = AssetUpserted(asset_id=row.id, kind=row.kind, code=row.code, name=row.name, party_id=row.party_id,
                         active=row.active, source=row.source, created_at=row.created_at,
                         updated_at=row.updated_at)
    await tx.emit(Envelope(source=SOURCE, type="asset.upserted.v1", subject=str(row.id), tenant=row.tenant,
                           correlationid=correlation_id.get(), data=data.model_dump(mode="json")))


async def insert_party(tx: Tx, values: dict[str, Any], shares: Iterable[uuid.UUID] = ()) -> Row[Any]:
    """Insert a party (and its sharing list), emit ``party.upserted.v1``; returns the row."""
    await tx.conn.execute(insert(parties), values)
    await replace_shares(tx.conn, values["id"], shares)
    row = (await tx.conn.execute(select(parties).where(parties.c.id == values["id"]))).one()
    await emit_party(tx, row, await shared_with(tx.conn, row.id))
    return row


async def insert_asset(tx: Tx, values: dict[str, Any]) -> Row[Any]:
    await tx.conn.execute(insert(assets), values)
    row = (await tx.conn.execute(select(assets).where(assets.c.id == values["id"]))).one()
    await emit_asset(tx, row)
    return row


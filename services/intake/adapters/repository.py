"""intake's queries about cases (SQLAlchemy Core) and the in-process catalog cache.

The catalog (tenants, case types, channels, areas, projects, categories) changes rarely and is
read on every POST /cases, so it is cached for a short time in the process; ``CatalogCache.clear``
(or ``forget`` for one tenant) empties it when a catalog event says it changed."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters.case_tables import attachments, case_history, interactions, tasks
from services.intake.adapters.catalog_tables import (
    DEFAULT_CALENDAR,
    ENTRY_TABLES,
    areas,
    calendars,
    categories,
    projects,
)
from services.intake.adapters.db import case_types, cases, idempotency_keys, tenants, users
from shared.db import Database
from shared.refusals import field_error, invalid

V = TypeVar("V")


class TenantCalendars:
    """A ``tenants`` row (its columns read as attributes, ``calendar_version``: the default
    calendar's) with the version of each of its calendars and the calendar of each area that
    names one: what picks a new case's calendar (the type's, else the area's, else "default")."""

    def __init__(self, row: Row[Any], calendar_versions: dict[str, int], area_calendars: dict[str, str]) -> None:
        self._row = row
        self.calendar_versions = calendar_versions
        self.area_calendars = area_calendars

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)

    def calendar_for(self, type_sla: dict[str, Any] | None, area: str | None) -> tuple[str, int | None]:
        """The calendar code of a new case and that calendar's version (None: never set)."""
        code = (type_sla or {}).get("calendar") or (self.area_calendars.get(area) if area else None) \
            or DEFAULT_CALENDAR
        return code, self.calendar_versions.get(code)


class CatalogCache:
    def __init__(self, db: Database, ttl_s: float = 30.0) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self._hits: dict[tuple[Any, ...], tuple[float, Any]] = {}

    async def _cached(self, key: tuple[Any, ...], load: Callable[[AsyncConnection], Awaitable[V]]) -> V:
        hit = self._hits.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]  # type: ignore[no-any-return]
        async with self.db.read() as conn:
            value = await load(conn)
        self._hits[key] = (time.monotonic() + self.ttl_s, value)
        return value

    async def tenant(self, slug: str) -> TenantCalendars | None:
        # With the versions of its business calendars and its areas' calendars, which
        # case.created.v1 carries (calendar_code, calendar_version).
        async def load(conn: AsyncConnection) -> TenantCalendars | None:
            row = (await conn.execute(
                select(tenants, calendars.c.version.label("calendar_version"))
                .select_from(tenants.outerjoin(calendars, and_(calendars.c.tenant == tenants.c.slug,
                                                               calendars.c.code == DEFAULT_CALENDAR)))
                .where(tenants.c.slug == slug))).first()
            if row is None:
                return None
            versions = {r.code: r.version for r in await conn.execute(
                select(calendars.c.code, calendars.c.version).where(calendars.c.tenant == slug))}
            area_calendars = {r.code: r.calendar for r in await conn.execute(
                select(areas.c.code, areas.c.calendar).where(areas.c.tenant == slug, areas.c.calendar.is_not(None)))}
            return TenantCalendars(row, versions, area_calendars)
        return await self._cached(("tenant", slug), load)

    async def case_type(self, tenant: str, code: str) -> Row[Any] | None:
        """An active case type of the tenant."""
        async def load(conn: AsyncConnection) -> Row[Any] | None:
            return (await conn.execute(select(case_types).where(
                case_types.c.tenant == tenant, case_types.c.code == code, case_types.c.active.is_(True)))).first()
        return await self._cached(("type", tenant, code), load)

    async def active_codes(self, tenant: str, kind: str) -> frozenset[str]:
        """The tenant's active channels, areas or projects (``kind``: channel | area | project)."""
        t = ENTRY_TABLES[kind]

        async def load(conn: AsyncConnection) -> frozenset[str]:
            return frozenset((await conn.execute(select(t.c.code).where(
                t.c.tenant == tenant, t.c.active.is_(True)))).scalars())
        return await self._cached((kind, tenant), load)

    async def active_category_paths(self, tenant: str) -> frozenset[str]:
        async def load(conn: AsyncConnection) -> frozenset[str]:
            return frozenset((await conn.execute(select(categories.c.path).where(
                categories.c.tenant == tenant, categories.c.active.is_(True)))).scalars())
        return await self._cached(("category", tenant), load)

    async def active_user(self, tenant: str, user_id: uuid.UUID | None, email: str | None = None) -> Row[Any] | None:
        """By id or e-mail. Not cached: a deactivated user must stop receiving cases at once."""
        key = users.c.id == user_id if user_id is not None else users.c.email == (email or "").lower()
        async with self.db.read() as conn:
            found = (await conn.execute(select(users.c.id, users.c.email, users.c.name).where(
                key, users.c.tenant == tenant, users.c.active.is_(True)))).first()
        return cast("Row[Any] | None", found)

    def forget(self, tenant: str) -> None:
        """Drop what is cached about one tenant."""
        for key in [k for k in self._hits if tenant in k[1:2]]:
            self._hits.pop(key, None)

    def clear(self) -> None:
        self._hits.clear()


# -- cases ------------------------------------------------------------------------------------
async def next_case_number(conn: AsyncConnection, tenant: str) -> int:
    """Take the tenant's next number (the row lock makes concurrent creations queue briefly)."""
    res = await conn.execute(update(tenants).where(tenants.c.slug == tenant)
                             .values(next_case_number=tenants.c.next_case_number + 1)
                             .returning(tenants.c.next_case_number))
    return int(res.scalar_one()) - 1


async def insert_case(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(cases), row)


async def get_case(conn: AsyncConnection, case_id: uuid.UUID) -> Row[Any] | None:
    return (await conn.execute(select(cases).where(cases.c.id == case_id))).first()


async def tenant_case(conn: AsyncConnection, tenant: str, case_id: uuid.UUID, *, lock: bool = False) -> Row[Any] | None:
    """The tenant's case; ``lock``: ``FOR UPDATE`` (held until the transaction ends)."""
    q = select(cases).where(cases.c.id == case_id, cases.c.tenant == tenant)
    return (await conn.execute(q.with_for_update() if lock else q)).first()


async def update_case(conn: AsyncConnection, case_id: uuid.UUID, values: dict[str, Any]) -> Row[Any]:
    """Change a case and return it as it now is."""
    return (await conn.execute(update(cases).where(cases.c.id == case_id).values(**values)
                               .returning(*cases.c))).one()


async def open_tasks(conn: AsyncConnection, case_id: uuid.UUID) -> list[Any]:
    rows = await conn.execute(select(tasks.c.id, tasks.c.title).where(
        tasks.c.case_id == case_id, tasks.c.status != "closed").order_by(tasks.c.created_at))
    return list(rows.all())


async def attachment_count(conn: AsyncConnection, case_id: uuid.UUID) -> int:
    """Files attached to the case or to anything under it (its tasks, its history)."""
    return int((await conn.execute(select(func.count()).select_from(attachments).where(
        attachments.c.case_id == case_id))).scalar_one())


async def case_type_any(conn: AsyncConnection, tenant: str, code: str) -> Row[Any] | None:
    """A case type, active or not (a case keeps the rules of its type when the type is retired)."""
    return (await conn.execute(select(case_types).where(case_types.c.tenant == tenant,
                                                        case_types.c.code == code))).first()


async def type_for_follow_up_kind(conn: AsyncConnection, tenant: str, kind: str) -> str | None:
    """The tenant's active case type that stands for a follow-up kind (R3.1), if any."""
    return (await conn.execute(select(case_types.c.code).where(
        case_types.c.tenant == tenant, case_types.c.active.is_(True), case_types.c.follow_up_kind == kind)
        .order_by(case_types.c.is_follow_up.desc(), case_types.c.code).limit(1))).scalar()


async def project_business_line(conn: AsyncConnection, tenant: str, project: str | None) -> str | None:
    """R3.5: the business line the tenant's catalog gives a project."""
    if project is None:
        return None
    return (await conn.execute(select(projects.c.business_line).where(
        projects.c.tenant == tenant, projects.c.code == project))).scalar()


async def history_page(conn: AsyncConnection, case_id: uuid.UUID, after: int | None, limit: int) -> list[Any]:
    q = select(case_history).where(case_history.c.case_id == case_id).order_by(case_history.c.id).limit(limit)
    if after is not None:
        q = q.where(case_history.c.id > after)
    return list((await conn.execute(q)).all())


async def last_answer(conn: AsyncConnection, case_id: uuid.UUID, kinds: tuple[str, ...]) -> tuple[str | None, Any]:
    """The latest history entry of ``kinds`` that carries a text, and when."""
    rows = await conn.execute(select(case_history.c.data, case_history.c.at).where(
        case_history.c.case_id == case_id, case_history.c.kind.in_(kinds)).order_by(case_history.c.id.desc()))
    for data, at in rows:
        text = (data or {}).get("text")
        if text:
            return str(text), at
    return None, None


# -- idempotency ----------------------------------------------------------------------------
async def find_idempotent(conn: AsyncConnection, tenant: str, key: str) -> Row[Any] | None:
    return (await conn.execute(select(idempotency_keys).where(
        idempotency_keys.c.tenant == tenant, idempotency_keys.c.key == key))).first()


async def save_idempotent(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(idempotency_keys), row)


# -- references of a new case ---------------------------------------------------------------
async def reference_errors(conn: AsyncConnection, tenant: str, *, interaction_id: uuid.UUID | None,
                           follow_up_of: uuid.UUID | None) -> list[dict[str, Any]]:
    """Field errors for references to an interaction (R2.3: must be this tenant's and open) and
    to the original of a follow-up (R3.1: must be this tenant's case)."""
    errors: list[dict[str, Any]] = []
    if interaction_id is not None:
        row = (await conn.execute(select(interactions.c.status).where(
            interactions.c.id == interaction_id, interactions.c.tenant == tenant))).first()
        if row is None:
            errors.append(field_error("interaction_id", ("La atención no existe.", "No such interaction."),
                                      "unknown_interaction"))
        elif row.status != "open":
            errors.append(field_error("interaction_id", ("La atención está cerrada.", "The interaction is closed."),
                                      "interaction_closed"))
    if follow_up_of is not None:
        row = (await conn.execute(select(cases.c.id).where(cases.c.id == follow_up_of,
                                                           cases.c.tenant == tenant))).first()
        if row is None:
            errors.append(field_error("follow_up_of", ("La solicitud original no existe.",
                                                       "No such original case."), "unknown_original"))
    return errors


async def lock_open_interaction(conn: AsyncConnection, tenant: str, interaction_id: uuid.UUID) -> None:
    """Share-lock the interaction a new case goes under and make sure it is still open."""
    row = (await conn.execute(select(interactions.c.status).where(
        interactions.c.id == interaction_id, interactions.c.tenant == tenant).with_for_update(read=True))).first()
    if row is None or row.status != "open":
        raise invalid(field_error("interaction_id", ("La atención está cerrada.", "The interaction is closed."),
                                  "interaction_closed"))

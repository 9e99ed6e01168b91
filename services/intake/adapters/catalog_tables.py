"""The catalog's tables (schema ``intake``) and the writes the API and the seed share: each
write bumps the entry's version and emits its ``catalog.*_changed.v1`` event in the same
transaction, so workflow, notifier and reporting can keep their own copies.

``case_types`` itself is declared in db.py (it predates the catalog); its catalog columns come
from migration intake_0003_catalog."""

from __future__ import annotations

import uuid
from datetime import time
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Uuid, and_, func, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters.db import SCHEMA, case_types, metadata, tenants, users
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    AreaChanged,
    CalendarChanged,
    CaseTypeChanged,
    CategoryChanged,
    ChannelChanged,
    ClosedDay,
    DeadlineRule,
    EscalationKindChanged,
    EscalationLevel,
    PinnedFields,
    ProjectChanged,
    SlaPolicy,
    SlaSettingsChanged,
    WorkPeriod,
)
from shared.db import JsonType, Tx, UTCDateTime, insert_ignoring_duplicates, utcnow
from shared.logs import correlation_id

SOURCE = "atiende/intake"


def _entry_table(name: str, *extra: Column[Any]) -> Table:
    return Table(
        name, metadata,
        Column("tenant", String(60), ForeignKey(f"{SCHEMA}.tenants.slug"), primary_key=True),
        Column("code", String(60), primary_key=True),
        Column("name_es", String(200), nullable=False),
        Column("name_en", String(200), nullable=False),
        *extra,
        Column("active", Boolean, nullable=False),
        Column("version", Integer, nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
    )


channels = _entry_table("channels")
# ``calendar``: the code of the tenant calendar its cases run on (None: the tenant default).
areas = _entry_table("areas", Column("head_user_id", Uuid(), nullable=True), Column("calendar", String(60), nullable=True))
projects = _entry_table("projects", Column("business_line", String(16), nullable=True))  # R3.5: meter | packaged | bulk
escalation_kinds = _entry_table("escalation_kinds")  # R4.9: what users subscribe to (intake_0008_time_catalog)

# The case type's SLA policy (issue 10, intake_0008_time_catalog): a ``SlaPolicy`` as JSON, None:
# only the deadline with the tenant's settings. ``case_types`` is declared in db.py.
if "sla" not in case_types.c:
    case_types.append_column(Column("sla", JsonType, nullable=True))
# R1.4 (intake_0012_surrender_rules): a type code whose case must exist first on the same policy.
if "preceded_by" not in case_types.c:
    case_types.append_column(Column("preceded_by", String(60), nullable=True))
# R1.1 (intake_0011_party_executive): creating one sends churn alerts to the customer's executive
# and the line above.
if "churn_alert" not in case_types.c:
    case_types.append_column(Column("churn_alert", Boolean, nullable=False, default=False))

categories = Table(
    "categories", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), ForeignKey(f"{SCHEMA}.tenants.slug"), nullable=False),
    Column("parent_id", Uuid(), ForeignKey(f"{SCHEMA}.categories.id"), nullable=True),
    Column("code", String(60), nullable=False),
    Column("path", String(200), nullable=False),  # codes from the root, "/"-joined; never changes
    Column("level", Integer, nullable=False),  # 1..3
    Column("name_es", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
Index("categories_tenant_path", categories.c.tenant, categories.c.path, unique=True)

# A tenant's business calendars, by code ("default": the tenant's own, whose country and time
# zone stay on ``tenants``: case.created.v1 carries them). Another calendar has its own country
# and time zone (None on "default").
calendars = Table(
    "calendars", metadata,
    Column("tenant", String(60), ForeignKey(f"{SCHEMA}.tenants.slug"), primary_key=True),
    Column("code", String(60), primary_key=True),
    Column("name", String(200), nullable=True),
    Column("country", String(2), nullable=True),
    Column("timezone", String(60), nullable=True),
    Column("subdivision", String(10), nullable=True),  # regional holidays (``holidays`` package)
    Column("hours", JsonType, nullable=True),  # {"1": [{"start": "09:00", "end": "13:00"}, …]}; ISO weekdays
    Column("extra_closed_days", JsonType, nullable=False),  # [{"date": "YYYY-MM-DD", "name": …}]
    Column("extra_working_days", JsonType, nullable=True),  # same shape; None: none
    Column("work_days", JsonType, nullable=False),  # ISO weekdays, 1 = Monday (the first/last period:
    Column("work_start", String(5), nullable=False),  # "HH:MM", local time     for older consumers)
    Column("work_end", String(5), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
DEFAULT_CALENDAR = "default"

# The tenant's SLA settings (one row per tenant; none: the defaults).
sla_settings = Table(
    "sla_settings", metadata,
    Column("tenant", String(60), ForeignKey(f"{SCHEMA}.tenants.slug"), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("warning_percents", JsonType, nullable=False),
    Column("ladder", JsonType, nullable=False),  # [EscalationLevel as JSON]
    Column("quiet_hours", Boolean, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # R1.1: managers above the executive the churn alerts reach (intake_0011; None: the default, 2).
    Column("churn_alert_levels", Integer, nullable=True),
)
DEFAULT_CHURN_ALERT_LEVELS = 2

ENTRY_TABLES = {"channel": channels, "area": areas, "project": projects, "escalation_kind": escalation_kinds}
_ENTRY_EVENTS: dict[str, type[BaseModel]] = {"channel": ChannelChanged, "area": AreaChanged, "project": ProjectChanged,
                                             "escalation_kind": EscalationKindChanged}


async def _emit(tx: Tx, tenant: str, event_type: str, subject: str, data: Any) -> None:
    await tx.emit(Envelope(source=SOURCE, type=event_type, subject=subject, tenant=tenant,
                           correlationid=correlation_id.get(), data=data.model_dump(mode="json")))


# -- channels, areas, projects ---------------------------------------------------------------
async def get_entry(conn: AsyncConnection, kind: str, tenant: str, code: str, *, lock: bool = False
                    ) -> Row[Any] | None:
    t = ENTRY_TABLES[kind]
    q = select(t).where(t.c.tenant == tenant, t.c.code == code)
    return (await conn.execute(q.with_for_update() if lock else q)).first()


async def list_entries(conn: AsyncConnection, kind: str, tenant: str, active: bool | None) -> list[Row[Any]]:
    t = ENTRY_TABLES[kind]
    q = select(t).where(t.c.tenant == tenant).order_by(t.c.code)
    if active is not None:
        q = q.where(t.c.active.is_(active))
    return list((await conn.execute(q)).all())


async def is_active_user(conn: AsyncConnection, tenant: str, user_id: uuid.UUID) -> bool:
    return (await conn.execute(select(users.c.id).where(users.c.id == user_id, users.c.tenant == tenant,
                                                        users.c.active.is_(True)))).first() is not None


async def active_codes(conn: AsyncConnection, kind: str, tenant: str, codes: set[str]) -> set[str]:
    """Which of ``codes`` are active entries of the tenant."""
    return {code for code, active in (await entry_states(conn, kind, tenant, codes)).items() if active}


async def entry_states(conn: AsyncConnection, kind: str, tenant: str, codes: set[str]) -> dict[str, bool]:
    """Which of ``codes`` are entries of the tenant (another tenant's do not count), each with
    its ``active`` flag; a code missing from the answer does not exist."""
    if not codes:
        return {}
    t = ENTRY_TABLES[kind]
    rows = await conn.execute(select(t.c.code, t.c.active).where(t.c.tenant == tenant, t.c.code.in_(codes)))
    return {r.code: bool(r.active) for r in rows}


async def save_entry(tx: Tx, kind: str, tenant: str, code: str, values: dict[str, Any], *, create: bool) -> Row[Any]:
    """Insert (``create``) or change an entry, bump its version and emit its event."""
    t = ENTRY_TABLES[kind]
    now = utcnow()
    if create:
        await tx.conn.execute(t.insert().values(tenant=tenant, code=code, version=1, updated_at=now,
                                                **{"active": True, **values}))
    else:
        await tx.conn.execute(update(t).where(t.c.tenant == tenant, t.c.code == code)
                              .values(version=t.c.version + 1, updated_at=now, **values))
    row = await get_entry(tx.conn, kind, tenant, code)
    assert row is not None
    # Fields the table does not have (yet) take the contract's default.
    data = {k: row._mapping[k] for k in _ENTRY_EVENTS[kind].model_fields if k in row._mapping}
    await _emit(tx, tenant, f"catalog.{kind}_changed.v1", code, _ENTRY_EVENTS[kind](**data))
    return row


# -- categories ------------------------------------------------------------------------------
async def category_by_path(conn: AsyncConnection, tenant: str, path: str) -> Row[Any] | None:
    return (await conn.execute(select(categories).where(categories.c.tenant == tenant,
                                                        categories.c.path == path))).first()


async def category_by_id(conn: AsyncConnection, tenant: str, category_id: uuid.UUID, *, lock: bool = False
                         ) -> Row[Any] | None:
    q = select(categories).where(categories.c.tenant == tenant, categories.c.id == category_id)
    return (await conn.execute(q.with_for_update() if lock else q)).first()


async def list_categories(conn: AsyncConnection, tenant: str, active: bool | None) -> list[Row[Any]]:
    """Ordered by path: a parent before its children."""
    q = select(categories).where(categories.c.tenant == tenant).order_by(categories.c.path)
    if active is not None:
        q = q.where(categories.c.active.is_(active))
    return list((await conn.execute(q)).all())


async def categories_by_paths(conn: AsyncConnection, tenant: str, paths: list[str]) -> dict[str, Row[Any]]:
    rows = await conn.execute(select(categories).where(categories.c.tenant == tenant, categories.c.path.in_(paths)))
    return {r.path: r for r in rows}


def _parent_path(path: str) -> str | None:
    return path.rsplit("/", 1)[0] if "/" in path else None


async def save_category(tx: Tx, tenant: str, values: dict[str, Any], *, category_id: uuid.UUID | None = None,
                        parent: Row[Any] | None = None) -> Row[Any]:
    """Create a node under ``parent`` (``category_id`` None; ``values`` has code and names) or
    change one (names, active). Emits catalog.category_changed.v1."""
    now = utcnow()
    if category_id is None:
        category_id = uuid.uuid4()
        code = values["code"]
        await tx.conn.execute(categories.insert().values(
            id=category_id, tenant=tenant, parent_id=parent.id if parent else None, code=code,
            path=f"{parent.path}/{code}" if parent else code, level=parent.level + 1 if parent else 1,
            name_es=values["name_es"], name_en=values["name_en"], active=True, version=1, updated_at=now))
    else:
        await tx.conn.execute(update(categories).where(categories.c.id == category_id)
                              .values(version=categories.c.version + 1, updated_at=now, **values))
    row = await category_by_id(tx.conn, tenant, category_id)
    assert row is not None
    await _emit(tx, tenant, "catalog.category_changed.v1", row.path, CategoryChanged(
        id=row.id, code=row.code, path=row.path, parent_path=_parent_path(row.path), level=row.level,
        name_es=row.name_es, name_en=row.name_en, active=row.active, version=row.version))
    return row


async def has_active_children(conn: AsyncConnection, category_id: uuid.UUID) -> bool:
    return (await conn.execute(select(categories.c.id).where(categories.c.parent_id == category_id,
                                                             categories.c.active.is_(True)).limit(1))).first() is not None


# -- case types ------------------------------------------------------------------------------
async def get_case_type(conn: AsyncConnection, tenant: str, code: str, *, lock: bool = False) -> Row[Any] | None:
    q = select(case_types).where(case_types.c.tenant == tenant, case_types.c.code == code)
    return (await conn.execute(q.with_for_update() if lock else q)).first()


async def list_case_types(conn: AsyncConnection, tenant: str, active: bool | None) -> list[Row[Any]]:
    q = select(case_types).where(case_types.c.tenant == tenant).order_by(case_types.c.code)
    if active is not None:
        q = q.where(case_types.c.active.is_(active))
    return list((await conn.execute(q)).all())


def case_type_event(row: Any) -> CaseTypeChanged:
    return CaseTypeChanged(
        code=row.code, name_es=row.name_es, name_en=row.name_en, active=row.active, version=row.version,
        deadline=DeadlineRule(unit=row.deadline_unit, amount=row.deadline_amount),
        allowed_channels=row.allowed_channels, pinned=PinnedFields(**(row.pinned or {})),
        default_priority=row.default_priority, is_follow_up=row.is_follow_up,
        requires_attachments_to_finish=row.requires_attachments_to_finish,
        required_fields=list(row.required_fields or []), projects=row.projects,
        requires_interaction=bool(row.requires_interaction), follow_up_kind=row.follow_up_kind,
        sla=SlaPolicy.model_validate(row.sla) if row.sla else None, churn_alert=bool(row.churn_alert),
        preceded_by=row.preceded_by)


async def save_case_type(tx: Tx, tenant: str, code: str, values: dict[str, Any], *, create: bool) -> Row[Any]:
    """Insert or change a case type (values already checked), bump its version, emit its event."""
    now = utcnow()
    if create:
        await tx.conn.execute(case_types.insert().values(tenant=tenant, code=code, version=1, updated_at=now,
                                                         **{"active": True, **values}))
    else:
        await tx.conn.execute(update(case_types).where(case_types.c.tenant == tenant, case_types.c.code == code)
                              .values(version=case_types.c.version + 1, updated_at=now, **values))
    row = await get_case_type(tx.conn, tenant, code)
    assert row is not None
    await _emit(tx, tenant, "catalog.case_type_changed.v1", code, case_type_event(row))
    return row


# -- business calendars ----------------------------------------------------------------------
def _calendar_columns() -> list[Any]:
    return [tenants.c.slug, calendars.c.code, calendars.c.name,
            func.coalesce(calendars.c.country, tenants.c.country).label("country"),
            func.coalesce(calendars.c.timezone, tenants.c.timezone).label("timezone"),
            calendars.c.subdivision, calendars.c.hours, calendars.c.extra_closed_days, calendars.c.extra_working_days,
            calendars.c.work_days, calendars.c.work_start, calendars.c.work_end, calendars.c.active,
            calendars.c.version, calendars.c.updated_at]


async def get_calendar(conn: AsyncConnection, tenant: str, code: str = DEFAULT_CALENDAR) -> Any:
    """One of the tenant's calendars with its country and time zone (the tenant's where it has
    none of its own). The "default" calendar always answers (None columns when never set);
    another code answers None when the tenant has no such calendar."""
    row = (await conn.execute(
        select(*_calendar_columns())
        .select_from(tenants.outerjoin(calendars, and_(calendars.c.tenant == tenants.c.slug, calendars.c.code == code)))
        .where(tenants.c.slug == tenant))).first()
    if row is None or (row.version is None and code != DEFAULT_CALENDAR):
        return None
    return row


async def list_calendars(conn: AsyncConnection, tenant: str) -> list[Any]:
    """The tenant's calendars by code (the "default" one first, also when never set)."""
    rows = list((await conn.execute(
        select(*_calendar_columns()).select_from(tenants.join(calendars, calendars.c.tenant == tenants.c.slug))
        .where(tenants.c.slug == tenant).order_by(calendars.c.code))).all())
    default = [r for r in rows if r.code == DEFAULT_CALENDAR] or [await get_calendar(conn, tenant)]
    return default + [r for r in rows if r.code != DEFAULT_CALENDAR]


async def calendar_states(conn: AsyncConnection, tenant: str) -> dict[str, bool]:
    """The tenant's calendar codes with their active flag ("default" always, active)."""
    rows = await conn.execute(select(calendars.c.code, calendars.c.active).where(calendars.c.tenant == tenant))
    return {DEFAULT_CALENDAR: True, **{r.code: bool(r.active) for r in rows}}


async def calendar_versions(conn: AsyncConnection, tenant: str) -> dict[str, int]:
    """The version of each of the tenant's calendars (a code missing: never set)."""
    rows = await conn.execute(select(calendars.c.code, calendars.c.version).where(calendars.c.tenant == tenant))
    return {r.code: int(r.version) for r in rows}


async def calendar_users(conn: AsyncConnection, tenant: str, code: str) -> list[str]:
    """What runs on a calendar: its active areas ("area:<code>") and active case types naming it
    in their SLA policy ("case_type:<code>")."""
    out = [f"area:{c}" for c in (await conn.execute(select(areas.c.code).where(
        areas.c.tenant == tenant, areas.c.calendar == code, areas.c.active.is_(True)))).scalars()]
    for r in await conn.execute(select(case_types.c.code, case_types.c.sla).where(
            case_types.c.tenant == tenant, case_types.c.active.is_(True))):
        if (r.sla or {}).get("calendar") == code:
            out.append(f"case_type:{r.code}")
    return out


async def lock_calendar(conn: AsyncConnection, tenant: str) -> None:
    """Lock the tenant's row: its calendars (and the country and time zone of the default one)
    are replaced by one writer at a time."""
    await conn.execute(select(tenants.c.slug).where(tenants.c.slug == tenant).with_for_update())


def legacy_hours(hours: dict[str, list[WorkPeriod]]) -> tuple[list[int], time, time]:
    """``work_days`` / ``work_start`` / ``work_end`` for older consumers: the days with working
    time, the first period's start and the last period's end."""
    periods = [p for ps in hours.values() for p in ps]
    days = sorted(int(d) for d, ps in hours.items() if ps)
    if not periods:
        return days, time(9, 0), time(18, 0)
    return days, min(p.start for p in periods), max(p.end for p in periods)


def _hhmm(t: time) -> str:
    return t.strftime("%H:%M")


async def save_calendar(tx: Tx, tenant: str, *, country: str, timezone: str, extra_closed_days: list[ClosedDay],
                        work_days: list[int] | None = None, work_start: time | None = None,
                        work_end: time | None = None, code: str = DEFAULT_CALENDAR, name: str | None = None,
                        subdivision: str | None = None, hours: dict[str, list[WorkPeriod]] | None = None,
                        extra_working_days: list[ClosedDay] | None = None, active: bool = True) -> Row[Any]:
    """Replace one of the tenant's calendars (values already checked), bump its version and emit
    catalog.calendar_changed.v1. ``hours`` wins over ``work_days``/``work_start``/``work_end``
    (given alone, they make one period a day). The "default" calendar's country and time zone
    are the tenant's."""
    now = utcnow()
    if hours is None:
        start, end = work_start or time(9, 0), work_end or time(18, 0)
        hours = {str(d): [WorkPeriod(start=start, end=end)] for d in sorted(set(work_days or [1, 2, 3, 4, 5]))}
    hours = {d: sorted(ps, key=lambda p: p.start) for d, ps in sorted(hours.items()) if ps}
    days, first, last = legacy_hours(hours)
    working = list(extra_working_days or [])
    own = code != DEFAULT_CALENDAR
    if not own:
        await tx.conn.execute(update(tenants).where(tenants.c.slug == tenant).values(country=country,
                                                                                      timezone=timezone))
    values = {"name": name, "country": country if own else None, "timezone": timezone if own else None,
              "subdivision": subdivision, "active": active,
              "hours": {d: [{"start": _hhmm(p.start), "end": _hhmm(p.end)} for p in ps] for d, ps in hours.items()},
              "extra_closed_days": [d.model_dump(mode="json") for d in extra_closed_days],
              "extra_working_days": [d.model_dump(mode="json") for d in working],
              "work_days": days, "work_start": _hhmm(first), "work_end": _hhmm(last), "updated_at": now}
    if not await insert_ignoring_duplicates(tx.conn, calendars, {"tenant": tenant, "code": code, "version": 1,
                                                                 **values}):
        await tx.conn.execute(update(calendars).where(calendars.c.tenant == tenant, calendars.c.code == code)
                              .values(version=calendars.c.version + 1, **values))
    row: Row[Any] | None = await get_calendar(tx.conn, tenant, code)
    assert row is not None
    await _emit(tx, tenant, "catalog.calendar_changed.v1", tenant if not own else f"{tenant}/{code}", CalendarChanged(
        code=code, name=name, country=country, subdivision=subdivision, timezone=timezone,
        extra_closed_days=extra_closed_days, extra_working_days=working, hours=hours, work_days=days,
        work_start=first, work_end=last, active=active, version=row.version))
    return row


# -- SLA settings ----------------------------------------------------------------------------
async def get_sla_settings(conn: AsyncConnection, tenant: str, *, lock: bool = False) -> Row[Any] | None:
    q = select(sla_settings).where(sla_settings.c.tenant == tenant)
    return (await conn.execute(q.with_for_update() if lock else q)).first()


async def save_sla_settings(tx: Tx, tenant: str, *, warning_percents: list[int], ladder: list[EscalationLevel],
                            quiet_hours: bool, churn_alert_levels: int = DEFAULT_CHURN_ALERT_LEVELS) -> Row[Any]:
    """Replace the tenant's SLA settings (values already checked), bump their version and emit
    catalog.sla_settings_changed.v1."""
    values = {"warning_percents": list(warning_percents), "ladder": [lv.model_dump(mode="json") for lv in ladder],
              "quiet_hours": quiet_hours, "churn_alert_levels": churn_alert_levels, "updated_at": utcnow()}
    if not await insert_ignoring_duplicates(tx.conn, sla_settings, {"tenant": tenant, "version": 1, **values}):
        await tx.conn.execute(update(sla_settings).where(sla_settings.c.tenant == tenant)
                              .values(version=sla_settings.c.version + 1, **values))
    row = await get_sla_settings(tx.conn, tenant)
    assert row is not None
    await _emit(tx, tenant, "catalog.sla_settings_changed.v1", tenant, SlaSettingsChanged(
        warning_percents=list(warning_percents), ladder=ladder, quiet_hours=quiet_hours, version=row.version,
        churn_alert_levels=churn_alert_levels))
    return row

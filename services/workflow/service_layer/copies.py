"""What workflow keeps of other services' data, from their events (it never reads their tables):
calendars, time settings, areas, people. Versioned entries keep the highest version seen, so a
late older event never overwrites a newer one."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.workflow.adapters.db import areas, calendars, people, sla_settings
from services.workflow.domain import calendar_for, calendar_from_event
from services.workflow.domain.calendar import WorkCalendar
from services.workflow.domain.escalation import DEFAULT_CHURN_ALERT_LEVELS, DEFAULT_LADDER, DEFAULT_WARNINGS, Person
from shared.contracts.events import AreaChanged, CalendarChanged, SlaSettingsChanged, UserProfile
from shared.db import Tx, insert_ignoring_duplicates, utcnow
from shared.messaging.bus import NotYet


async def _keep_newest(tx: Tx, table: Table, key: dict[str, Any], version: int, values: dict[str, Any]) -> bool:
    """Insert, or update when ``version`` is newer than the stored one; True if it changed."""
    if await insert_ignoring_duplicates(tx.conn, table, {**key, "version": version, **values}):
        return True
    where = [table.c[k] == v for k, v in key.items()]
    res = await tx.conn.execute(update(table).where(*where, table.c.version < version).values(version=version, **values))
    return bool(res.rowcount)


async def keep_calendar(tx: Tx, tenant: str, e: CalendarChanged) -> bool:
    return await _keep_newest(tx, calendars, {"tenant": tenant, "code": e.code}, e.version,
                              {"data": e.model_dump(mode="json"), "updated_at": utcnow()})


async def keep_sla_settings(tx: Tx, tenant: str, e: SlaSettingsChanged) -> bool:
    return await _keep_newest(tx, sla_settings, {"tenant": tenant}, e.version, {"data": e.model_dump(mode="json")})


async def keep_area(tx: Tx, tenant: str, e: AreaChanged) -> bool:
    return await _keep_newest(tx, areas, {"tenant": tenant, "code": e.code}, e.version,
                              {"head_user_id": e.head_user_id, "calendar": e.calendar})


async def keep_person(tx: Tx, tenant: str, e: UserProfile, at: datetime) -> None:
    """User events carry no sequence: the newest by event time wins (as the token copies do)."""
    values = {"tenant": tenant, "manager_id": e.manager_id, "active": e.active,
              "subscriptions": sorted(set(e.escalation_subscriptions)), "roles": sorted(set(e.roles)),
              "changed_at": at}
    if not await insert_ignoring_duplicates(tx.conn, people, {"user_id": e.user_id, **values}):
        await tx.conn.execute(update(people).where(people.c.user_id == e.user_id, people.c.changed_at <= at)
                              .values(**values))


_calendars: dict[str, WorkCalendar] = {}  # by the stored payload: a calendar is built once per version


def _calendar(data: dict[str, Any]) -> WorkCalendar:
    key = json.dumps(data, sort_keys=True)
    cal = _calendars.get(key)
    if cal is None:
        if len(_calendars) > 1024:
            _calendars.clear()
        cal = _calendars[key] = calendar_from_event(CalendarChanged.model_validate(data))
    return cal


async def calendar_of(conn: AsyncConnection, tenant: str, code: str, *, country: str, timezone: str,
                      at_least: int | None = None) -> WorkCalendar:
    """The tenant's calendar ``code``: our copy once it is at least version ``at_least`` (else the
    change is still on its way: retry later). A calendar we have no copy of falls back to the
    tenant's "default", and that to the country's defaults (Monday–Friday 09:00–18:00)."""
    c = calendars.c
    rows = {r.code: r for r in (await conn.execute(
        select(calendars).where(c.tenant == tenant, c.code.in_({code, "default"})))).all()}
    row = rows.get(code)
    if at_least is not None and (row is None or row.version < at_least):
        raise NotYet(f"calendar {code!r} version {at_least} of {tenant} not received yet")
    row = row or rows.get("default")
    if row is None:
        return calendar_for(country, timezone)
    return _calendar(row.data)


@dataclass(frozen=True)
class TimeSettings:
    warning_percents: tuple[int, ...] = DEFAULT_WARNINGS
    ladder: list[dict[str, Any]] = field(default_factory=lambda: list(DEFAULT_LADDER))
    quiet_hours: bool = True
    churn_alert_levels: int = DEFAULT_CHURN_ALERT_LEVELS  # R1.1: managers above the executive told


async def settings_of(conn: AsyncConnection, tenant: str) -> TimeSettings:
    """The tenant's warning thresholds, ladder, quiet hours and churn-alert levels (the seeded
    defaults until its own arrive)."""
    row = (await conn.execute(select(sla_settings.c.data).where(sla_settings.c.tenant == tenant))).first()
    if row is None:
        return TimeSettings()
    d = row.data
    return TimeSettings(tuple(d["warning_percents"]), list(d["ladder"]), bool(d.get("quiet_hours", True)),
                        int(d.get("churn_alert_levels", DEFAULT_CHURN_ALERT_LEVELS)))


async def area_of(conn: AsyncConnection, tenant: str, code: str | None) -> Any:
    """(head_user_id, calendar) of an area; None when unknown."""
    if code is None:
        return None
    return (await conn.execute(select(areas.c.head_user_id, areas.c.calendar)
                               .where(areas.c.tenant == tenant, areas.c.code == code))).first()


async def people_of(conn: AsyncConnection, tenant: str) -> dict[uuid.UUID, Person]:
    """The tenant's people: manager chain, subscriptions and roles."""
    rows = (await conn.execute(select(people).where(people.c.tenant == tenant))).all()
    return {r.user_id: Person(r.user_id, r.manager_id, r.active, frozenset(r.subscriptions), frozenset(r.roles))
            for r in rows}

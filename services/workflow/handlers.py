"""workflow's event handlers and timer firings."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from sqlalchemy import insert, select, update

from services.workflow import domain
from services.workflow.adapters.db import case_deadlines, tenant_calendars, timers
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    CalendarChanged,
    CaseCreated,
    CaseDeadlineSet,
    CaseOverdue,
    CaseTransition,
    DeadlineRule,
)
from shared.db import Tx, insert_ignoring_duplicates, utcnow
from shared.logs import correlation_id
from shared.messaging.bus import NotYet
from shared.timers import FireFn, cancel, schedule

SOURCE = "atiende/workflow"
OVERDUE = "case.overdue"


async def on_calendar_changed(tx: Tx, env: Envelope) -> None:
    """Keep the tenant's business calendar (the highest version seen; an older one arriving late
    is ignored)."""
    e = CalendarChanged.model_validate(env.data)
    values = {"version": e.version, "country": e.country.upper(), "timezone": e.timezone,
              "extra_closed_days": sorted({d.date.isoformat() for d in e.extra_closed_days}),
              "work_days": sorted(set(e.work_days)), "work_start": e.work_start.strftime("%H:%M"),
              "work_end": e.work_end.strftime("%H:%M"), "updated_at": utcnow()}
    if not await insert_ignoring_duplicates(tx.conn, tenant_calendars, {"tenant": env.tenant, **values}):
        await tx.conn.execute(update(tenant_calendars).where(tenant_calendars.c.tenant == env.tenant,
                                                             tenant_calendars.c.version < e.version).values(**values))


async def tenant_calendar(tx: Tx, tenant: str, e: CaseCreated) -> domain.BusinessCalendar:
    """The tenant's calendar as of the case's entry: our copy once it is at least as new as the
    version the case was entered under (else the change is still on its way: retry later), or
    the country defaults the event carries when the tenant has no calendar of its own."""
    row = (await tx.conn.execute(select(tenant_calendars).where(tenant_calendars.c.tenant == tenant))).first()
    if e.calendar_version is not None and (row is None or row.version < e.calendar_version):
        raise NotYet(f"calendar version {e.calendar_version} of {tenant} not received yet")
    if row is None:
        return domain.calendar_for(e.tenant_country, e.tenant_timezone)
    return domain.calendar_for(row.country, row.timezone, [date.fromisoformat(d) for d in row.extra_closed_days],
                               row.work_days, time.fromisoformat(row.work_start), time.fromisoformat(row.work_end))


async def on_case_created(tx: Tx, env: Envelope) -> None:
    """Compute the response deadline from the type's rule (R4.2: business days or hours) and the
    tenant's calendar, and arm the overdue timer (R4.8)."""
    e = CaseCreated.model_validate(env.data)
    cal = await tenant_calendar(tx, env.tenant, e)
    rule = e.case_type.deadline
    dl = domain.deadline_for(e.created_at, rule.unit, rule.amount, cal)
    if e.explicit_due_date is not None:  # an admin fixed the date instead of the type's rule
        dl = domain.explicit_deadline(e.explicit_due_date, cal, cal.local_date(e.created_at))
    await tx.conn.execute(insert(case_deadlines), {
        "case_id": e.case_id, "tenant": env.tenant, "type_code": e.case_type.code, "status": e.status,
        "entered_at": e.created_at, "business_days": dl.business_days, "calendar_country": cal.country,
        "due_date": dl.due_date, "due_at": dl.due_at, "overdue_at": None})
    await schedule(tx, timers, kind=OVERDUE, tenant=env.tenant, subject=str(e.case_id), due_at=dl.due_at,
                   payload={"case_id": str(e.case_id), "due_at": dl.due_at.isoformat(),
                            "correlation_id": env.correlationid}, first=True)  # case.created comes once (inbox)
    data = CaseDeadlineSet(case_id=e.case_id, due_at=dl.due_at, due_date=dl.due_date,
                           business_days=dl.business_days, calendar_country=cal.country,
                           deadline=DeadlineRule(unit=rule.unit, amount=rule.amount))
    await tx.emit(env.follow(source=SOURCE, type="case.deadline_set.v1", data=data.model_dump(mode="json")))


async def fire_overdue(tx: Tx, timer: Any) -> None:
    """A deadline passed: record it and tell the others (alerts and escalations follow from it)."""
    case_id = timer.payload["case_id"]
    await tx.conn.execute(update(case_deadlines).where(case_deadlines.c.case_id == case_id)
                          .values(overdue_at=utcnow()))
    data = CaseOverdue(case_id=case_id, due_at=timer.due_at)
    await tx.emit(Envelope(source=SOURCE, type="case.overdue.v1", subject=case_id, tenant=timer.tenant,
                           correlationid=timer.payload.get("correlation_id") or correlation_id.get(),
                           data=data.model_dump(mode="json")))


async def on_alert_ends(tx: Tx, env: Envelope) -> None:
    """R4.8: the overdue alert ends when the case is executed or finished."""
    e = CaseTransition.model_validate(env.data)
    await cancel(tx, timers, kind=OVERDUE, subject=str(e.case_id))
    await tx.conn.execute(update(case_deadlines).where(case_deadlines.c.case_id == e.case_id)
                          .values(status=e.status_to))


async def on_reopened(tx: Tx, env: Envelope) -> None:
    """A reopened case is watched again against its deadline (fires at once if already past)."""
    e = CaseTransition.model_validate(env.data)
    row = (await tx.conn.execute(select(case_deadlines).where(case_deadlines.c.case_id == e.case_id))).first()
    if row is None:
        raise NotYet(f"case {e.case_id} has no deadline yet")
    await tx.conn.execute(update(case_deadlines).where(case_deadlines.c.case_id == e.case_id)
                          .values(status=e.status_to, overdue_at=None))
    await schedule(tx, timers, kind=OVERDUE, tenant=env.tenant, subject=str(e.case_id), due_at=row.due_at,
                   payload={"case_id": str(e.case_id), "due_at": row.due_at.isoformat(),
                            "correlation_id": env.correlationid})


HANDLERS = {"case.executed.v1": on_alert_ends, "case.finished.v1": on_alert_ends,
            "case.reopened.v1": on_reopened,
            "case.created.v1": on_case_created, "catalog.calendar_changed.v1": on_calendar_changed}
TIMER_FIRINGS: dict[str, FireFn] = {OVERDUE: fire_overdue}

"""intake's copy of what workflow decides about time (issue 10): the alerts people see (R4.8,
R2.3, R2.4), each case's clocks and its hold (R1.4) — and the queries on them. workflow owns
every clock; intake stores the last view it published (``case.sla_changed.v1``, the highest
``revision``), so GET /cases/{id}/sla answers without a calendar.

Lists are keyset pages (shared/paging.py): ``after`` is the previous page's last sort key."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Date,
    Index,
    Integer,
    String,
    Table,
    Uuid,
    and_,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters.case_tables import tasks
from services.intake.adapters.db import cases, metadata
from services.intake.adapters.party_tables import party_visible
from services.intake.domain import timing
from services.intake.domain.access import Principal
from shared.db import JsonType, UTCDateTime, insert_ignoring_duplicates, insert_many_ignoring_duplicates

# An alert as workflow raised it; ``ended_at`` set when it ended. A row may be created by its end
# (an end delivered before its raise): then only kind, case and task are known until the raise.
alerts = Table(
    "alerts", metadata,
    Column("alert_id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("kind", String(40), nullable=False),  # case_overdue | commitment_passed | task_overdue
    Column("case_id", Uuid(), nullable=False),
    Column("task_id", Uuid(), nullable=True),
    Column("responsible_id", Uuid(), nullable=True),  # as workflow saw it (lists use the case's current one)
    Column("due_at", UTCDateTime(), nullable=True),
    Column("raised_at", UTCDateTime(), nullable=True),
    Column("ended_at", UTCDateTime(), nullable=True),
    Column("end_reason", String(200), nullable=True),
)
Index("alerts_tenant_open_due", alerts.c.tenant, alerts.c.ended_at, alerts.c.due_at)
Index("alerts_case", alerts.c.case_id)

# Who marked which alert seen (each user for themselves).
alert_seen = Table(
    "alert_seen", metadata,
    Column("alert_id", Uuid(), primary_key=True),
    Column("user_id", Uuid(), primary_key=True),
    Column("seen_at", UTCDateTime(), nullable=False),
)

# A case's clocks as workflow last published them (ClockView dicts) and its R1.4 hold.
case_clocks = Table(
    "case_clocks", metadata,
    Column("case_id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("clocks", JsonType, nullable=False),
    Column("executable_from", UTCDateTime(), nullable=True),
    Column("executable_from_date", Date(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)


# -- clocks -------------------------------------------------------------------------------------
async def clocks_of(conn: AsyncConnection, case_id: uuid.UUID) -> Any | None:
    return (await conn.execute(select(case_clocks).where(case_clocks.c.case_id == case_id))).first()


async def case_and_clocks_for_update(conn: AsyncConnection, case_id: uuid.UUID) -> tuple[Any | None, Any | None]:
    """(the case's id and tenant, its clocks row or None), the case row locked (``FOR UPDATE``,
    as an action locks it: every writer of the clocks holds it), in one statement."""
    row = (await conn.execute(
        select(cases.c.id.label("locked_case_id"), cases.c.tenant.label("locked_tenant"), *case_clocks.c)
        .select_from(cases.outerjoin(case_clocks, case_clocks.c.case_id == cases.c.id))
        .where(cases.c.id == case_id).with_for_update(of=cases))).first()
    if row is None:
        return None, None
    return _LockedCase(row.locked_case_id, row.locked_tenant), (row if row.case_id is not None else None)


class _LockedCase:
    __slots__ = ("id", "tenant")

    def __init__(self, id_: uuid.UUID, tenant: str) -> None:
        self.id, self.tenant = id_, tenant


async def save_clocks(conn: AsyncConnection, existing: Any | None, values: dict[str, Any]) -> None:
    """Insert or update the case's row (the caller holds the case row's lock)."""
    if existing is None:
        await conn.execute(insert(case_clocks), {"revision": 0, "clocks": [], "executable_from": None,
                                                 "executable_from_date": None, **values})
    else:
        await conn.execute(update(case_clocks).where(case_clocks.c.case_id == existing.case_id).values(
            {k: v for k, v in values.items() if k not in ("case_id", "tenant")}))


# -- alerts -------------------------------------------------------------------------------------
async def raise_alert(conn: AsyncConnection, row: dict[str, Any]) -> None:
    """Idempotent by alert_id; a row an early end created gets the raise's facts (and stays ended)."""
    if not await insert_ignoring_duplicates(conn, alerts, {**row, "ended_at": None, "end_reason": None}):
        await conn.execute(update(alerts).where(alerts.c.alert_id == row["alert_id"], alerts.c.raised_at.is_(None))
                           .values(responsible_id=row["responsible_id"], due_at=row["due_at"],
                                   raised_at=row["raised_at"]))


async def end_alert(conn: AsyncConnection, row: dict[str, Any]) -> None:
    """Sets ended_at on an open alert; an end before its raise leaves an ended row the raise keeps."""
    res = await conn.execute(update(alerts).where(alerts.c.alert_id == row["alert_id"], alerts.c.ended_at.is_(None))
                             .values(ended_at=row["ended_at"], end_reason=row["end_reason"]))
    if res.rowcount == 0:
        await insert_ignoring_duplicates(conn, alerts, {"responsible_id": None, "due_at": None, "raised_at": None,
                                                        **row})


def _visible(p: Principal) -> ColumnElement[bool]:
    """Open alerts of the caller's tenant on cases the caller may see, as ``timing.sees_all_alerts``
    says: everyone's, or only those of the cases (and tasks, R2.4) the caller is responsible for now."""
    cond = and_(alerts.c.tenant == p.tenant, alerts.c.ended_at.is_(None), alerts.c.due_at.is_not(None),
                cases.c.tenant == p.tenant, party_visible(p, cases.c.party_id))
    if not timing.sees_all_alerts(p):
        cond = and_(cond, or_(cases.c.responsible_id == p.user_id,
                              and_(alerts.c.task_id.is_not(None), tasks.c.responsible_id == p.user_id)))
    return cond


def _not_seen(user_id: uuid.UUID | None) -> ColumnElement[bool]:
    return ~exists().where(alert_seen.c.alert_id == alerts.c.alert_id, alert_seen.c.user_id == user_id)


_FROM = alerts.join(cases, cases.c.id == alerts.c.case_id).outerjoin(tasks, tasks.c.id == alerts.c.task_id)


async def alert_page(conn: AsyncConnection, p: Principal, after: list[Any] | None, limit: int) -> list[Any]:
    """Most overdue first (oldest due_at), then alert id; ``limit`` rows."""
    seen = exists().where(alert_seen.c.alert_id == alerts.c.alert_id, alert_seen.c.user_id == p.user_id)
    q = (select(alerts, cases.c.number, cases.c.subject, cases.c.responsible_id.label("case_responsible_id"),
                seen.label("seen"))
         .select_from(_FROM).where(_visible(p)))
    if after:
        q = q.where(tuple_(alerts.c.due_at, alerts.c.alert_id) > tuple_(literal(after[0], alerts.c.due_at.type),
                                                                        literal(after[1], alerts.c.alert_id.type)))
    return list((await conn.execute(q.order_by(alerts.c.due_at, alerts.c.alert_id).limit(limit))).all())


async def unread_count(conn: AsyncConnection, p: Principal) -> int:
    q = select(func.count()).select_from(_FROM).where(_visible(p), _not_seen(p.user_id))
    return int((await conn.execute(q)).scalar() or 0)


async def mark_seen(conn: AsyncConnection, p: Principal, alert_ids: list[uuid.UUID] | None, at: datetime) -> int:
    """Marks the caller's visible open alerts (those named, or all) seen by the caller; how many."""
    q = select(alerts.c.alert_id).select_from(_FROM).where(_visible(p), _not_seen(p.user_id))
    if alert_ids is not None:
        q = q.where(alerts.c.alert_id.in_(alert_ids))
    ids = list((await conn.execute(q)).scalars())
    await insert_many_ignoring_duplicates(conn, alert_seen, [{"alert_id": i, "user_id": p.user_id, "seen_at": at}
                                                             for i in ids])
    return len(ids)

"""Queries behind the SLA, workload and activity reports: the facts of one tenant in a period
(the computations are ``domain_reports``'). Every query names the tenant."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting import domain, domain_reports
from services.reporting.adapters.activity_tables import interaction_facts, task_facts, tenant_zones
from services.reporting.adapters.catalog_labels import catalog_labels
from services.reporting.adapters.db import asset_facts, case_facts, party_facts

f = case_facts.c


async def tenant_zone(conn: AsyncConnection, tenant: str) -> str:
    """The tenant's time zone (from its cases' case.created.v1), else the report default."""
    zone = (await conn.execute(select(tenant_zones.c.time_zone).where(tenant_zones.c.tenant == tenant))).scalar()
    return str(zone) if zone else domain.REPORT_TIMEZONE


def in_period(column: Any, start: datetime | None, end: datetime | None) -> list[Any]:
    """``start <= column < end`` (either bound may be absent)."""
    return [c for c in ((column >= start) if start else None, (column < end) if end else None) if c is not None]


async def case_rows(conn: AsyncConnection, tenant: str, start: datetime | None, end: datetime | None,
                    *where: Any) -> list[Any]:
    """The tenant's case facts entered in ``[start, end)``."""
    q = select(case_facts).where(f.tenant == tenant, *in_period(f.created_at, start, end), *where)
    return list((await conn.execute(q.order_by(f.created_at, f.case_id))).all())


async def labels(conn: AsyncConnection, tenant: str, kind: str, lang: str) -> dict[str, str]:
    """Catalog names of one kind (area, channel, case_type…) in the caller's language."""
    c = catalog_labels.c
    rows = (await conn.execute(select(c.code, c.name_es, c.name_en).where(c.tenant == tenant, c.kind == kind))).all()
    return {r.code: (r.name_en if lang == "en" else r.name_es) for r in rows}


async def subject_name(conn: AsyncConnection, tenant: str, kind: str, id_: uuid.UUID) -> str | None:
    """The name of the tenant's party or asset ``id_`` (None: not this tenant's, or unknown)."""
    table, key = (party_facts, "party_id") if kind == "party" else (asset_facts, "asset_id")
    name = (await conn.execute(select(table.c.name).where(table.c[key] == id_, table.c.tenant == tenant))).scalar()
    return None if name is None else str(name)


async def activity_items(conn: AsyncConnection, tenant: str, kind: str, id_: uuid.UUID, start: datetime | None,
                         end: datetime | None) -> list[domain_reports.ActivityItem]:
    """R2.9: the party's (or supply's) interactions, cases and the cases' tasks in ``[start, end)``
    (interactions by when they occurred, cases by entry, tasks by creation)."""
    i = interaction_facts.c
    t = task_facts.c
    own_i = i.party_id == id_ if kind == "party" else i.asset_id == id_
    own_c = f.party_id == id_ if kind == "party" else f.asset_id == id_
    items: list[domain_reports.ActivityItem] = []
    for r in (await conn.execute(select(interaction_facts).where(
            i.tenant == tenant, own_i, *in_period(i.occurred_at, start, end)))).all():
        items.append(domain_reports.ActivityItem(
            kind="interaction", id=r.interaction_id, at=r.occurred_at, code=r.code, title=r.summary,
            status="closed" if r.closed_at else "open", channel=r.channel, closed_at=r.closed_at))
    for r in await case_rows(conn, tenant, start, end, own_c):
        items.append(domain_reports.ActivityItem(
            kind="case", id=r.case_id, at=r.created_at, code=r.number, title=r.type_name, status=r.status,
            channel=r.channel, case_id=r.case_id, closed_at=r.finished_at))
    tasks = select(task_facts, f.number).join(case_facts, f.case_id == t.case_id).where(
        t.tenant == tenant, f.tenant == tenant, own_c, *in_period(t.created_at, start, end))
    for r in (await conn.execute(tasks)).all():
        items.append(domain_reports.ActivityItem(
            kind="task", id=r.task_id, at=r.created_at, code=r.number, title=r.title,
            status="closed" if r.closed_at else "open", case_id=r.case_id, closed_at=r.closed_at))
    return items

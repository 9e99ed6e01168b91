"""The total of a list (tasks, work orders, interactions, parties), counted as the inbox counts
its own (adapters/inbox_queries.count): exact up to ``COUNT_CAP`` rows, counted over at most
cap + 1 of them, so a count costs no more than reading that many index entries whatever the
list's size; beyond, PostgreSQL's planner estimate (never below cap + 1), flagged as not exact.
SQLite (embedded mode, small data) counts exactly."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Select, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters.inbox_queries import COUNT_CAP, Explain


async def bounded_count(conn: AsyncConnection, query: Select[Any], cap: int = COUNT_CAP) -> tuple[int, bool]:
    """(total, exact) of the rows ``query`` (a list's filtered select, without order or limit)
    selects."""
    rows: Select[Any] = query.with_only_columns(literal_column("1"), maintain_column_froms=True)
    if conn.dialect.name != "postgresql":
        return int((await conn.execute(select(func.count()).select_from(rows.subquery()))).scalar_one()), True
    n = int((await conn.execute(select(func.count()).select_from(rows.limit(cap + 1).subquery()))).scalar_one())
    if n <= cap:
        return n, True
    plan = (await conn.execute(Explain(rows))).scalar_one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return max(int(plan[0]["Plan"]["Plan Rows"]), cap + 1), False

"""R3.3's look-ups and R3.4's decision over them: the original of a follow-up chain, its
follow-ups, the table's F, then ``triage.decide``. Shared by ``GET /cases/{id}/triage`` (which
tells the agent what to do) and ``POST /cases`` with ``follow_up_of`` (which refuses the follow-up
rules 6–8 forbid), so both always reach the same decision."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import literal, select, tuple_

from services.intake.adapters.db import cases
from services.intake.adapters.party_tables import party_visible
from services.intake.adapters.repository import project_business_line
from services.intake.domain import triage
from services.intake.domain.access import Principal

MAX_CHAIN = 20  # follow-ups of follow-ups: how far up to look for the original


@dataclass(frozen=True)
class TriageState:
    """R3.4's decision and the rows it was made on."""

    decision: triage.Decision
    original: Any  # O: the root of the follow_up_of chain
    children: list[Any]  # every follow-up of O the caller may see, oldest first
    table_follow_up: Any | None  # F: the latest late-response or disagreement follow-up
    customer_disagrees: bool
    business_line: triage.BusinessLine | None


async def decision_for(conn: Any, p: Principal, case: Any, *, customer_disagrees: bool | None,
                       business_line: triage.BusinessLine | None, now: datetime) -> TriageState:
    """R3.4 (with R3.5) for ``case``'s original. ``customer_disagrees`` None: the answered case's
    (F's if answered, else O's) "customer not satisfied" flag; ``business_line`` None: the line
    the catalog gives O's project."""
    original = await root(conn, p, case)
    kids = await children(conn, p, original.id)
    f_index = _table_index([facts(c) for c in kids])
    f_row = kids[f_index] if f_index is not None else None
    answered_row = f_row if f_row is not None and facts(f_row).answered else original
    disagrees = customer_disagrees if customer_disagrees is not None \
        else bool(answered_row.not_satisfied) and triage.is_answered(answered_row.status, answered_row.answered_at)
    # R3.5: the line is the tenant's catalog data about O's project.
    line = business_line or triage.business_line_of(
        await project_business_line(conn, p.tenant, original.project))
    d = triage.decide(facts(original), facts(f_row) if f_row is not None else None,
                      customer_disagrees=disagrees, now=now, business_line=line)
    return TriageState(decision=d, original=original, children=kids, table_follow_up=f_row,
                       customer_disagrees=disagrees, business_line=line)


async def root(conn: Any, p: Principal, case: Any) -> Any:
    """The original a follow-up (or a follow-up of one) was filed on; the case itself if none."""
    seen = {case.id}
    while case.follow_up_of is not None and len(seen) <= MAX_CHAIN:
        parent = (await conn.execute(select(cases).where(cases.c.id == case.follow_up_of,
                                                         cases.c.tenant == p.tenant))).first()
        if parent is None or parent.id in seen:
            break
        seen.add(parent.id)
        case = parent
    return case


async def children(conn: Any, p: Principal, case_id: uuid.UUID) -> list[Any]:
    """The follow-ups filed on a case that the caller may see (R2.7), oldest first."""
    q = (select(cases).where(cases.c.follow_up_of == case_id, cases.c.tenant == p.tenant,
                             party_visible(p, cases.c.party_id))
         .order_by(cases.c.created_at, cases.c.id))
    return list((await conn.execute(q)).all())


async def children_page(conn: Any, p: Principal, case_id: uuid.UUID, after: list[Any] | None,
                        limit: int) -> list[Any]:
    """A keyset page of ``children`` (by created_at, id), ``limit`` rows."""
    q = select(cases).where(cases.c.follow_up_of == case_id, cases.c.tenant == p.tenant,
                            party_visible(p, cases.c.party_id))
    if after:
        q = q.where(tuple_(cases.c.created_at, cases.c.id) > tuple_(literal(after[0], cases.c.created_at.type),
                                                                     literal(after[1], cases.c.id.type)))
    return list((await conn.execute(q.order_by(cases.c.created_at, cases.c.id).limit(limit))).all())


def facts(r: Any) -> triage.CaseFacts:
    return triage.CaseFacts(answered=triage.is_answered(r.status, r.answered_at), due_at=r.due_at,
                            created_at=r.created_at, kind=triage.kind_of(r.follow_up_kind))


def _table_index(all_facts: list[triage.CaseFacts]) -> int | None:
    chosen = triage.table_follow_up(all_facts)
    return None if chosen is None else next(i for i, f in enumerate(all_facts) if f is chosen)

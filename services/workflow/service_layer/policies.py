"""Catalog changes that move running clocks: a case type's SLA policy or a calendar changed, so
the open cases under it are re-targeted (keeping their pauses; breached stays breached) and
their history says so (``announce``). The work is one locked row per open case of that type or
calendar (partial indexes on open cases), and only when an admin changes the catalog."""

from __future__ import annotations

from sqlalchemy import select

from services.workflow.adapters.db import case_clocks
from services.workflow.service_layer import clocks, copies
from shared.contracts.envelope import Envelope
from shared.contracts.events import CalendarChanged, CaseTypeChanged
from shared.db import Tx, utcnow


async def on_case_type_changed(tx: Tx, env: Envelope) -> None:
    e = CaseTypeChanged.model_validate(env.data)
    c = case_clocks.c
    ids = (await tx.conn.execute(select(c.case_id).where(c.tenant == env.tenant, c.type_code == e.code, c.open)
                                 .order_by(c.case_id))).scalars().all()
    deadline, sla = e.deadline.model_dump(mode="json"), e.sla.model_dump(mode="json") if e.sla else None
    for case_id in ids:
        ct = await clocks.load(tx, case_id, env)
        policy = ct.policy
        if policy.get("type_version", 0) >= e.version or (policy["deadline"] == deadline and policy["sla"] == sla):
            continue
        ct.row["policy"] = {**policy, "deadline": deadline, "sla": sla, "type_version": e.version}
        await clocks.retarget(tx, ct, utcnow(), reason=f"policy of type {e.code!r} v{e.version}", announce=True)


async def on_calendar_changed(tx: Tx, env: Envelope) -> None:
    """Keep the calendar; re-target the open cases running on it."""
    e = CalendarChanged.model_validate(env.data)
    if not await copies.keep_calendar(tx, env.tenant, e):
        return  # an older version arriving late changes nothing
    c = case_clocks.c
    ids = (await tx.conn.execute(select(c.case_id).where(c.tenant == env.tenant, c.calendar_code == e.code, c.open)
                                 .order_by(c.case_id))).scalars().all()
    for case_id in ids:
        ct = await clocks.load(tx, case_id, env)
        await clocks.retarget(tx, ct, utcnow(), reason=f"calendar {e.code!r} v{e.version}", announce=True)

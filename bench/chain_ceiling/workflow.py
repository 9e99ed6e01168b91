"""workflow: consumes case.created -> one transaction: inbox row + a timer row (the deadline) + an
outbox row case.deadline_set -> commit -> ack.  Relay in this process.
Deadline: created + 5 business days, weekends skipped (no holiday calendar)."""
from __future__ import annotations

from datetime import datetime, timedelta

from common import DSN, POOL, Relay, Schema, serve
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

INSERT_TIMERS = text("""INSERT INTO workflow.timers (case_id, kind, due_at)
    SELECT id, 'overdue', due FROM unnest(CAST(:ids AS uuid[]), CAST(:dues AS timestamptz[])) AS t(id, due)""")
engine = create_async_engine(DSN, pool_size=POOL, max_overflow=0)
schema = Schema("workflow")
relay = Relay("workflow")


def add_business_days(t: datetime, days: int) -> datetime:
    while days:
        t += timedelta(days=1)
        if t.weekday() < 5:
            days -= 1
    return t


async def on_case_created(msgs: list) -> None:
    async with engine.begin() as db:
        new = await schema.claim_inbox(db, msgs)
        if not new:
            return
        dues = [add_business_days(datetime.fromisoformat(b["created_at"]), 5) for _, b in new]
        await db.execute(INSERT_TIMERS, {"ids": [b["case_id"] for _, b in new], "dues": dues})
        # The recipients ride along, so the notifier needs no copy of case.created (a saving
        # Atiende could make too: its notifier keeps recipients from case.created).
        await schema.emit(db, [("case.deadline_set", {
            "case_id": b["case_id"], "due_at": due.isoformat(), "subject": b["subject"],
            "contact_email": b["contact_email"], "responsible_email": b["responsible_email"],
            "ctype": b["ctype"]})
            for (_, b), due in zip(new, dues, strict=True)])
    relay.wake()


if __name__ == "__main__":
    serve("workflow", on_case_created, relay)

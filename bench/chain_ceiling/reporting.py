"""reporting: consumes case.created, case.deadline_set, notification.sent -> one transaction per
message (or per batch): inbox row + case.created: UPSERT of the counts by status/type;
case.deadline_set / notification.sent: UPSERT of the per-case read model -> commit -> ack."""
from __future__ import annotations

from collections import Counter
from datetime import datetime

from common import DSN, MINIMAL, POOL, Schema, serve
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

COUNT = text("""INSERT INTO reporting.counts (status, ctype, n)
    SELECT * FROM unnest(CAST(:status AS text[]), CAST(:ctype AS text[]), CAST(:n AS bigint[]))
    ON CONFLICT (status, ctype) DO UPDATE SET n = counts.n + EXCLUDED.n""")
# Upserts rather than UPDATEs: with concurrent handlers a notification.sent may commit first.
FACTS = text("""INSERT INTO reporting.case_facts (case_id, due_at, emails)
    SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:dues AS timestamptz[]), CAST(:emails AS int[]))
    ON CONFLICT (case_id) DO UPDATE SET due_at = coalesce(EXCLUDED.due_at, case_facts.due_at),
                                        emails = case_facts.emails + EXCLUDED.emails""")
engine = create_async_engine(DSN, pool_size=POOL, max_overflow=0)
schema = Schema("reporting")


async def on_event(msgs: list) -> None:
    async with engine.begin() as db:
        new = await schema.claim_inbox(db, msgs)
        # A batch holds several events of one case, and one statement may touch a row only once:
        # merge per key first.  Sorted keys: two batch workers lock rows in the same order.
        counts: Counter = Counter()
        facts: dict[str, list] = {}
        for m, b in new:
            if m.type == "case.created" or (MINIMAL and m.type == "case.deadline_set"):
                counts[("new", b["ctype"])] += 1
                if m.type == "case.created":
                    continue
            f = facts.setdefault(b["case_id"], [None, 0])
            if m.type == "case.deadline_set":
                f[0] = datetime.fromisoformat(b["due_at"])
            else:
                f[1] += 1
        if counts:
            keys = sorted(counts)
            await db.execute(COUNT, {"status": [s for s, _ in keys], "ctype": [t for _, t in keys],
                                     "n": [counts[k] for k in keys]})
        if facts:
            ids = sorted(facts)
            await db.execute(FACTS, {"ids": ids, "dues": [facts[i][0] for i in ids],
                                     "emails": [facts[i][1] for i in ids]})


if __name__ == "__main__":
    serve("reporting", on_event, None)

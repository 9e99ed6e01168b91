"""SLA clocks at scale (issue 10, item 7): the work per timer tick grows with what is DUE, not with
how many cases have running clocks.

With the project's own code — workflow's migrated schema, shared.timers.TimerPoller and the real
firing ``services.workflow.service_layer.clocks.fire_clock`` (load and lock the case's clocks,
decide the steps due, emit warnings/breach/overdue/alert events, move the timer in place) —
against PostgreSQL on 127.0.0.1:

  for K open cases in K = 1,000 and 1,000,000 (bulk INSERT ... SELECT generate_series, one
  ``case_clocks`` row with a running resolution clock due a year from now and its ``sla.clock``
  timer row each; then VACUUM ANALYZE):
    idle tick   fire_due() with nothing due
    due tick    D = 100 more cases whose resolution clock is past due (warnings at 50/75 % and the
                breach due): fire_due() fires all of them in one transaction; then each of
                those timers has moved in place to the ladder's next level (not due)
  and, at the largest K, EXPLAIN (ANALYZE, BUFFERS) of the claim: pages touched.

Usage: .venv/bin/python bench/clocks.py [--sizes 1000,1000000] [--due 100] [--reps 5]
Prints one JSON line (also appended to bench/results/clocks.jsonl). A throw-away database is
created and dropped. About 2 minutes here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from services.workflow.adapters.db import outbox, timers  # noqa: E402
from services.workflow.bootstrap import MIGRATIONS  # noqa: E402
from services.workflow.handlers import TIMER_FIRINGS  # noqa: E402
from shared.db import Database  # noqa: E402
from shared.timers import TimerPoller  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432/"
sys.path.insert(0, str(HERE))
from timers import claim_sql, explain, plan_work  # noqa: E402

POLICY = json.dumps({"deadline": {"unit": "business_days", "amount": 5}, "sla": None, "explicit_due": None,
                     "type_version": 0})

# One case with a resolution clock started ``$start`` and due ``$due`` (SQL expressions), its timer.
INSERT_CASES = """
INSERT INTO workflow.case_clocks (case_id, tenant, type_code, area, priority, status, responsible_id,
    contact_email, calendar_code, country, timezone, entered_at, case_version, revision, policy, clocks, open)
SELECT md5($3 || g)::uuid, 'bench', 'consulta-general', 'posventa', 'normal', 'new', md5('r' || g)::uuid,
    'c' || g || '@example.cl', 'default', 'CL', 'America/Santiago', {start}, 1, 1, $4::jsonb,
    jsonb_build_object('resolution', jsonb_build_object('kind', 'resolution', 'started_at', {start},
        'target', jsonb_build_array('business_days', 5), 'base_due', {due}, 'cycle', 1, 'pauses', '[]'::jsonb,
        'warn_percents', '[50, 75]'::jsonb, 'warned', '[]'::jsonb, 'met_at', null, 'breached_at', null,
        'stopped_at', null, 'levels_done', -1)), true
FROM generate_series($1::int, $2::int) g;
INSERT INTO workflow.timers (kind, tenant, subject, due_at, payload, created_at, fired_at, cancelled_at)
SELECT 'sla.clock', 'bench', md5($3 || g)::uuid::text, {due}, jsonb_build_object('case_id', md5($3 || g)::uuid::text,
    'clock', 'resolution', 'step', 'breach'), now(), NULL, NULL
FROM generate_series($1::int, $2::int) g;
"""
OPEN = INSERT_CASES.format(start="now() - interval '1 day'", due="now() + interval '365 days' + g * interval '1 second'")
DUE = INSERT_CASES.format(start="now() - interval '10 days'", due="now() - interval '1 minute'")


def log(*a: object) -> None:
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


async def run_sql(conn, sql: str, *args: object) -> None:  # type: ignore[no-untyped-def]
    import re
    for stmt in filter(None, (s.strip() for s in sql.split(";\n"))):
        used = max(int(n) for n in re.findall(r"\$(\d+)", stmt))
        await conn.execute(stmt, *args[:used])


async def main(a: argparse.Namespace) -> dict:
    import asyncpg

    sizes = [int(x) for x in a.sizes.split(",")]
    dbname = f"atiende_clocks_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG + "postgres")
    await admin.execute(f'CREATE DATABASE "{dbname}"')
    await admin.close()
    db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{dbname}", "workflow", outbox, pool_size=2)
    raw = None
    out: dict = {"bench": "clocks", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "due_per_tick": a.due,
                 "reps": a.reps, "firing": "services.workflow.service_layer.clocks.fire_clock", "results": []}
    t_begin = time.monotonic()
    try:
        await db.migrate(MIGRATIONS)
        raw = await asyncpg.connect(PG + dbname)
        poller = TimerPoller(db, timers, TIMER_FIRINGS, batch=500)
        batch_no = 0

        async def due_tick() -> tuple[float, int]:
            nonlocal batch_no
            batch_no += 1
            await run_sql(raw, DUE, 1, a.due, f"due{batch_no}-", POLICY)
            events_before = await raw.fetchval("SELECT count(*) FROM workflow.outbox")
            t0 = time.perf_counter()
            n = await poller.fire_due()
            ms = (time.perf_counter() - t0) * 1000
            if n != a.due:
                raise RuntimeError(f"fired {n}, expected {a.due}")
            events = await raw.fetchval("SELECT count(*) FROM workflow.outbox") - events_before
            return ms, events

        await due_tick()  # warm the pool, statement caches and code paths
        have = 0
        for k in sizes:
            t0 = time.monotonic()
            if k > have:
                step = 200_000
                for lo in range(have + 1, k + 1, step):
                    await run_sql(raw, OPEN, lo, min(k, lo + step - 1), "open-", POLICY)
                await raw.execute("VACUUM ANALYZE workflow.timers")
                await raw.execute("VACUUM ANALYZE workflow.case_clocks")
                have = k
            load_s = time.monotonic() - t0
            open_cases = await raw.fetchval("SELECT count(*) FROM workflow.case_clocks WHERE open")
            idle = []
            for _ in range(a.reps * 3):
                t1 = time.perf_counter()
                assert await poller.fire_due() == 0
                idle.append((time.perf_counter() - t1) * 1000)
            ticks = [await due_tick() for _ in range(a.reps)]
            ms = [t[0] for t in ticks]
            r = {"open_cases": int(open_cases), "load_s": round(load_s, 1),
                 "idle_tick_p50_ms": round(statistics.median(idle), 3),
                 "due_tick_p50_ms": round(statistics.median(ms), 1), "due_tick_min_ms": round(min(ms), 1),
                 "due_tick_max_ms": round(max(ms), 1), "ms_per_due_clock": round(statistics.median(ms) / a.due, 2),
                 "events_per_tick": ticks[-1][1]}
            await run_sql(raw, DUE, 1, a.due, f"plan{k}-", POLICY)
            r["claim_due"] = plan_work(await explain(raw, claim_sql(500), 500))
            assert await poller.fire_due() == a.due
            out["results"].append(r)
            log(f"open {open_cases:>8}: idle tick {r['idle_tick_p50_ms']} ms; tick with {a.due} due clocks "
                f"{r['due_tick_p50_ms']} ms ({r['ms_per_due_clock']} ms each, {r['events_per_tick']} events); "
                f"claim buffers {r['claim_due']['buffers']}; load {load_s:.0f}s")
        moved = await raw.fetchval("SELECT count(*) FROM workflow.timers t JOIN workflow.case_clocks c "
                                   "ON t.subject = c.case_id::text WHERE c.clocks->'resolution'->>'breached_at' "
                                   "IS NOT NULL AND t.fired_at IS NULL AND t.cancelled_at IS NULL")
        rows = await raw.fetchval("SELECT count(*) FROM workflow.timers t JOIN workflow.case_clocks c "
                                  "ON t.subject = c.case_id::text WHERE c.clocks->'resolution'->>'breached_at' "
                                  "IS NOT NULL")
        out["breached_clocks_timer_rows"] = int(rows)
        out["breached_clocks_timers_pending_next_level"] = int(moved)
        out["elapsed_s"] = round(time.monotonic() - t_begin, 1)
    finally:
        if raw is not None:
            await raw.close()
        await db.dispose()
        admin = await asyncpg.connect(PG + "postgres")
        await admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        await admin.close()
    return out


def cli() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,1000000", help="open cases K, increasing")
    ap.add_argument("--due", type=int, default=100, help="due clocks per measured tick (D)")
    ap.add_argument("--reps", type=int, default=5, help="ticks per measurement (median reported)")
    a = ap.parse_args()
    out = asyncio.run(asyncio.wait_for(main(a), timeout=900))
    line = json.dumps(out, ensure_ascii=False)
    print(line, flush=True)
    (HERE / "results").mkdir(exist_ok=True)
    with open(HERE / "results" / "clocks.jsonl", "a") as f:
        f.write(line + "\n")


if __name__ == "__main__":
    cli()

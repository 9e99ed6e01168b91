"""Workflow timer poller: work per tick versus open timers (issue #2, item 5).

Claim: the poller's work per tick grows with the number of DUE timers, not with the number of
OPEN ones. This measures it with the project's own code (shared.timers.TimerPoller on the
workflow service's migrated schema) against PostgreSQL on 127.0.0.1:

  for K open timers (due a year from now) in K = 0, 10k, 100k, 1M (bulk INSERT ... SELECT
  generate_series, then VACUUM ANALYZE):
    idle tick   TimerPoller.fire_due() with nothing due (what every replica does every second)
    due tick    insert D=100 timers due in the past (kind "bench.noop"), time fire_due(): it claims
                them (FOR UPDATE SKIP LOCKED), runs the firing for each, marks them fired, commits
    buffers     EXPLAIN (ANALYZE, BUFFERS) of the claim query, idle and with D due: pages touched,
                a machine-independent measure of the work
  at the largest K: the claim plan (must use index timers_pending_due), ticks with D = 10, 100,
  500 due, and a counterfactual plan with index scans disabled (what a non-partial design costs).

The firing function emits one tiny event per timer through tx.emit (one outbox row, as the real
case.overdue firing does; --no-emit makes it a no-op). Timings are the median of --reps ticks.
A throw-away database is created and dropped (--keep keeps it). Bounded: < 5 min here.

Usage: .venv/bin/python bench/timers.py [--sizes 0,10000,100000,1000000] [--due 100] [--reps 7]
Prints one JSON line (also appended to bench/results/timers.jsonl).
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

from sqlalchemy import and_, select  # noqa: E402

from services.workflow.adapters.db import outbox, timers  # noqa: E402
from services.workflow.bootstrap import MIGRATIONS  # noqa: E402
from shared.contracts.envelope import Envelope  # noqa: E402
from shared.db import Database, Tx, utcnow  # noqa: E402
from shared.timers import TimerPoller  # noqa: E402

KIND = "bench.noop"
PG = "postgresql://postgres@127.0.0.1:5432/"


def log(*a: object) -> None:
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def r3(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def claim_sql(batch: int) -> str:
    """The claim query exactly as TimerPoller.fire_due builds it, compiled for asyncpg ($1 = now)."""
    t = timers
    stmt = (select(t).where(and_(t.c.fired_at.is_(None), t.c.cancelled_at.is_(None), t.c.due_at <= utcnow()))
            .order_by(t.c.due_at).limit(batch).with_for_update(skip_locked=True))
    from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg

    c = stmt.compile(dialect=pg_asyncpg.dialect())
    sql = str(c)
    assert list(c.positiontup or []) == ["due_at_1", "param_1"], c.positiontup
    return sql


async def explain(conn, sql: str, batch: int, *, fmt: str = "JSON", settings: str = "") -> object:
    """EXPLAIN (ANALYZE, BUFFERS) of the claim in a transaction that is rolled back."""
    tr = conn.transaction()
    await tr.start()
    try:
        if settings:
            await conn.execute(settings)
        res = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT {fmt}) {sql}", utcnow(), batch)
    finally:
        await tr.rollback()
    if fmt == "JSON":
        v = res[0][0]
        return json.loads(v) if isinstance(v, str) else v
    return "\n".join(r[0] for r in res)


def plan_work(plan_json: object) -> dict:
    top = plan_json[0]  # type: ignore[index]
    p = top["Plan"]
    nodes: list[str] = []

    def walk(n: dict) -> None:
        nodes.append(n["Node Type"] + (f" using {n['Index Name']}" if "Index Name" in n else ""))
        for ch in n.get("Plans", []):
            walk(ch)

    walk(p)
    return {"buffers": p.get("Shared Hit Blocks", 0) + p.get("Shared Read Blocks", 0),
            "exec_ms": r3(top.get("Execution Time")), "nodes": nodes}


async def add_open(conn, start: int, end: int) -> None:
    """Open timers [start, end) due between one and two years from now (never due in this run)."""
    if end <= start:
        return
    await conn.execute(
        "INSERT INTO workflow.timers (kind, tenant, subject, due_at, payload, created_at, fired_at, cancelled_at) "
        "SELECT 'case.overdue', 'bench', 'case-' || g, now() + interval '365 days' + g * interval '30 seconds', "
        "jsonb_build_object('case_id', 'case-' || g), now(), NULL, NULL FROM generate_series($1::int, $2::int) g",
        start, end - 1)
    await conn.execute("VACUUM ANALYZE workflow.timers")


async def add_due(conn, d: int) -> None:
    await conn.execute(
        "INSERT INTO workflow.timers (kind, tenant, subject, due_at, payload, created_at, fired_at, cancelled_at) "
        "SELECT $2, 'bench', 'due-' || g, now() - interval '1 minute' + g * interval '1 millisecond', "
        "jsonb_build_object('n', g), now(), NULL, NULL FROM generate_series(1, $1::int) g", d, KIND)


async def main(a: argparse.Namespace) -> dict:
    import asyncpg

    sizes = [int(x) for x in a.sizes.split(",")]
    dbname = f"atiende_timers_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG + "postgres")
    await admin.execute(f'CREATE DATABASE "{dbname}"')
    await admin.close()
    db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{dbname}", "workflow", outbox, pool_size=2)
    raw = None
    t_begin = time.monotonic()
    out: dict = {"bench": "timers", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "database": dbname,
                 "batch": a.batch, "due_per_tick": a.due, "reps": a.reps,
                 "firing": "tx.emit of a tiny event (one outbox row per timer)" if a.emit else "no-op",
                 "results": []}
    try:
        await db.migrate(MIGRATIONS)
        raw = await asyncpg.connect(PG + dbname)

        async def fire(tx: Tx, row: object) -> None:
            if a.emit:
                await tx.emit(Envelope(source="bench/timers", type="bench.noop.v1", subject=row.subject,  # type: ignore[attr-defined]
                                       tenant=row.tenant, data={"timer_id": row.id}))  # type: ignore[attr-defined]

        poller = TimerPoller(db, timers, {KIND: fire}, batch=a.batch)
        sql = claim_sql(a.batch)
        out["claim_sql"] = " ".join(sql.split())
        # Warm the pool, the statement caches and the code paths once.
        await add_due(raw, 5)
        assert await poller.fire_due() == 5
        await poller.fire_due()

        async def tick_ms(expect: int) -> float:
            t0 = time.perf_counter()
            n = await poller.fire_due()
            ms = (time.perf_counter() - t0) * 1000
            if n != expect:
                raise RuntimeError(f"fire_due fired {n}, expected {expect}")
            return ms

        async def due_ticks(d: int, reps: int) -> list[float]:
            res = []
            for _ in range(reps):
                await add_due(raw, d)
                res.append(await tick_ms(min(d, a.batch)))
            return res

        def summary(v: list[float]) -> dict:
            return {"p50_ms": r3(statistics.median(v)), "min_ms": r3(min(v)), "max_ms": r3(max(v))}

        have = 0
        for k in sizes:
            t0 = time.monotonic()
            await add_open(raw, have, k)
            have = max(have, k)
            load_s = time.monotonic() - t0
            open_now = await raw.fetchval("SELECT count(*) FROM workflow.timers WHERE fired_at IS NULL "
                                          "AND cancelled_at IS NULL")
            idle = [await tick_ms(0) for _ in range(a.reps * 3)]
            due = await due_ticks(a.due, a.reps)
            idle_plan = plan_work(await explain(raw, sql, a.batch))
            await add_due(raw, a.due)
            due_plan = plan_work(await explain(raw, sql, a.batch))
            await tick_ms(a.due)  # fire those too
            r = {"open": int(open_now), "load_s": round(load_s, 1), "idle_tick": summary(idle),
                 "due_tick": summary(due), "due_tick_ms_per_timer": r3(statistics.median(due) / a.due),
                 "claim_idle": idle_plan, "claim_due": due_plan}
            out["results"].append(r)
            log(f"K={open_now:>8}: idle tick p50 {r['idle_tick']['p50_ms']} ms, tick with {a.due} due p50 "
                f"{r['due_tick']['p50_ms']} ms; claim buffers idle/due {idle_plan['buffers']}/{due_plan['buffers']} "
                f"({', '.join(due_plan['nodes'])}); load {load_s:.1f}s")

        # Largest K: the plan, the dependence on the number due, and the counterfactual.
        big: dict = {"open": out["results"][-1]["open"]}
        await add_due(raw, a.due)
        big["claim_plan"] = await explain(raw, sql, a.batch, fmt="TEXT")
        big["uses_timers_pending_due"] = "timers_pending_due" in big["claim_plan"]
        big["seqscan_counterfactual_plan"] = await explain(
            raw, sql, a.batch, fmt="TEXT",
            settings="SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off; "
                     "SET LOCAL enable_indexonlyscan = off")
        await tick_ms(a.due)
        vary = []
        for d in (0, 10, 100, 500):
            ms = [await tick_ms(0) for _ in range(a.reps)] if d == 0 else await due_ticks(d, a.reps)
            plan = None
            if d:
                await add_due(raw, d)
                plan = plan_work(await explain(raw, sql, a.batch))
                await tick_ms(d)
            vary.append({"due": d, **summary(ms), "ms_per_timer": r3(statistics.median(ms) / d) if d else None,
                         "claim_buffers": plan["buffers"] if plan else None})
            log(f"K={big['open']}, due={d}: tick p50 {vary[-1]['p50_ms']} ms")
        big["vary_due"] = vary
        out["largest"] = big
        out["elapsed_s"] = round(time.monotonic() - t_begin, 1)
    finally:
        if raw is not None:
            await raw.close()
        await db.dispose()
        if not a.keep:
            admin = await asyncpg.connect(PG + "postgres")
            await admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            await admin.close()
    return out


def cli() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="0,10000,100000,1000000", help="open timers K, increasing")
    ap.add_argument("--due", type=int, default=100, help="due timers per measured tick (D)")
    ap.add_argument("--batch", type=int, default=500, help="TimerPoller batch")
    ap.add_argument("--reps", type=int, default=7, help="ticks per measurement (median reported)")
    ap.add_argument("--no-emit", dest="emit", action="store_false", help="firing does nothing")
    ap.add_argument("--keep", action="store_true", help="keep the database")
    a = ap.parse_args()
    out = asyncio.run(asyncio.wait_for(main(a), timeout=600))
    line = json.dumps(out, ensure_ascii=False)
    print(line, flush=True)
    (HERE / "results").mkdir(exist_ok=True)
    with open(HERE / "results" / "timers.jsonl", "a") as f:
        f.write(line + "\n")
    lg = out["largest"]
    log("SUMMARY (ms per tick, median)")
    for r in out["results"]:
        log(f"  open {r['open']:>8}: idle {r['idle_tick']['p50_ms']:>7}  with {a.due} due {r['due_tick']['p50_ms']:>7}"
            f"  claim buffers idle/due {r['claim_idle']['buffers']}/{r['claim_due']['buffers']}")
    log(f"  at {lg['open']} open, by due count: " + ", ".join(f"{v['due']}: {v['p50_ms']}" for v in lg["vary_due"]))
    log(f"  claim plan uses timers_pending_due: {lg['uses_timers_pending_due']}")


if __name__ == "__main__":
    cli()

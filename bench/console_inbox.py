"""The console's inbox page (issue 14) on a tenant with 100,000 cases: p50/p95 of rendering it.

What runs (PostgreSQL and RabbitMQ on 127.0.0.1, as bench/inbox.py uses them, whose load this
reuses — same data shape, fewer cases):

  1. a throw-away database and broker namespace; ``atiende migrate intake --seed``;
  2. bench/inbox.py's ``load``: --size cases (100,000) for inmobiliaria-demo, --noise for another
     tenant, parties with RUTs, indexes rebuilt, VACUUM ANALYZE;
  3. ``atiende serve intake`` and ``atiende serve console`` (ATIENDE_CONSOLE_API_URL: intake),
     each on a free port; the console only reaches the data through intake's public API;
  4. log in through the console's form (its cookie), then for each view: 2 warm-up requests and
     --reps (25) timed GET /console/inbox?… one at a time: the whole page as a browser gets it
     (the console's calls to /auth/me, /inbox and the catalog lists, and the HTML);
  5. one JSON line on stdout (also appended to bench/results/console_inbox.jsonl); servers
     stopped, database dropped, namespace deleted.

Usage: .venv/bin/python bench/console_inbox.py [--size 100000] [--noise 10000] [--reps 25]
Target: p95 ≤ 300 ms."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # bench/inbox.py, whose load and helpers are reused

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from inbox import AMQP_URL, PG, ROOT, TENANT, Server, load, log, pct, record, samples  # noqa: E402

from services.intake.seed import DEMO_PASSWORD, demo_email  # noqa: E402

RESULTS = HERE / "results"


def views(s: dict[str, Any]) -> list[tuple[str, Any]]:
    """(name, query of /console/inbox)."""
    return [
        ("default", []),
        ("search_rut", [("q", s["rut"])]),
        ("search_name_number", [("q", s["number"])]),
        ("overdue_by_priority", [("overdue", "true"), ("sort", "priority")]),
        ("every_status_newest", [(k, v) for k in ("status",) for v in
                                 ("new", "in_execution", "waiting_on_customer", "finished_success",
                                  "finished_failure")] + [("sort", "-created")]),
        ("deep_page", [("cursor", s["deep"]["deadline_100k"])]),
    ]


def measure(console: str, user: str, reps: int, s: dict[str, Any]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=console, timeout=30) as c:
        r = c.post("/console/login", data={"tenant": TENANT, "email": demo_email(user, TENANT),
                                           "password": DEMO_PASSWORD})
        assert r.status_code == 303 and r.headers["location"] == "/console/inbox", (r.status_code, r.text[:500])
        for name, query in views(s):
            times = []
            for i in range(reps + 2):
                t0 = time.perf_counter()
                r = c.get("/console/inbox", params=query)
                dt = (time.perf_counter() - t0) * 1000
                assert r.status_code == 200 and "result-count" in r.text, (name, r.status_code, r.text[:500])
                if i >= 2:
                    times.append(dt)
            out[name] = {"p50_ms": pct(times, 0.5), "p95_ms": pct(times, 0.95), "max_ms": round(max(times), 2)}
            log(f"  {name}: p50 {out[name]['p50_ms']} ms, p95 {out[name]['p95_ms']} ms")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--noise", type=int, default=10_000, help="cases of another tenant")
    ap.add_argument("--reps", type=int, default=25)
    a = ap.parse_args()
    run_id = uuid.uuid4().hex[:8]
    db_name = f"atiende_bench_console_{run_id}"
    ns = f"benchconsole{run_id}"
    RESULTS.mkdir(exist_ok=True)
    env = {**os.environ, "ATIENDE_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db_name}",
           "ATIENDE_AMQP_URL": AMQP_URL, "ATIENDE_NAMESPACE": ns, "ATIENDE_TOKEN_SECRET": secrets.token_urlsafe(36),
           "ATIENDE_LOG_LEVEL": "WARNING"}
    intake = Server(env, RESULTS / f"console-intake-{run_id}.log")
    console = Server({**env, "ATIENDE_CONSOLE_API_URL": intake.base}, RESULTS / f"console-{run_id}.log",
                     service="console", ready_path="/console/health")
    result: dict[str, Any] = {"bench": "console_inbox", "run": run_id, "at": datetime.now(UTC).isoformat(timespec="seconds"),
                              "size": a.size, "noise": a.noise, "reps": a.reps, "cpu_cores": os.cpu_count()}
    started = time.monotonic()
    created = False

    async def database(sql: str) -> None:
        c = await asyncpg.connect(PG + "postgres")
        try:
            await c.execute(sql)
        finally:
            await c.close()

    try:
        asyncio.run(database(f'CREATE DATABASE "{db_name}"'))
        created = True
        r = subprocess.run([sys.executable, "-m", "atiende", "migrate", "intake", "--seed"], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"migrate failed: {r.stdout[-2000:]}{r.stderr[-3000:]}")
        log(f"loading {a.size:,} cases (+{a.noise:,} of another tenant)…")
        result["data"] = asyncio.run(load(PG + db_name, a.size, a.noise))["timings"]
        s = asyncio.run(samples(PG + db_name))
        intake.start()
        console.start()
        log(f"measuring the console's inbox page ({a.reps} requests each, after 2 warm-up)…")
        result["views"] = measure(console.base, "admin", a.reps, s)
    finally:
        console.stop()
        intake.stop()
        if created:
            asyncio.run(database(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        record(result, ns, started, "console_inbox")
    vs = result.get("views", {})
    if vs:
        log("p50 ≤ {:.1f} ms, p95 ≤ {:.1f} ms over {} views (target p95 ≤ 300 ms)".format(
            max(v["p50_ms"] for v in vs.values()), max(v["p95_ms"] for v in vs.values()), len(vs)))


if __name__ == "__main__":
    main()

"""Ceiling of Atiende's architecture on this machine: the bench-limits building blocks (no Atiende
code) composed into the multi-hop shape of issue 2, measured like bench/pipeline.py.

  driver -POST /cases-> intake -case.created-> workflow -case.deadline_set-> notifier -2 e-mails-> SMTP sink
  case.created -> reporting; case.deadline_set -> intake, reporting; notifier -2x notification.sent-> reporting

Each service is its own process (bench/chain_ceiling/<svc>.py, uvloop) with its own schema, a
transactional outbox with an in-process relay (SKIP LOCKED claim, confirms pipelined by gather, woken
after each commit, 1 s fallback poll) and an inbox (event id INSERT ... ON CONFLICT DO NOTHING in the
transaction of the effects; ack after commit).  SQLAlchemy Core text() on asyncpg, pools without
overflow, aio-pika, persistent messages, prefetch 100, durable classic queues (--queue-type quorum as
Atiende).  Per case: 1 POST, 4 events published, 7 consumed (workflow 1, intake 1, notifier 1,
reporting 4), 2 SMTP transactions, 9 handler transactions at K=1.  The notifier consumes only
case.deadline_set: workflow copies the e-mail addresses of case.created into it (Atiende could too).

--batch K (default: both 1 and 50): K=1 one transaction per consumed message, as issue 2 describes;
K=50 two workers per consumer each take up to 50 already-delivered messages and handle them in ONE
transaction (one multi-row inbox INSERT ... RETURNING, the effects, one commit, then ack them all).

Per variant: fresh schemas and queues, the four services, then warm-up (200 at C=20), light (200 at
10/s), paced (N at --rate), sat (N unpaced, C=50), each followed by a bounded wait until both e-mails
of every case are at the sink and reporting and intake have consumed everything.  Per phase:
accepted/s, processed/s (responsible e-mails at the sink / (last such e-mail - first POST)),
POST -> responsible e-mail p50/p99, every e-mail exactly once, CPU ms per processed case per process
(/proc utime+stime, phase + drain; postgres and rabbitmq = every process named postgres / beam.smp).
Then, unless --no-limits, ../shared/bench-limits/pipeline.py --seconds 15 (the bare one-hop path) and
per variant the ratio sat processed/s / bare sat created/s.  The throw-away database
chain_ceiling_<id> and the broker names chainbench<id>.* are removed at the end, also on errors.
One JSON line on stdout, appended to bench/results/chain_ceiling.jsonl; logs in
bench/results/chain-<time>-<id>/.

  .venv/bin/python bench/chain_ceiling.py                                   # N=2000, K=1 and 50, + bare
  .venv/bin/python bench/chain_ceiling.py --n 300 --batch 50 --no-limits    # quick look (~1 min)
  options: --n --batch (repeatable) --rate --concurrency --queue-type --light-n --warmup --drain-timeout
"""
from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHAIN_DIR = HERE / "chain_ceiling"
RESULTS = HERE / "results"
AMQP = "amqp://guest:guest@127.0.0.1:5672/"
SERVICES = ("intake", "workflow", "notifier", "reporting")
TEMPLATES = ("contact", "responsible")
sys.path.insert(0, str(CHAIN_DIR))
import common as chain  # noqa: E402  (bench/chain_ceiling/common.py: ROUTES and the schemas)
from pipeline import delete_broker_names, run_limits  # noqa: E402  (bench/pipeline.py: the bare path, run the same way)


def log(*a) -> None:
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def pct(values, p):
    """Nearest-rank percentile (same definition as ../shared/bench-limits/_common.py)."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))]


def r1(x):
    return None if x is None else round(x, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(sql: str) -> str:
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-Atc", sql],
                          capture_output=True, text=True, check=True).stdout.strip()


def calib(seconds: float = 0.5) -> float:
    """CPU available now: k JSON round trips/s of a ~1 KB dict (bench-limits' calibration)."""
    d = {"id": "7d8f0a2e-1111-4a3b-9c1d-000000000000", "subject": "Printer on fire",
         "tags": ["hw", "fire", "urgent"], "priority": 3, "body": "x" * 900}
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(100):
            json.loads(json.dumps(d))
        n += 100
    return round(n / (time.perf_counter() - t0) / 1000.0, 2)


class SinkReader:
    """Tails the sink's file: arrivals[(case, template)] = [time, ...]."""

    def __init__(self, path: Path) -> None:
        self.path, self.pos, self.buf = path, 0, b""
        self.arrivals: dict[tuple[str, str], list[float]] = defaultdict(list)

    def poll(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return
        self.pos += len(data)
        *lines, self.buf = (self.buf + data).split(b"\n")
        for ln in lines:
            ts, case, tpl = ln.decode().split("\t")
            self.arrivals[(case, tpl)].append(float(ts))


# CPU from /proc (read only): utime + stime of each pid, grouped by process role.
TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def pids_by_comm(name: str) -> list[int]:
    out = []
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{d}/comm") as f:
                if f.read().strip() == name:
                    out.append(int(d))
        except OSError:
            pass
    return out


def cpu_snapshot(pids: dict[str, int]) -> dict[str, dict[int, float]]:
    snap = {k: {p: proc_cpu(p)} for k, p in pids.items()}
    snap["driver"] = {os.getpid(): proc_cpu(os.getpid())}
    snap["postgres"] = {p: proc_cpu(p) for p in pids_by_comm("postgres")}
    snap["rabbitmq"] = {p: proc_cpu(p) for p in pids_by_comm("beam.smp")}
    return snap


def cpu_seconds(a: dict, b: dict) -> dict[str, float]:
    return {k: sum(v - a.get(k, {}).get(p, 0.0) for p, v in now.items()) for k, now in b.items()}


class Chain:
    """One run's database, broker names, SMTP sink and (per variant) the four service processes."""

    def __init__(self, run_id: str, logdir: Path, queue_type: str) -> None:
        self.db, self.ns, self.logdir, self.queue_type = f"chain_ceiling_{run_id}", f"chainbench{run_id}", logdir, queue_type
        self.port, self.smtp_port = free_port(), free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        self.sink_proc: subprocess.Popen | None = None
        self.sink = SinkReader(logdir / "smtp-arrivals.tsv")
        self.db_created = False
        self.pg = None  # asyncpg connection for the drain checks, per variant

    def queues(self) -> list[str]:
        return [f"{self.ns}.{svc}" for svc in SERVICES]  # the names common.queue_name builds

    def start_sink(self) -> None:
        self.sink_proc = subprocess.Popen([sys.executable, str(CHAIN_DIR / "sink.py"), str(self.smtp_port),
                                           str(self.sink.path)], stdout=subprocess.PIPE,
                                          stderr=open(self.logdir / "sink.log", "ab"))
        if self.sink_proc.stdout.readline().strip() != b"READY":
            raise RuntimeError("SMTP sink did not start; see sink.log")

    async def reset(self) -> None:
        """Fresh schemas and fresh, empty queues for a variant."""
        import aio_pika
        import asyncpg

        if not self.db_created:
            psql(f'CREATE DATABASE "{self.db}"')
            self.db_created = True
        conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{self.db}")
        try:
            for svc in SERVICES:
                for stmt in chain.ddl(svc):
                    await conn.execute(stmt)
        finally:
            await conn.close()
        await self.delete_broker()
        amqp = await aio_pika.connect(AMQP)
        try:
            ch = await amqp.channel()
            ex = await ch.declare_exchange(f"{self.ns}.events", aio_pika.ExchangeType.TOPIC, durable=True)
            for svc in SERVICES:
                q = await ch.declare_queue(f"{self.ns}.{svc}", durable=True,
                                           arguments={"x-queue-type": self.queue_type})
                for rk in chain.ROUTES[svc]:
                    await q.bind(ex, rk)
        finally:
            await amqp.close()

    async def delete_broker(self) -> int:
        return len(await delete_broker_names(AMQP, self.queues(), [f"{self.ns}.events"]))

    def start_services(self, batch: int) -> None:
        env = dict(os.environ, CHAIN_DSN=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{self.db}", CHAIN_AMQP=AMQP,
                   CHAIN_NS=self.ns, CHAIN_BATCH=str(batch), CHAIN_SMTP_PORT=str(self.smtp_port),
                   CHAIN_MINIMAL="1" if chain.MINIMAL else "0")
        for svc in SERVICES:
            args = [sys.executable, str(CHAIN_DIR / f"{svc}.py")] + ([str(self.port)] if svc == "intake" else [])
            out = open(self.logdir / f"{svc}-K{batch}.log", "ab")
            self.procs[svc] = subprocess.Popen(args, env=env, cwd=CHAIN_DIR, stdout=out, stderr=subprocess.STDOUT)

    async def wait_ready(self, limit_s: float = 60.0) -> None:
        """Every queue has its consumer (the broker says so) and intake answers /health."""
        import aio_pika
        import aiohttp

        t0 = time.monotonic()
        amqp = await aio_pika.connect(AMQP)
        try:
            async with aiohttp.ClientSession() as http:
                while time.monotonic() - t0 < limit_s:
                    dead = [s for s, p in self.procs.items() if p.poll() is not None]
                    if dead:
                        raise RuntimeError(f"{dead} exited during start-up; see their logs in {self.logdir}")
                    ch = await amqp.channel()
                    consumers = [(await ch.declare_queue(q, passive=True)).declaration_result.consumer_count
                                 for q in self.queues()]
                    await ch.close()
                    try:
                        async with http.get(f"http://127.0.0.1:{self.port}/health") as r:
                            ok = r.status == 200
                    except aiohttp.ClientError:
                        ok = False
                    if ok and all(consumers):
                        return
                    await asyncio.sleep(0.3)
        finally:
            await amqp.close()
        raise RuntimeError(f"services not ready after {limit_s:.0f}s")

    def stop_services(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
        self.procs = {}

    def cleanup(self) -> dict:
        """Every step on its own: one failing must not leave the others undone."""
        out = {}
        steps = [("services", self.stop_services), ("sink", self.stop_sink),
                 ("broker_deleted", lambda: asyncio.run(self.delete_broker()))]
        if self.db_created:
            steps.append(("database_dropped", self.drop_db))
        for name, step in steps:
            try:
                r = step()
                if r is not None:
                    out[name] = r
            except Exception as exc:
                out[name] = f"FAILED: {exc!r}"[:300]
                log(f"clean-up of {name} failed:", repr(exc))
        return out

    def drop_db(self) -> bool:
        psql(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        return True

    def stop_sink(self) -> None:
        if self.sink_proc and self.sink_proc.poll() is None:
            os.kill(self.sink_proc.pid, signal.SIGTERM)
            try:
                self.sink_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.sink_proc.pid, signal.SIGKILL)

    async def consumed(self) -> tuple[int, int]:
        """Events handled by reporting and intake (their inbox rows): the hops off the e-mail path.
        One connection kept for the variant (a new one per poll would fork a backend each time)."""
        import asyncpg

        if self.pg is None:
            self.pg = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{self.db}")
        return (await self.pg.fetchval("SELECT count(*) FROM reporting.inbox"),
                await self.pg.fetchval("SELECT count(*) FROM intake.inbox"))


def case_body(tag: str) -> bytes:
    return json.dumps({"tenant_id": "3f2b8c1e-5d4a-4e7b-9a10-2c3d4e5f6a7b", "contact_email": "c@example.cl",
                       "responsible_email": "r@example.cl", "subject": f"Copia de escritura {tag}",
                       "description": f"El propietario pide copia de la escritura; caso de benchmark {tag}.",
                       "priority": "high", "category": "consulta-general", "channel": "web",
                       "tags": ["escritura", "copia"], "external_ref": tag}).encode()


async def drive(base: str, phase: str, n: int, conc: int, rate: float | None) -> dict:
    """POST n cases over conc keep-alive connections (aiohttp: little CPU taken from the services),
    paced at `rate` cases/s if given."""
    import aiohttp

    sent: dict[str, float] = {}
    http_ms, lag_ms, errors = [], [], []
    statuses: dict[str, int] = defaultdict(int)
    nxt = 0
    async with aiohttp.ClientSession(base_url=base, connector=aiohttp.TCPConnector(limit=conc),
                                     timeout=aiohttp.ClientTimeout(total=30)) as client:
        t0 = time.time() + 0.05

        async def worker() -> None:
            nonlocal nxt
            while nxt < n:
                i, nxt = nxt, nxt + 1
                if rate:
                    delay = t0 + i / rate - time.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    else:
                        lag_ms.append(-delay * 1000)
                ts = time.time()
                try:
                    async with client.post("/cases", data=case_body(f"{phase}-{i}"),
                                           headers={"content-type": "application/json"}) as r:
                        payload = await r.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    statuses["exc"] += 1
                    errors.append(repr(exc)[:200])
                    continue
                http_ms.append((time.time() - ts) * 1000)
                statuses[str(r.status)] += 1
                if r.status == 201:
                    sent[json.loads(payload)["id"]] = ts
                elif len(errors) < 5:
                    errors.append(f"{r.status} {payload[:200]!r}")

        await asyncio.gather(*(worker() for _ in range(conc)))
        t_end = time.time()
    return {"sent": sent, "http_ms": http_ms, "lag_ms": lag_ms, "statuses": dict(statuses), "errors": errors[:5],
            "t_start": t0, "wall": t_end - t0}


async def wait_drain(ch: Chain, total_cases: int, phase_cases: dict, limit_s: float) -> dict:
    """Bounded: both e-mails of every case at the sink, then every event consumed by reporting
    (4 per case) and intake (1 per case); stops early after 30 s without progress."""
    t0 = last = time.monotonic()
    have = None
    while time.monotonic() - t0 < limit_s and time.monotonic() - last < 30:
        ch.sink.poll()
        got = sum((c, t) in ch.sink.arrivals for c in phase_cases for t in TEMPLATES)
        # The database only once the e-mails are in: its polling would add to the measured CPU.
        rep, intk = await ch.consumed() if got >= 2 * len(phase_cases) else (0, 0)
        if (got, rep, intk) != have:
            have, last = (got, rep, intk), time.monotonic()
        if got >= 2 * len(phase_cases) and rep >= chain.EVENTS_PER_CASE["reporting"] * total_cases and intk >= total_cases:
            return {"drain_s": round(time.monotonic() - t0, 2), "drained": True}
        await asyncio.sleep(0.1)
    return {"drain_s": round(time.monotonic() - t0, 2), "drained": False, "emails_reporting_intake": have}


async def run_phase(ch: Chain, name: str, n: int, conc: int, rate: float | None, total_before: int,
                    limit_s: float) -> dict:
    log(f"  phase {name}: {n} cases, C={conc}, " + (f"{rate:g}/s" if rate else "unpaced"))
    pids = {svc: p.pid for svc, p in ch.procs.items()}
    pids["smtp_sink"] = ch.sink_proc.pid
    snap0, w0 = cpu_snapshot(pids), time.time()
    d = await drive(f"http://127.0.0.1:{ch.port}", name, n, conc, rate)
    drain = await wait_drain(ch, total_before + len(d["sent"]), d["sent"], limit_s)
    cpu, wall = cpu_seconds(snap0, cpu_snapshot(pids)), time.time() - w0
    await asyncio.sleep(1.0)  # grace: late duplicates would show up now
    ch.sink.poll()
    lat, last, dup, missing = [], None, dict.fromkeys(TEMPLATES, 0), dict.fromkeys(TEMPLATES, 0)
    for cid, ts in d["sent"].items():
        for tpl in TEMPLATES:
            arr = ch.sink.arrivals.get((cid, tpl))
            if not arr:
                missing[tpl] += 1
                continue
            dup[tpl] += len(arr) - 1
            if tpl == "responsible":
                lat.append((min(arr) - ts) * 1000)
                last = max(last or 0.0, min(arr))
    span = last - d["t_start"] if last else None
    ok = len(d["sent"])
    st = {"accepted": ok, "statuses": d["statuses"], "error_samples": d["errors"],
          "accepted_per_s": r1(ok / d["wall"]), "processed": len(lat),
          "processed_per_s": r1(len(lat) / span) if span else None,
          "e2e_p50_ms": r1(pct(lat, 50)), "e2e_p99_ms": r1(pct(lat, 99)), "e2e_max_ms": r1(max(lat, default=None)),
          "http_p50_ms": r1(pct(d["http_ms"], 50)), "http_p99_ms": r1(pct(d["http_ms"], 99)),
          "pacer_late": len(d["lag_ms"]), "emails_missing": missing, "duplicates": dup,
          "all_emails_once": ok > 0 and not any(missing.values()) and not any(dup.values()), **drain,
          "cpu_ms_per_case": {k: r1(1000 * v / len(lat)) if lat else None for k, v in cpu.items()},
          "cpu_pct_of_one_core": {k: r1(100 * v / wall) for k, v in cpu.items()}}
    st["cpu_ms_per_case"]["total"] = r1(sum(cpu.values()) * 1000 / len(lat)) if lat else None
    st["cpu_pct_of_one_core"]["total"] = r1(100 * sum(cpu.values()) / wall)
    log(f"    accepted {ok} at {st['accepted_per_s']}/s, processed {st['processed_per_s']}/s, e2e p50/p99 "
        f"{st['e2e_p50_ms']}/{st['e2e_p99_ms']} ms, all e-mails once: {st['all_emails_once']}, "
        f"drained: {drain['drained']}, CPU ms/case {st['cpu_ms_per_case']['total']}")
    return st


async def run_variant(ch: Chain, a, batch: int) -> dict:
    await ch.reset()
    ch.start_services(batch)
    await ch.wait_ready()
    out, total = {}, 0
    try:
        for name, n, conc, rate in (("warmup", a.warmup, min(a.concurrency, 20), None),
                                    ("light", a.light_n, a.concurrency, a.light_rate),
                                    ("paced", a.n, a.concurrency, a.rate), ("sat", a.n, a.concurrency, None)):
            if n:
                out[name] = await run_phase(ch, name, n, conc, rate, total, a.drain_timeout)
                total += out[name]["accepted"]
    finally:
        if ch.pg is not None:  # it belongs to this variant's event loop
            await ch.pg.close()
            ch.pg = None
    out["warmup"] = {k: out["warmup"][k] for k in ("accepted", "processed", "all_emails_once")} if a.warmup else None
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="cases in the paced and in the sat phase")
    ap.add_argument("--batch", type=int, action="append", help="K messages per consuming transaction; "
                    "repeatable (default: 1 and 50)")
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--light-rate", type=float, default=10.0)
    ap.add_argument("--light-n", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--queue-type", choices=("classic", "quorum"), default="classic")
    ap.add_argument("--minimal", action="store_true", help="fewest hops the slice allows: no "
                    "notification.sent, reporting counts from case.deadline_set (2 published, 4 consumed per case)")
    ap.add_argument("--drain-timeout", type=float, default=180.0)
    ap.add_argument("--no-limits", action="store_true", help="skip ../shared/bench-limits/pipeline.py")
    ap.add_argument("--limits-seconds", type=int, default=15)
    a = ap.parse_args()
    if a.minimal:  # common.py reads it at import (the services read it from their environment)
        os.environ["CHAIN_MINIMAL"] = "1"
        importlib.reload(chain)
    batches = a.batch or [1, 50]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the clean-up below runs
    import uvloop

    run_id = uuid.uuid4().hex[:8]
    logdir = RESULTS / f"chain-{time.strftime('%Y%m%d-%H%M%S')}-{run_id}"
    logdir.mkdir(parents=True, exist_ok=True)
    ch = Chain(run_id, logdir, a.queue_type)
    out = {"bench": "chain_ceiling", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "run_id": run_id,
           "n": a.n, "concurrency": a.concurrency, "rate": a.rate, "light_rate": a.light_rate,
           "queue_type": a.queue_type, "minimal": a.minimal, "batches": batches, "logs": str(logdir.relative_to(HERE.parent)),
           "loadavg_at_start": round(os.getloadavg()[0], 2), "calib_kjson_per_s": calib(), "variants": {}}
    failure = None
    try:
        log(f"run {run_id}: database {ch.db}, broker {ch.ns}.*, logs {logdir}")
        ch.start_sink()
        for k in batches:
            log(f"variant K={k} ({a.queue_type} queues)")
            try:
                out["variants"][f"K{k}"] = uvloop.run(run_variant(ch, a, k))
            finally:
                ch.stop_services()
    except Exception as exc:  # report precisely, then clean up
        failure = out["failure"] = f"{type(exc).__name__}: {exc}"
        log("FAILED:", failure)
    finally:
        out["cleanup"] = ch.cleanup()
    if failure is None and not a.no_limits:
        try:
            lim = run_limits(a.limits_seconds, logdir)
            bare = lim["sat"]["created_per_s"]
            out["limits"] = {"sat_created_per_s": bare, "sat_delay_p50_ms": lim["sat"].get("delay_p50_ms"),
                             "sat_delay_p99_ms": lim["sat"].get("delay_p99_ms"),
                             "paced_delay_p50_ms": lim["paced"].get("delay_p50_ms"),
                             "paced_delay_p99_ms": lim["paced"].get("delay_p99_ms"),
                             "workers": lim.get("workers"), "calib_kjson_per_s": lim.get("calib_kjson_per_s")}
            out["ratio_chain_over_bare"] = {k: round(v["sat"]["processed_per_s"] / bare, 3)
                                            for k, v in out["variants"].items() if v["sat"]["processed_per_s"]}
            log(f"bare sat {bare}/s; chain/bare: {out['ratio_chain_over_bare']}")
        except Exception as exc:
            out["limits_failure"] = f"{type(exc).__name__}: {exc}"
            log("limits FAILED:", out["limits_failure"])
    line = json.dumps(out, ensure_ascii=False)
    print(line, flush=True)
    with open(RESULTS / "chain_ceiling.jsonl", "a") as f:
        f.write(line + "\n")
    sys.exit(1 if failure else 0)


if __name__ == "__main__":
    main()

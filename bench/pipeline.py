"""End-to-end benchmark of Atiende's RabbitMQ + PostgreSQL deployment (issue #2).

The full product path, measured from outside:

    POST /cases (intake) -> case.created -> workflow (deadline) -> case.deadline_set
      -> notifier -> 2 e-mails by SMTP (contact: case_received, responsible: case_assigned)

What it does (bounded in time, stops by itself, traffic to 127.0.0.1 only):
  1. starts an SMTP sink (aiosmtpd Controller, in a child process so that its arrival stamps are
     not delayed by the load generator's GIL) that records time.time() per (case id, template);
  2. creates a throw-away database and a unique broker namespace, runs `atiende migrate --seed`,
     starts the four services (`atiende serve ...`) and waits for /ready on all of them;
  3. a warm-up, then phase "paced" (N cases at --rate cases/s, the product target: p99 <= 100 ms
     at 200 cases/s) and phase "sat" (N cases as fast as C concurrent keep-alive connections
     allow), each followed by a bounded wait for the e-mails to drain;
  4. unless --no-limits, runs ../shared/bench-limits/pipeline.py (bare-stack ceiling) back to back
     and reports Atiende's fully-processed cases/s over the bare composed path's created/s;
  5. prints one JSON line on stdout (also appended to bench/results/pipeline.jsonl), a short
     human summary on stderr; drops the database and deletes the namespace's queues/exchanges.

Usage:
  .venv/bin/python bench/pipeline.py                      # N=2000, C=50, paced at 200/s, + limits
  .venv/bin/python bench/pipeline.py --n 500 --no-limits  # quick look
  options: --n --concurrency --rate --workers --no-limits --keep --limits-seconds --drain-timeout
           --profile (py-spy on the services during the saturation phase, needs `pip install py-spy`)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
LIMITS_DIR = (ROOT / ".." / "shared" / "bench-limits").resolve()
SERVICES = ("intake", "workflow", "notifier", "reporting")
DEFAULT_PORTS = {"intake": 8001, "workflow": 8002, "notifier": 8003, "reporting": 8004}
PG_ADMIN = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-Atc"]
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
TEMPLATES = ("case_received", "case_assigned")  # contact, responsible


def _git_rev(rev: str) -> str:
    r = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev], capture_output=True, text=True)
    return r.stdout.strip() or "?"


def log(*a: object) -> None:
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (same definition as ../shared/bench-limits/_common.py)."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def r1(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


# --------------------------------------------------------------------------------------------
# SMTP sink (child process: `pipeline.py --sink-only PORT FILE`)
# --------------------------------------------------------------------------------------------
_CASE_RE = re.compile(rb"^X-Atiende-Case:\s*(\S+)", re.M | re.I)
_TPL_RE = re.compile(rb"^X-Atiende-Template:\s*(\S+)", re.M | re.I)
_MID_RE = re.compile(rb"^Message-ID:\s*(\S+)", re.M | re.I)


def sink_main(port: int, out_path: str) -> None:
    """aiosmtpd Controller on 127.0.0.1:port; one line per message:
    'time<TAB>case<TAB>template<TAB>recipients<TAB>Message-ID'."""
    import threading

    from aiosmtpd.controller import Controller

    out = open(out_path, "a", buffering=1 << 16)  # noqa: SIM115 - closed at exit
    lock = threading.Lock()
    stop = threading.Event()

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            now = time.time()
            raw = envelope.original_content or envelope.content
            if isinstance(raw, str):
                raw = raw.encode()
            head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
            c = _CASE_RE.search(head)
            t = _TPL_RE.search(head)
            m = _MID_RE.search(head)
            line = (f"{now:.6f}\t{c.group(1).decode() if c else '-'}\t{t.group(1).decode() if t else '-'}"
                    f"\t{','.join(sorted(envelope.rcpt_tos))}\t{m.group(1).decode() if m else '-'}\n")
            with lock:
                out.write(line)
            return "250 OK"

    def flusher() -> None:
        while not stop.wait(0.05):
            with lock:
                out.flush()

    ctl = Controller(Handler(), hostname="127.0.0.1", port=port)
    ctl.start()
    threading.Thread(target=flusher, daemon=True).start()
    print("READY", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait(4 * 3600)  # bounded even if the parent vanishes without telling us
    ctl.stop()
    with lock:
        out.flush()
        out.close()


class SinkReader:
    """Tails the sink's file: arrivals[(case, template)] = [time, ...] and, in the same order,
    recipients[(case, template)] = ["a@x,b@y", ...] and message_ids[(case, template)]."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pos = 0
        self.buf = b""
        self.arrivals: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.recipients: dict[tuple[str, str], list[str]] = defaultdict(list)  # envelope recipients, per arrival
        self.message_ids: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.total = 0

    def poll(self) -> int:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return 0
        self.pos += len(data)
        data = self.buf + data
        lines = data.split(b"\n")
        self.buf = lines.pop()
        for ln in lines:
            ts, case, tpl, *rest = ln.decode().split("\t")
            self.arrivals[(case, tpl)].append(float(ts))
            self.recipients[(case, tpl)].append(rest[0] if rest else "")
            self.message_ids[(case, tpl)].append(rest[1] if len(rest) > 1 else "")
            self.total += 1
        return len(lines)


# --------------------------------------------------------------------------------------------
# CPU accounting from /proc (read only)
# --------------------------------------------------------------------------------------------
_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / _TICK  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0.0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def _by_comm(names: tuple[str, ...]) -> list[int]:
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/comm") as f:
                    if f.read().strip() in names:
                        pids.append(int(d))
            except OSError:
                pass
    return pids


def cpu_snapshot(procs: dict[str, subprocess.Popen], sink_pid: int | None) -> dict[str, dict[int, float]]:
    snap: dict[str, dict[int, float]] = {}
    for name, p in procs.items():
        pids = [p.pid, *_children(p.pid)]
        snap[name] = {q: _proc_cpu(q) for q in pids}
    snap["driver"] = {os.getpid(): _proc_cpu(os.getpid())}
    if sink_pid:
        snap["smtp_sink"] = {sink_pid: _proc_cpu(sink_pid)}
    snap["postgres"] = {q: _proc_cpu(q) for q in _by_comm(("postgres",))}
    snap["rabbitmq"] = {q: _proc_cpu(q) for q in _by_comm(("beam.smp",))}
    return snap


def cpu_delta(a: dict[str, dict[int, float]], b: dict[str, dict[int, float]], wall: float) -> dict[str, float]:
    """CPU seconds per group between two snapshots, as % of one core over the wall time."""
    out = {}
    total = 0.0
    for k, now in b.items():
        before = a.get(k, {})
        s = sum(v - before.get(pid, 0.0) for pid, v in now.items())  # new pids count from 0
        total += s
        out[k] = round(100 * s / wall, 1) if wall > 0 else None
    out["total_of_200"] = round(100 * total / wall, 1) if wall > 0 else None
    return out


# --------------------------------------------------------------------------------------------
# Deployment: database, namespace, services
# --------------------------------------------------------------------------------------------
def psql(sql: str, db: str = "postgres", port: int = 5432) -> str:
    return subprocess.run([*PG_ADMIN, sql, "-d", db, "-p", str(port)], capture_output=True, text=True,
                          check=True).stdout.strip()


class Deployment:
    def __init__(self, run_id: str, workers: int, sink_port: int, logdir: Path, cwd: Path = ROOT,
                 replicas: int = 1) -> None:
        self.replicas = replicas  # processes per service (uvicorn workers: each a full replica)
        self.cwd = cwd  # the code that runs: the work tree, or a `--tree REV` snapshot
        self.ns = f"bench{run_id}"
        self.db = f"atiende_bench_{run_id}"
        self.workers = workers
        self.logdir = logdir
        self.pg_port = 5432  # PostgreSQL on 127.0.0.1 (bench/faults.py runs its own on another port)
        self.ports = {s: (p if port_free(p) else free_port()) for s, p in DEFAULT_PORTS.items()}
        self.env = dict(os.environ)
        self.env.update({
            "ATIENDE_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{self.db}",
            "ATIENDE_AMQP_URL": AMQP_URL,
            "ATIENDE_NAMESPACE": self.ns,
            "ATIENDE_SMTP_HOST": "127.0.0.1",
            "ATIENDE_SMTP_PORT": str(sink_port),
            "ATIENDE_LOG_LEVEL": "WARNING",
            # Signing secret the distributed mode asks for once accounts exist (ignored before).
            "ATIENDE_TOKEN_SECRET": os.environ.get("ATIENDE_TOKEN_SECRET") or secrets.token_urlsafe(36),
        })
        if cwd != ROOT:
            self.env["PYTHONPATH"] = str(cwd)
        self.procs: dict[str, subprocess.Popen] = {}
        self.db_created = False

    def atiende(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "atiende", *args]

    def setup(self) -> None:
        psql(f'CREATE DATABASE "{self.db}"', port=self.pg_port)
        self.db_created = True
        r = subprocess.run(self.atiende("migrate", "--seed"), env=self.env, cwd=self.cwd, capture_output=True,
                           text=True, timeout=300)
        (self.logdir / "migrate.log").write_text(r.stdout + r.stderr)
        if r.returncode != 0:
            raise RuntimeError(f"`atiende migrate --seed` failed (rc={r.returncode}):\n{r.stdout[-2000:]}"
                               f"{r.stderr[-4000:]}")

    def start(self) -> None:
        for svc in SERVICES:
            self.start_one(svc)

    def start_one(self, svc: str) -> None:
        """Start (or restart, after it died) one service as its own process group."""
        w = max(self.workers if svc == "intake" else 1, self.replicas)
        args = self.atiende("serve", svc, "--host", "127.0.0.1", "--port", str(self.ports[svc]),
                            "--workers", str(w))
        out = open(self.logdir / f"{svc}.log", "ab")  # noqa: SIM115 - owned by the child
        self.procs[svc] = subprocess.Popen(args, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT,
                                           start_new_session=True)

    def wait_ready(self, timeout: float = 90.0) -> dict[str, float]:
        import httpx

        t0 = time.monotonic()
        pending = set(SERVICES)
        ready_at: dict[str, float] = {}
        last: dict[str, str] = {}
        while pending and time.monotonic() - t0 < timeout:
            for svc in sorted(pending):
                p = self.procs[svc]
                if p.poll() is not None:
                    raise RuntimeError(f"{svc} exited with {p.returncode} before ready; log tail:\n"
                                       f"{self.log_tail(svc)}")
                try:
                    r = httpx.get(f"http://127.0.0.1:{self.ports[svc]}/ready", timeout=3.0)
                    last[svc] = f"{r.status_code} {r.text[:300]}"
                    if r.status_code == 200:
                        pending.discard(svc)
                        ready_at[svc] = round(time.monotonic() - t0, 2)
                except httpx.HTTPError as exc:
                    last[svc] = repr(exc)
            time.sleep(0.3)
        if pending:
            detail = "; ".join(f"{s}: {last.get(s)} | log: {self.log_tail(s, 800)}" for s in sorted(pending))
            raise RuntimeError(f"not ready after {timeout:.0f}s: {detail}")
        return ready_at

    def log_tail(self, svc: str, n: int = 3000) -> str:
        try:
            return (self.logdir / f"{svc}.log").read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for svc, p in self.procs.items():
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"{svc} did not stop on SIGTERM; killing its process group {p.pid}")
                try:
                    os.killpg(p.pid, signal.SIGKILL)  # the group we created for it (start_new_session)
                except ProcessLookupError:
                    pass
                p.wait(timeout=5)

    def log_summary(self) -> dict[str, dict]:
        """Per service: count of WARNING/ERROR log lines, and the most frequent messages (ids masked)."""
        out: dict[str, dict] = {}
        for svc in SERVICES:
            counts: dict[str, int] = defaultdict(int)
            msgs: dict[str, int] = defaultdict(int)
            for ln in self.log_tail(svc, 10**9).splitlines():
                try:
                    rec = json.loads(ln)
                    level, msg = rec.get("level", "?"), str(rec.get("msg", ""))
                except ValueError:
                    level = "ERROR" if ("Traceback" in ln or "ERROR" in ln) else "text"
                    msg = ln
                counts[level] += 1
                msgs[re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}|\d+", "#", msg)[:160]] += 1
            top = sorted(msgs.items(), key=lambda kv: -kv[1])[:3]
            out[svc] = {"lines": dict(counts), "top": [f"{n}x {m}" for m, n in top]}
        return out

    def broker_cleanup(self) -> list[str]:
        """Delete every queue and exchange of this run's namespace (names start with '<ns>.')."""
        from shared.messaging.topology import Topology
        from shared.settings import Settings

        t = Topology(self.ns)
        queues = {t.unrouted}
        delays = Settings().retry_delays_s
        for svc in SERVICES:
            queues |= {t.queue(svc), t.dead_letter_queue(svc)} | {t.retry_queue(svc, d) for d in delays}
        try:  # anything else with our prefix (e.g. retry delays changed by env)
            r = subprocess.run(["rabbitmqctl", "-q", "list_queues", "name"], capture_output=True, text=True,
                               timeout=60)
            queues |= {ln.strip() for ln in r.stdout.splitlines() if ln.strip().startswith(self.ns + ".")}
        except (OSError, subprocess.TimeoutExpired):
            pass
        return asyncio.run(delete_broker_names(AMQP_URL, sorted(queues), [t.events_exchange, t.unrouted]))

    def drop_db(self) -> None:
        if self.db_created:
            psql(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)', port=self.pg_port)


# --------------------------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------------------------
# --spread: round robin over the seeded demo tenants (diagnostic: per-tenant contention).
TENANT_TYPES = [("inmobiliaria-demo", "consulta-general"), ("aseguradora-demo", "consulta-siniestro"),
                ("electrica-demo", "reclamo-suministro"), ("gas-demo", "gestion-cobranza")]
CONTACT = {"name": "Hector Contreras", "email": "c@example.cl"}
RESPONSIBLE_EMAIL = "r@example.cl"  # backbone API: the responsible is given by e-mail


class Caller:
    """How to POST a case as one tenant. Two API shapes are supported, detected from intake's
    OpenAPI document: the backbone's (``tenant`` and ``responsible_email`` in the body, no
    authentication) and the one with accounts (tenant from an ``X-API-Key`` made with
    ``atiende api-key create``, ``responsible_id`` = an executor of the tenant found by GET /users)."""

    def __init__(self, tenant: str, ctype: str, headers: dict[str, str], fixed: dict) -> None:
        self.tenant = tenant
        self.headers = {"content-type": "application/json", **headers}
        self.head = json.dumps({**fixed, "type": ctype})[:-1]  # body without its closing brace

    def body(self, tag: str) -> bytes:
        return (f'{self.head}, "subject": "Copia de escritura {tag}", "description": "El propietario pide copia '
                f'de la escritura del departamento; caso de benchmark {tag}.", "contact": '
                f'{json.dumps(CONTACT)}}}').encode()


def case_api_shape(port: int) -> tuple[str, list[str]]:
    """('backbone' | 'accounts', field names of the POST /cases body)."""
    import httpx

    doc = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10).json()
    schema = doc["paths"]["/cases"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in schema:  # older trees: the body model by reference; now inlined (shared/body.py)
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    props = list(schema["properties"])
    return ("backbone" if "tenant" in props else "accounts"), props


def create_api_key(dep: Deployment, tenant: str) -> str:
    """An API key of ``tenant``, made with `atiende api-key create` (the way an admin would)."""
    r = subprocess.run(dep.atiende("api-key", "create", "--tenant", tenant, "--name", f"bench-{dep.ns}"),
                       env=dep.env, cwd=dep.cwd, capture_output=True, text=True, timeout=120)
    keys = [ln.strip() for ln in r.stdout.splitlines() if ln.strip()]
    if r.returncode != 0 or not keys:
        raise RuntimeError(f"`atiende api-key create --tenant {tenant}` failed rc={r.returncode}: "
                           f"{r.stdout[-1000:]}{r.stderr[-3000:]}")
    return keys[-1]


def make_callers(dep: Deployment, spread: bool) -> tuple[list[Caller], dict]:
    import httpx

    shape, props = case_api_shape(dep.ports["intake"])
    info: dict = {"api_shape": shape, "case_fields": props}
    callers = []
    for tenant, ctype in (TENANT_TYPES if spread else TENANT_TYPES[:1]):
        if shape == "backbone":
            callers.append(Caller(tenant, ctype, {}, {"tenant": tenant, "responsible_email": RESPONSIBLE_EMAIL}))
            continue
        key = create_api_key(dep, tenant)
        u = httpx.get(f"http://127.0.0.1:{dep.ports['intake']}/users", params={"role": "executor", "active": "true"},
                      headers={"X-API-Key": key}, timeout=10)
        listed = u.json() if u.status_code == 200 else []
        listed = listed["items"] if isinstance(listed, dict) else listed  # a page now; a bare list in older trees
        if u.status_code != 200 or not listed:
            raise RuntimeError(f"GET /users as the bench's API key: {u.status_code} {u.text[:500]}")
        users = sorted(listed, key=lambda x: x["email"])
        resp = users[0]
        callers.append(Caller(tenant, ctype, {"X-API-Key": key}, {"responsible_id": resp["id"]}))
        info.setdefault("responsible", {})[tenant] = resp["email"]
    return callers, info


async def drive(base: str, phase: str, n: int, conc: int, rate: float | None, callers: list[Caller]) -> dict:
    """POST n cases with conc keep-alive connections, paced at `rate` cases/s if given.

    aiohttp (C parser) rather than httpx: on a 2-core machine the driver's own CPU is taken from
    the services it measures (httpx cost ~25% of a core at 60 POST/s; the bare ceiling uses wrk)."""
    import aiohttp

    sent: dict[str, float] = {}
    http_ms: list[float] = []
    statuses: dict[str, int] = defaultdict(int)
    errors: list[str] = []
    lag_ms: list[float] = []
    nxt = 0
    connector = aiohttp.TCPConnector(limit=conc, force_close=False)
    async with aiohttp.ClientSession(base_url=base, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=30.0)) as client:
        t0 = time.time() + 0.05

        async def worker() -> None:
            nonlocal nxt
            while nxt < n:
                i = nxt
                nxt += 1
                if rate:
                    target = t0 + i / rate
                    delay = target - time.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    else:
                        lag_ms.append(-delay * 1000)
                caller = callers[i % len(callers)]
                body = caller.body(f"{phase}-{i}")
                ts = time.time()
                try:
                    async with client.post("/cases", data=body, headers=caller.headers) as r:
                        payload = await r.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    statuses["exc"] += 1
                    if len(errors) < 5:
                        errors.append(repr(exc))
                    continue
                te = time.time()
                http_ms.append((te - ts) * 1000)
                statuses[str(r.status)] += 1
                if r.status == 201:
                    sent[json.loads(payload)["id"]] = ts
                elif len(errors) < 5:
                    errors.append(f"{r.status} {payload[:300]!r}")

        t_first = time.time()
        await asyncio.gather(*(worker() for _ in range(conc)))
        t_last = time.time()
    wall = t_last - max(t_first, t0)
    return {"sent": sent, "http_ms": http_ms, "statuses": dict(statuses), "errors": errors,
            "t_start": max(t_first, t0), "t_end": t_last, "wall": wall, "lag_ms": lag_ms}


def wait_drain(sink: SinkReader, cases: dict[str, float], timeout: float, stall: float = 75.0) -> dict:
    """Bounded wait until both e-mails of every case arrived, or `timeout` s, or no progress for
    `stall` s (longer than the services' second retry delay, 60 s, so a retried message can land)."""
    t0 = time.monotonic()
    last_progress = t0
    have = -1
    want = 2 * len(cases)
    while True:
        sink.poll()
        got = sum(1 for c in cases for tpl in TEMPLATES if (c, tpl) in sink.arrivals)
        now = time.monotonic()
        if got != have:
            have = got
            last_progress = now
        if got >= want:
            break
        if now - t0 > timeout or now - last_progress > stall:
            break
        time.sleep(0.1)
    time.sleep(1.0)  # grace: let late duplicates show up
    sink.poll()
    return {"drain_wait_s": round(time.monotonic() - t0, 2), "drained": have >= want}


def phase_stats(name: str, d: dict, sink: SinkReader, drain: dict, rate: float | None, conc: int,
                cpu: dict[str, float]) -> dict:
    sent = d["sent"]
    n_ok = len(sent)
    lat = []
    resp_last = None
    dup = {"case_received": 0, "case_assigned": 0}
    missing = {"case_received": 0, "case_assigned": 0}
    for cid, ts in sent.items():
        for tpl in TEMPLATES:
            arr = sink.arrivals.get((cid, tpl))
            if not arr:
                missing[tpl] += 1
                continue
            dup[tpl] += len(arr) - 1
            if tpl == "case_assigned":
                first = min(arr)
                lat.append((first - ts) * 1000)
                resp_last = first if resp_last is None else max(resp_last, first)
    processed = len(lat)
    span = (resp_last - d["t_start"]) if resp_last else None
    http = d["http_ms"]
    n_err = sum(v for k, v in d["statuses"].items() if k != "201")
    return {
        "cases_posted": sum(d["statuses"].values()), "concurrency": conc, "target_rate": rate,
        "accepted": n_ok, "http_errors": n_err, "statuses": d["statuses"], "error_samples": d["errors"],
        "post_wall_s": round(d["wall"], 2),
        "accepted_per_s": r1(n_ok / d["wall"]) if d["wall"] > 0 else None,
        "processed": processed,
        "processed_per_s": r1(processed / span) if span else None,
        "processed_span_s": round(span, 2) if span else None,
        "e2e_p50_ms": r1(pct(lat, 50)), "e2e_p95_ms": r1(pct(lat, 95)), "e2e_p99_ms": r1(pct(lat, 99)),
        "e2e_max_ms": r1(max(lat) if lat else None),
        "http_p50_ms": r1(pct(http, 50)), "http_p99_ms": r1(pct(http, 99)),
        "http_max_ms": r1(max(http) if http else None),
        "pacer_late": len(d["lag_ms"]), "pacer_late_max_ms": r1(max(d["lag_ms"]) if d["lag_ms"] else None),
        "emails_expected": 2 * n_ok, "emails_missing": missing, "duplicates": dup,
        "all_emails_once": n_ok > 0 and not any(missing.values()) and not any(dup.values()),
        **drain, "cpu_pct_of_one_core": cpu,
    }


STAGES_SQL = """
SELECT o.body::jsonb->>'subject' AS case_id,
       extract(epoch FROM o.created_at) AS intake_emit, extract(epoch FROM wi.handled_at) AS wf_in,
       extract(epoch FROM d.created_at) AS nt_plan, extract(epoch FROM d.claimed_at) AS nt_claim
FROM intake.outbox o
LEFT JOIN workflow.inbox wi ON wi.event_id = o.event_id
LEFT JOIN notifier.deliveries d ON d.case_id::text = o.body::jsonb->>'subject' AND d.template = 'case_assigned'
WHERE o.type = 'case.created.v1'
"""
# Stage boundaries, all on this machine's wall clock, from timestamps the services write anyway:
#   post         the driver sends POST /cases
#   intake_emit  intake writes case.created into its outbox (inside the request's transaction)
#   wf_in        workflow writes the event id into its inbox (start of its handler transaction)
#   nt_plan      notifier records the responsible's delivery row (first phase of its handler)
#   nt_claim     notifier claims that row for sending (second phase, after the first committed)
#   email        the responsible's e-mail reaches the SMTP sink
# (Relay "published_at" stamps are not used: a relay stamps a whole batch after its last confirm,
# often after the consumer has already handled the first messages.)
STAGES = [("post_to_intake_emit", "post", "intake_emit"),
          ("intake_emit_to_workflow_handler", "intake_emit", "wf_in"),
          ("workflow_handler_to_notifier_plan", "wf_in", "nt_plan"),
          ("notifier_plan_to_claim", "nt_plan", "nt_claim"),
          ("notifier_claim_to_email", "nt_claim", "email")]


async def stage_breakdown(db: str, sent: dict[str, float], sink: SinkReader) -> dict:
    """p50/p99 (ms) of each stage for this phase's cases, read from the services' outbox and inbox
    tables (timestamps the services write anyway) and the sink's arrivals."""
    import asyncpg

    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{db}")
    try:
        rows = await conn.fetch(STAGES_SQL)
    finally:
        await conn.close()
    deltas: dict[str, list[float]] = {k: [] for k, _, _ in STAGES}
    for r in rows:
        post = sent.get(r["case_id"])
        if post is None:
            continue
        arr = sink.arrivals.get((r["case_id"], "case_assigned"))
        t = {k: (float(r[k]) if r[k] is not None else None) for k in ("intake_emit", "wf_in", "nt_plan", "nt_claim")}
        t["post"] = post
        t["email"] = min(arr) if arr else None
        for name, a, b in STAGES:
            if t[a] is not None and t[b] is not None:
                deltas[name].append((t[b] - t[a]) * 1000)
    return {k: {"p50": r1(pct(v, 50)), "p99": r1(pct(v, 99)), "n": len(v)} for k, v in deltas.items()}


async def missing_diagnosis(db: str, sent: dict[str, float], sink: SinkReader) -> dict:
    """For e-mails that never reached the sink: the notifier's delivery rows (state, last error)."""
    import asyncpg

    missing = [(c, tpl) for c in sent for tpl in TEMPLATES if (c, tpl) not in sink.arrivals]
    if not missing:
        return {}
    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{db}")
    try:
        rows = await conn.fetch("SELECT case_id::text AS c, template, state, attempts, last_error "
                                "FROM notifier.deliveries WHERE case_id::text = ANY($1::text[])",
                                list({c for c, _ in missing}))
    finally:
        await conn.close()
    found = {(r["c"], r["template"]): r for r in rows}
    states: dict[str, int] = defaultdict(int)
    samples = []
    for key in missing:
        r = found.get(key)
        states[r["state"] if r else "no delivery row"] += 1
        if r is not None and r["last_error"] and len(samples) < 3:
            samples.append(f"{r['state']} after {r['attempts']} attempt(s): {r['last_error'][:200]}")
    return {"states": dict(states), "errors": samples}


def calib(seconds: float = 0.5) -> float:
    """CPU available right now: k JSON round trips/s of a ~1 KB dict (the same calibration as
    ../shared/bench-limits/_common.py, so the two can be compared; ~100-110 here when quiet)."""
    d = {"id": "7d8f0a2e-1111-4a3b-9c1d-000000000000", "subject": "Printer on fire",
         "tags": ["hw", "fire", "urgent"], "priority": 3, "body": "x" * 900}
    n = 0
    end = time.perf_counter() + seconds
    t0 = time.perf_counter()
    while time.perf_counter() < end:
        for _ in range(100):
            json.loads(json.dumps(d))
        n += 100
    return round(n / (time.perf_counter() - t0) / 1000.0, 2)


def environment() -> dict:
    """Load on the machine not caused by this run (others' tests share the 2 cores and PostgreSQL)."""
    env: dict = {"loadavg_1m": round(os.getloadavg()[0], 2)}
    try:
        rows = psql("SELECT coalesce(datname, '-') || '=' || count(*) FROM pg_stat_activity "
                    "WHERE backend_type = 'client backend' GROUP BY datname")
        env["pg_client_connections"] = dict(r.split("=") for r in rows.splitlines() if r)
    except (subprocess.CalledProcessError, ValueError):
        pass
    return env


async def run_phase(name: str, base: str, n: int, conc: int, rate: float | None, sink: SinkReader,
                    dep: Deployment, sink_pid: int, drain_timeout: float,
                    callers: list[Caller], profile: bool = False) -> tuple[dict, dict]:
    log(f"phase {name}: {n} cases, concurrency {conc}, " + (f"paced at {rate}/s" if rate else "unpaced"))
    profilers = start_profilers(dep, name) if profile else []
    snap0 = cpu_snapshot(dep.procs, sink_pid)
    w0 = time.time()
    d = await drive(base, name, n, conc, rate, callers)
    drain = await asyncio.to_thread(wait_drain, sink, d["sent"], drain_timeout)
    wall = time.time() - w0
    cpu = cpu_delta(snap0, cpu_snapshot(dep.procs, sink_pid), wall)
    env_end = {**environment(), "calib_kjson_per_s": calib()}
    stop_profilers(profilers)
    st = phase_stats(name, d, sink, drain, rate, conc, cpu)
    try:
        st["stages_ms"] = await stage_breakdown(dep.db, d["sent"], sink)
    except Exception as exc:  # the schemas are the services' business: best effort
        st["stages_ms"] = {"error": repr(exc)[:300]}
    try:
        diag = await missing_diagnosis(dep.db, d["sent"], sink)
        if diag:
            st["missing_diagnosis"] = diag
    except Exception as exc:
        st["missing_diagnosis"] = {"error": repr(exc)[:300]}
    st["environment_at_end"] = env_end
    log(f"  accepted {st['accepted']}/{st['cases_posted']} at {st['accepted_per_s']}/s, processed "
        f"{st['processed']} at {st['processed_per_s']}/s; e2e p50/p99 {st['e2e_p50_ms']}/{st['e2e_p99_ms']} ms; "
        f"http p50/p99 {st['http_p50_ms']}/{st['http_p99_ms']} ms; all e-mails once: {st['all_emails_once']}")
    return st, d


# --------------------------------------------------------------------------------------------
# Optional py-spy profile of the services during a phase
# --------------------------------------------------------------------------------------------
def start_profilers(dep: Deployment, phase: str) -> list[tuple[str, subprocess.Popen, Path]]:
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        log("--profile: py-spy not found next to the venv's python (pip install py-spy); skipping")
        return []
    out = []
    for svc in ("intake", "workflow", "notifier", "reporting"):
        p = dep.procs[svc]
        several = dep.replicas > 1 or (dep.workers > 1 and svc == "intake")
        pid = (_children(p.pid) or [p.pid])[0] if several else p.pid  # one replica's worker
        f = dep.logdir / f"profile-{phase}-{svc}.txt"
        proc = subprocess.Popen([str(spy), "record", "--nonblocking", "-r", "50", "-d", "600", "-f", "raw",
                                 "-o", str(f), "-p", str(pid)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        out.append((svc, proc, f))
    return out


def stop_profilers(profs: list[tuple[str, subprocess.Popen, Path]]) -> None:
    for _svc, proc, _f in profs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT)  # py-spy writes its output on SIGINT
    for svc, proc, f in profs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
        log(f"  profile of {svc}: {f}")


async def delete_broker_names(url: str, queues: list[str], exchanges: list[str]) -> list[str]:
    """Delete the given queues and exchanges; returns those deleted (a missing one is skipped)."""
    import aio_pika

    deleted = []
    conn = await aio_pika.connect(url)
    try:
        for kind, names in (("queue", queues), ("exchange", exchanges)):
            for name in names:
                ch = await conn.channel()  # a failed delete closes its channel: one channel each
                try:
                    await (ch.queue_delete(name) if kind == "queue" else ch.exchange_delete(name))
                    deleted.append(name)
                except Exception:
                    pass
                finally:
                    if not ch.is_closed:
                        await ch.close()
    finally:
        await conn.close()
    return deleted


# --------------------------------------------------------------------------------------------
# Bare-stack ceiling
# --------------------------------------------------------------------------------------------
def run_limits(seconds: int, logdir: Path) -> dict:
    script = LIMITS_DIR / "pipeline.py"
    log(f"bare-stack ceiling: {script} --seconds {seconds}")
    r = subprocess.run([sys.executable, str(script), "--seconds", str(seconds)], cwd=LIMITS_DIR,
                       capture_output=True, text=True, timeout=seconds * 8 + 600)
    (logdir / "limits.log").write_text(r.stderr)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode != 0 or not lines:
        raise RuntimeError(f"bench-limits pipeline.py failed rc={r.returncode}: {r.stderr[-2000:]}")
    return json.loads(lines[-1])


# --------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="cases per measured phase (default 2000)")
    ap.add_argument("--concurrency", type=int, default=50, help="concurrent keep-alive connections (50)")
    ap.add_argument("--rate", type=float, default=200.0, help="cases/s of the paced phase (200)")
    ap.add_argument("--light-rate", type=float, default=10.0,
                    help="cases/s of the light phase: latency floor well below capacity (10)")
    ap.add_argument("--light-n", type=int, default=200, help="cases in the light phase; 0 skips it (200)")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn workers for intake (1)")
    ap.add_argument("--replicas", type=int, default=1,
                    help="processes per service, each a full replica with its own consumers, relay and "
                         "timers (uvicorn workers; intake's share its port) (1)")
    ap.add_argument("--warmup", type=int, default=200, help="warm-up cases before the phases (200)")
    ap.add_argument("--drain-timeout", type=float, default=180.0, help="max wait for e-mails per phase (s)")
    ap.add_argument("--no-limits", action="store_true", help="skip ../shared/bench-limits/pipeline.py")
    ap.add_argument("--limits-seconds", type=int, default=15)
    ap.add_argument("--keep", action="store_true", help="keep the database (and broker namespace)")
    ap.add_argument("--profile", action="store_true", help="py-spy record the services in the sat phase")
    ap.add_argument("--spread", action="store_true",
                    help="spread cases over the 4 demo tenants (default: all on inmobiliaria-demo)")
    ap.add_argument("--tree", metavar="REV",
                    help="run the services from a snapshot of git revision REV (git archive into the run's "
                         "folder) instead of the work tree: a stable baseline while others edit")
    ap.add_argument("--sink-only", nargs=2, metavar=("PORT", "FILE"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.sink_only:
        sink_main(int(a.sink_only[0]), a.sink_only[1])
        return
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    run_id = uuid.uuid4().hex[:8]
    logdir = RESULTS / f"run-{time.strftime('%Y%m%d-%H%M%S')}-{run_id}"
    logdir.mkdir(parents=True, exist_ok=True)
    sink_file = logdir / "smtp-arrivals.tsv"
    sink_port = free_port()
    sink_proc = subprocess.Popen([sys.executable, __file__, "--sink-only", str(sink_port), str(sink_file)],
                                 stdout=subprocess.PIPE, stderr=open(logdir / "sink.log", "ab"))  # noqa: SIM115
    if sink_proc.stdout is None or sink_proc.stdout.readline().strip() != b"READY":
        raise SystemExit("SMTP sink did not start; see " + str(logdir / "sink.log"))
    sink = SinkReader(sink_file)
    code_dir = ROOT
    if a.tree:
        code_dir = logdir / "tree"
        code_dir.mkdir()
        arch = subprocess.run(["git", "-C", str(ROOT), "archive", a.tree], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(code_dir)], input=arch, check=True)
    dep = Deployment(run_id, a.workers, sink_port, logdir, cwd=code_dir, replicas=a.replicas)
    out: dict = {"bench": "atiende-pipeline", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "run_id": run_id,
                 "n": a.n, "concurrency": a.concurrency, "spread_tenants": a.spread, "rate": a.rate,
                 "intake_workers": a.workers, "replicas": a.replicas,
                 "code": a.tree and f"git {a.tree} ({_git_rev(a.tree)})" or f"work tree ({_git_rev('HEAD')} + edits)",
                 "namespace": dep.ns, "database": dep.db, "ports": dep.ports, "logs": str(logdir.relative_to(ROOT)),
                 "cpu_cores": os.cpu_count(), "environment_at_start": {**environment(), "calib_kjson_per_s": calib()}}
    failure = None
    try:
        log(f"run {run_id}: database {dep.db}, namespace {dep.ns}, SMTP sink 127.0.0.1:{sink_port}, logs {logdir}")
        dep.setup()
        dep.start()
        out["ready_s"] = dep.wait_ready()
        base = f"http://127.0.0.1:{dep.ports['intake']}"
        callers, api = make_callers(dep, a.spread)
        out.update(api)
        if a.warmup:
            warm, _ = asyncio.run(run_phase("warmup", base, a.warmup, min(a.concurrency, 20), None, sink, dep,
                                            sink_proc.pid, a.drain_timeout, callers))
            if not warm["accepted"] or not warm["processed"]:
                raise RuntimeError(f"warm-up: {warm['accepted']} of {warm['cases_posted']} cases accepted, "
                                   f"{warm['processed']} fully processed; statuses {warm['statuses']}; "
                                   f"samples {warm['error_samples']}")
            out["warmup"] = {k: warm[k] for k in ("accepted", "processed", "all_emails_once", "e2e_p50_ms")}
        if a.light_n:
            light, _ = asyncio.run(run_phase("light", base, a.light_n, a.concurrency, a.light_rate, sink, dep,
                                             sink_proc.pid, a.drain_timeout, callers))
            out["light"] = light
        paced, _ = asyncio.run(run_phase("paced", base, a.n, a.concurrency, a.rate, sink, dep, sink_proc.pid,
                                         a.drain_timeout, callers))
        sat, _ = asyncio.run(run_phase("sat", base, a.n, a.concurrency, None, sink, dep, sink_proc.pid,
                                       a.drain_timeout, callers, profile=a.profile))
        out["paced"] = paced
        out["sat"] = sat
        out["target_paced_p99_le_100ms"] = paced["e2e_p99_ms"] is not None and paced["e2e_p99_ms"] <= 100.0
        out["service_log"] = dep.log_summary()
    except Exception as exc:  # report precisely, then clean up
        failure = f"{type(exc).__name__}: {exc}"
        out["failure"] = failure
        out["service_log_tails"] = {s: dep.log_tail(s, 2000) for s in dep.procs}
        log("FAILED:", failure)
    finally:
        dep.stop()
        if sink_proc.poll() is None:
            os.kill(sink_proc.pid, signal.SIGTERM)
            try:
                sink_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(sink_proc.pid, signal.SIGKILL)
        if not a.keep:
            try:
                out["broker_deleted"] = len(dep.broker_cleanup())
            except Exception as exc:
                log("broker clean-up failed:", repr(exc))
            try:
                dep.drop_db()
            except Exception as exc:
                log("drop database failed:", repr(exc))

    if failure is None and not a.no_limits:
        try:
            lim = run_limits(a.limits_seconds, logdir)
            bare_sat = lim["sat"]["created_per_s"]
            out["limits"] = {
                "sat_created_per_s": bare_sat, "sat_e2e_consumed_per_s": lim["sat"].get("e2e_consumed_per_s"),
                "sat_delay_p50_ms": lim["sat"].get("delay_p50_ms"), "sat_delay_p99_ms": lim["sat"].get("delay_p99_ms"),
                "paced_created_per_s": lim["paced"]["created_per_s"],
                "paced_delay_p50_ms": lim["paced"].get("delay_p50_ms"),
                "paced_delay_p99_ms": lim["paced"].get("delay_p99_ms"),
                "validate_only_rps": lim.get("validate_only_rps"), "calib_kjson_per_s": lim.get("calib_kjson_per_s"),
                "workers": lim.get("workers")}
            ratio = out["sat"]["processed_per_s"] / bare_sat if out["sat"]["processed_per_s"] and bare_sat else None
            out["ratio_full_over_bare"] = None if ratio is None else round(ratio, 3)
            out["target_ratio_ge_0_5"] = ratio is not None and ratio >= 0.5
            out["paced_side_by_side_ms"] = {
                "atiende_post_to_responsible_email_p50": out["paced"]["e2e_p50_ms"],
                "atiende_post_to_responsible_email_p99": out["paced"]["e2e_p99_ms"],
                "bare_post_to_consume_p50": lim["paced"].get("delay_p50_ms"),
                "bare_post_to_consume_p99": lim["paced"].get("delay_p99_ms")}
        except Exception as exc:
            out["limits_failure"] = f"{type(exc).__name__}: {exc}"
            log("limits FAILED:", out["limits_failure"])

    line = json.dumps(out, ensure_ascii=False)
    print(line, flush=True)
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "pipeline.jsonl", "a") as f:
        f.write(line + "\n")
    if failure is None:
        s, p = out["sat"], out["paced"]
        log("SUMMARY")
        log(f"  paced {a.rate:g}/s: accepted {p['accepted_per_s']}/s, processed {p['processed_per_s']}/s, "
            f"POST->responsible e-mail p50/p95/p99/max {p['e2e_p50_ms']}/{p['e2e_p95_ms']}/{p['e2e_p99_ms']}/"
            f"{p['e2e_max_ms']} ms (target p99 <= 100: {out['target_paced_p99_le_100ms']})")
        log(f"  saturation C={a.concurrency}: accepted {s['accepted_per_s']}/s, processed {s['processed_per_s']}/s, "
            f"e2e p50/p99 {s['e2e_p50_ms']}/{s['e2e_p99_ms']} ms, "
            f"http p50/p99 {s['http_p50_ms']}/{s['http_p99_ms']} ms")
        log(f"  e-mails all there once: paced {p['all_emails_once']}, sat {s['all_emails_once']}")
        if "light" in out:
            lt = out["light"]
            log(f"  light {a.light_rate:g}/s: POST->responsible e-mail p50/p99 "
                f"{lt['e2e_p50_ms']}/{lt['e2e_p99_ms']} ms, "
                f"http p50/p99 {lt['http_p50_ms']}/{lt['http_p99_ms']} ms")
        if "limits" in out:
            lm = out["limits"]
            log(f"  bare composed path: sat {lm['sat_created_per_s']}/s, paced delay p50/p99 "
                f"{lm['paced_delay_p50_ms']}/{lm['paced_delay_p99_ms']} ms; ratio full/bare = "
                f"{out['ratio_full_over_bare']} (target >= 0.5: {out['target_ratio_ge_0_5']})")
    if failure is not None:
        sys.exit(1)


if __name__ == "__main__":
    main()

"""The fault campaign (issue 15 §3): nothing lost or doubled under a steady load while the servers
and services around Atiende fail, and every service back by itself.

What runs (all on loopback, bounded in time, cleaned up at exit even on Ctrl-C):
  - a PRIVATE PostgreSQL (initdb into a temp dir, its own port and socket dir) and a PRIVATE
    RabbitMQ node (``atiende-bench-<id>@localhost``, its own ports, data and config, no plugins):
    the campaign stops and restarts these, never the shared servers other people's tests use;
  - per scenario: a fresh database and broker namespace, ``atiende migrate --seed``, the four
    services as separate processes (``atiende serve <svc>``, bench/pipeline.py's Deployment), the
    SMTP sink of bench/pipeline.py in a child process (it records case, template, recipients and
    Message-ID per message) and the Twilio stand-in (tests/support/twilio_standin.py) in another,
    whose faults this script switches on and off;
  - a steady load of case creations (``--rate`` per second, open loop) through intake's API with
    an API key, each with its own Idempotency-Key; a client retries on 503, on connection errors
    and on timeouts (30 s), with the same key: after 1, 2, 4 … 30 s (±20 %), never sooner than
    Retry-After, for up to 300 s; any other answer is final. Every ``--sms-every``-th case is a
    "Retención total (sólo alertas)" request of the demo insurer for Carolina Fuentes' policy
    (R1.1): besides the two R4.3 e-mails it sends churn alerts by e-mail AND SMS to the executive
    and the two managers above her. The rest are ``inmobiliaria-demo`` requests (two e-mails).
    Each case also gives its responsible an in-app notification (R4.7), and workflow arms its
    clocks.

Scenarios (one fresh deployment each; the fault starts ``--fault-at`` s into the load):
  rabbit          the RabbitMQ node stopped (rabbitmqctl stop) for 15 s, then started again on
                  the same data directory
  postgres        PostgreSQL restarted (pg_ctl restart -m fast)
  postgres-stop   PostgreSQL stopped for 15 s, then started (count 503s with Retry-After vs 500s)
  kill-intake, kill-workflow, kill-notifier, kill-reporting
                  kill -9 of the service's process group, restarted by the harness 2 s later (as a
                  supervisor would)
  smtp            the SMTP sink down for 60 s, then back on the same port
  twilio          the Twilio stand-in answering 500 for 20 s, then hanging (the message is created,
                  the answer never comes in time) for 20 s, then healthy

After each: cases sent / accepted / HTTP answers; e-mails and SMS expected / received /
duplicates (same case + template + recipient twice at the sink; same case + number twice at the
stand-in) / lost (still missing after the drain: until all arrived and every service's queue is
empty, at most ``--drain-timeout`` s after the load); in-app notifications; messages in the
dead-letter queues (``rabbitmqctl -n <node> list_queues``) and still waiting in retry queues;
seconds from the end of the fault until every service's /ready is 200 again and stays so (nobody
restarts them, except after kill -9). One JSON line per scenario
(stdout and bench/results/faults.jsonl), a table at the end.

Settings that differ from the defaults, so that the figures fit in bounded runs:
``ATIENDE_DELIVERY_LEASE_S=30`` (default 120: a delivery in doubt after a crash or a lost answer
is resolved by notifier's sweeper after its lease) and ``ATIENDE_TWILIO_TIMEOUT_S=3`` (default 10).
Retry delays and attempts are the defaults (5 s, 60 s, 600 s; 4 attempts).

Usage:
  .venv/bin/python bench/faults.py                         # every scenario, 20 cases/s, 60 s each
  .venv/bin/python bench/faults.py --only rabbit,kill      # groups (postgres, kill) or names
  .venv/bin/python bench/faults.py --only postgres-restart --repeat 3
  options: --rate --seconds --fault-at --sms-every --drain-timeout --lease --repeat --keep-logs
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

from pipeline import (  # noqa: E402 - bench/ is a folder of scripts
    CONTACT,
    RESULTS,
    ROOT,
    SERVICES,
    Caller,
    Deployment,
    SinkReader,
    create_api_key,
    free_port,
    log,
    psql,
)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")  # the real scripts (/usr/sbin's wrapper would su to rabbitmq)
KILLED = ("intake", "workflow", "notifier", "reporting")
SCENARIOS = ("rabbit", "postgres", "postgres-stop", *(f"kill-{s}" for s in KILLED), "smtp", "twilio")
GROUPS = {"postgres": ("postgres", "postgres-stop"), "postgres-restart": ("postgres",),  # the restart alone
          "kill": tuple(f"kill-{s}" for s in KILLED)}
INSURER = "aseguradora-demo"
HOME_TENANT, HOME_TYPE = "inmobiliaria-demo", "consulta-general"
GIVE_UP_S = 300.0  # a client stops retrying one case after this long
ATTEMPT_TIMEOUT_S = 30.0  # a client waits this long for one answer
MAX_BACKOFF_S = 30.0
BENCH_ENV = {"ATIENDE_DELIVERY_LEASE_S": "30", "ATIENDE_TWILIO_TIMEOUT_S": "3"}


def as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL's tools refuse to run as root: run them as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


# --------------------------------------------------------------------------------------------
# Private servers
# --------------------------------------------------------------------------------------------
class PrivatePostgres:
    """A throw-away PostgreSQL cluster: initdb into ``base``/pg, trust auth, 127.0.0.1:<port>."""

    def __init__(self, base: Path) -> None:
        self.dir = base / "pg"
        self.data = self.dir / "data"
        self.port = free_port()
        self.logfile = self.dir / "postgres.log"
        self.running = False

    def _ctl(self, *args: str, timeout: float = 90) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        subprocess.run(as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.logfile), "-w",
                                    "-t", "60", "-o", opts, *args]), check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def init(self) -> None:
        self.dir.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            os.chmod(self.dir.parent, 0o755)
        subprocess.run(as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                                    "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]),
                       check=True, timeout=120, capture_output=True)
        self.start()

    def start(self) -> None:
        self._ctl("start")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "stop")
        self.running = False

    def restart(self) -> None:
        self._ctl("-m", "fast", "restart")
        self.running = True

    def destroy(self) -> None:
        if self.running:
            with contextlib.suppress(Exception):
                self.stop("immediate")


class PrivateRabbit:
    """A RabbitMQ node of our own: its name, ports, data, logs, config and Erlang cookie under
    ``base``/rabbitmq; every rabbitmqctl call names it (``-n``)."""

    def __init__(self, base: Path, run_id: str) -> None:
        self.dir = base / "rabbitmq"
        self.node = f"atiende-bench-{run_id}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.proc: subprocess.Popen | None = None
        d = self.dir
        self.env = {**os.environ, "HOME": str(d / "home"), "RABBITMQ_NODENAME": self.node,
                    "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(self.port),
                    "RABBITMQ_DIST_PORT": str(self.dist_port), "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
                    "RABBITMQ_LOG_BASE": str(d / "log"), "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
                    "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
                    "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"), "RABBITMQ_PID_FILE": str(d / "pid"),
                    "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}"}

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def init(self) -> None:
        for sub in ("home", "mnesia", "log"):
            (self.dir / sub).mkdir(parents=True)
        (self.dir / "enabled_plugins").write_text("[].\n")  # no management plugin, no ports of its own
        (self.dir / "rabbitmq.conf").write_text("loopback_users = none\n")
        (self.dir / "rabbitmq-env.conf").write_text("")  # not the system's /etc/rabbitmq/rabbitmq-env.conf
        self.start()

    def ctl(self, *args: str, timeout: float = 120) -> str:
        r = subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, *args], env=self.env,
                           capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"rabbitmqctl -n {self.node} {' '.join(args)}: rc={r.returncode} {r.stderr[-800:]}")
        return r.stdout

    def start(self) -> None:
        out = open(self.dir / "server.out", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen([str(RABBIT_BIN / "rabbitmq-server")], env=self.env, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while True:  # await_startup fails at once while the node has not registered with epmd yet
            try:
                self.ctl("await_startup", "--timeout", "90")
                return
            except RuntimeError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            self.ctl("stop", timeout=60)
            self.proc.wait(timeout=30)
        except (RuntimeError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group we started it in
            self.proc.wait(timeout=10)
        self.proc = None

    def queues(self, prefix: str) -> dict[str, int]:
        out = self.ctl("-q", "list_queues", "name", "messages", timeout=60)
        rows = (ln.split("\t") for ln in out.splitlines() if "\t" in ln)
        return {name: int(n) for name, n in rows if name.startswith(prefix + ".") and n.isdigit()}

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()


# --------------------------------------------------------------------------------------------
# Twilio stand-in in a child process (`faults.py --twilio-only FILE`), faults switched on stdin
# --------------------------------------------------------------------------------------------
def twilio_main(out_path: str) -> None:
    """The stand-in on a free loopback port (printed as 'READY <port>'); each message it stores is
    written as 'time<TAB>sid<TAB>to<TAB>status callback'; stdin lines 'mode ok|fail|hang' switch
    its behaviour, 'quit' ends it; '#stats' lines count the refused and hung create requests."""
    import threading

    from tests.support.twilio_standin import TwilioStandIn

    class CampaignTwilio(TwilioStandIn):
        mode = "ok"
        refused = 0
        hung = 0

        async def _create(self, request: Any) -> Any:
            if self.mode == "fail":
                self.refused += 1
                return self._error(500, 20500, "Internal Server Error (fault campaign)")
            if self.mode == "hang":
                self.hung += 1
                self.timeout_next(60.0)  # created, then the answer waits past notifier's timeout
            return await super()._create(request)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        standin = CampaignTwilio()
        await standin.start()
        done = asyncio.Event()
        written = 0

        def command(line: str) -> None:
            word = line.split()
            if word[:1] == ["mode"] and len(word) == 2:
                standin.mode = word[1]
                standin.faults.clear()
                out.write(f"#stats\t{standin.refused}\t{standin.hung}\t{standin.creates}\t{word[1]}\n")
            elif word[:1] == ["quit"]:
                done.set()

        def reader() -> None:
            for line in sys.stdin:
                loop.call_soon_threadsafe(command, line)
            loop.call_soon_threadsafe(done.set)

        threading.Thread(target=reader, daemon=True).start()
        print(f"READY {standin.port}", flush=True)
        while not done.is_set():
            msgs = list(standin.messages.values())
            for m in msgs[written:]:
                out.write(f"{m.created.timestamp():.6f}\t{m.sid}\t{m.to}\t{m.status_callback or '-'}\n")
            written = len(msgs)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), 0.2)
        out.write(f"#stats\t{standin.refused}\t{standin.hung}\t{standin.creates}\tend\n")
        await standin.stop()

    with open(out_path, "a", buffering=1) as out:
        asyncio.run(run())


class Twilio:
    """The parent's handle on the stand-in child: mode switches and what it stored."""

    def __init__(self, logdir: Path) -> None:
        self.file = logdir / "twilio-messages.tsv"
        self.proc = subprocess.Popen([sys.executable, __file__, "--twilio-only", str(self.file)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=open(logdir / "twilio.log", "ab"),  # noqa: SIM115
                                     text=True, start_new_session=True)
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline().split()
        if first[:1] != ["READY"]:
            raise RuntimeError(f"Twilio stand-in did not start; see {logdir / 'twilio.log'}")
        self.port = int(first[1])

    def mode(self, mode: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"mode {mode}\n")
        self.proc.stdin.flush()

    def messages(self) -> tuple[list[tuple[float, str, str, str]], list[str]]:
        rows, stats = [], []
        with contextlib.suppress(FileNotFoundError), open(self.file) as f:
            for ln in f.read().splitlines():
                if ln.startswith("#stats"):
                    stats.append(ln)
                elif ln.count("\t") == 3:
                    ts, sid, to, cb = ln.split("\t")
                    rows.append((float(ts), sid, to, cb))
        return rows, stats

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                self.proc.stdin.write("quit\n")  # type: ignore[union-attr]
                self.proc.stdin.flush()  # type: ignore[union-attr]
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


class Sink:
    """bench/pipeline.py's SMTP sink as a child process that can be stopped and started again on
    the same port, appending to the same file."""

    def __init__(self, logdir: Path) -> None:
        self.file = logdir / "smtp-arrivals.tsv"
        self.logdir = logdir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.reader = SinkReader(self.file)
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(HERE / "pipeline.py"), "--sink-only", str(self.port),
                                      str(self.file)], stdout=subprocess.PIPE,
                                     stderr=open(self.logdir / "sink.log", "ab"), start_new_session=True)  # noqa: SIM115
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != b"READY":
            raise RuntimeError(f"SMTP sink did not start; see {self.logdir / 'sink.log'}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None


# --------------------------------------------------------------------------------------------
# One deployment on the private servers
# --------------------------------------------------------------------------------------------
class FaultDeployment(Deployment):
    def __init__(self, run_id: str, logdir: Path, pg: PrivatePostgres, rabbit: PrivateRabbit, sink: Sink,
                 twilio: Twilio) -> None:
        super().__init__(run_id, 1, sink.port, logdir)
        self.pg_port = pg.port
        self.ns = f"faults{run_id}"
        self.env.update({
            "ATIENDE_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{pg.port}/{self.db}",
            "ATIENDE_AMQP_URL": rabbit.url, "ATIENDE_NAMESPACE": self.ns,
            "ATIENDE_TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "ATIENDE_TWILIO_AUTH_TOKEN": "standin-auth-token",
            "ATIENDE_TWILIO_FROM": "+15005550006", "ATIENDE_TWILIO_BASE_URL": f"http://127.0.0.1:{twilio.port}",
            "ATIENDE_NOTIFIER_PUBLIC_URL": f"http://127.0.0.1:{self.ports['notifier']}", **BENCH_ENV})

    def kill(self, svc: str) -> None:
        p = self.procs[svc]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=10)


@dataclass
class Expectation:
    """What one case must produce: e-mails (template, recipient) and SMS (numbers)."""

    emails: list[tuple[str, str]]
    sms: list[str]


@dataclass
class Kind:
    name: str
    caller: Caller
    expect: Expectation


def make_kinds(dep: FaultDeployment) -> dict[str, Kind]:
    """The two kinds of case of the load and what each must produce (the procedures' defaults)."""
    import httpx

    from services.intake.seed import COMMERCIAL_LINES, demo_email
    from services.intake.seed_parties import demo_id

    def executors(key: str) -> list[dict[str, Any]]:
        r = httpx.get(f"http://127.0.0.1:{dep.ports['intake']}/users", params={"role": "executor", "active": "true"},
                      headers={"X-API-Key": key}, timeout=10)
        r.raise_for_status()
        return sorted(r.json()["items"], key=lambda u: u["email"])

    home_key = create_api_key(dep, HOME_TENANT)
    home_resp = executors(home_key)[0]
    ins_key = create_api_key(dep, INSURER)
    line = COMMERCIAL_LINES[INSURER]
    ins_resp = next(u for u in executors(ins_key) if u["email"] == demo_email("ejecutiva", INSURER))
    r4_3 = [("case_received", CONTACT["email"])]
    home = Kind("home", Caller(HOME_TENANT, HOME_TYPE, {"X-API-Key": home_key}, {"responsible_id": home_resp["id"]}),
                Expectation([*r4_3, ("case_assigned", home_resp["email"])], []))
    churn = Kind("churn", Caller(INSURER, "retencion-total", {"X-API-Key": ins_key}, {
        "responsible_id": ins_resp["id"], "party_id": str(demo_id(INSURER, "party", "carolina")),
        "asset_id": str(demo_id(INSURER, "asset", "policy/POL-0001"))}),
        Expectation([*r4_3, ("case_assigned", ins_resp["email"]),
                     *(("case_escalated", demo_email(local, INSURER)) for local, *_ in line)],
                    sorted(mobile for *_, mobile in line)))
    return {"home": home, "churn": churn}


# --------------------------------------------------------------------------------------------
# The load: open loop, one Idempotency-Key per case, retries as a careful client does them
# --------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    kind: str
    key: str
    first_sent: float
    case_id: str | None = None
    attempts: int = 0
    final: str = ""  # "201", "replayed", or why it was given up


async def drive(base: str, kinds: dict[str, Kind], n: int, rate: float, sms_every: int,
                answers: Counter, tag: str = "faults") -> list[Outcome]:
    import aiohttp

    outcomes: list[Outcome] = []
    connector = aiohttp.TCPConnector(limit=300)
    async with aiohttp.ClientSession(base_url=base, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT_S)) as client:

        async def one(i: int) -> None:
            kind = kinds["churn" if sms_every and i % sms_every == sms_every - 1 else "home"]
            o = Outcome(kind.name, str(uuid.uuid4()), time.time())
            outcomes.append(o)
            body = kind.caller.body(f"{tag}-{i}")
            headers = {**kind.caller.headers, "Idempotency-Key": o.key}
            backoff = 1.0  # doubles with each failed attempt (a storm of retries would keep a service down)
            while True:
                o.attempts += 1
                wait = backoff
                backoff = min(2 * backoff, MAX_BACKOFF_S)
                try:
                    async with client.post("/cases", data=body, headers=headers) as r:
                        payload = await r.read()
                        status, retry_after = r.status, r.headers.get("Retry-After")
                        replayed = r.headers.get("Idempotent-Replayed") == "true"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    answers[f"exc:{type(exc).__name__}"] += 1
                else:
                    label = str(status) + ("+retry-after" if status == 503 and retry_after else "")
                    answers[label + (" replayed" if replayed else "")] += 1
                    if status in (200, 201):
                        o.case_id = json.loads(payload)["id"]
                        o.final = "replayed" if replayed else str(status)
                        return
                    if status != 503:
                        o.final = f"{status} {payload[:200]!r}"
                        return
                    with contextlib.suppress(ValueError):  # never sooner than the service asked
                        wait = max(wait, float(retry_after or 0))
                wait *= random.uniform(0.8, 1.2)  # jitter: retries of a burst do not come back together
                if time.time() + wait - o.first_sent > GIVE_UP_S:
                    o.final = "gave up"
                    return
                await asyncio.sleep(wait)

        t0 = time.time() + 0.05
        tasks = []
        for i in range(n):
            delay = t0 + i / rate - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return outcomes


async def watch_ready(ports: dict[str, int], stop: asyncio.Event, samples: list[tuple[float, dict[str, bool]]]) -> None:
    import aiohttp

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2.0)) as s:
        async def ok(svc: str) -> bool:
            try:
                async with s.get(f"http://127.0.0.1:{ports[svc]}/ready") as r:
                    return r.status == 200
            except (aiohttp.ClientError, TimeoutError):
                return False

        while not stop.is_set():
            t = time.time()
            states = await asyncio.gather(*(ok(svc) for svc in SERVICES))
            samples.append((t, dict(zip(SERVICES, states, strict=True))))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.05, 0.5 - (time.time() - t)))


def readiness(samples: list[tuple[float, dict[str, bool]]], fault_start: float, fault_end: float) -> dict:
    """Seconds from the end of the fault until all four /ready answered 200 in the same sweep and
    kept answering so until the end of the watch (the load and after), and how long each service
    was seen not ready; ``first_ready_after_fault_s``: the first such sweep, even if it fell again."""
    not_ready: dict[str, float] = defaultdict(float)
    for (t, st), (t2, _) in zip(samples, samples[1:], strict=False):
        for svc, good in st.items():
            if not good:
                not_ready[svc] += t2 - t
    first = next((t for t, st in samples if t >= fault_end and all(st.values())), None)
    stable: float | None = None
    for t, st in reversed(samples):  # the start of the last stretch of all-ready sweeps
        if not all(st.values()):
            break
        stable = t
    last_bad = max((t for t, st in samples if t >= fault_start and not all(st.values())), default=None)
    return {"ready_again_after_fault_s": None if stable is None else round(max(0.0, stable - fault_end), 1),
            "first_ready_after_fault_s": None if first is None else round(max(0.0, first - fault_end), 1),
            "last_not_ready_after_fault_start_s": None if last_bad is None else round(last_bad - fault_start, 1),
            "not_ready_s": {k: round(v, 1) for k, v in not_ready.items() if v > 0},
            "all_ready_at_end": bool(samples) and all(samples[-1][1].values())}


# --------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------
def fault_length(name: str) -> float:
    return {"rabbit": 15, "postgres-stop": 15, "smtp": 60, "twilio": 40}.get(name, 5)


async def inject(name: str, dep: FaultDeployment, pg: PrivatePostgres, rabbit: PrivateRabbit, sink: Sink,
                 twilio: Twilio, times: dict[str, float]) -> None:
    times["fault_start"] = time.time()
    if name == "rabbit":
        await asyncio.to_thread(rabbit.stop)
        times["down_at"] = time.time()
        await asyncio.sleep(15)
        await asyncio.to_thread(rabbit.start)
    elif name == "postgres":
        await asyncio.to_thread(pg.restart)
    elif name == "postgres-stop":
        await asyncio.to_thread(pg.stop)
        times["down_at"] = time.time()
        await asyncio.sleep(15)
        await asyncio.to_thread(pg.start)
    elif name.startswith("kill-"):
        svc = name.removeprefix("kill-")
        await asyncio.to_thread(dep.kill, svc)
        await asyncio.sleep(2)
        dep.start_one(svc)
    elif name == "smtp":
        await asyncio.to_thread(sink.stop)
        await asyncio.sleep(60)
        await asyncio.to_thread(sink.start)
    elif name == "twilio":
        twilio.mode("fail")
        await asyncio.sleep(20)
        twilio.mode("hang")
        await asyncio.sleep(20)
        twilio.mode("ok")
    times["fault_end"] = time.time()


# --------------------------------------------------------------------------------------------
# Counting
# --------------------------------------------------------------------------------------------
async def delivery_map(dep: FaultDeployment) -> dict[str, tuple[str, str, str]]:
    """notifier's SMS delivery rows: id -> (case id, template, number)."""
    import asyncpg

    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{dep.pg_port}/{dep.db}")
    try:
        rows = await conn.fetch("SELECT id::text AS id, case_id::text AS c, template, recipient "
                                "FROM notifier.deliveries WHERE channel = 'sms'")
    finally:
        await conn.close()
    return {r["id"]: (r["c"], r["template"], r["recipient"]) for r in rows}


def count_sms(twilio: Twilio, dmap: dict[str, tuple[str, str, str]]) -> dict[tuple[str, str], int]:
    """(case id, number) -> messages stored at the stand-in (the delivery id is the callback's tail)."""
    got: dict[tuple[str, str], int] = defaultdict(int)
    rows, _ = twilio.messages()
    for _ts, _sid, to, cb in rows:
        case = dmap.get(cb.rsplit("/", 1)[-1], ("?", "", ""))[0]
        got[(case, to)] += 1
    return got


def tally(accepted: dict[str, Kind], sink: Sink, sms: dict[tuple[str, str], int]) -> dict:
    sink.reader.poll()
    email_got: dict[tuple[str, str, str], list[str]] = defaultdict(list)  # (case, tpl, rcpt) -> Message-IDs
    for (case, tpl), rcpts in sink.reader.recipients.items():
        for rcpt, mid in zip(rcpts, sink.reader.message_ids[(case, tpl)], strict=True):
            for one in rcpt.split(","):
                email_got[(case, tpl, one)].append(mid)
    e_exp = e_recv = e_dup = e_dup_same_id = s_exp = s_recv = s_dup = 0
    missing_e: list[tuple[str, str, str]] = []
    missing_s: list[tuple[str, str]] = []
    for cid, kind in accepted.items():
        for tpl, rcpt in kind.expect.emails:
            e_exp += 1
            mids = email_got.get((cid, tpl, rcpt), [])
            if mids:
                e_recv += 1
                e_dup += len(mids) - 1
                e_dup_same_id += len(mids) - len(set(mids))
            else:
                missing_e.append((cid, tpl, rcpt))
        for number in kind.expect.sms:
            s_exp += 1
            k = sms.get((cid, number), 0)
            if k:
                s_recv += 1
                s_dup += k - 1
            else:
                missing_s.append((cid, number))
    return {"emails_expected": e_exp, "emails_received": e_recv, "emails_duplicates": e_dup,
            "emails_duplicates_same_message_id": e_dup_same_id, "emails_lost": len(missing_e),
            "sms_expected": s_exp, "sms_received": s_recv, "sms_duplicates": s_dup, "sms_lost": len(missing_s),
            "_missing_emails": missing_e, "_missing_sms": missing_s}


async def db_facts(dep: FaultDeployment, accepted: list[str], missing: list[tuple[str, ...]]) -> dict:
    """From the deployment's database: cases intake stored for the load that no client was told
    of, in-app notifications per accepted case, and where each missing message stands."""
    import asyncpg

    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{dep.pg_port}/{dep.db}")
    try:
        stored = {r["id"] for r in await conn.fetch(
            "SELECT id::text AS id FROM intake.cases WHERE subject LIKE 'Copia de escritura faults-%'")}
        in_app = {r["c"]: r["n"] for r in await conn.fetch(
            "SELECT case_id::text AS c, count(*) AS n FROM notifier.notifications "
            "WHERE case_id::text = ANY($1::text[]) GROUP BY case_id", accepted)}
        rows = await conn.fetch("SELECT case_id::text AS c, channel, template, recipient, state, attempts, last_error "
                                "FROM notifier.deliveries WHERE case_id::text = ANY($1::text[])",
                                list({m[0] for m in missing}))
        known = {r["c"] for r in await conn.fetch(
            "SELECT case_id::text AS c FROM notifier.case_recipients WHERE case_id::text = ANY($1::text[])",
            list({m[0] for m in missing}))}
        outbox = {}
        for svc in SERVICES:
            outbox[svc] = await conn.fetchval(f"SELECT count(*) FROM {svc}.outbox WHERE published_at IS NULL")
    finally:
        await conn.close()
    # A missing e-mail is (case, template, address), a missing SMS (case, number).
    by_key: dict[tuple[str, ...], Any] = {
        (r["c"], r["template"], r["recipient"]) if r["channel"] == "email" else (r["c"], r["recipient"]): r
        for r in rows}
    states: Counter = Counter()
    samples: list[str] = []
    for m in missing:
        r = by_key.get(m)
        if r is None:
            states["no delivery row" + ("" if m[0] in known else " (case unknown to notifier)")] += 1
        else:
            states[f"{r['channel']} {r['state']}"] += 1
            if r["last_error"] and len(samples) < 3:
                samples.append(f"{r['channel']} {r['state']} after {r['attempts']}: {r['last_error'][:200]}")
    acc = set(accepted)
    return {"cases_stored_without_an_answer": len(stored - acc), "acknowledged_not_stored": len(acc - stored),
            "in_app_missing": sum(1 for c in accepted if not in_app.get(c)),
            "in_app_rows": sum(in_app.values()), "outbox_unpublished": outbox,
            "missing_diagnosis": {"states": dict(states), "errors": samples} if missing else {}}


# --------------------------------------------------------------------------------------------
# One scenario
# --------------------------------------------------------------------------------------------
def wait_for_expected(accepted: dict[str, Kind], sink: Sink, twilio: Twilio, dep: FaultDeployment,
                      timeout: float, rabbit: PrivateRabbit | None = None) -> tuple[dict, float]:
    """Poll until every expected e-mail and SMS is there and (given ``rabbit``) every service's
    queue is empty (intake's history of the sends, reporting's counts), or ``timeout`` s; then 3 s
    more for late duplicates. Returns the tally and the seconds waited."""
    t0 = time.monotonic()
    main_queues = {f"{dep.ns}.{svc}.events" for svc in SERVICES}
    while True:
        t = tally(accepted, sink, count_sms(twilio, asyncio.run(delivery_map(dep))))
        if time.monotonic() - t0 > timeout:
            break
        if not t["_missing_emails"] and not t["_missing_sms"]:
            if rabbit is None or not any(n for q, n in rabbit.queues(dep.ns).items() if q in main_queues):
                break
            time.sleep(2.0)
        time.sleep(1.0)
    waited = time.monotonic() - t0
    time.sleep(3.0)
    return tally(accepted, sink, count_sms(twilio, asyncio.run(delivery_map(dep)))), waited


def run_scenario(name: str, a: argparse.Namespace, pg: PrivatePostgres, rabbit: PrivateRabbit, base_dir: Path) -> dict:
    run_id = uuid.uuid4().hex[:8]
    logdir = base_dir / f"{name}-{run_id}"
    logdir.mkdir(parents=True)
    out: dict[str, Any] = {"bench": "atiende-faults", "scenario": name, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                           "run_id": run_id, "rate": a.rate, "sms_every": a.sms_every, "fault_at_s": a.fault_at,
                           "logs": str(logdir.relative_to(ROOT)) if logdir.is_relative_to(ROOT) else str(logdir),
                           "settings": BENCH_ENV, "loadavg_at_start": round(os.getloadavg()[0], 2)}
    sink = Sink(logdir)
    twilio = Twilio(logdir)
    dep = FaultDeployment(run_id, logdir, pg, rabbit, sink, twilio)
    try:
        log(f"[{name}] database {dep.db}, namespace {dep.ns}; migrate --seed, start the four services")
        dep.setup()
        dep.start()
        dep.wait_ready(120)
        kinds = make_kinds(dep)
        base = f"http://127.0.0.1:{dep.ports['intake']}"
        # Warm-up: one case of each kind, everything it must produce (workflow and notifier have
        # their copies of the people and mobiles by then); it also checks the expectations.
        warm = asyncio.run(drive(base, kinds, 2, 2.0, 2, Counter(), tag="warm-up"))
        warm_ok = {o.case_id: kinds[o.kind] for o in warm if o.case_id}
        if len(warm_ok) != 2:
            raise RuntimeError(f"warm-up cases not accepted: {[o.final for o in warm]}")
        t, _ = wait_for_expected(warm_ok, sink, twilio, dep, 90)
        if t["_missing_emails"] or t["_missing_sms"] or t["emails_duplicates"] or t["sms_duplicates"]:
            raise RuntimeError(f"warm-up: not what each case must produce: {t}")

        seconds = max(a.seconds, a.fault_at + fault_length(name) + 10)
        n = int(a.rate * seconds)
        log(f"[{name}] load: {n} cases at {a.rate:g}/s for {seconds:g} s; fault at {a.fault_at:g} s")
        answers: Counter = Counter()
        times: dict[str, float] = {}
        samples: list[tuple[float, dict[str, bool]]] = []

        async def campaign() -> list[Outcome]:
            stop = asyncio.Event()
            watcher = asyncio.create_task(watch_ready(dep.ports, stop, samples))

            async def fault() -> None:
                await asyncio.sleep(a.fault_at)
                log(f"[{name}] fault starts")
                await inject(name, dep, pg, rabbit, sink, twilio, times)
                log(f"[{name}] fault over ({times['fault_end'] - times['fault_start']:.1f} s)")

            injector = asyncio.create_task(fault())
            times["load_start"] = time.time()
            outcomes = await drive(base, kinds, n, a.rate, a.sms_every, answers)
            times["load_end"] = time.time()
            await injector
            # Watch /ready 10 s more, then until all four answer 200 (bounded: 120 s after the
            # fault or the load, whichever ends last).
            await asyncio.sleep(10)
            while time.time() < max(times["fault_end"], times["load_end"]) + 120:
                if samples and all(samples[-1][1].values()):
                    break
                await asyncio.sleep(0.5)
            stop.set()
            await watcher
            return outcomes

        outcomes = asyncio.run(campaign())
        accepted = {o.case_id: kinds[o.kind] for o in outcomes if o.case_id}
        log(f"[{name}] {len(accepted)} of {n} accepted; draining (at most {a.drain_timeout:g} s)")
        t, waited = wait_for_expected(accepted, sink, twilio, dep, a.drain_timeout, rabbit)
        missing = [*t.pop("_missing_emails"), *t.pop("_missing_sms")]
        facts = asyncio.run(db_facts(dep, list(accepted), missing))
        queues = rabbit.queues(dep.ns)
        finals = Counter("accepted" if o.case_id else o.final.split(" ")[0] for o in outcomes)
        out.update({
            "cases_sent": n, "cases_accepted": len(accepted), "cases_not_accepted": dict(
                (k, v) for k, v in finals.items() if k != "accepted"),
            "http_attempts": sum(o.attempts for o in outcomes), "http_answers": dict(answers),
            "cases_retried": sum(1 for o in outcomes if o.attempts > 1),
            "cases_by_kind": dict(Counter(k.name for k in accepted.values())),
            **t, "drain_wait_s": round(waited, 1), **facts,
            "dead_letters": sum(v for q, v in queues.items() if q.endswith(".dlq")),
            "waiting_in_retry_queues": sum(v for q, v in queues.items() if ".retry." in q),
            "queues_nonempty": {q: v for q, v in queues.items() if v},  # after the drain
            "fault_s": round(times["fault_end"] - times["fault_start"], 1),
            "server_down_s": round(times["fault_end"] - times["down_at"], 1) if "down_at" in times else None,
            "fault_started_at_load_s": round(times["fault_start"] - times["load_start"], 1),
            "load_s": round(times["load_end"] - times["load_start"], 1),
            **readiness(samples, times["fault_start"], times["fault_end"]),
            "twilio_stats": twilio.messages()[1][-1:] or None,
            "service_log": dep.log_summary(),
        })
        # 0 lost, 0 doubled, no request refused for good, every service back by itself.
        out["target_met"] = (out["emails_lost"] == 0 and out["sms_lost"] == 0 and out["emails_duplicates"] == 0
                             and out["sms_duplicates"] == 0 and out["in_app_missing"] == 0
                             and out["cases_accepted"] == n and out["all_ready_at_end"]
                             and out["ready_again_after_fault_s"] is not None)
    except Exception as exc:
        out["failure"] = f"{type(exc).__name__}: {exc}"[:3000]
        out["service_log_tails"] = {s: dep.log_tail(s, 1500) for s in dep.procs}
        log(f"[{name}] FAILED:", out["failure"][:500])
    finally:
        dep.stop()
        sink.stop()
        twilio.stop()
        with contextlib.suppress(Exception):
            psql(f'DROP DATABASE IF EXISTS "{dep.db}" WITH (FORCE)', port=pg.port)
    return out


# --------------------------------------------------------------------------------------------
COLUMNS = [("scenario", "scenario"), ("sent", "cases_sent"), ("accepted", "cases_accepted"),
           ("503+RA", None), ("500", None), ("no answer", None), ("e-mails exp/recv", None), ("dup (same Message-ID)", None),
           ("lost", "emails_lost"), ("SMS exp/recv", None), ("dup", "sms_duplicates"), ("lost", "sms_lost"),
           ("in-app missing", "in_app_missing"), ("DLQ", "dead_letters"), ("ready again s", "ready_again_after_fault_s"),
           ("target", "target_met")]


def table(results: list[dict]) -> str:
    lines = ["| " + " | ".join(c for c, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in results:
        if "failure" in r:
            lines.append(f"| {r['scenario']} | FAILED: {r['failure'][:200]} |")
            continue
        ans = r["http_answers"]
        cells = []
        for title, key in COLUMNS:
            if title == "503+RA":
                v = ans.get("503+retry-after", 0) + ans.get("503+retry-after replayed", 0)
                v = f"{v} (+{ans['503']} without)" if ans.get("503") else v
            elif title == "500":
                v = ans.get("500", 0)
            elif title == "no answer":  # client timeouts and connection errors (then retried)
                v = sum(n for k, n in ans.items() if k.startswith("exc:"))
            elif title == "e-mails exp/recv":
                v = f"{r['emails_expected']}/{r['emails_received']}"
            elif title == "dup (same Message-ID)":
                v = f"{r['emails_duplicates']} ({r['emails_duplicates_same_message_id']})"
            elif title == "SMS exp/recv":
                v = f"{r['sms_expected']}/{r['sms_received']}"
            else:
                v = r.get(key or "")
            cells.append("–" if v is None else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pick(only: str | None) -> list[str]:
    if not only:
        return list(SCENARIOS)
    chosen: list[str] = []
    for word in (w.strip() for w in only.split(",") if w.strip()):
        names = GROUPS.get(word, (word,))
        for nm in names:
            if nm not in SCENARIOS:
                raise SystemExit(f"unknown scenario {nm!r}; choose from {', '.join(SCENARIOS)} or {', '.join(GROUPS)}")
            chosen.append(nm)
    return list(dict.fromkeys(chosen))


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up as Ctrl-C does


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=20.0, help="cases per second (20)")
    ap.add_argument("--seconds", type=float, default=60.0,
                    help="load per scenario, at least until 10 s after the fault (60)")
    ap.add_argument("--fault-at", type=float, default=15.0, help="seconds into the load the fault starts (15)")
    ap.add_argument("--sms-every", type=int, default=5,
                    help="every n-th case is a churn-alert request (3 e-mails + 3 SMS more); 0: none (5)")
    ap.add_argument("--drain-timeout", type=float, default=180.0,
                    help="longest wait for the e-mails and SMS after the load (180)")
    ap.add_argument("--only", help="comma-separated scenarios or groups: " + ", ".join([*SCENARIOS, *GROUPS]))
    ap.add_argument("--lease", type=float, default=30.0,
                    help="ATIENDE_DELIVERY_LEASE_S for notifier (30; the product's default is 120)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the chosen scenarios this many times (intermittent faults: a window is hit or not)")
    ap.add_argument("--keep-logs", action="store_true", help="keep the private servers' data and logs")
    ap.add_argument("--twilio-only", metavar="FILE", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.twilio_only:
        twilio_main(a.twilio_only)
        return
    scenarios = pick(a.only) * max(1, a.repeat)
    BENCH_ENV["ATIENDE_DELIVERY_LEASE_S"] = f"{a.lease:g}"
    run_id = uuid.uuid4().hex[:8]
    logs = RESULTS / f"faults-{time.strftime('%Y%m%d-%H%M%S')}-{run_id}"
    logs.mkdir(parents=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"atiende-faults-{run_id}-"))
    signal.signal(signal.SIGTERM, _interrupt)
    pg = PrivatePostgres(tmp)
    rabbit = PrivateRabbit(tmp, run_id)
    results: list[dict] = []
    try:
        log(f"campaign {run_id}: private PostgreSQL on 127.0.0.1:{pg.port}, RabbitMQ node {rabbit.node} on "
            f"127.0.0.1:{rabbit.port}; scenarios {', '.join(scenarios)}; logs {logs}")
        pg.init()
        rabbit.init()
        for name in scenarios:
            if not rabbit.proc or rabbit.proc.poll() is not None:
                rabbit.start()  # a failed scenario may have left it stopped
            if not pg.running:
                pg.start()
            r = run_scenario(name, a, pg, rabbit, logs)
            results.append(r)
            line = json.dumps(r, ensure_ascii=False, default=str)
            print(line, flush=True)
            with open(RESULTS / "faults.jsonl", "a") as f:
                f.write(line + "\n")
            log(f"[{name}] " + ("FAILED" if "failure" in r else
                                f"accepted {r['cases_accepted']}/{r['cases_sent']}, e-mails lost {r['emails_lost']} "
                                f"dup {r['emails_duplicates']}, SMS lost {r['sms_lost']} dup {r['sms_duplicates']}, "
                                f"DLQ {r['dead_letters']}, ready again {r['ready_again_after_fault_s']} s"))
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
    finally:
        rabbit.destroy()
        pg.destroy()
        if a.keep_logs:
            log(f"private servers' data kept in {tmp}")
        else:
            for kept in (pg.logfile, rabbit.dir / "server.out"):
                if kept.exists():
                    shutil.copy2(kept, logs / kept.name)
            shutil.rmtree(tmp, ignore_errors=True)
    if results:
        print(table(results), file=sys.stderr)


if __name__ == "__main__":
    main()

"""Embedded-mode benchmark (issue 15 §4): `atiende run` — one process, SQLite, the in-process bus,
e-mails written to the mail folder — driven over HTTP like bench/pipeline.py drives the deployment.

What it does (bounded in time, stops by itself, traffic to 127.0.0.1 only):
  1. a throw-away data directory (``ATIENDE_DATA_DIR``, no database or broker URL: embedded) and
     free loopback ports for the four services (the runner's fixed ports 8001-8004 may be taken by
     another run on the same machine: the child sets them before calling ``atiende run``);
  2. starts ``atiende run`` in a child process (it seeds the demo tenants), waits for /ready on
     the one origin, makes an API key with ``atiende api-key create`` (same data directory) and
     finds an executor of the tenant (``GET /users``), exactly as bench/pipeline.py does;
  3. a warm-up (--warmup cases at C=20), then N cases (--n, default 300) at concurrency C (--concurrency,
     default 20), unpaced; waits (bounded) until every case's responsible e-mail (template
     ``case_assigned``) and contact e-mail are files in ``<data dir>/mail``;
  4. prints one JSON line (also appended to bench/results/embedded.jsonl) and a summary on stderr;
     stops the child (SIGTERM) and removes the data directory (``--keep`` keeps it).

Figures: ``processed_per_s`` = cases whose responsible's e-mail file exists / (newest such file's
mtime - first POST); ``accepted_per_s`` (201s / POST wall time); POST -> responsible's e-mail file
p50/p99 (file mtime); HTTP p50/p99; every e-mail exactly once (one file per case and template);
the runner's CPU ms per processed case (/proc utime+stime over the phase and its drain) and the
load average at start and end (the machine may be shared).

  .venv/bin/python bench/embedded.py                       # 300 cases at C=20
  .venv/bin/python bench/embedded.py --n 600 --concurrency 40
  .venv/bin/python bench/embedded.py --profile /tmp/embedded.txt   # py-spy (raw stacks) during the phase
  .venv/bin/python bench/embedded.py --tree HEAD                    # a commit's code (a stable baseline)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pipeline  # noqa: E402  (bench/pipeline.py: the driver, percentiles, callers, /proc CPU)

RESULTS = HERE / "results"
RESPONSIBLE, CONTACT = "case_assigned", "case_received"
_HEADER_RE = re.compile(rb"^X-Atiende-(Case|Template):\s*(\S+)", re.M | re.I)

# The child: set the four ports, then the ordinary `atiende run` entry point.
CHILD = ("import json, os, sys\n"
         "from shared import settings\n"
         "settings.SERVICE_PORTS.update(json.loads(os.environ['BENCH_PORTS']))\n"
         "from atiende.cli import main\n"
         "main(['run'])\n")


class MailFolder:
    """Reads the .eml files as they appear: arrivals[(case, template)] = [mtime, ...]."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seen: set[str] = set()
        self.arrivals: dict[tuple[str, str], list[float]] = defaultdict(list)

    def poll(self) -> None:
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return
        for name in names:
            if name in self.seen or not name.endswith(".eml"):
                continue
            path = self.folder / name
            try:
                mtime = path.stat().st_mtime
                head = path.read_bytes()[:8192]
            except OSError:
                continue
            found = {k.decode().lower(): v.decode() for k, v in _HEADER_RE.findall(head)}
            if "case" in found and "template" in found:
                self.seen.add(name)
                self.arrivals[(found["case"], found["template"])].append(mtime)


class _Runner:
    """What pipeline.make_callers needs of a deployment: ports, env, cwd, a name, the CLI."""

    def __init__(self, data_dir: Path, ports: dict[str, int], cwd: Path = pipeline.ROOT) -> None:
        self.ports = ports
        self.cwd = cwd  # the code that runs: the work tree, or a `--tree REV` snapshot
        self.ns = f"embedded{uuid.uuid4().hex[:6]}"
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("ATIENDE_DATABASE_URL", "ATIENDE_AMQP_URL", "ATIENDE_SMTP_HOST")}
        self.env.update({"ATIENDE_DATA_DIR": str(data_dir), "ATIENDE_LOG_LEVEL": "WARNING",
                         "BENCH_PORTS": json.dumps(ports)})
        if cwd != pipeline.ROOT:
            self.env["PYTHONPATH"] = str(cwd)

    def atiende(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "atiende", *args]


def wait_ready(port: int, proc: subprocess.Popen, log_path: Path, timeout: float = 120.0) -> float:
    import httpx

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"`atiende run` exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=3.0).status_code == 200:
                return round(time.monotonic() - t0, 2)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"`atiende run` not ready after {timeout:.0f}s:\n{log_path.read_text()[-3000:]}")


def wait_mail(mail: MailFolder, cases: dict[str, float], timeout: float, stall: float = 75.0) -> dict:
    """Bounded wait until both e-mails of every case are files (or timeout, or no progress)."""
    t0 = time.monotonic()
    last_progress, have, want = t0, -1, 2 * len(cases)
    while True:
        mail.poll()
        got = sum(1 for c in cases for tpl in (CONTACT, RESPONSIBLE) if (c, tpl) in mail.arrivals)
        now = time.monotonic()
        if got != have:
            have, last_progress = got, now
        if got >= want or now - t0 > timeout or now - last_progress > stall:
            break
        time.sleep(0.1)
    time.sleep(1.0)  # grace: let late duplicates show up
    mail.poll()
    return {"drain_wait_s": round(time.monotonic() - t0, 2), "drained": have >= want}


def stats(d: dict, mail: MailFolder, drain: dict, cpu_s: float) -> dict:
    sent: dict[str, float] = d["sent"]
    done = {c: mail.arrivals[(c, RESPONSIBLE)][0] for c in sent if (c, RESPONSIBLE) in mail.arrivals}
    e2e = [(done[c] - ts) * 1000 for c, ts in sent.items() if c in done]
    span = (max(done.values()) - d["t_start"]) if done else None
    copies = [len(mail.arrivals.get((c, t), [])) for c in sent for t in (CONTACT, RESPONSIBLE)]
    return {
        "cases": len(sent) + sum(v for k, v in d["statuses"].items() if k != "201"),
        "accepted": len(sent), "statuses": d["statuses"], "error_samples": d["errors"],
        "accepted_per_s": pipeline.r1(len(sent) / d["wall"]) if d["wall"] > 0 else None,
        "processed": len(done), "processed_per_s": pipeline.r1(len(done) / span) if span else None,
        "e2e_p50_ms": pipeline.r1(pipeline.pct(e2e, 50)), "e2e_p99_ms": pipeline.r1(pipeline.pct(e2e, 99)),
        "e2e_max_ms": pipeline.r1(max(e2e)) if e2e else None,
        "http_p50_ms": pipeline.r1(pipeline.pct(d["http_ms"], 50)),
        "http_p99_ms": pipeline.r1(pipeline.pct(d["http_ms"], 99)),
        "emails_missing": sum(1 for n in copies if n == 0), "duplicates": sum(n - 1 for n in copies if n > 1),
        "all_emails_once": all(n == 1 for n in copies),
        "cpu_ms_per_processed_case": round(1000 * cpu_s / len(done), 1) if done else None,
        **drain,
    }


async def phase(base: str, n: int, conc: int, callers: list, mail: MailFolder, pid: int, drain_s: float,
                name: str) -> dict:
    cpu0 = sum(pipeline._proc_cpu(q) for q in [pid, *pipeline._children(pid)])
    d = await pipeline.drive(base, name, n, conc, None, callers)
    drain = wait_mail(mail, d["sent"], drain_s)
    cpu1 = sum(pipeline._proc_cpu(q) for q in [pid, *pipeline._children(pid)])
    st = stats(d, mail, drain, cpu1 - cpu0)
    pipeline.log(f"{name}: accepted {st['accepted']} at {st['accepted_per_s']}/s, processed {st['processed']} at "
                 f"{st['processed_per_s']}/s; e2e p50/p99 {st['e2e_p50_ms']}/{st['e2e_p99_ms']} ms; "
                 f"http p50/p99 {st['http_p50_ms']}/{st['http_p99_ms']} ms; CPU {st['cpu_ms_per_processed_case']} "
                 f"ms/case; all e-mails once: {st['all_emails_once']}")
    return st


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="cases in the measured phase (300)")
    ap.add_argument("--concurrency", type=int, default=20, help="concurrent keep-alive connections (20)")
    ap.add_argument("--warmup", type=int, default=100, help="warm-up cases before the phase (100)")
    ap.add_argument("--drain-timeout", type=float, default=120.0, help="max wait for the e-mails (s)")
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    ap.add_argument("--tree", metavar="REV", help="run a `git archive` snapshot of REV instead of the work tree")
    ap.add_argument("--profile", type=Path, help="py-spy record the runner during the phase into this file (raw)")
    a = ap.parse_args()

    run_id = uuid.uuid4().hex[:8]
    data_dir = Path(tempfile.mkdtemp(prefix=f"atiende-embedded-{run_id}-"))
    ports = {s: pipeline.free_port() for s in pipeline.SERVICES}
    code_dir = pipeline.ROOT
    if a.tree:  # a stable baseline while the work tree is being edited
        code_dir = data_dir / "tree"
        code_dir.mkdir()
        arch = subprocess.run(["git", "-C", str(pipeline.ROOT), "archive", a.tree], capture_output=True,
                              check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(code_dir)], input=arch, check=True)
    runner = _Runner(data_dir / "var", ports, cwd=code_dir)
    log_path = data_dir / "run.log"
    env_start = {**pipeline.environment(), "calib_kjson_per_s": pipeline.calib()}
    proc = subprocess.Popen([sys.executable, "-c", CHILD], env=runner.env, cwd=code_dir,
                            stdout=open(log_path, "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
                            start_new_session=True)
    pipeline.log(f"run {run_id}: `atiende run` pid {proc.pid}, data {data_dir}, intake port {ports['intake']}")
    result: dict = {"bench": "embedded", "run_id": run_id, "time": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "n": a.n, "concurrency": a.concurrency, "environment_at_start": env_start,
                    "code": f"git {a.tree}" if a.tree else "work tree"}
    try:
        result["ready_s"] = wait_ready(ports["intake"], proc, log_path)
        callers, info = pipeline.make_callers(runner, spread=False)  # type: ignore[arg-type]
        result["api"] = info
        base = f"http://127.0.0.1:{ports['intake']}"
        mail = MailFolder(data_dir / "var" / "mail")
        if a.warmup:
            asyncio.run(phase(base, a.warmup, a.concurrency, callers, mail, proc.pid, a.drain_timeout, "warmup"))
        spy = None
        if a.profile:
            spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--nonblocking", "-r",
                                    "50", "-d", "600", "-f", "raw", "-o", str(a.profile), "-p", str(proc.pid)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        result["sat"] = asyncio.run(phase(base, a.n, a.concurrency, callers, mail, proc.pid, a.drain_timeout,
                                          "sat"))
        if spy is not None:
            os.kill(spy.pid, signal.SIGINT)  # py-spy writes its output on SIGINT
            spy.wait(timeout=30)
        result["environment_at_end"] = pipeline.environment()
        result["log_warnings"] = sum(1 for ln in log_path.read_text(errors="replace").splitlines()
                                     if " WARNING " in ln or " ERROR " in ln)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if a.keep:
            pipeline.log(f"data directory kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    line = json.dumps(result, ensure_ascii=False)
    with open(RESULTS / "embedded.jsonl", "a") as f:
        f.write(line + "\n")
    print(line)


if __name__ == "__main__":
    main()

"""The inbox export (R4.10) at a million cases: rows/s and the peak memory of the process doing it.

What runs (PostgreSQL and RabbitMQ on 127.0.0.1, as the integration tests use them):

  1. a throw-away database ``atiende_bench_export_<id>`` and broker namespace ``benchexport<id>``;
     ``atiende migrate intake --seed``; the load of ``bench/inbox.py`` (imported, not copied):
     --size cases (1,000,000) for inmobiliaria-demo plus --noise (100,000) for another tenant,
     with parties (1 % restricted, R2.7), indexes rebuilt, VACUUM ANALYZE;
  2. ``atiende serve intake`` on a free port (one process); log in as the demo admin;
  3. a warm-up export (a search: a handful of rows), then the process's resident memory (VmRSS)
     as the baseline;
  4. for each format (CSV, XLSX): the peak counter of the server process is reset
     (``/proc/<pid>/clear_refs`` = 5) and ``GET /inbox/export?status=<all five>&sort=created`` is
     downloaded (httpx, streamed, the bytes counted and dropped; XLSX kept in a temporary file to
     check its row count). Measured: seconds to the first byte and to the last, rows/s (rows in
     the file / seconds to the last byte), bytes, and the server's peak RSS (VmHWM after the
     export; also the highest VmRSS sampled every 100 ms, should the kernel refuse the reset).
     The rows in the file are checked against the tenant's case count (the other tenant's cases
     are not there);
  5. one JSON line on stdout (also appended to bench/results/export.jsonl); the server stopped,
     the database dropped, the namespace deleted (--keep keeps the database).

Usage: .venv/bin/python bench/export.py [--size 1000000] [--noise 100000] [--formats csv,xlsx] [--keep]
Bounded: about 6–10 minutes here (load and index builds ~3 min, then each export)."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from inbox import AMQP_URL, EVERY, PG, RESULTS, TENANT, Server, load, log, record  # noqa: E402

from services.intake.seed import DEMO_PASSWORD, demo_email  # noqa: E402


def proc_kib(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` memory line (VmRSS, VmHWM) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux ≥ 4.0)
        return True
    except OSError:
        return False


class RssSampler(threading.Thread):
    """The highest VmRSS of ``pid`` seen while running."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, proc_kib(self.pid, "VmRSS"))
            self.stop.wait(0.1)


def export_once(base: str, token: str, fmt: str, pid: int) -> dict[str, Any]:
    params: dict[str, Any] = {"status": list(EVERY), "sort": "created", "format": fmt}
    reset_ok = reset_peak(pid)
    before = proc_kib(pid, "VmRSS")
    sampler = RssSampler(pid)
    sampler.start()
    size, first = 0, None
    newlines = 0
    keep = tempfile.NamedTemporaryFile(suffix=f".{fmt}", delete=False) if fmt == "xlsx" else None  # noqa: SIM115
    t0 = time.perf_counter()
    try:
        with httpx.Client(base_url=base, timeout=httpx.Timeout(30, read=1800)) as client, \
                client.stream("GET", "/inbox/export", params=params,
                              headers={"Authorization": f"Bearer {token}"}) as r:
            if r.status_code != 200:
                raise RuntimeError(f"{fmt}: {r.status_code} {r.read()[:500]!r}")
            for data in r.iter_bytes(1024 * 1024):
                if first is None:
                    first = time.perf_counter() - t0
                size += len(data)
                if keep is not None:
                    keep.write(data)
                else:
                    newlines += data.count(b"\n")  # never split across chunks, unlike "\r\n"
        seconds = time.perf_counter() - t0
    finally:
        sampler.stop.set()
        sampler.join()
    if keep is not None:
        keep.close()
        from openpyxl import load_workbook  # type: ignore[import-untyped]

        book = load_workbook(keep.name, read_only=True)  # the dimension xlsxwriter wrote: no full read
        rows = sum(ws.max_row - 1 for ws in book.worksheets)
        book.close()
        os.unlink(keep.name)
    else:
        rows = newlines - 1  # the header line; no exported text holds a line break
    return {"rows": rows, "bytes": size, "first_byte_s": round(first or 0.0, 2), "seconds": round(seconds, 1),
            "rows_per_s": round(rows / seconds), "rss_before_mib": round(before / 1024, 1),
            "peak_rss_mib": round(proc_kib(pid, "VmHWM") / 1024, 1) if reset_ok else None,
            "peak_rss_sampled_mib": round(sampler.peak / 1024, 1), "peak_reset": reset_ok}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--noise", type=int, default=100_000, help="cases of another tenant")
    ap.add_argument("--formats", default="csv,xlsx")
    ap.add_argument("--keep", action="store_true", help="keep the database")
    a = ap.parse_args()
    run_id = uuid.uuid4().hex[:8]
    db_name = f"atiende_bench_export_{run_id}"
    ns = f"benchexport{run_id}"
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db_name}"
    RESULTS.mkdir(exist_ok=True)
    env = {**os.environ, "ATIENDE_DATABASE_URL": url, "ATIENDE_AMQP_URL": AMQP_URL, "ATIENDE_NAMESPACE": ns,
           "ATIENDE_TOKEN_SECRET": secrets.token_urlsafe(36), "ATIENDE_LOG_LEVEL": "WARNING"}
    server = Server(env, RESULTS / f"export-intake-{run_id}.log")
    started = time.monotonic()
    result: dict[str, Any] = {"bench": "export", "run": run_id, "at": datetime.now(UTC).isoformat(timespec="seconds"),
                              "size": a.size, "noise": a.noise, "cpu_cores": os.cpu_count(), "exports": {}}

    async def admin(sql: str) -> None:
        c = await asyncpg.connect(PG + "postgres")
        try:
            await c.execute(sql)
        finally:
            await c.close()

    created = False
    try:
        asyncio.run(admin(f'CREATE DATABASE "{db_name}"'))
        created = True
        log(f"run {run_id}: database {db_name}, namespace {ns}")
        r = subprocess.run([sys.executable, "-m", "atiende", "migrate", "intake", "--seed"], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"migrate failed: {r.stdout[-2000:]}{r.stderr[-3000:]}")
        log(f"loading {a.size:,} cases (+{a.noise:,} of another tenant)…")
        result["load"] = asyncio.run(load(PG + db_name, a.size, a.noise))["timings"]
        server.start()
        assert server.proc is not None
        pid = server.proc.pid
        resp = httpx.post(f"{server.base}/auth/token", data={"username": demo_email("admin", TENANT),
                                                             "password": DEMO_PASSWORD, "tenant": TENANT})
        resp.raise_for_status()
        token = resp.json()["access_token"]
        warm = httpx.get(f"{server.base}/inbox/export", params={"q": "contreras valenzuela"},
                         headers={"Authorization": f"Bearer {token}"}, timeout=60)
        warm.raise_for_status()
        result["baseline_rss_mib"] = round(proc_kib(pid, "VmRSS") / 1024, 1)
        for fmt in a.formats.split(","):
            log(f"exporting {a.size:,} cases as {fmt}…")
            out = export_once(server.base, token, fmt, pid)
            result["exports"][fmt] = out
            log(f"  {fmt}: {out['rows']:,} rows in {out['seconds']} s = {out['rows_per_s']:,} rows/s, "
                f"{out['bytes'] / 2**20:.0f} MiB; RSS {out['rss_before_mib']} → peak {out['peak_rss_mib']} MiB "
                f"(sampled {out['peak_rss_sampled_mib']})")
            if out["rows"] != a.size:
                raise RuntimeError(f"{fmt}: {out['rows']} rows, expected {a.size}")
    finally:
        server.stop()
        if created and not a.keep:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        record(result, ns, started, "export")


if __name__ == "__main__":
    main()

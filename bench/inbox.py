"""The inbox (R4.5) at a million cases: p50/p95 of the main inbox queries through the API.

What runs (PostgreSQL and RabbitMQ on 127.0.0.1, as the integration tests use them):

  1. a throw-away database ``atiende_bench_inbox_<id>`` and broker namespace ``benchinbox<id>``;
     ``atiende migrate intake --seed`` (intake's migrations, demo tenants and users);
  2. the load, straight into intake's tables with ``INSERT … SELECT generate_series``: --size
     cases (1,000,000) for tenant inmobiliaria-demo plus --noise (100,000) for another tenant;
     44 responsibles (40 bench agents and four demo users); 100,000 parties with valid RUTs (1 %
     restricted, R2.7), linked to 30 % of the cases. Distributions: three years of entries, in
     entry order (as a live table grows: the in-progress cases are the newest rows); 15 % in
     progress (new 6 %, in execution 7 %, waiting 2 %; all entered in the last 25 days, where a
     quarter of the entries are already finished; most past their deadline), the rest finished,
     88 % with success; types 50/30/20; channels, associations, priorities skewed as a desk sees
     them; 44 responsibles; Spanish names (first name and two surnames, accents included, common
     ones more common), phones for 80 %, 30 subjects. The indexes are dropped for the load and
     re-created from their own definitions afterwards (the usual bulk-load order; the
     definitions are the migration's), then VACUUM ANALYZE;
  3. ``atiende serve intake`` on a free port; log in as the demo admin and as executors;
  4. each query: 2 warm-up requests, then --reps (25) timed requests, one at a time (HTTP/1.1
     keep-alive, httpx): round trip seen by the client, which includes authentication (a token
     lookup), the page, the total where computed, and JSON. Warm cache: the data fits in RAM;
  5. EXPLAIN (ANALYZE, BUFFERS) of the default view, the text search and a deep page;
  6. one JSON line on stdout (also appended to bench/results/inbox.jsonl), plans in
     bench/results/inbox-plans-<id>.txt; the server stopped, the database dropped, the namespace
     deleted (--keep keeps the database).

Usage: .venv/bin/python bench/inbox.py [--size 1000000] [--noise 100000] [--reps 25] [--keep]
Bounded: about 3 minutes here (the load and the index builds are most of it)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from services.intake.adapters import inbox_queries as iq  # noqa: E402
from services.intake.adapters.db import outbox  # noqa: E402
from services.intake.domain import parties as party_rules  # noqa: E402
from services.intake.domain.access import Principal, Role  # noqa: E402
from services.intake.seed import DEMO_PASSWORD, demo_email  # noqa: E402
from services.intake.service_layer.inbox import _search as search_terms  # noqa: E402
from shared.db import Database  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432/"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
TENANT = "inmobiliaria-demo"
NOISE_TENANT = "aseguradora-demo"
N_AGENTS = 40
N_PARTIES = 100_000
RESULTS = HERE / "results"

FIRST = ["María", "José", "Juan", "Ana", "Luis", "Carmen", "Pedro", "Rosa", "Héctor", "Sofía", "Carlos", "Javiera",
         "Diego", "Camila", "Andrés", "Valentina", "Jorge", "Fernanda", "Francisco", "Catalina", "Manuel",
         "Constanza", "Ricardo", "Daniela", "Sebastián", "Paula", "Cristián", "Ignacia", "Matías", "Antonia", "Tomás",
         "Florencia", "Rodrigo", "Isidora", "Felipe", "Martina", "Gonzalo", "Josefa", "Álvaro", "Belén"]
SURNAMES = ["González", "Muñoz", "Rojas", "Díaz", "Pérez", "Soto", "Contreras", "Silva", "Martínez", "Sepúlveda",
            "Morales", "Rodríguez", "López", "Fuentes", "Hernández", "Torres", "Araya", "Flores", "Espinoza",
            "Valenzuela", "Castillo", "Tapia", "Reyes", "Gutiérrez", "Castro", "Pizarro", "Álvarez", "Vásquez",
            "Sánchez", "Fernández", "Ramírez", "Carrasco", "Gómez", "Cortés", "Herrera", "Núñez", "Jara", "Vergara",
            "Rivera", "Figueroa"]
SUBJECTS = ["Copia de escritura", "Consulta por gastos comunes", "Cambio de titular", "Certificado de dominio",
            "Consulta por estacionamiento", "Reclamo por ruidos molestos", "Solicitud de planos",
            "Consulta por bodega", "Devolución de garantía", "Actualización de datos de contacto",
            "Reclamo por cobro duplicado", "Consulta por reglamento de copropiedad", "Solicitud de llaves adicionales",
            "Consulta por entrega de departamento", "Reclamo por atención recibida",
            "Solicitud de reunión con administración", "Consulta por mudanza", "Certificado de avalúo fiscal",
            "Consulta por arriendo", "Solicitud de copia de contrato", "Reclamo por filtración en área común",
            "Consulta por seguro de incendio", "Solicitud de estado de cuenta", "Consulta por posventa",
            "Cambio de correo de contacto", "Consulta por subsidio habitacional", "Solicitud de factura",
            "Reclamo por demora en respuesta", "Consulta por ampliación", "Solicitud de visita"]
OPEN = ("new", "in_execution", "waiting_on_customer")
EVERY = (*OPEN, "finished_success", "finished_failure")


def log(*a: object) -> None:
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def sql_array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    k = (len(v) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return round(v[lo] + (v[hi] - v[lo]) * (k - lo), 2)


# -- the load -------------------------------------------------------------------------------------
def rut(n: int) -> str:
    s, m = 0, 2
    for d in reversed(str(n)):
        s += int(d) * m
        m = 2 if m == 7 else m + 1
    r = 11 - s % 11
    return f"{n}-{'0' if r == 11 else 'K' if r == 10 else r}"


CASES_SQL = f"""
INSERT INTO intake.cases (id, tenant, number, type_code, subject, description, contact_name, contact_email,
    contact_phone, responsible_email, responsible_id, project, created_by, interaction_id, party_id, asset_id,
    association, channel, category_path, area, document_class, start_date, customer_commitment_date,
    internal_commitment_date, explicit_due_date, not_satisfied, follow_up_of, follow_up_kind, answered_at,
    finished_at, updated_at, version, priority, status, created_at, due_at, due_date, overdue_since)
SELECT gen_random_uuid(), $3, lpad(g::text, greatest(6, length(g::text)), '0'), t.type_code, s.subject, 'Solicitud de prueba de la bandeja.',
    fn || ' ' || sn1 || ' ' || sn2,
    lower(translate(fn || '.' || sn1, 'ÁÉÍÓÚÑáéíóúñ', 'AEIOUNaeioun')) || g || '@example.cl',
    CASE WHEN r_phone < 0.8 THEN '+569' || lpad(((g::bigint * 7919) % 100000000)::text, 8, '0') END,
    resp_email[resp_i], resp_id[resp_i],
    CASE WHEN r_proj < 0.6 THEN 'edificio-los-robles' ELSE 'condominio-el-mirador' END,
    NULL, NULL, ps.id, NULL,
    CASE WHEN r_assoc < 0.55 THEN 'owner' WHEN r_assoc < 0.75 THEN 'lessee' WHEN r_assoc < 0.90 THEN 'property'
         ELSE 'non_owner' END,
    CASE WHEN r_chan < 0.35 THEN 'telefono' WHEN r_chan < 0.65 THEN 'correo' WHEN r_chan < 0.80 THEN 'web'
         WHEN r_chan < 0.90 THEN 'presencial' WHEN r_chan < 0.97 THEN 'redes-sociales' ELSE 'carta' END,
    CASE t.type_code WHEN 'consulta-general' THEN '["atencion", "consultas", "general"]'::jsonb
         WHEN 'documentacion' THEN '["documentacion", "escrituras", "copia"]'::jsonb
         ELSE '["administracion", "gastos-comunes"]'::jsonb END,
    CASE t.type_code WHEN 'consulta-general' THEN 'posventa' WHEN 'documentacion' THEN 'escrituras'
         ELSE CASE WHEN r_chan < 0.5 THEN 'posventa' ELSE 'administracion' END END,
    'request', NULL, NULL, NULL, NULL, false, NULL, NULL,
    CASE WHEN st.status IN ('in_execution', 'finished_success', 'finished_failure')
         THEN c.created_at + (d.due_at - c.created_at) * (0.1 + 1.2 * r_fin) END,
    CASE WHEN st.status IN ('finished_success', 'finished_failure')
         THEN c.created_at + (d.due_at - c.created_at) * (0.1 + 1.2 * r_fin) + r_fin * interval '2 days' END,
    c.created_at, 1,
    CASE WHEN r_prio < 0.85 THEN 'normal' WHEN r_prio < 0.95 THEN 'high' WHEN r_prio < 0.99 THEN 'low'
         ELSE 'urgent' END,
    st.status, c.created_at, d.due_at, d.due_date,
    CASE WHEN st.status IN ('new', 'in_execution', 'waiting_on_customer') AND d.due_at < now() THEN d.due_at END
FROM (
    SELECT g, g::float8 / $7 AS p, random() r_status, random() r_type, random() r_chan, random() r_assoc, random() r_prio,
           random() r_age, random() r_due, random() r_fin, random() r_phone, random() r_proj,
           1 + floor(random() * {N_AGENTS + 4})::int resp_i,
           ({sql_array(FIRST)})[1 + floor(random() * random() * {len(FIRST)})::int] fn,
           ({sql_array(SURNAMES)})[1 + floor(random() * random() * {len(SURNAMES)})::int] sn1,
           ({sql_array(SURNAMES)})[1 + floor(random() * {len(SURNAMES)})::int] sn2
    FROM generate_series($1::int, $2::int) g) r
CROSS JOIN LATERAL (SELECT CASE WHEN r.p >= 0.8 AND r_status < 0.75 THEN
        CASE WHEN r_status < 0.30 THEN 'new' WHEN r_status < 0.65 THEN 'in_execution' ELSE 'waiting_on_customer' END
    ELSE CASE WHEN r_fin < 0.88 THEN 'finished_success' ELSE 'finished_failure' END END AS status) st
CROSS JOIN LATERAL (SELECT CASE WHEN r_type < 0.5 THEN 'consulta-general' WHEN r_type < 0.8 THEN 'documentacion'
    ELSE 'reclamo-no-tecnico' END AS type_code) t
CROSS JOIN LATERAL (SELECT ({sql_array(SUBJECTS)})[1 + (g * 31 + floor(r_fin * 7)::int) % {len(SUBJECTS)}] subject) s
CROSS JOIN LATERAL (SELECT CASE WHEN r.p >= 0.8 THEN now() - (1 - r.p) / 0.2 * interval '25 days'
    ELSE now() - interval '25 days' - (0.8 - r.p) / 0.8 * interval '1070 days' END
    - r_age * interval '10 minutes' AS created_at) c
CROSS JOIN LATERAL (SELECT date_trunc('day', c.created_at) + (4 + floor(r_due * 12)::int) * interval '1 day'
    + interval '3 hours 59 minutes 59 seconds' AS due_at,
    (date_trunc('day', c.created_at) + (3 + floor(r_due * 12)::int) * interval '1 day')::date AS due_date) d
CROSS JOIN (SELECT $4::uuid[] resp_id, $5::text[] resp_email) rs
LEFT JOIN bench_party_seq ps ON $6 AND r.g % 10 < 3 AND ps.seq = r.g % {N_PARTIES}
"""


async def load(dsn: str, size: int, noise: int) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    timings: dict[str, float] = {}
    try:
        await conn.execute("SET maintenance_work_mem = '1GB'")
        await conn.execute("SET max_parallel_maintenance_workers = 2")
        t = time.monotonic()
        await conn.execute(
            "INSERT INTO intake.users (id, tenant, email, name, mobile, roles, manager_id, projects, "
            "escalation_subscriptions, language, active, password_hash, failed_logins, locked_until, created_at, "
            "updated_at) SELECT gen_random_uuid(), u.tenant, 'agente' || g || '@bench.atiende.cl', 'Agente ' || g, "
            "NULL, u.roles, NULL, u.projects, u.escalation_subscriptions, u.language, true, NULL, 0, NULL, now(), "
            "now() FROM intake.users u, generate_series(1, $1::int) g WHERE u.email = $2", N_AGENTS,
            demo_email("ejecutivo", TENANT))
        resp = await conn.fetch(
            "SELECT id, email FROM intake.users WHERE tenant = $1 AND (email LIKE 'agente%' OR email = ANY($2)) "
            "ORDER BY email", TENANT, [demo_email(x, TENANT) for x in ("ejecutiva", "ejecutivo", "supervisora",
                                                                        "gerencia.tecnica")])
        assert len(resp) == N_AGENTS + 4, len(resp)
        noise_resp = await conn.fetch("SELECT id, email FROM intake.users WHERE tenant = $1 ORDER BY email",
                                      NOISE_TENANT)
        noise_resp = [noise_resp[i % len(noise_resp)] for i in range(N_AGENTS + 4)]
        now = datetime.now(UTC)
        rows = []
        for i in range(N_PARTIES):
            nid = party_rules.normalize_national_id(rut(5_000_000 + i * 37), "CL")
            name = f"{FIRST[i % len(FIRST)]} {SURNAMES[(i // 7) % len(SURNAMES)]} {SURNAMES[(i // 3) % len(SURNAMES)]}"
            rows.append((uuid.uuid4(), TENANT, "owner", False, name, party_rules.fold(name), nid.value, nid.key,
                         None, None, None, None, "{}", i % 100 == 0, True, "seed", None, now, now))
        await conn.copy_records_to_table("parties", schema_name="intake", records=rows, columns=[
            "id", "tenant", "kind", "internal", "name", "search_name", "national_id", "national_id_key", "email",
            "phone", "address", "notes", "details", "restricted", "active", "source", "created_by", "created_at",
            "updated_at"])
        await conn.execute("CREATE TABLE bench_party_seq AS SELECT (row_number() OVER (ORDER BY national_id_key) "
                           "- 1)::int AS seq, id FROM intake.parties WHERE tenant = $1", TENANT)
        await conn.execute("CREATE UNIQUE INDEX ON bench_party_seq (seq)")
        timings["users_parties_s"] = round(time.monotonic() - t, 1)
        # Bulk load: indexes off, rows in, indexes back from their own definitions.
        defs = await conn.fetch("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'intake' "
                                "AND tablename = 'cases' AND indexname <> 'cases_pkey'")
        for d in defs:
            await conn.execute(f'DROP INDEX intake."{d["indexname"]}"')
        t = time.monotonic()
        await conn.execute("SELECT setseed(0.4242)")
        batch = 250_000
        for tenant, total, who, parties in ((NOISE_TENANT, noise, noise_resp, False), (TENANT, size, resp, True)):
            for start in range(1, total + 1, batch):  # oldest first: the table's order is the entry order
                await conn.execute(CASES_SQL, start, min(start + batch - 1, total), tenant,
                                   [r["id"] for r in who], [r["email"] for r in who], parties, float(total))
            log(f"  {total:,} cases of {tenant} in {time.monotonic() - t:.0f} s")
        await conn.execute("UPDATE intake.tenants SET next_case_number = $2 WHERE slug = $1", TENANT, size + 1)
        await conn.execute("UPDATE intake.tenants SET next_case_number = $2 WHERE slug = $1", NOISE_TENANT, noise + 1)
        timings["insert_s"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        index_s = {}
        for d in defs:
            t1 = time.monotonic()
            await conn.execute(d["indexdef"])
            index_s[d["indexname"]] = round(time.monotonic() - t1, 1)
        timings["indexes_s"] = round(time.monotonic() - t, 1)
        timings["per_index_s"] = index_s  # type: ignore[assignment]
        t = time.monotonic()
        await conn.execute("DROP TABLE bench_party_seq")
        await conn.execute("VACUUM ANALYZE intake.cases")
        await conn.execute("VACUUM ANALYZE intake.parties")
        timings["vacuum_analyze_s"] = round(time.monotonic() - t, 1)
        sizes = await conn.fetchrow(
            "SELECT pg_size_pretty(pg_table_size('intake.cases')) AS heap, "
            "pg_size_pretty(pg_indexes_size('intake.cases')) AS indexes")
        counts = {r["status"]: r["n"] for r in await conn.fetch(
            "SELECT status, count(*) n FROM intake.cases WHERE tenant = $1 GROUP BY status", TENANT)}
        overdue = await conn.fetchval(
            "SELECT count(*) FROM intake.cases WHERE tenant = $1 AND status = ANY($2) AND due_at < now()", TENANT,
            list(OPEN))
        index_sizes = {r["indexname"]: r["size"] for r in await conn.fetch(
            "SELECT indexname, pg_size_pretty(pg_relation_size(('intake.' || quote_ident(indexname))::regclass)) size "
            "FROM pg_indexes WHERE schemaname = 'intake' AND tablename = 'cases' ORDER BY indexname")}
        return {"timings": timings, "table": dict(sizes), "index_sizes": index_sizes, "statuses": counts,
                "open_overdue": overdue}
    finally:
        await conn.close()


async def samples(dsn: str) -> dict[str, Any]:
    """Values to search for, taken from the data (an open case's phone, e-mail, number; a party's RUT)."""
    conn = await asyncpg.connect(dsn)
    try:
        c = await conn.fetchrow("SELECT number, contact_email, contact_phone, responsible_id FROM intake.cases "
                                "WHERE tenant = $1 AND status = 'new' AND contact_phone IS NOT NULL AND "
                                "responsible_email LIKE 'agente%' ORDER BY number LIMIT 1 OFFSET 777", TENANT)
        p = await conn.fetchrow("SELECT p.national_id FROM intake.parties p JOIN intake.cases c ON c.party_id = p.id "
                                "WHERE p.tenant = $1 AND NOT p.restricted AND c.status = 'in_execution' LIMIT 1",
                                TENANT)
        deep = {}
        n_open = await conn.fetchval("SELECT count(*) FROM intake.cases WHERE tenant = $1 AND status = ANY($2)",
                                     TENANT, list(OPEN))
        n_all = await conn.fetchval("SELECT count(*) FROM intake.cases WHERE tenant = $1", TENANT)
        for name, statuses, order, offset in (
                ("deadline_100k", OPEN, f"{iq.DUE_KEY['postgresql']}, id", min(100_000, n_open * 2 // 3)),
                ("created_500k", EVERY, "created_at, id", min(500_000, n_all // 2))):
            row = await conn.fetchrow(
                f"SELECT {iq.DUE_KEY['postgresql']} AS due_key, created_at, id, 0 AS priority_rank "
                f"FROM intake.cases WHERE tenant = $1 AND status = ANY($2) ORDER BY {order} "
                f"OFFSET {offset} LIMIT 1", TENANT, list(statuses))
            view = type("Row", (), dict(row))()
            deep[name] = iq.encode_cursor("deadline" if name == "deadline_100k" else "created", view)
        return {"number": c["number"], "email": c["contact_email"].split("@")[0],
                "phone": c["contact_phone"], "agent": str(c["responsible_id"]), "rut": p["national_id"],
                "deep": deep}
    finally:
        await conn.close()


# -- the server -------------------------------------------------------------------------------------
class Server:
    """``atiende serve <service>`` on a free port, ready once ``ready_path`` answers 200."""

    def __init__(self, env: dict[str, str], logfile: Path, service: str = "intake", ready_path: str = "/ready") -> None:
        self.port = free_port()
        self.env = env
        self.logfile = logfile
        self.service = service
        self.ready_path = ready_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = open(self.logfile, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen([sys.executable, "-m", "atiende", "serve", self.service, "--host", "127.0.0.1",
                                      "--port", str(self.port)], env=self.env, cwd=ROOT, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 90:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.service} exited: {self.logfile.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base}{self.ready_path}", timeout=3).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.service} not ready: {self.logfile.read_text()[-3000:]}")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group started for it (start_new_session)
            self.proc.wait(timeout=5)


def queries(s: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(name, user, path, params)."""
    week = (datetime.now(UTC).date(), datetime.now(UTC).date() + timedelta(days=7))
    return [
        ("default_view_admin", "admin", "/inbox", {}),
        ("default_view_executor", "ejecutivo", "/inbox", {}),
        ("mine_executor", "ejecutiva", "/inbox/mine", {}),
        ("sort_created_desc", "admin", "/inbox", {"sort": "-created"}),
        ("sort_priority", "admin", "/inbox", {"sort": "priority"}),
        ("sort_deadline_desc", "admin", "/inbox", {"sort": "-deadline"}),
        ("filter_type", "admin", "/inbox", {"type": "documentacion"}),
        ("filter_category_level1", "admin", "/inbox", {"category": "administracion"}),
        ("filter_category_level3", "admin", "/inbox", {"category": "documentacion/escrituras/copia"}),
        ("filter_area", "admin", "/inbox", {"area": "administracion"}),
        ("filter_project", "admin", "/inbox", {"project": "condominio-el-mirador"}),
        ("filter_channel_rare", "admin", "/inbox", {"channel": "carta"}),
        ("filter_association", "admin", "/inbox", {"association": "non_owner"}),
        ("filter_responsible", "admin", "/inbox", {"responsible": s["agent"]}),
        ("filter_priority_urgent", "admin", "/inbox", {"priority": "urgent"}),
        ("filter_status_new_exec", "admin", "/inbox", {"status": ["new", "in_execution"]}),
        ("filter_status_finished_failure", "admin", "/inbox", {"status": "finished_failure"}),
        ("filter_due_next_week", "admin", "/inbox", {"due_from": week[0].isoformat(), "due_to": week[1].isoformat()}),
        ("filter_overdue", "admin", "/inbox", {"overdue": "true"}),
        ("filter_on_time", "admin", "/inbox", {"overdue": "false"}),
        ("filter_combined", "admin", "/inbox", {"area": "posventa", "channel": "telefono", "overdue": "true",
                                                 "priority": "normal"}),
        ("search_surname", "admin", "/inbox", {"q": ["contreras", "sepúlveda", "valenzuela", "figueroa"]}),
        ("search_full_name", "admin", "/inbox", {"q": ["héctor núñez", "maría gonzález", "josé rojas"]}),
        ("search_phone", "admin", "/inbox", {"q": s["phone"][:4] + " " + s["phone"][4:]}),
        ("search_email", "admin", "/inbox", {"q": s["email"]}),
        ("search_number", "admin", "/inbox", {"q": s["number"]}),
        ("search_subject_word", "admin", "/inbox", {"q": "filtración"}),
        ("search_national_id", "admin", "/inbox", {"q": s["rut"]}),
        ("search_no_match", "admin", "/inbox", {"q": "zzyzx"}),
        ("search_surname_all_statuses", "admin", "/inbox", {"q": ["contreras", "valenzuela"], "status": list(EVERY)}),
        ("search_executor", "ejecutivo", "/inbox", {"q": ["contreras", "valenzuela"]}),
        ("deep_page_100k_by_deadline", "admin", "/inbox", {"cursor": s["deep"]["deadline_100k"]}),
        ("deep_page_500k_all_by_created", "admin", "/inbox", {"cursor": s["deep"]["created_500k"], "sort": "created",
                                                               "status": list(EVERY)}),
        ("deep_page_100k_with_total", "admin", "/inbox", {"cursor": s["deep"]["deadline_100k"], "count": "true"}),
    ]


def measure(base: str, tokens: dict[str, str], qs: list[tuple[str, str, str, dict[str, Any]]],
            reps: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        for name, user, path, params in qs:
            variants = [params]
            for key, value in params.items():  # a list of alternatives for q: rotate through them
                if key == "q" and isinstance(value, list):
                    variants = [{**params, "q": v} for v in value]
            times = []
            first: dict[str, Any] = {}
            for i in range(reps + 2):
                p = variants[i % len(variants)]
                t = time.perf_counter()
                r = client.get(path, params=p, headers={"Authorization": f"Bearer {tokens[user]}"})
                ms = (time.perf_counter() - t) * 1000
                if r.status_code != 200:
                    raise RuntimeError(f"{name}: {r.status_code} {r.text[:500]}")
                if i == 0:
                    body = r.json()
                    first = {"items": len(body["items"]), "total": body["total"], "exact": body["total_exact"]}
                if i >= 2:
                    times.append(ms)
            out[name] = {"p50_ms": pct(times, 0.5), "p95_ms": pct(times, 0.95), "max_ms": round(max(times), 2),
                         **first}
            log(f"  {name:34s} p50 {out[name]['p50_ms']:7.2f}  p95 {out[name]['p95_ms']:7.2f} ms  "
                f"items {first['items']:3d}  total {first['total']} {'' if first['exact'] in (True, None) else '(est.)'}")
    return out


async def plans(url: str, s: dict[str, Any], tenant_users: dict[str, uuid.UUID]) -> dict[str, str]:
    db = Database(url, "intake", outbox, pool_size=1)
    now = datetime.now(UTC)
    admin = Principal(tenant=TENANT, roles=frozenset({Role.ADMIN}))
    executor = Principal(tenant=TENANT, roles=frozenset({Role.EXECUTOR}), user_id=tenant_users["ejecutivo"])
    nid_words, nid_key = search_terms(s["rut"], "CL", [])
    wanted = {
        "default_view": (iq.InboxQuery(tenant=TENANT, now=now), admin),
        "default_view_executor": (iq.InboxQuery(tenant=TENANT, now=now), executor),
        "text_search": (iq.InboxQuery(tenant=TENANT, now=now, words=("contreras",)), admin),
        "text_search_all_statuses": (iq.InboxQuery(tenant=TENANT, now=now, statuses=EVERY, words=("contreras",)),
                                     admin),
        "search_national_id": (iq.InboxQuery(tenant=TENANT, now=now, words=nid_words, national_id_key=nid_key),
                               admin),
        "filter_priority_urgent": (iq.InboxQuery(tenant=TENANT, now=now, priorities=("urgent",)), admin),
        "filter_category_level3": (iq.InboxQuery(tenant=TENANT, now=now,
                                                 category=("documentacion", "escrituras", "copia")), admin),
        "deep_page_100k": (iq.InboxQuery(tenant=TENANT, now=now, after=iq.decode_cursor(
            s["deep"]["deadline_100k"], "deadline")), admin),
    }
    out = {}
    try:
        async with db.engine.connect() as conn:
            await iq.no_jit(conn)
            for name, (q, p) in wanted.items():
                out[name] = await iq.explain_analyze(conn, q, p)
                if not q.after:
                    out[name + " (total)"] = await iq.explain_analyze(conn, q, p, total=True)
    finally:
        await db.dispose()
    return out


async def broker_cleanup(ns: str) -> list[str]:
    from pipeline import delete_broker_names  # bench/pipeline.py

    from shared.messaging.topology import Topology
    from shared.settings import Settings

    t = Topology(ns)
    queues = {t.unrouted}
    for svc in ("intake", "workflow", "notifier", "reporting"):
        queues |= {t.queue(svc), t.dead_letter_queue(svc)} | {t.retry_queue(svc, d) for d in Settings().retry_delays_s}
    return await delete_broker_names(AMQP_URL, sorted(queues), [t.events_exchange, t.unrouted])


def record(result: dict[str, Any], ns: str, started: float, name: str) -> None:
    """The end of every benchmark run: delete its broker names, note the wall time, append the
    result to bench/results/<name>.jsonl and print it."""
    try:
        result["broker_deleted"] = len(asyncio.run(broker_cleanup(ns)))
    except Exception as exc:  # noqa: BLE001 - report, do not mask the run's own error
        result["broker_cleanup_error"] = repr(exc)
    result["wall_s"] = round(time.monotonic() - started, 1)
    line = json.dumps(result, ensure_ascii=False)
    with open(RESULTS / f"{name}.jsonl", "a") as f:
        f.write(line + "\n")
    print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--noise", type=int, default=100_000, help="cases of another tenant")
    ap.add_argument("--reps", type=int, default=25)
    ap.add_argument("--keep", action="store_true", help="keep the database")
    a = ap.parse_args()
    run_id = uuid.uuid4().hex[:8]
    db_name = f"atiende_bench_inbox_{run_id}"
    ns = f"benchinbox{run_id}"
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db_name}"
    RESULTS.mkdir(exist_ok=True)
    logfile = RESULTS / f"inbox-intake-{run_id}.log"
    env = {**os.environ, "ATIENDE_DATABASE_URL": url, "ATIENDE_AMQP_URL": AMQP_URL, "ATIENDE_NAMESPACE": ns,
           "ATIENDE_TOKEN_SECRET": secrets.token_urlsafe(36), "ATIENDE_LOG_LEVEL": "WARNING"}
    server = Server(env, logfile)
    started = time.monotonic()
    result: dict[str, Any] = {"bench": "inbox", "run": run_id, "at": datetime.now(UTC).isoformat(timespec="seconds"),
                              "size": a.size, "noise": a.noise, "reps": a.reps, "cpu_cores": os.cpu_count()}
    created = False
    try:
        async def create() -> None:
            c = await asyncpg.connect(PG + "postgres")
            try:
                await c.execute(f'CREATE DATABASE "{db_name}"')
            finally:
                await c.close()

        asyncio.run(create())
        created = True
        log(f"run {run_id}: database {db_name}, namespace {ns}")
        r = subprocess.run([sys.executable, "-m", "atiende", "migrate", "intake", "--seed"], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"migrate failed: {r.stdout[-2000:]}{r.stderr[-3000:]}")
        log(f"loading {a.size:,} cases (+{a.noise:,} of another tenant)…")
        result["data"] = asyncio.run(load(PG + db_name, a.size, a.noise))
        log(f"  loaded: {json.dumps(result['data']['timings'])}")
        s = asyncio.run(samples(PG + db_name))
        server.start()
        tokens = {}
        for user in ("admin", "ejecutiva", "ejecutivo"):
            resp = httpx.post(f"{server.base}/auth/token", data={"username": demo_email(user, TENANT),
                                                                 "password": DEMO_PASSWORD, "tenant": TENANT})
            resp.raise_for_status()
            tokens[user] = resp.json()["access_token"]

        async def user_ids() -> dict[str, uuid.UUID]:
            c = await asyncpg.connect(PG + db_name)
            try:
                rows = await c.fetch("SELECT email, id FROM intake.users WHERE tenant = $1", TENANT)
            finally:
                await c.close()
            return {row["email"].split("@")[0]: row["id"] for row in rows}

        log(f"measuring ({a.reps} requests each, after 2 warm-up)…")
        result["queries"] = measure(server.base, tokens, queries(s), a.reps)
        found = asyncio.run(plans(url, s, asyncio.run(user_ids())))
        plan_file = RESULTS / f"inbox-plans-{run_id}.txt"
        plan_file.write_text("".join(f"== {k}\n{v}\n\n" for k, v in found.items()))
        result["plans_file"] = str(plan_file.relative_to(ROOT))
        result["plan_nodes"] = {k: [ln.strip() for ln in v.splitlines() if "Scan" in ln or "Sort" in ln][:6]
                                for k, v in found.items()}
    finally:
        server.stop()
        if created and not a.keep:
            async def drop() -> None:
                c = await asyncpg.connect(PG + "postgres")
                try:
                    await c.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
                finally:
                    await c.close()

            asyncio.run(drop())
        record(result, ns, started, "inbox")
    qs = result.get("queries", {})
    if qs:
        log("p50 ≤ {:.1f} ms, p95 ≤ {:.1f} ms over {} queries; wall {:.0f} s".format(
            max(v["p50_ms"] for v in qs.values()), max(v["p95_ms"] for v in qs.values()), len(qs),
            result["wall_s"]))


if __name__ == "__main__":
    main()

"""``atiende`` command line.

  atiende run                      all four services in one process (embedded default: SQLite
                                   files under var/, in-process bus, mail into var/mail/)
  atiende serve SERVICE            one service per process (needs ATIENDE_AMQP_URL and
                                   ATIENDE_DATABASE_URL: the RabbitMQ + PostgreSQL deployment)
  atiende serve console            the agents' console, on the API at ATIENDE_CONSOLE_API_URL
  atiende migrate [SERVICE…]       apply migrations (all services by default); --seed loads demo data;
                                   first waits for PostgreSQL and RabbitMQ (--wait-attempts, --wait-delay)
  atiende seed                     load the demo tenants, case types and users (idempotent)
  atiende tenant create …          a new tenant and its first admin (who gets a set-up link by e-mail)
  atiende api-key create …         an API key for a tenant's integration (printed once)
  atiende dlq list SERVICE         show dead letters of a service
  atiende dlq replay SERVICE       send them back to the service's queue (--id to pick)
  atiende deliveries unknown       notifier's deliveries in doubt (claimed, lease expired), stale or failed
  atiende reporting rebuild        empty reporting's read models and replay its event log (progress shown;
                                   stop reporting's consumers first)
  atiende contracts [--check]      write the event contracts: docs/asyncapi.yaml, docs/events/schemas/*.json
  atiende broker-definitions [--check]
                                   write deploy/rabbitmq/definitions.json (RabbitMQ definitions: the queues,
                                   exchanges and bindings the services declare, and ops policies)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable

from shared.logs import configure_logging
from shared.messaging.bus import Bus
from shared.one_origin import OneOrigin
from shared.runtime import ServiceRuntime, make_bus
from shared.settings import SERVICE_PORTS, Settings

CONSOLE_PORT = 8005  # `atiende serve console` (docker-compose's console service)


def _builders() -> dict[str, Callable[..., ServiceRuntime]]:
    from services.intake.bootstrap import build as intake
    from services.notifier.bootstrap import build as notifier
    from services.reporting.bootstrap import build as reporting
    from services.workflow.bootstrap import build as workflow

    return {"intake": intake, "workflow": workflow, "notifier": notifier, "reporting": reporting}


async def seed(rt: ServiceRuntime) -> int:
    from services.intake.seed import DEMO_TENANTS, load_tenants
    from services.intake.seed_parties import load_parties

    return await load_tenants(rt.db, DEMO_TENANTS) + await load_parties(rt.db)


async def run_embedded(settings: Settings, host: str, do_seed: bool) -> None:
    import uvicorn

    from services.intake.seed import DEMO_PASSWORD

    bus = make_bus(settings)
    runtimes = {name: build(settings, bus=bus) for name, build in _builders().items()}
    await bus.start()
    for name, rt in runtimes.items():  # bindings first: no event published at start goes unrouted
        await bus.declare(name, rt.processor.event_types)
    for rt in runtimes.values():
        await rt.start()
    if do_seed:
        await seed(runtimes["intake"])
    # Intake's port is the one origin for frontends: every service's paths (shared/one_origin.py).
    from console.app import create_app as create_console

    # The console calls the API of this same origin over loopback, as a browser's frontend would.
    api_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    console = create_console(f"http://{api_host}:{SERVICE_PORTS['intake']}")
    one_origin = OneOrigin({**{name: rt.app for name, rt in runtimes.items()}, "console": console})
    servers = [uvicorn.Server(uvicorn.Config(one_origin if name == "intake" else rt.app, host=host,
                                             port=SERVICE_PORTS[name], log_config=None, access_log=False,
                                             lifespan="on"))
               for name, rt in runtimes.items()]
    mode = "RabbitMQ" if settings.amqp_url else "embedded (SQLite + in-process bus)"
    base = f"http://{host}:{SERVICE_PORTS['intake']}"
    mail = settings.smtp_host and f"SMTP {settings.smtp_host}:{settings.smtp_port}" or f"folder {settings.mail_dir}"
    print(f"""
Atiende is running — {mode}; e-mail to {mail}.
  agents' console:      {base}/console/  (log in as below: tenant, e-mail, password)
  one origin:           {base}  (intake's API, /notifications (SSE: /notifications/stream),
                        /deliveries, /reports, /deadlines: one token)
  intake (public API):  {base}/docs
  workflow:             http://{host}:{SERVICE_PORTS['workflow']}/docs
  notifier:             http://{host}:{SERVICE_PORTS['notifier']}/docs
  reporting:            http://{host}:{SERVICE_PORTS['reporting']}/docs
Log in as a demo admin (every demo user's password: {DEMO_PASSWORD}):
  TOKEN=$(curl -s {base}/auth/token -d username=admin@inmobiliaria-demo.atiende.cl \\
    -d password={DEMO_PASSWORD} -d tenant=inmobiliaria-demo | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
Create a first case:
  curl -s -X POST {base}/cases -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{{
    "type": "consulta-general", "subject": "Copia de escritura", "description": "El propietario pide copia.",
    "contact": {{"name": "Héctor Contreras", "email": "hector@example.cl"}},
    "responsible_email": "ejecutiva@inmobiliaria-demo.atiende.cl"}}'
Then GET {base}/cases/<id> (same header) shows its deadline; e-mails land in the mail folder or SMTP server.
Ctrl-C stops.""", flush=True)
    try:
        await asyncio.gather(*(s.serve() for s in servers))
    finally:
        for rt in runtimes.values():
            await rt.stop()
        await bus.close()


class NotReachable(Exception):
    """A backend did not answer within the bounded retries (the message says which and where)."""


def _where(url: str) -> str:
    """host:port of a URL, without credentials (for messages)."""
    from urllib.parse import urlsplit

    u = urlsplit(url.replace("+asyncpg", ""))
    return f"{u.hostname}:{u.port or ''}".rstrip(":")


async def _probe_postgres(url: str, timeout_s: float) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=timeout_s)
    await conn.close()


async def _probe_rabbitmq(url: str, timeout_s: float) -> None:
    import logging

    import aio_pika

    quiet = logging.getLogger("aiormq.connection")  # it logs each refused connect itself
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        conn = await aio_pika.connect(url, timeout=timeout_s)
        await conn.close()
    finally:
        quiet.setLevel(level)


async def wait_for_backends(settings: Settings, attempts: int, delay_s: float) -> None:
    """Wait until PostgreSQL and RabbitMQ answer (compose may start `migrate` while the broker is
    still booting): one line per failed attempt on stderr, ``NotReachable`` after ``attempts``."""
    probes = [(name, url, fn) for name, url, fn in (("PostgreSQL", settings.database_url, _probe_postgres),
                                                     ("RabbitMQ", settings.amqp_url, _probe_rabbitmq)) if url]
    for name, url, probe in probes:
        for attempt in range(1, attempts + 1):
            try:
                await asyncio.wait_for(probe(url, 5.0), 10.0)
                break
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}".strip().rstrip(":")[:200]
                print(f"waiting for {name} at {_where(url)} (attempt {attempt}/{attempts}): {reason}",
                      file=sys.stderr, flush=True)
                if attempt == attempts:
                    raise NotReachable(f"atiende migrate: {name} at {_where(url)} is not reachable after "
                                       f"{attempts} attempts; is it running, and is the URL right?") from None
                await asyncio.sleep(delay_s)


async def migrate(settings: Settings, names: list[str], do_seed: bool, *, wait_attempts: int = 30,
                  wait_delay_s: float = 2.0) -> None:
    """Migrate each service's schema and declare its queues and bindings on the bus, so events
    published before a service's first start wait for it instead of going unrouted. Waits for
    the backends first (bounded)."""
    await wait_for_backends(settings, wait_attempts, wait_delay_s)
    builders = _builders()
    bus = make_bus(settings)
    await bus.start()
    try:
        for name in names or list(builders):
            rt = builders[name](settings, bus=bus)
            try:
                await rt.db.migrate(rt.migrations)
                await bus.declare(name, rt.processor.event_types)
                print(f"{name}: migrated; queue and bindings declared")
                if do_seed and name == "intake":
                    print(f"intake: {await seed(rt)} demo rows added")
            finally:
                await rt.db.dispose()
    finally:
        await bus.close()


async def tenant_create(settings: Settings, a: argparse.Namespace) -> None:
    from services.intake.api.tenants import TenantIn, create_tenant_with_admin

    body = TenantIn(slug=a.slug, name=a.name, country=a.country, timezone=a.timezone, language=a.language,
                    admin_email=a.admin_email, admin_name=a.admin_name)
    rt = _builders()["intake"](settings)
    try:
        await rt.db.migrate(rt.migrations)
        out = await create_tenant_with_admin(rt, body)
        print(f"tenant {out.slug} created; {a.admin_email} will receive a password set-up link "
              "(sent by notifier once the services run)")
    finally:
        await rt.db.dispose()


async def api_key_create(settings: Settings, tenant: str, name: str) -> None:
    import uuid

    from sqlalchemy import insert

    from services.intake.adapters.credentials import digest, new_api_key
    from services.intake.adapters.db import api_keys
    from shared.db import utcnow

    rt = _builders()["intake"](settings)
    key = new_api_key()
    try:
        async with rt.db.engine.begin() as conn:
            await conn.execute(insert(api_keys), {"id": uuid.uuid4(), "tenant": tenant, "name": name,
                                                  "prefix": key[:10], "key_hash": digest(key), "created_by": None,
                                                  "created_at": utcnow(), "last_used_at": None, "revoked_at": None})
        print(key)
    finally:
        await rt.db.dispose()


async def dlq(settings: Settings, action: str, service: str, ids: list[str] | None) -> None:
    bus: Bus = make_bus(settings)
    await bus.start()
    try:
        if action == "list":
            for d in await bus.dead_letters(service, limit=1000):
                print(json.dumps({"id": d.id, "type": d.type, "attempts": d.attempts, "error": d.error}))
        else:
            n = await bus.replay_dead_letters(service, ids)
            print(f"{n} message(s) sent back to {service}")
    finally:
        await bus.close()


async def deliveries_unknown(settings: Settings, tenant: str | None, limit: int) -> None:
    from datetime import timedelta

    from services.notifier.sweeper import stats, unsettled

    rt = _builders()["notifier"](settings)
    lease = timedelta(seconds=settings.delivery_lease_s)
    try:
        async with rt.db.read() as conn:
            for line in await unsettled(conn, lease, tenant=tenant, limit=limit):
                print(json.dumps(line, ensure_ascii=False))
            print(json.dumps(await stats(conn, lease)), file=sys.stderr)  # the totals
    finally:
        await rt.db.dispose()


async def reporting_rebuild(settings: Settings, batch: int) -> None:
    from services.reporting.service_layer.rebuild import rebuild

    def shown(done: int, total: int) -> None:
        print(f"reporting rebuild: {done}/{total} events", file=sys.stderr, flush=True)

    rt = _builders()["reporting"](settings)
    try:
        n = await rebuild(rt.db, batch=batch, progress=shown)
        print(f"{n} event(s) replayed")
    finally:
        await rt.db.dispose()


BROKER_DEFINITIONS = "deploy/rabbitmq/definitions.json"


def broker_definitions(path: str, namespace: str, vhost: str, check: bool) -> bool:
    """Write (or with ``check`` only compare) the definitions file; returns whether it was stale."""
    from pathlib import Path

    from atiende.contracts import ROOT, service_subscriptions
    from shared.messaging.definitions import default_retry_delays, definitions, to_text

    text = to_text(definitions(service_subscriptions(), namespace=namespace, vhost=vhost,
                               retry_delays_s=default_retry_delays()))
    out = Path(path) if Path(path).is_absolute() else ROOT / path
    if out.exists() and out.read_text(encoding="utf-8") == text:
        return False
    if not check:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="atiende", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run", help="all services in one process (embedded default)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--no-seed", action="store_true")
    p = sub.add_parser("serve", help="one service (RabbitMQ + PostgreSQL deployment)")
    p.add_argument("service", choices=[*SERVICE_PORTS, "console"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int, default=1)
    p = sub.add_parser("migrate", help="apply migrations")
    p.add_argument("services", nargs="*", choices=[[], *SERVICE_PORTS], default=[])
    p.add_argument("--seed", action="store_true")
    p.add_argument("--wait-attempts", type=int, default=30, help="tries to reach PostgreSQL and RabbitMQ (30)")
    p.add_argument("--wait-delay", type=float, default=2.0, help="seconds between tries (2)")
    sub.add_parser("seed", help="load demo tenants and case types")
    p = sub.add_parser("tenant", help="tenants")
    p.add_argument("action", choices=["create"])
    p.add_argument("--slug", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--country", required=True, help="ISO 3166 code, e.g. CL (drives holidays)")
    p.add_argument("--timezone", required=True, help="IANA zone, e.g. America/Santiago")
    p.add_argument("--language", default="es", choices=["es", "en"])
    p.add_argument("--admin-email", required=True)
    p.add_argument("--admin-name", required=True)
    p = sub.add_parser("api-key", help="API keys for integrations")
    p.add_argument("action", choices=["create"])
    p.add_argument("--tenant", required=True)
    p.add_argument("--name", required=True)
    p = sub.add_parser("dlq", help="dead letters")
    p.add_argument("action", choices=["list", "replay"])
    p.add_argument("service", choices=list(SERVICE_PORTS))
    p.add_argument("--id", action="append", dest="ids")
    p = sub.add_parser("deliveries", help="notifier's deliveries in doubt or failed (one JSON line each)")
    p.add_argument("action", choices=["unknown"])
    p.add_argument("--tenant")
    p.add_argument("--limit", type=int, default=500)
    p = sub.add_parser("contracts", help="write docs/asyncapi.yaml and docs/events/schemas (--check: only compare)")
    p.add_argument("--check", action="store_true", help="exit 1 if a committed file differs from the models")
    p = sub.add_parser("broker-definitions", help=f"write {BROKER_DEFINITIONS} (--check: only compare)")
    p.add_argument("--namespace", default="atiende")
    p.add_argument("--vhost", default="/")
    p.add_argument("--output", default=BROKER_DEFINITIONS)
    p.add_argument("--check", action="store_true", help="exit 1 if the file differs from the declared topology")
    p = sub.add_parser("reporting", help="reporting's read models")
    p.add_argument("action", choices=["rebuild"])
    p.add_argument("--batch", type=int, default=500, help="events per transaction (500)")
    a = ap.parse_args(argv)
    if a.cmd == "contracts":  # before Settings(): it needs no configuration
        from atiende import contracts

        changed = contracts.write(check=a.check)
        print("\n".join(changed) or "event contracts up to date")
        if a.check and changed:
            sys.exit(1)
        return
    if a.cmd == "broker-definitions":  # needs no configuration either
        stale = broker_definitions(a.output, a.namespace, a.vhost, a.check)
        print(f"{a.output}: " + ("stale" if a.check and stale else "written" if stale else "up to date"))
        if a.check and stale:
            sys.exit(1)
        return
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    starts_services = a.cmd in ("run", "migrate", "seed") or (a.cmd == "serve" and a.service != "console")
    if starts_services and (problems := settings.secret_problems()):
        # Outside the embedded mode no secret may stay at its default (one line per variable).
        sys.exit("refusing to start: " + "\n  ".join(["insecure secrets (see deploy/atiende.env.example):",
                                                       *problems]))

    if a.cmd == "run":
        try:
            asyncio.run(run_embedded(settings, a.host, not a.no_seed))
        except KeyboardInterrupt:
            pass
    elif a.cmd == "serve" and a.service == "console":  # a frontend: no database, no broker
        import uvicorn

        uvicorn.run("console.app:from_env", factory=True, host=a.host, port=a.port or CONSOLE_PORT,
                    workers=a.workers, log_config=None, access_log=False)
    elif a.cmd == "serve":
        if not settings.amqp_url or not settings.database_url:
            sys.exit("atiende serve needs ATIENDE_AMQP_URL and ATIENDE_DATABASE_URL "
                     "(see deploy/atiende.env.example); for one process without servers use `atiende run`.")
        import uvicorn

        uvicorn.run(f"services.{a.service}.bootstrap:create_app", factory=True, host=a.host,
                    port=a.port or SERVICE_PORTS[a.service], workers=a.workers, log_config=None, access_log=False)
    elif a.cmd in ("migrate", "seed"):
        names, do_seed = (list(a.services), a.seed) if a.cmd == "migrate" else (["intake"], True)
        attempts, delay = (a.wait_attempts, a.wait_delay) if a.cmd == "migrate" else (30, 2.0)
        try:
            asyncio.run(migrate(settings, names, do_seed, wait_attempts=max(1, attempts), wait_delay_s=delay))
        except NotReachable as exc:
            sys.exit(str(exc))  # a clear line and exit code 1, no traceback
    elif a.cmd == "tenant":
        asyncio.run(tenant_create(settings, a))
    elif a.cmd == "api-key":
        asyncio.run(api_key_create(settings, a.tenant, a.name))
    elif a.cmd == "dlq":
        asyncio.run(dlq(settings, a.action, a.service, a.ids))
    elif a.cmd == "deliveries":
        asyncio.run(deliveries_unknown(settings, a.tenant, a.limit))
    elif a.cmd == "reporting":
        asyncio.run(reporting_rebuild(settings, max(1, a.batch)))

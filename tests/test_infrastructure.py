"""Migrations, broker topology and timers against the real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aio_pika
import asyncpg
import pytest
from sqlalchemy import func, select

from services.intake.adapters.db import cases
from services.workflow.adapters.db import outbox as wf_outbox
from services.workflow.adapters.db import timers
from services.workflow.bootstrap import MIGRATIONS as WF_MIGRATIONS
from shared.db import Database, utcnow
from shared.messaging.topology import Topology
from shared.settings import Settings
from shared.timers import TimerPoller, cancel, schedule
from tests.conftest import AMQP_URL, TEST_RETRY_DELAYS, TOKEN_SECRET
from tests.support.system import System, case_body

pytestmark = pytest.mark.integration


def heads(script_location: object) -> set[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    return set(ScriptDirectory.from_config(cfg).get_heads())


async def test_each_service_migrates_into_its_own_schema_idempotently(pg_database: str) -> None:
    system = System(Settings(database_url=pg_database, amqp_url=AMQP_URL, token_secret=TOKEN_SECRET))
    for rt in system.rt.values():  # already at head (cloned template): a second run changes nothing
        await rt.db.migrate(rt.migrations)
        await rt.db.dispose()
    conn = await asyncpg.connect(pg_database.replace("+asyncpg", ""))
    try:
        rows = await conn.fetch("SELECT table_schema, table_name FROM information_schema.tables "
                                "WHERE table_schema IN ('intake','workflow','notifier','reporting')")
        by_schema: dict[str, set[str]] = {}
        for r in rows:
            by_schema.setdefault(r["table_schema"], set()).add(r["table_name"])
        for svc in ("intake", "workflow", "notifier", "reporting"):
            assert {"alembic_version", "outbox", "inbox"} <= by_schema[svc], svc
            applied = {r["version_num"] for r in await conn.fetch(f"SELECT version_num FROM {svc}.alembic_version")}
            assert applied == heads(system.rt[svc].migrations)
        assert "timers" in by_schema["workflow"] and "cases" in by_schema["intake"]
        assert "deliveries" in by_schema["notifier"] and "case_facts" in by_schema["reporting"]
        assert await conn.fetchval("SELECT count(*) FROM information_schema.tables WHERE table_schema='public' "
                                   "AND table_name='alembic_version'") == 0
    finally:
        await conn.close()


async def test_replicas_starting_together_migrate_a_fresh_database_once(template_db: str) -> None:
    import uuid

    from tests.conftest import _raw_dsn, pg_url_for
    name = f"atiende_fresh_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(_raw_dsn())
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dbs = [Database(pg_url_for(name), "workflow", wf_outbox) for _ in range(3)]
        await asyncio.gather(*(db.migrate(WF_MIGRATIONS) for db in dbs))  # advisory lock serialises them
        async with dbs[0].engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(timers))).scalar_one() == 0
        for db in dbs:
            await db.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_topology_is_declared_with_clear_names_and_dead_lettering(rabbit_system: System,
                                                                       rabbit_settings: Settings) -> None:
    t = Topology(rabbit_settings.namespace)
    conn = await aio_pika.connect(AMQP_URL)
    try:
        ch = await conn.channel()
        for svc in ("intake", "workflow", "notifier", "reporting"):
            q = await ch.declare_queue(t.queue(svc), passive=True)
            assert q.declaration_result.consumer_count == 1, svc
            await ch.declare_queue(t.dead_letter_queue(svc), passive=True)
            for d in TEST_RETRY_DELAYS:
                await ch.declare_queue(t.retry_queue(svc, d), passive=True)
        await ch.declare_exchange(t.events_exchange, passive=True)
        await ch.declare_queue(t.unrouted, passive=True)
    finally:
        await conn.close()


async def test_timers_fire_when_due_once_even_with_competing_pollers(pg_database: str) -> None:
    db = Database(pg_database, "workflow", wf_outbox)
    fired: list[str] = []

    async def fire(tx, row) -> None:  # type: ignore[no-untyped-def]
        fired.append(row.subject)

    now = utcnow()
    async with db.transaction() as tx:
        for i in range(300):
            await schedule(tx, timers, kind="test.kind", tenant="t", subject=f"due-{i}", due_at=now - timedelta(1),
                           payload={})
        await schedule(tx, timers, kind="test.kind", tenant="t", subject="later", due_at=now + timedelta(days=3),
                       payload={})
        await schedule(tx, timers, kind="test.kind", tenant="t", subject="moved", due_at=now - timedelta(1), payload={})
        await schedule(tx, timers, kind="test.kind", tenant="t", subject="moved", due_at=now + timedelta(days=1),
                       payload={})
        await schedule(tx, timers, kind="test.kind", tenant="t", subject="cancelled", due_at=now, payload={})
        await cancel(tx, timers, kind="test.kind", subject="cancelled")
    pollers = [TimerPoller(db, timers, {"test.kind": fire}, batch=50) for _ in range(3)]

    async def drain(p: TimerPoller) -> None:
        while await p.fire_due():
            pass

    await asyncio.gather(*(drain(p) for p in pollers))
    assert sorted(fired) == sorted(f"due-{i}" for i in range(300))  # each once; not later/moved/cancelled
    assert sum(p.fired for p in pollers) == 300
    await db.dispose()


async def test_a_request_that_cannot_get_a_database_connection_is_shed_with_503(pg_database: str,
                                                                                 namespace: str) -> None:
    """Beyond the pool, a request waits db_pool_timeout_s and is answered 503 + Retry-After as a
    problem document (es/en) instead of hanging or failing with 500; nothing is stored, and the
    same request succeeds once a connection is free."""
    from tests.conftest import make_settings

    settings = make_settings(database_url=pg_database, amqp_url=AMQP_URL, namespace=namespace,
                             db_pool_size=1, db_pool_timeout_s=0.3)
    s = await System(settings, services=("intake",)).start()
    try:
        auth = await s.auth("admin")
        db = s.rt["intake"].db
        async with db.read() as conn:
            before = await conn.scalar(select(func.count()).select_from(cases))
        held = await db.engine.connect()  # the pool's only connection, busy
        await held.exec_driver_sql("SELECT 1")
        try:
            for lang, text in (("es-CL", "Reintente"), ("en", "Retry")):
                r = await s.intake.post("/cases", json=case_body(1), headers={**auth, "Accept-Language": lang})
                assert r.status_code == 503, r.text
                assert r.headers["retry-after"] == "1"
                assert r.headers["content-type"].startswith("application/problem+json")
                assert r.json()["type"].endswith("/overloaded") and text in r.json()["detail"]
        finally:
            await held.close()
        async with db.read() as conn:
            assert await conn.scalar(select(func.count()).select_from(cases)) == before
        assert (await s.intake.post("/cases", json=case_body(1), headers=auth)).status_code == 201
    finally:
        await s.stop()


async def test_while_the_database_is_unreachable_requests_are_answered_503_with_retry_after(
        pg_database: str, namespace: str) -> None:
    """PostgreSQL down or restarting (issue 15): a request is answered 503 + Retry-After as a
    problem document (not 500), nothing is stored, and once the database is back the same request
    succeeds by itself — the pool drops connections the server closed."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from tests.conftest import make_settings

    settings = make_settings(database_url=pg_database, amqp_url=AMQP_URL, namespace=namespace)
    s = await System(settings, services=("intake",)).start()
    try:
        auth = await s.auth("admin")
        db = s.rt["intake"].db
        async with db.read() as conn:
            before = await conn.scalar(select(func.count()).select_from(cases))
        engine, reader = db.engine, db._reader
        down = create_async_engine("postgresql+asyncpg://postgres@127.0.0.1:1/atiende")  # nothing listens
        db.engine, db._reader = down, down.execution_options(isolation_level="AUTOCOMMIT")
        try:
            for lang, text in (("es-CL", "no se guardó nada"), ("en", "nothing was stored")):
                r = await s.intake.post("/cases", json=case_body(1), headers={**auth, "Accept-Language": lang})
                assert r.status_code == 503, r.text
                assert int(r.headers["retry-after"]) > 0
                assert r.headers["content-type"].startswith("application/problem+json")
                assert r.json()["type"].endswith("/database-unavailable") and text in r.json()["detail"]
            assert (await s.intake.get("/inbox", headers=auth)).status_code == 503
        finally:
            db.engine, db._reader = engine, reader
            await down.dispose()
        async with db.read() as conn:
            assert await conn.scalar(select(func.count()).select_from(cases)) == before

        # A restart closes every pooled connection under the service's feet.
        dbname = pg_database.rsplit("/", 1)[1]
        admin = await asyncpg.connect(pg_database.replace("postgresql+asyncpg", "postgresql"))
        try:
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = $1 AND pid <> pg_backend_pid()", dbname)
        finally:
            await admin.close()
        statuses = [(await s.intake.post("/cases", json=case_body(2), headers=auth)).status_code for _ in range(3)]
        print("after the restart:", statuses)
        assert set(statuses) <= {201, 503} and statuses[-1] == 201, statuses  # never a 500
    finally:
        await s.stop()

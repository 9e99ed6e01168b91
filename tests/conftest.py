"""Fixtures for tests against real services.

PostgreSQL and RabbitMQ are reached through ``ATIENDE_TEST_DATABASE_URL`` (a server URL; each
test gets a fresh database cloned from a migrated template) and ``ATIENDE_TEST_AMQP_URL``
(each test gets its own namespace, deleted afterwards). Where they are unreachable a test is
skipped on a developer's machine but FAILS in CI (``CI=true``): CI never skips them."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from shared.settings import Settings
from tests.support.browser import browser, site  # noqa: F401  (fixtures of the console's browser tests)
from tests.support.smtp_sink import SmtpSink
from tests.support.system import System

PG_URL = os.environ.get("ATIENDE_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("ATIENDE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
RUN_ID = uuid.uuid4().hex[:8]
TEMPLATE_DB = f"atiende_tpl_{RUN_ID}"


def _raw_dsn(db: str | None = None) -> str:
    url = PG_URL.replace("postgresql+asyncpg://", "postgresql://")
    if db:
        url = url.rsplit("/", 1)[0] + "/" + db
    return url


def _service_missing(what: str, exc: BaseException) -> None:
    msg = f"{what} unreachable ({exc!r})"
    if IN_CI:
        pytest.fail(f"{msg}: integration tests never skip in CI", pytrace=False)
    pytest.skip(msg)


def pg_url_for(db: str) -> str:
    return PG_URL.rsplit("/", 1)[0] + "/" + db


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    """A database with every service's migrations applied; tests clone it (fast)."""

    async def make() -> None:
        conn = await asyncpg.connect(_raw_dsn())
        try:
            await conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
        finally:
            await conn.close()
        s = Settings(database_url=pg_url_for(TEMPLATE_DB), amqp_url=AMQP_URL, token_secret=TOKEN_SECRET)
        system = System(s)
        for rt in system.rt.values():
            await rt.db.migrate(rt.migrations)
            await rt.db.dispose()

    try:
        asyncio.run(_probe_pg())
    except Exception as exc:
        _service_missing("PostgreSQL", exc)
    asyncio.run(make())
    yield TEMPLATE_DB

    async def drop() -> None:
        conn = await asyncpg.connect(_raw_dsn())
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


async def _probe_pg() -> None:
    conn = await asyncpg.connect(_raw_dsn(), timeout=5)
    await conn.close()


async def _probe_amqp() -> None:
    import aio_pika

    conn = await aio_pika.connect(AMQP_URL, timeout=5)
    await conn.close()


@pytest.fixture
async def pg_database(template_db: str) -> AsyncIterator[str]:
    name = f"atiende_t_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(_raw_dsn())
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    finally:
        await conn.close()
    yield pg_url_for(name)
    conn = await asyncpg.connect(_raw_dsn())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def namespace() -> AsyncIterator[str]:
    """A broker namespace of this test; its exchanges and queues are deleted afterwards."""
    try:
        await _probe_amqp()
    except Exception as exc:
        _service_missing("RabbitMQ", exc)
    ns = f"t{uuid.uuid4().hex[:10]}"
    yield ns
    await delete_namespace(ns)


async def delete_namespace(ns: str) -> None:
    import aio_pika

    from shared.messaging.topology import Topology, delay_label

    t = Topology(ns)
    conn = await aio_pika.connect(AMQP_URL)
    try:
        ch = await conn.channel()
        names = [t.unrouted]
        for svc in ("intake", "workflow", "notifier", "reporting"):
            names += [t.queue(svc), t.dead_letter_queue(svc)]
            names += [t.retry_queue(svc, d) for d in TEST_RETRY_DELAYS]
        for q in names:
            await ch.queue_delete(q)
        for x in (t.events_exchange, t.unrouted):
            await ch.exchange_delete(x)
        del delay_label
    finally:
        await conn.close()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


TEST_RETRY_DELAYS = [0.2, 0.5]
TOKEN_SECRET = "test-only-secret-0123456789-abcdefghijklmnop"


def make_settings(**over: object) -> Settings:
    base: dict[str, object] = {"token_secret": TOKEN_SECRET, "retry_delays_s": TEST_RETRY_DELAYS, "max_attempts": 3,
                               "relay_idle_poll_s": 0.2, "db_pool_size": 4,
                               "timer_tick_s": 0.1, "publish_timeout_s": 3.0, "log_json": False}
    base.update(over)
    return Settings(**base)  # type: ignore[arg-type]


@pytest.fixture
def rabbit_settings(pg_database: str, namespace: str, smtp_sink: SmtpSink) -> Settings:
    return make_settings(database_url=pg_database, amqp_url=AMQP_URL, namespace=namespace,
                         smtp_host="127.0.0.1", smtp_port=smtp_sink.port)


@pytest.fixture
def embedded_settings(tmp_path: Path, smtp_sink: SmtpSink) -> Settings:
    return make_settings(database_url="", amqp_url="", data_dir=tmp_path / "var",
                         smtp_host="127.0.0.1", smtp_port=smtp_sink.port)


@pytest.fixture
async def rabbit_system(rabbit_settings: Settings) -> AsyncIterator[System]:
    system = await System(rabbit_settings).start()
    yield system
    await system.stop()


@pytest.fixture
async def embedded_system(embedded_settings: Settings) -> AsyncIterator[System]:
    system = await System(embedded_settings).start()
    yield system
    await system.stop()


@pytest.fixture(autouse=True)
def _real_time_after_each_test() -> Iterator[None]:
    """Tests move time with shared.clock.advance/travel_to; every test ends back at real time."""
    from shared import clock

    yield
    clock.reset()

"""A PostgreSQL that is shutting down or starting up refuses new connections with SQLSTATE 57P03
("the database system is shutting down"), which SQLAlchemy's asyncpg adapter hands over as its
own Error raised from the driver's. The fault campaign (bench/faults.py, issue 15: PostgreSQL
stopped 15 s under load) saw intake answer those requests 500 instead of 503 + Retry-After, so
clients did not retry them with their Idempotency-Key.

Here a loopback server answers every connection exactly as a PostgreSQL shutting down does (no
SSL, then the protocol's ErrorResponse to the start-up message), and intake, otherwise running on
the real PostgreSQL and RabbitMQ, must answer 503 with Retry-After."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from services.intake.adapters.db import cases
from shared.db import Database
from tests.conftest import AMQP_URL, make_settings
from tests.support.system import System, case_body

pytestmark = pytest.mark.integration

SSL_REQUEST, GSSENC_REQUEST = 80877103, 80877104


def _error_response(sqlstate: str, message: str) -> bytes:
    fields = b"".join(tag + value.encode() + b"\0" for tag, value in (
        (b"S", "FATAL"), (b"V", "FATAL"), (b"C", sqlstate), (b"M", message))) + b"\0"
    return b"E" + struct.pack("!i", len(fields) + 4) + fields


@pytest.fixture
async def shutting_down_port() -> AsyncIterator[int]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                length, code = struct.unpack("!ii", await reader.readexactly(8))
                await reader.readexactly(length - 8)
                if code not in (SSL_REQUEST, GSSENC_REQUEST):
                    break  # the start-up message
                writer.write(b"N")  # no encryption offered
                await writer.drain()
            writer.write(_error_response("57P03", "the database system is shutting down"))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def database_at(db: Database, url: str) -> AsyncIterator[None]:
    """The service's engines pointed at ``url`` for a while (its pool as the server left it)."""
    kept = db.engine, db._reader
    engine = create_async_engine(url)
    db.engine, db._reader = engine, engine.execution_options(isolation_level="AUTOCOMMIT")
    try:
        yield
    finally:
        db.engine, db._reader = kept
        await engine.dispose()


def unavailable_problem(r: Response, says: str) -> bool:
    return (r.status_code == 503 and int(r.headers.get("retry-after", "0")) > 0
            and r.headers["content-type"].startswith("application/problem+json")
            and r.json()["type"].endswith("/database-unavailable") and says in r.json()["detail"])


async def test_while_postgresql_shuts_down_a_request_is_answered_503_with_retry_after_not_500(
        pg_database: str, namespace: str, shutting_down_port: int) -> None:
    s = await System(make_settings(database_url=pg_database, amqp_url=AMQP_URL, namespace=namespace),
                     services=("intake",)).start()
    try:
        headers = {**await s.auth("admin"), "Idempotency-Key": "shutting-down-1"}
        db = s.rt["intake"].db
        async with db.read() as conn:
            before = int(await conn.scalar(select(func.count()).select_from(cases)) or 0)
        async with database_at(db, f"postgresql+asyncpg://postgres@127.0.0.1:{shutting_down_port}/atiende"):
            answers = {lang: await s.intake.post("/cases", json=case_body(1), headers={**headers, "Accept-Language": lang})
                       for lang in ("es-CL", "en")}
        assert unavailable_problem(answers["es-CL"], "no se guardó nada"), answers["es-CL"].text
        assert unavailable_problem(answers["en"], "nothing was stored"), answers["en"].text
        # Back: the client's retry with the same key is stored once.
        r = await s.intake.post("/cases", json=case_body(1), headers=headers)
        assert r.status_code == 201, r.text
        async with db.read() as conn:
            assert await conn.scalar(select(func.count()).select_from(cases)) == before + 1
    finally:
        await s.stop()

"""Database access shared by the services: one async engine per service, its own schema.

PostgreSQL (the real deployment): one database, one schema per service (``intake``,
``workflow``...), each with its own Alembic version table. SQLite (embedded mode): one file per
service; the schema name is translated away, so the same tables and migrations serve both.

Services use SQLAlchemy Core on ``AsyncConnection`` (not the ORM unit of work): the hot intake
path costs about half as much that way (see ../shared/bench-limits)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, DateTime, event, insert, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.types import TypeDecorator

from shared import clock, tracing

if TYPE_CHECKING:
    from sqlalchemy import Table

    from shared.contracts.envelope import Envelope

# JSON columns: JSONB on PostgreSQL, JSON text on SQLite.
JsonType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return clock.now()  # tests move it (shared/clock.py)


class Tx:
    """One open transaction of a service: its connection, plus ``emit`` to put events in the
    service's outbox. Events are published by the relay only after this transaction commits."""

    def __init__(self, conn: AsyncConnection, outbox: Table) -> None:
        self.conn = conn
        self._outbox = outbox
        self._pending: list[dict[str, Any]] = []
        self._later: dict[Table, list[dict[str, Any]]] = {}
        self.emitted = 0

    async def emit(self, envelope: Envelope) -> None:
        # Buffered: written in one multi-row INSERT just before the commit (``flush``). Tracing on,
        # the body carries the current span's context (shared/tracing.py: the outbox keeps the trace).
        body = envelope.model_dump_json()
        self._pending.append({"event_id": envelope.id, "type": envelope.type,
                              "body": tracing.stamp(envelope, body) if tracing.ON else body, "created_at": utcnow()})
        self.emitted += 1

    def insert_later(self, table: Table, row: dict[str, Any]) -> None:
        """An INSERT … ON CONFLICT DO NOTHING that nothing in this transaction reads back: sent with
        the others of its table in one statement just before the commit (``flush``), in the order
        given (a batch of events logs them with one round trip instead of one each)."""
        self._later.setdefault(table, []).append(row)

    async def flush(self) -> None:
        while self._later:
            table, rows = self._later.popitem()
            await insert_many_ignoring_duplicates(self.conn, table, rows)
        if self._pending:
            rows, self._pending = self._pending, []
            await self.conn.execute(insert(self._outbox), rows)


class Database:
    """A service's engine and schema; ``transaction()`` is the unit of work."""

    def __init__(self, url: str, schema: str, outbox: Table, *, pool_size: int = 10,
                 pool_timeout_s: float = 5.0) -> None:
        self.schema = schema
        self.outbox = outbox
        self.is_sqlite = url.startswith("sqlite")
        self._on_commit_with_events: list[Any] = []
        if self.is_sqlite:
            engine = create_async_engine(url, connect_args={"timeout": 30})
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            self._base_engine = engine
            # Tables are declared in schema "<service>"; SQLite has one file per service instead.
            self.engine: AsyncEngine = engine.execution_options(schema_translate_map={schema: None})
        else:
            # No pool_pre_ping: it costs three round trips per checkout; stale connections are
            # recycled instead, and a failed statement fails its transaction (retried upstream).
            # JIT off: short OLTP queries; a misestimated cost once made PostgreSQL spend 0.5 s compiling.
            # No overflow: under a burst, overflow connections were opened and closed per request
            # (TLS attempt, codec set-up, every statement prepared again); waiting for one of the
            # pool's connections is far cheaper.
            # Waiting longer than pool_timeout_s raises sqlalchemy.exc.TimeoutError: 503 (shared/problems.py).
            self.engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=pool_timeout_s,
                                              pool_recycle=1800, connect_args={"server_settings": {"jit": "off"}})
            self._base_engine = self.engine
        self._url = url
        self._background: AsyncEngine | None = None
        # Reads outside a unit of work: autocommit, so no BEGIN/ROLLBACK round trips around them
        # (under READ COMMITTED each statement sees its own snapshot either way).
        self._reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    def read(self) -> AsyncConnection:
        """A connection for reads (``async with db.read() as conn``): no transaction around it.
        Writes belong in ``transaction()``."""
        return self._reader.connect()

    def autocommit(self) -> AsyncConnection:
        """A connection where each statement commits on its own (a deliberate one-statement write)."""
        return self._reader.connect()

    @property
    def background_engine(self) -> AsyncEngine:
        """One connection of its own for a background loop (the outbox relay): under a burst of
        requests it must not queue for the pool behind them, or events pile up unpublished."""
        if self.is_sqlite:
            return self.engine
        if self._background is None:
            self._background = create_async_engine(self._url, pool_size=1, max_overflow=0, pool_recycle=1800,
                                                   connect_args={"server_settings": {"jit": "off"}})
        return self._background

    def on_events_committed(self, callback: Any) -> None:
        """Call ``callback()`` after any transaction that emitted events commits (wakes the relay)."""
        self._on_commit_with_events.append(callback)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self.engine.begin() as conn:
            tx = Tx(conn, self.outbox)
            yield tx
            await tx.flush()
        if tx.emitted:
            for cb in self._on_commit_with_events:
                cb()

    async def ping(self) -> None:
        async with self.read() as conn:
            await conn.execute(text("SELECT 1"))

    async def migrate(self, script_location: str | Path) -> None:
        """Apply this service's Alembic migrations (version table in its own schema).

        Safe with several replicas starting at once: on PostgreSQL a transaction-level advisory
        lock per schema serialises them."""
        from alembic import command
        from alembic.config import Config

        def upgrade(sync_conn: Any) -> None:
            cfg = Config()
            cfg.set_main_option("script_location", str(script_location))
            cfg.attributes["connection"] = sync_conn
            cfg.attributes["version_table_schema"] = None if self.is_sqlite else self.schema
            command.upgrade(cfg, "heads")  # several heads are fine (parallel features)

        async with self.engine.begin() as conn:
            if not self.is_sqlite:
                key = int.from_bytes(hashlib.sha256(self.schema.encode()).digest()[:7], "big")
                await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            await conn.run_sync(upgrade)

    async def dispose(self) -> None:
        await self._base_engine.dispose()
        if self._background is not None:
            await self._background.dispose()
            self._background = None


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers run beside the single writer; busy_timeout waits instead of failing.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def new_id() -> uuid.UUID:
    return uuid.uuid4()


async def insert_ignoring_duplicates(conn: AsyncConnection, table: Table, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on either backend; True if a row was inserted."""
    res = await conn.execute(_insert_or_ignore(conn, table), values)
    return bool(res.rowcount)


async def insert_many_ignoring_duplicates(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT … ON CONFLICT DO NOTHING for several rows, sent as one batch."""
    if rows:
        await conn.execute(_insert_or_ignore(conn, table), rows)


async def upsert_newer(conn: AsyncConnection, table: Table, key: str, values: dict[str, Any],
                       newer: str = "updated_at") -> None:
    """Keep the newest copy of a row, in one statement on either backend: insert ``values``, or
    overwrite the row with the same ``key`` if its ``newer`` column is not later than theirs (an
    older copy arriving late changes nothing)."""
    ins = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)
    await conn.execute(ins.on_conflict_do_update(
        index_elements=[table.c[key]], set_={c: ins.excluded[c] for c in values if c != key},
        where=table.c[newer] <= ins.excluded[newer]), values)


_INSERT_OR_IGNORE: dict[tuple[str, Table], Any] = {}


def _insert_or_ignore(conn: AsyncConnection, table: Table) -> Any:
    # Values go as parameters, never inlined with .values(): the statement then compiles once
    # and is reused from SQLAlchemy's cache (inlined multi-row VALUES compiled on every call).
    # The statement object itself is built once per table too (building it and its cache key on
    # every call cost ~0.1 ms: these run for nearly every event a service handles).
    key = (conn.dialect.name, table)
    stmt = _INSERT_OR_IGNORE.get(key)
    if stmt is None:
        dialect_insert = pg_insert if key[0] == "postgresql" else sqlite_insert
        stmt = _INSERT_OR_IGNORE[key] = dialect_insert(table).on_conflict_do_nothing()
    return stmt

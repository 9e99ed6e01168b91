"""Embedded-mode bus: RabbitMQ's semantics that Atiende relies on, in one SQLite file.

Queues, bindings (routing key = event type), retry after a fixed delay, a dead-letter state and
replay all live in tables, so a message the relay handed over is not lost if the process stops:
it is still in ``bus_messages`` when the process comes back. One process only (the embedded
runner owns one ``LocalBus`` and gives it to the four services)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import create_async_engine

from shared import metrics, tracing
from shared.contracts.envelope import Envelope
from shared.db import _sqlite_pragmas
from shared.logs import correlation_id
from shared.messaging.bus import DeadLetter, MessageHandler, OutgoingMessage, PermanentError, describe_error
from shared.messaging.topology import Topology, topic_matches

log = logging.getLogger("atiende.localbus")

_md = MetaData()
bindings = Table("bus_bindings", _md,
                 Column("queue", String(200), primary_key=True),
                 Column("routing_key", String(200), primary_key=True))
messages = Table("bus_messages", _md,
                 Column("id", Integer, primary_key=True, autoincrement=True),
                 Column("queue", String(200), nullable=False, index=True),
                 Column("event_id", String(64), nullable=False),
                 Column("type", String(200), nullable=False),
                 Column("body", LargeBinary, nullable=False),
                 Column("attempt", Integer, nullable=False, default=1),
                 Column("available_at", Integer, nullable=False),  # epoch milliseconds
                 Column("dead", Integer, nullable=False, default=0),
                 Column("error", Text, nullable=True))


def _now_ms() -> int:
    return int(time.time() * 1000)


class LocalBus:
    messaging_system = "atiende.local"  # for traces (shared/tracing.py)

    def __init__(self, path: Path, namespace: str = "atiende", *, prefetch: int = 50,
                 retry_delays_s: list[float] | None = None, max_attempts: int = 4, batch: int = 50) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.topology = Topology(namespace)
        self.engine = create_async_engine(f"sqlite+aiosqlite:///{path.resolve()}", connect_args={"timeout": 30})
        from sqlalchemy import event
        event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.prefetch = prefetch
        self.batch = batch
        self.retry_delays_s = retry_delays_s or [5.0, 60.0, 600.0]
        self.max_attempts = max_attempts
        self._routes: dict[str, set[str]] = defaultdict(set)
        self._wake: dict[str, asyncio.Event] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._listeners: list[tuple[list[str], MessageHandler]] = []
        self._started = False

    async def start(self) -> None:
        if self._started:
            return
        async with self.engine.begin() as conn:
            await conn.run_sync(_md.create_all)
            for q, rk in (await conn.execute(select(bindings.c.queue, bindings.c.routing_key))).all():
                self._routes[rk].add(q)
        self._started = True

    async def close(self) -> None:
        for t in self._tasks.values():
            t.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
        await self.engine.dispose()
        self._started = False

    @property
    def connected(self) -> bool:
        return self._started

    async def declare(self, service: str, event_types: list[str]) -> None:
        """Bind the service's queue to event types (durable, like a broker binding)."""
        q = self.topology.queue(service)
        async with self.engine.begin() as conn:
            for et in event_types:
                await conn.execute(sqlite_insert(bindings).values(queue=q, routing_key=et).on_conflict_do_nothing())
                self._routes[et].add(q)

    async def publish(self, msgs: list[OutgoingMessage]) -> None:
        now = _now_ms()
        rows: list[dict[str, Any]] = []
        for m in msgs:
            for q in self._routes.get(m.type) or {self.topology.unrouted}:
                rows.append({"queue": q, "event_id": str(m.event_id), "type": m.type, "body": m.body,
                             "attempt": 1, "available_at": now, "dead": 0})
        async with self.engine.begin() as conn:
            await conn.execute(insert(messages), rows)
        for q in {r["queue"] for r in rows}:
            if q in self._wake:
                self._wake[q].set()
        for patterns, handler in self._listeners:
            for m in msgs:
                if any(topic_matches(p, m.type) for p in patterns):
                    try:
                        await handler(Envelope.from_bytes(m.body))
                    except Exception as exc:  # a listener's effect is best-effort (a cache)
                        log.warning("listener failed: %s", describe_error(exc))

    async def listen(self, name: str, patterns: list[str], handler: MessageHandler) -> None:
        """In-process: called right after each matching publish (one process, one replica)."""
        self._listeners.append((patterns, handler))

    async def subscribe(self, service: str, event_types: list[str], handler: MessageHandler) -> None:
        await self.declare(service, event_types)
        q = self.topology.queue(service)
        self._wake[q] = asyncio.Event()
        self._tasks[service] = asyncio.create_task(self._consume(service, q, handler), name=f"consume:{q}")

    async def _consume(self, service: str, q: str, handler: MessageHandler) -> None:
        wake = self._wake[q]
        while True:
            wake.clear()
            now = _now_ms()
            async with self.engine.connect() as conn:
                rows = (await conn.execute(
                    select(messages).where(messages.c.queue == q, messages.c.dead == 0,
                                           messages.c.available_at <= now)
                    .order_by(messages.c.available_at, messages.c.id).limit(self.prefetch))).all()
                nxt = None if rows else (await conn.execute(
                    select(func.min(messages.c.available_at)).where(messages.c.queue == q,
                                                                    messages.c.dead == 0))).scalar()
            handle_batch = getattr(handler, "handle_batch", None)
            for i in range(0, len(rows), max(1, self.batch)):
                chunk = rows[i:i + max(1, self.batch)]
                if len(chunk) > 1 and handle_batch is not None and await self._deliver_batch(service, chunk, handle_batch):
                    continue
                for row in chunk:
                    await self._deliver(service, row, handler)
            if rows:
                continue
            timeout = 1.0 if nxt is None else max(0.0, min(1.0, (nxt - _now_ms()) / 1000))
            try:
                await asyncio.wait_for(wake.wait(), timeout)
            except TimeoutError:
                pass

    async def _deliver_batch(self, service: str, rows, handle_batch) -> bool:  # type: ignore[no-untyped-def]
        """Several messages in one handler call (see ``EventProcessor.handle_batch``); False if
        that failed and they must go one by one."""
        try:
            envs = [Envelope.from_bytes(r.body) for r in rows]
            if tracing.ON:
                with tracing.handling(service, envs, [r.body for r in rows]):
                    await handle_batch(envs)
            else:
                await handle_batch(envs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info("batch of %d failed (%s); handling one by one", len(rows), describe_error(exc),
                     extra={"service": service})
            return False
        async with self.engine.begin() as conn:  # the ack
            await conn.execute(delete(messages).where(messages.c.id.in_([r.id for r in rows])))
        return True

    async def _deliver(self, service: str, row, handler: MessageHandler) -> None:  # type: ignore[no-untyped-def]
        token = correlation_id.set(None)
        started = time.perf_counter()
        try:
            env = Envelope.from_bytes(row.body)
            correlation_id.set(env.correlationid or str(env.id))
            if tracing.ON:
                with tracing.handling(service, [env], [row.body]):
                    await handler(env)
            else:
                await handler(env)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            permanent = isinstance(exc, PermanentError | ValueError)
            extra = {"service": service, "event_id": row.event_id, "event_type": row.type, "attempt": row.attempt}
            dead = permanent or row.attempt >= self.max_attempts
            metrics.event_failed(handler, service, row.type, dead=dead, seconds=time.perf_counter() - started)
            if dead:
                log.error("dead-lettering after %d attempt(s): %s", row.attempt, describe_error(exc), extra=extra)
                values = {"dead": 1, "error": describe_error(exc)}
            else:
                delay = self.retry_delays_s[min(row.attempt - 1, len(self.retry_delays_s) - 1)]
                log.warning("handler failed, retry in %gs: %s", delay, describe_error(exc), extra=extra)
                values = {"attempt": row.attempt + 1, "available_at": _now_ms() + int(delay * 1000),
                          "error": describe_error(exc)}
            async with self.engine.begin() as conn:
                await conn.execute(update(messages).where(messages.c.id == row.id).values(**values))
            return
        finally:
            correlation_id.reset(token)
        async with self.engine.begin() as conn:  # the ack
            await conn.execute(delete(messages).where(messages.c.id == row.id))

    async def consumer_count(self, service: str) -> int:
        t = self._tasks.get(service)
        return 1 if t is not None and not t.done() else 0

    async def dead_letters(self, service: str, limit: int = 100) -> list[DeadLetter]:
        q = self.topology.queue(service)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(messages).where(messages.c.queue == q, messages.c.dead == 1)
                                       .order_by(messages.c.id).limit(limit))).all()
        return [DeadLetter(id=r.event_id, type=r.type, attempts=r.attempt, error=r.error or "", body=r.body)
                for r in rows]

    async def replay_dead_letters(self, service: str, ids: list[str] | None = None) -> int:
        q = self.topology.queue(service)
        cond = [messages.c.queue == q, messages.c.dead == 1]
        if ids is not None:
            cond.append(messages.c.event_id.in_(ids))
        async with self.engine.begin() as conn:
            res = await conn.execute(update(messages).where(*cond)
                                     .values(dead=0, attempt=1, available_at=_now_ms(), error=None))
        if q in self._wake:
            self._wake[q].set()
        return int(res.rowcount or 0)

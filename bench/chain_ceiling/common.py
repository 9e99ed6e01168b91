"""Shared by the chain's processes: settings (environment), the schemas, the outbox relay and the
consuming loop.  Only the bench-limits building blocks: SQLAlchemy Core text() on an async engine
(asyncpg, pool without overflow), aio-pika, uvloop."""
from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import sys
import traceback
import uuid
from collections import deque

import aio_pika
from aio_pika import DeliveryMode, Message
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

DSN = os.environ.get("CHAIN_DSN", "postgresql+asyncpg://postgres@127.0.0.1:5432/chain_ceiling")
AMQP = os.environ.get("CHAIN_AMQP", "amqp://guest:guest@127.0.0.1:5672/")
NS = os.environ.get("CHAIN_NS", "chainbench")
BATCH = int(os.environ.get("CHAIN_BATCH", "1"))  # messages per consuming transaction (K)
POOL = int(os.environ.get("CHAIN_POOL", "10"))
PREFETCH = 100
RELAY_BATCH = 200
EXCHANGE = f"{NS}.events"
# Which event types each service's queue is bound to.  The notifier needs only case.deadline_set:
# workflow copies the contact/responsible e-mails from case.created into it (see notifier.py).
ROUTES = {"intake": ["case.deadline_set"], "workflow": ["case.created"], "notifier": ["case.deadline_set"],
          "reporting": ["case.created", "case.deadline_set", "notification.sent"]}
# --minimal: the fewest hops issue 2's slice allows. No notification.sent; reporting counts cases from
# case.deadline_set alone (it carries the type). Per case: 2 events published, 4 consumed.
MINIMAL = os.environ.get("CHAIN_MINIMAL") == "1"
if MINIMAL:
    ROUTES["reporting"] = ["case.deadline_set"]
EVENTS_PER_CASE = {svc: len(types) for svc, types in ROUTES.items()}  # reporting: 4, or 1 if minimal


def queue_name(svc: str) -> str:
    return f"{NS}.{svc}"


def ddl(svc: str) -> list[str]:
    """The service's own schema: its tables, an inbox, and (if it publishes) an outbox."""
    own = {
        "intake": ["""CREATE TABLE intake.cases (id uuid PRIMARY KEY, tenant_id uuid NOT NULL,
            contact_email text NOT NULL, responsible_email text NOT NULL, subject text NOT NULL,
            description text NOT NULL, priority text NOT NULL, category text NOT NULL, channel text NOT NULL,
            tags text[] NOT NULL, external_ref text, status text NOT NULL DEFAULT 'new', due_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())"""],
        "workflow": ["""CREATE TABLE workflow.timers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            case_id uuid NOT NULL, kind text NOT NULL, due_at timestamptz NOT NULL, fired_at timestamptz)""",
                     "CREATE INDEX timers_pending ON workflow.timers (due_at) WHERE fired_at IS NULL"],
        "notifier": ["""CREATE TABLE notifier.deliveries (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            case_id uuid NOT NULL, template text NOT NULL, recipient text NOT NULL, state text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(), sent_at timestamptz)"""],
        "reporting": ["""CREATE TABLE reporting.counts (status text, ctype text, n bigint NOT NULL,
            PRIMARY KEY (status, ctype))""",
                      """CREATE TABLE reporting.case_facts (case_id uuid PRIMARY KEY, due_at timestamptz,
            emails int NOT NULL DEFAULT 0)"""],
    }[svc]
    out = [f"DROP SCHEMA IF EXISTS {svc} CASCADE", f"CREATE SCHEMA {svc}", *own,
           f"CREATE TABLE {svc}.inbox (event_id uuid PRIMARY KEY, handled_at timestamptz NOT NULL DEFAULT now())"]
    if svc != "reporting":
        out += [f"""CREATE TABLE {svc}.outbox (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    event_id uuid NOT NULL, type text NOT NULL, body text NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now(), published_at timestamptz)""",
                f"CREATE INDEX outbox_pending ON {svc}.outbox (id) WHERE published_at IS NULL"]
    return out


class Schema:
    """Statements built once per service (re-compiling a statement per call costs CPU), with arrays
    as parameters so a batch of any size is the same prepared statement."""

    def __init__(self, svc: str) -> None:
        self.inbox = text(f"INSERT INTO {svc}.inbox (event_id) SELECT unnest(CAST(:ids AS uuid[])) "
                          "ON CONFLICT DO NOTHING RETURNING event_id")
        self.outbox = text(f"INSERT INTO {svc}.outbox (event_id, type, body) SELECT * FROM "
                           "unnest(CAST(:ids AS uuid[]), CAST(:types AS text[]), CAST(:bodies AS text[]))")

    async def claim_inbox(self, db, msgs: list) -> list[tuple]:
        """Inbox rows for the batch in one INSERT; returns (message, decoded body) of the new ones only
        (a redelivered event is skipped, and acked with the others)."""
        rows = await db.execute(self.inbox, {"ids": [m.message_id for m in msgs]})
        new = {str(r[0]) for r in rows}
        return [(m, json.loads(m.body)) for m in msgs if m.message_id in new]

    async def emit(self, db, events: list[tuple[str, dict]]) -> None:
        if events:
            await db.execute(self.outbox, {"ids": [str(uuid.uuid4()) for _ in events],
                                           "types": [t for t, _ in events],
                                           "bodies": [json.dumps(b) for _, b in events]})


class Relay:
    """The service's outbox relay: claims unpublished rows (SKIP LOCKED), publishes them with
    pipelined confirms (one gather per batch), marks them published, commits.  Woken by wake() right
    after a commit that wrote outbox rows; a 1 s poll is only the fallback."""

    def __init__(self, svc: str) -> None:
        self.claim = text(f"SELECT id, event_id, type, body FROM {svc}.outbox WHERE published_at IS NULL "
                          "ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED")
        self.mark = text(f"UPDATE {svc}.outbox SET published_at = now() WHERE id = ANY(:ids)")
        self.event = asyncio.Event()
        self.published = 0

    def wake(self) -> None:
        self.event.set()

    async def run(self) -> None:
        # Own engine and own AMQP connection: its publishes do not queue behind the consumers' acks.
        engine = create_async_engine(DSN, pool_size=1, max_overflow=0)
        conn = await aio_pika.connect(AMQP)
        try:
            ch = await conn.channel(publisher_confirms=True)
            ex = await ch.get_exchange(EXCHANGE, ensure=False)
            while True:
                try:
                    await asyncio.wait_for(self.event.wait(), 1.0)
                except TimeoutError:
                    pass
                self.event.clear()
                while True:  # a full batch means more may be waiting; a short one means we are done
                    async with engine.begin() as db:
                        rows = (await db.execute(self.claim, {"n": RELAY_BATCH})).all()
                        if rows:
                            await asyncio.gather(*(ex.publish(
                                Message(r.body.encode(), delivery_mode=DeliveryMode.PERSISTENT, type=r.type,
                                        message_id=str(r.event_id), content_type="application/json"),
                                routing_key=r.type) for r in rows))
                            await db.execute(self.mark, {"ids": [r.id for r in rows]})
                    self.published += len(rows)
                    if len(rows) < RELAY_BATCH:
                        break
        finally:
            await conn.close()
            await engine.dispose()


class Consumer:
    """The service's queue, prefetch 100.  handle(msgs) runs the transaction(s); the messages are acked
    after it returns.  K=1: every delivery is handled on its own, concurrently (aio-pika runs each
    callback as a task; the pool bounds the transactions).  K>1: deliveries queue up and two workers
    each take up to K already-delivered ones as one batch (Atiende's technique)."""

    def __init__(self, svc: str, handle) -> None:
        self.svc, self.handle = svc, handle
        self.arrived: deque = deque()
        self.ready = asyncio.Event()
        self.tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        self.conn = await aio_pika.connect(AMQP)
        ch = await self.conn.channel()
        await ch.set_qos(prefetch_count=PREFETCH)
        q = await ch.get_queue(queue_name(self.svc), ensure=False)
        if BATCH <= 1:
            await q.consume(lambda m: self.settle([m]))
            return

        async def on_message(m) -> None:
            self.arrived.append(m)
            self.ready.set()

        self.tasks = [asyncio.create_task(self.worker()) for _ in range(2)]
        await q.consume(on_message)

    async def worker(self) -> None:
        while True:
            await self.ready.wait()
            if not self.arrived:
                self.ready.clear()
                continue
            msgs = [self.arrived.popleft() for _ in range(min(len(self.arrived), BATCH))]
            if not self.arrived:
                self.ready.clear()
            await self.settle(msgs)

    async def settle(self, msgs: list) -> None:
        try:
            await self.handle(msgs)
        except Exception:  # visible in the service's log; the broker redelivers
            traceback.print_exc()
            await asyncio.gather(*(m.nack(requeue=True) for m in msgs))
            return
        await asyncio.gather(*(m.ack() for m in msgs))  # frames queued together, one flush

    async def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        await self.conn.close()


def tune_gc() -> None:
    """As Atiende does after start-up: start-up objects out of the collector, rarer gen-0 passes."""
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def serve(svc: str, handle, relay: Relay | None) -> None:
    """Run a consumer-only service (workflow, notifier, reporting) until SIGTERM."""
    import uvloop

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        tasks = [asyncio.create_task(relay.run())] if relay else []
        consumer = Consumer(svc, handle)
        await consumer.start()
        tune_gc()
        print("READY", flush=True)
        await stop.wait()
        await consumer.close()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    uvloop.run(main())
    sys.exit(0)

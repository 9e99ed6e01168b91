"""RabbitMQ adapter (aio-pika). Topology and names: ``topology.py``.

Publishing: a robust connection, a channel with publisher confirms, ``mandatory`` routing with
returns raised, persistent messages, the event id as AMQP ``message_id``, and a timeout on every
publish (a publish on a robust connection that is down would otherwise wait forever). A batch is
published pipelined and awaited together.

Consuming: one quorum queue per service, bounded prefetch, ack only after the handler's
transaction committed. A handler that can take several messages at once (``handle_batch``) gets
what has arrived since its last call (up to ``batch``), from a few workers: at low traffic that
is one message, under load one commit serves many; if a batch fails, its messages are handled
one by one on the ordinary path. A failing handler's message is republished (with confirms) to the next
retry queue and then acked; after the last attempt, or on a ``PermanentError``, to the DLQ. The
robust channel re-declares queues and re-opens consumers after a broker restart; readiness asks
the broker for the consumer count rather than trusting our own bookkeeping."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from typing import Any

import aio_pika
from aio_pika import DeliveryMode, ExchangeType, Message
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustExchange,
    AbstractRobustQueue,
)

from shared import metrics, tracing
from shared.contracts.envelope import Envelope
from shared.faults import crash_point
from shared.logs import correlation_id
from shared.messaging.bus import (
    DeadLetter,
    MessageHandler,
    OutgoingMessage,
    PermanentError,
    describe_error,
)
from shared.messaging.topology import DELIVERY_LIMIT, Topology

log = logging.getLogger("atiende.rabbit")

BatchHandler = Callable[[list[Envelope]], Awaitable[None]]


class RabbitBus:
    messaging_system = "rabbitmq"  # for traces (shared/tracing.py)

    def __init__(self, url: str, namespace: str, *, prefetch: int = 50, publish_timeout_s: float = 5.0,
                 retry_delays_s: list[float] | None = None, max_attempts: int = 4, batch: int = 50,
                 batch_workers: int = 2) -> None:
        self.url = url
        self.topology = Topology(namespace)
        self.prefetch = prefetch
        self.batch = batch
        self.batch_workers = batch_workers
        self._workers: list[asyncio.Task[None]] = []
        self.publish_timeout_s = publish_timeout_s
        self.retry_delays_s = retry_delays_s or [5.0, 60.0, 600.0]
        self.max_attempts = max_attempts
        self._conn: AbstractRobustConnection | None = None
        self._pub: AbstractRobustChannel | None = None
        self._exchange: AbstractRobustExchange | None = None
        self._consume_channels: dict[str, AbstractRobustChannel] = {}
        self._queues: dict[str, AbstractRobustQueue] = {}  # references kept: restored on reconnect

    # -- connection -------------------------------------------------------------------------
    async def start(self) -> None:
        if self._conn is not None:
            return
        # The first connect may fail while the broker is down; connect_robust keeps retrying
        # only after a first success, so retry here in the background-friendly way.
        self._conn = await aio_pika.connect_robust(self.url, client_properties={
            "connection_name": f"atiende/{self.topology.namespace}"})
        self._pub = await self._conn.channel(publisher_confirms=True, on_return_raises=True)
        self._exchange = await self._declare_exchanges(self._pub)

    async def close(self) -> None:
        for w in self._workers:
            w.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        if self._conn is not None:
            await self._conn.close()
        self._conn = None
        self._queues.clear()
        self._consume_channels.clear()

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed and self._pub is not None \
            and not self._pub.is_closed

    async def _declare_exchanges(self, ch: AbstractRobustChannel) -> AbstractRobustExchange:
        t = self.topology
        unrouted_x = await ch.declare_exchange(t.unrouted, ExchangeType.FANOUT, durable=True)
        unrouted_q = await ch.declare_queue(t.unrouted, durable=True, arguments={"x-queue-type": "quorum"})
        await unrouted_q.bind(unrouted_x)
        # Events nobody subscribes to land in <ns>.unrouted instead of being returned or lost.
        return await ch.declare_exchange(t.events_exchange, ExchangeType.TOPIC, durable=True,
                                         arguments={"alternate-exchange": t.unrouted})

    # -- publishing -------------------------------------------------------------------------
    def _message(self, body: bytes, message_id: str, type_: str, headers: dict[str, Any] | None = None,
                 correlation: str | None = None) -> Message:
        return Message(body, delivery_mode=DeliveryMode.PERSISTENT, message_id=message_id, type=type_,
                       content_type="application/json", correlation_id=correlation, headers=headers or {})

    async def publish(self, messages: list[OutgoingMessage]) -> None:
        if self._exchange is None or self._pub is None or self._pub.is_closed:
            raise ConnectionError("bus not started")
        # aiormq's basic_publish, as aio-pika's Exchange.publish calls it, holds the channel lock
        # until each frame is flushed to the socket: a batch then costs one event-loop turn per
        # message, seconds in a process busy with requests. With wait=False the frames are queued
        # at once and only the broker's confirms are awaited (together): same guarantee.
        ch = await self._pub.get_underlay_channel()
        name = self._exchange.name
        await asyncio.gather(*(ch.basic_publish(m.body, exchange=name, routing_key=m.type, mandatory=True,
                                                properties=self._message(m.body, str(m.event_id), m.type,
                                                                         m.headers).properties,
                                                timeout=self.publish_timeout_s, wait=False)  # type: ignore[call-arg]
                               for m in messages))

    async def _send_to_queue(self, queue: str, msg: AbstractIncomingMessage, headers: dict[str, Any]) -> None:
        assert self._pub is not None
        # Tracing on, a retry, dead letter or replay stays in the message's trace.
        with tracing.continuing(msg.headers) if tracing.ON else nullcontext():
            await self._pub.default_exchange.publish(
                self._message(msg.body, msg.message_id or "", msg.type or "", headers, msg.correlation_id),
                routing_key=queue, mandatory=True, timeout=self.publish_timeout_s)

    # -- consuming --------------------------------------------------------------------------
    async def _declare_service_queues(self, ch: AbstractRobustChannel, service: str) -> AbstractRobustQueue:
        t = self.topology
        main = t.queue(service)
        dlq = t.dead_letter_queue(service)
        await ch.declare_queue(dlq, durable=True, arguments={"x-queue-type": "quorum"})
        for delay in self.retry_delays_s:
            await ch.declare_queue(t.retry_queue(service, delay), durable=True, arguments={
                "x-queue-type": "quorum", "x-message-ttl": int(delay * 1000),
                "x-dead-letter-exchange": "", "x-dead-letter-routing-key": main})
        return await ch.declare_queue(main, durable=True, arguments={
            "x-queue-type": "quorum", "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq})

    async def declare(self, service: str, event_types: list[str]) -> None:
        """Declare the service's queues and bindings without consuming (deploy time), so events
        published before its first start already wait in its queue."""
        if self._conn is None:
            raise ConnectionError("bus not started")
        ch = await self._conn.channel()
        try:
            await self._declare_exchanges(ch)
            queue = await self._declare_service_queues(ch, service)
            for et in event_types:
                await queue.bind(self.topology.events_exchange, routing_key=et)
        finally:
            await ch.close()

    async def subscribe(self, service: str, event_types: list[str], handler: MessageHandler) -> None:
        if self._conn is None:
            raise ConnectionError("bus not started")
        ch = await self._conn.channel()
        await ch.set_qos(prefetch_count=self.prefetch)
        await self._declare_exchanges(ch)
        queue = await self._declare_service_queues(ch, service)
        for et in event_types:
            await queue.bind(self.topology.events_exchange, routing_key=et)

        handle_batch = getattr(handler, "handle_batch", None)
        if handle_batch is None or self.batch <= 1:
            async def on_message(msg: AbstractIncomingMessage) -> None:
                await self._handle(service, msg, handler)
        else:
            arrived: deque[AbstractIncomingMessage] = deque()
            wake = asyncio.Event()

            async def on_message(msg: AbstractIncomingMessage) -> None:
                arrived.append(msg)
                wake.set()

        await queue.consume(on_message)
        if handle_batch is not None and self.batch > 1:
            for i in range(self.batch_workers):  # they live across reconnects, like the consumer
                self._workers.append(asyncio.create_task(
                    self._batch_worker(service, arrived, wake, handler, handle_batch),
                    name=f"consume:{service}:{i}"))
        self._consume_channels[service] = ch
        self._queues[service] = queue

    async def listen(self, name: str, patterns: list[str], handler: MessageHandler) -> None:
        if self._conn is None:
            raise ConnectionError("bus not started")
        ch = await self._conn.channel()
        await self._declare_exchanges(ch)
        # Classic (quorum queues cannot be exclusive); gone with this connection. The robust
        # channel declares it again after a reconnect (events in between are missed: the
        # listener's effect must tolerate that, e.g. a cache that also expires).
        queue = await ch.declare_queue(self.topology.listener_queue(name), durable=False, exclusive=True,
                                       auto_delete=True)
        for p in patterns:
            await queue.bind(self.topology.events_exchange, routing_key=p)

        async def on_message(msg: AbstractIncomingMessage) -> None:
            try:
                await handler(Envelope.from_bytes(msg.body))
            except Exception as exc:
                log.warning("listener %s failed: %s", name, describe_error(exc))

        await queue.consume(on_message, no_ack=True)
        self._consume_channels[name] = ch
        self._queues[name] = queue

    async def _handle(self, service: str, msg: AbstractIncomingMessage, handler: MessageHandler) -> None:
        attempt = int(str((msg.headers or {}).get("x-atiende-attempt", 1) or 1))
        token = correlation_id.set(msg.correlation_id)
        started = time.perf_counter()
        try:
            try:
                env = Envelope.from_bytes(msg.body)
                correlation_id.set(env.correlationid or str(env.id))
                if tracing.ON:
                    with tracing.handling(service, [env], [msg.headers]):
                        await handler(env)
                else:
                    await handler(env)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                dead = await self._after_failure(service, msg, attempt, exc)
                metrics.event_failed(handler, service, msg.type or "", dead=dead, seconds=time.perf_counter() - started)
                return
            crash_point(f"crash-before-ack:{msg.type}")  # tests only: committed, not yet acked
            await msg.ack()
        finally:
            correlation_id.reset(token)

    async def _batch_worker(self, service: str, arrived: deque[AbstractIncomingMessage], wake: asyncio.Event,
                            handler: MessageHandler, handle_batch: BatchHandler) -> None:
        while True:
            await wake.wait()
            if not arrived:
                wake.clear()
                continue
            msgs = [arrived.popleft() for _ in range(min(len(arrived), self.batch))]
            if not arrived:
                wake.clear()
            try:
                await self._handle_batch(service, msgs, handler, handle_batch)
            except asyncio.CancelledError:
                raise
            except Exception:  # e.g. the channel closed under us: the broker redelivers
                log.exception("batch of %d not settled", len(msgs), extra={"service": service})

    async def _handle_batch(self, service: str, msgs: list[AbstractIncomingMessage], handler: MessageHandler,
                            handle_batch: BatchHandler) -> None:
        if len(msgs) == 1:
            await self._handle(service, msgs[0], handler)
            return
        envs = []
        for msg in msgs:
            try:
                envs.append(Envelope.from_bytes(msg.body))
            except Exception:  # unreadable: the one-by-one path dead-letters it
                envs = []
                break
        if envs:
            try:
                if tracing.ON:
                    with tracing.handling(service, envs, [m.headers for m in msgs]):
                        await handle_batch(envs)
                else:
                    await handle_batch(envs)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("batch of %d failed (%s); handling one by one", len(msgs), describe_error(exc),
                         extra={"service": service})
                envs = []
        if not envs:
            await asyncio.gather(*(self._handle(service, m, handler) for m in msgs))
            return
        for msg in msgs:
            crash_point(f"crash-before-ack:{msg.type}")  # tests only: committed, not yet acked
        await asyncio.gather(*(msg.ack() for msg in msgs))  # one flush for all, not one loop turn each

    async def _after_failure(self, service: str, msg: AbstractIncomingMessage, attempt: int,
                             exc: Exception) -> bool:
        """Park the failed message in a retry queue or the DLQ; returns whether it was the DLQ."""
        t = self.topology
        permanent = isinstance(exc, PermanentError | ValueError)
        dead = permanent or attempt >= self.max_attempts
        extra = {"service": service, "event_id": msg.message_id, "event_type": msg.type, "attempt": attempt}
        headers = dict(msg.headers or {})
        headers.update({"x-atiende-error": describe_error(exc), "x-atiende-failed-service": service})
        try:
            if dead:
                log.error("dead-lettering after %d attempt(s): %s", attempt, describe_error(exc), extra=extra,
                          exc_info=exc)
                headers["x-atiende-attempt"] = attempt
                await self._send_to_queue(t.dead_letter_queue(service), msg, headers)
            else:
                delay = self.retry_delays_s[min(attempt - 1, len(self.retry_delays_s) - 1)]
                log.warning("handler failed, retry in %gs: %s", delay, describe_error(exc), extra=extra)
                headers["x-atiende-attempt"] = attempt + 1
                await self._send_to_queue(t.retry_queue(service, delay), msg, headers)
            await msg.ack()
        except Exception as pub_exc:  # could not park it: let the broker redeliver it later
            log.error("could not move failed message: %r", pub_exc, extra=extra)
            if not msg.channel.is_closed:
                await msg.nack(requeue=True)
        return dead

    async def consumer_count(self, service: str) -> int:
        if not self.connected or service not in self._consume_channels:
            return 0
        assert self._pub is not None
        # Ask the broker itself (a cached robust queue object would hide lost consumers).
        raw = await self._pub.get_underlay_channel()
        res = await raw.queue_declare(self.topology.queue(service), passive=True)
        return int(res.consumer_count or 0)

    # -- dead letters -----------------------------------------------------------------------
    async def dead_letters(self, service: str, limit: int = 100) -> list[DeadLetter]:
        """Peek at the DLQ: messages are fetched unacked and returned to the queue on close."""
        assert self._conn is not None
        ch = await self._conn.channel()
        out: list[DeadLetter] = []
        try:
            q = await ch.declare_queue(self.topology.dead_letter_queue(service), durable=True,
                                       arguments={"x-queue-type": "quorum"})
            while len(out) < limit:
                m = await q.get(no_ack=False, fail=False)
                if m is None:
                    break
                h = m.headers or {}
                out.append(DeadLetter(id=m.message_id or "", type=m.type or "",
                                      attempts=int(str(h.get("x-atiende-attempt", 0) or 0)),
                                      error=str(h.get("x-atiende-error", h.get("x-death", ""))), body=m.body))
        finally:
            await ch.close()  # unacked gets go back to the DLQ
        return out

    async def replay_dead_letters(self, service: str, ids: list[str] | None = None) -> int:
        assert self._conn is not None and self._pub is not None
        ch = await self._conn.channel()
        replayed = 0
        try:
            q = await ch.declare_queue(self.topology.dead_letter_queue(service), durable=True,
                                       arguments={"x-queue-type": "quorum"})
            keep: list[AbstractIncomingMessage] = []
            while True:
                m = await q.get(no_ack=False, fail=False)
                if m is None:
                    break
                if ids is not None and m.message_id not in ids:
                    keep.append(m)
                    continue
                headers = {k: v for k, v in (m.headers or {}).items() if not k.startswith("x-death")}
                headers["x-atiende-attempt"] = 1
                headers["x-atiende-replayed"] = True
                await self._send_to_queue(self.topology.queue(service), m, headers)
                await m.ack()
                replayed += 1
        finally:
            await ch.close()  # the ones kept go back to the DLQ
        return replayed

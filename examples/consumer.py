"""An outside consumer of Atiende's events: its own queue, its own dead letters, every message
checked against the published JSON Schema (docs/events.md explains each step).

    python examples/consumer.py --url amqp://guest:guest@127.0.0.1/ --bind 'case.#'

It declares ``<namespace>.<consumer>.events`` (a durable quorum queue) bound to the events
exchange with the given routing keys, and ``<namespace>.<consumer>.dlq`` (behind its own
``<namespace>.<consumer>.dlx``) for what it cannot take. Each message is validated against ``docs/events/schemas/<type>.json``, printed and acked;
an invalid one is rejected and RabbitMQ dead-letters it to the DLQ. A redelivered event (same
envelope ``id``) is acked without being handled twice.

Only aio-pika and jsonschema are needed: copy this file to start your own consumer."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]

log = logging.getLogger("example-consumer")

SCHEMAS = Path(__file__).resolve().parents[1] / "docs" / "events" / "schemas"
DELIVERY_LIMIT = 20  # redeliveries of a message that crashes us before RabbitMQ dead-letters it

Handler = Callable[[dict[str, Any]], Awaitable[None]]

FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _rfc3339(value: object) -> bool:
    """Times are RFC 3339 with an offset (jsonschema checks the format only with an extra package)."""
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


class Schemas:
    """The published JSON Schemas, one file per event type and version, loaded once each."""

    def __init__(self, folder: Path = SCHEMAS) -> None:
        self.folder = folder
        self._validators: dict[str, Draft202012Validator | None] = {}

    def validator(self, event_type: str) -> Draft202012Validator | None:
        """None: a type we have no schema for (e.g. a newer ``.v2`` matched by a pattern)."""
        if event_type not in self._validators:
            path = self.folder / f"{event_type}.json"
            if "/" in event_type or not path.is_file():
                self._validators[event_type] = None
            else:
                schema = json.loads(path.read_text(encoding="utf-8"))
                self._validators[event_type] = Draft202012Validator(schema, format_checker=FORMATS)
        return self._validators[event_type]


class Seen:
    """Envelope ids already handled (bounded). A real consumer stores them in its own database, in
    the same transaction as what it does with the event, so a redelivery after a crash is skipped."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, event_id: str) -> bool:
        """True if new."""
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True


def queue_names(namespace: str, consumer: str) -> tuple[str, str]:
    """``<namespace>.<consumer>.events`` and ``<namespace>.<consumer>.dlq``: Atiende's own naming."""
    return f"{namespace}.{consumer}.events", f"{namespace}.{consumer}.dlq"


def dead_letter_exchange(namespace: str, consumer: str) -> str:
    """The consumer's own dead-letter exchange: with it the consumer needs no right to publish
    through the default exchange (which would reach Atiende's queues too)."""
    return f"{namespace}.{consumer}.dlx"


async def declare(channel: aio_pika.abc.AbstractChannel, namespace: str, consumer: str,
                  bindings: list[str]) -> aio_pika.abc.AbstractQueue:
    """The consumer's queue, bound to the events exchange, and its dead letters. Declaring is
    idempotent (same arguments every time): run it at every start."""
    name, dlq = queue_names(namespace, consumer)
    # Atiende declares the exchange; a passive declare only checks it is there (a typo in the
    # namespace fails here instead of consuming from nothing).
    exchange = await channel.get_exchange(f"{namespace}.events", ensure=True)
    dlx = await channel.declare_exchange(dead_letter_exchange(namespace, consumer), aio_pika.ExchangeType.FANOUT,
                                         durable=True)
    dead = await channel.declare_queue(dlq, durable=True, arguments={"x-queue-type": "quorum"})
    await dead.bind(dlx)
    queue = await channel.declare_queue(name, durable=True, arguments={
        "x-queue-type": "quorum", "x-delivery-limit": DELIVERY_LIMIT, "x-dead-letter-exchange": dlx.name})
    for key in bindings:
        await queue.bind(exchange, routing_key=key)
    return queue


async def print_event(envelope: dict[str, Any]) -> None:
    seq = envelope.get("sequence")
    print(f"{envelope['time']} {envelope['type']} tenant={envelope['tenant']} subject={envelope['subject']}"
          f"{f' #{seq}' if seq is not None else ''} id={envelope['id']}", flush=True)


class Consumer:
    """What happens to each message: parse, validate, deduplicate, handle, ack (or reject)."""

    def __init__(self, handle: Handler, schemas: Schemas | None = None) -> None:
        self.handle = handle
        self.schemas = schemas or Schemas()
        self.seen = Seen()
        self.last_sequence: dict[tuple[str, str], int] = {}  # (source, subject) → last applied
        self.handled = self.rejected = self.duplicates = self.ignored = 0

    async def __call__(self, message: AbstractIncomingMessage) -> None:
        try:
            envelope = json.loads(message.body)
            validator = self.schemas.validator(str(envelope.get("type")))
        except (ValueError, AttributeError):
            envelope, validator = None, None
        if not isinstance(envelope, dict):
            await self._reject(message, "not a JSON envelope")
            return
        if validator is None:  # bound by a pattern, but not a contract we know: not ours to judge
            log.info("ignoring %s: no schema for it", envelope.get("type"))
            self.ignored += 1
            await message.ack()
            return
        errors = sorted(f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(envelope))
        if errors:
            await self._reject(message, "; ".join(errors))
            return
        if not self.seen.add(envelope["id"]):
            self.duplicates += 1
            await message.ack()
            return
        self._check_order(envelope)
        await self.handle(envelope)  # an exception here: no ack, RabbitMQ redelivers it
        self.handled += 1
        await message.ack()

    def _check_order(self, envelope: dict[str, Any]) -> None:
        """A subject's numbered events come in ``sequence`` order without gaps from the source; a
        gap means one is still on its way (a retry) — a consumer that needs order waits for it."""
        seq, subject = envelope.get("sequence"), envelope.get("subject")
        if seq is None or subject is None:
            return
        key = (envelope["source"], subject)
        last = self.last_sequence.get(key)
        if last is not None and seq > last + 1:
            log.warning("%s %s: #%d arrived before #%d", envelope["type"], subject, seq, last + 1)
        self.last_sequence[key] = max(seq, last or 0)

    async def _reject(self, message: AbstractIncomingMessage, why: str) -> None:
        log.warning("to the dead-letter queue (%s): %s", message.message_id, why)
        self.rejected += 1
        await message.reject(requeue=False)  # the queue's dead-letter arguments move it to the DLQ


async def run(url: str, bindings: list[str], *, namespace: str = "atiende", consumer: str = "example",
              worker: Consumer | None = None, prefetch: int = 20, ready: asyncio.Event | None = None,
              stop: asyncio.Event | None = None) -> Consumer:
    """Declare, bind and consume with ``worker`` (default: validate and print) until ``stop`` is
    set (forever without one)."""
    connection = await aio_pika.connect_robust(url, client_properties={"connection_name": f"{consumer} (example)"})
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        queue = await declare(channel, namespace, consumer, bindings)
        worker = worker or Consumer(print_event)
        await queue.consume(worker)
        if ready is not None:
            ready.set()
        await (stop or asyncio.Event()).wait()
        return worker
    finally:
        await connection.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="amqp://guest:guest@127.0.0.1/", help="the broker (AMQP URL)")
    ap.add_argument("--bind", action="append", required=True, metavar="KEY",
                    help="routing key: an exact type (case.created.v1) or a pattern (case.#); repeatable")
    ap.add_argument("--namespace", default="atiende", help="Atiende's ATIENDE_NAMESPACE (default atiende)")
    ap.add_argument("--consumer", default="example", help="your name in the queue names (default example)")
    ap.add_argument("--schemas", type=Path, default=SCHEMAS, help="folder of the <type>.json schemas")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        asyncio.run(run(a.url, a.bind, namespace=a.namespace, consumer=a.consumer,
                        worker=Consumer(print_event, Schemas(a.schemas))))
    except KeyboardInterrupt:
        pass
    except aio_pika.exceptions.ChannelNotFoundEntity as exc:  # the passive check of the exchange
        sys.exit(f"{exc}: is Atiende deployed with namespace {a.namespace!r} (`atiende migrate` declares it)?")


if __name__ == "__main__":
    main()

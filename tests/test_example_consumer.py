"""examples/consumer.py against the real broker (issue 13, part 6): an outside consumer binds its
own queue to the events exchange, receives what the services publish and validates it against
the committed schema; an invalid message goes to its own dead-letter queue, a redelivered event
is handled once."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import aio_pika
import pytest

from tests.conftest import AMQP_URL
from tests.support.system import System, case_body, wait_for

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "consumer.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_consumer", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


consumer = _load()


class Running:
    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.received: list[dict[str, Any]] = []
        self.worker = consumer.Consumer(self.handle)
        self.ready = asyncio.Event()
        self.stop = asyncio.Event()
        self.task: asyncio.Task[Any] | None = None

    async def handle(self, envelope: dict[str, Any]) -> None:
        self.received.append(envelope)

    async def dead_letters(self) -> list[aio_pika.abc.AbstractIncomingMessage]:
        _, dlq = consumer.queue_names(self.namespace, "crm")
        conn = await aio_pika.connect(AMQP_URL)
        try:
            ch = await conn.channel()
            q = await ch.declare_queue(dlq, durable=True, arguments={"x-queue-type": "quorum"})
            out = []
            while (m := await q.get(no_ack=True, fail=False)) is not None:
                out.append(m)
            return out
        finally:
            await conn.close()


@pytest.fixture
async def crm(rabbit_system: System) -> AsyncIterator[Running]:
    """examples/consumer.py's ``run`` as consumer "crm", bound to ``case.#`` on the test's namespace."""
    ns = rabbit_system.settings.namespace
    running = Running(ns)
    running.task = asyncio.create_task(consumer.run(AMQP_URL, ["case.#"], namespace=ns, consumer="crm",
                                                    worker=running.worker, ready=running.ready, stop=running.stop))
    await asyncio.wait_for(running.ready.wait(), 20)
    yield running
    running.stop.set()
    await asyncio.wait_for(running.task, 20)
    conn = await aio_pika.connect(AMQP_URL)  # the test namespace's cleanup knows only the services' queues
    try:
        ch = await conn.channel()
        for q in consumer.queue_names(ns, "crm"):
            await ch.queue_delete(q)
        await ch.exchange_delete(consumer.dead_letter_exchange(ns, "crm"))
    finally:
        await conn.close()


@pytest.mark.integration
async def test_an_outside_consumer_receives_and_validates_case_created(rabbit_system: System,
                                                                       crm: Running) -> None:
    case = await rabbit_system.create_case(case_body(1))

    def created() -> list[dict[str, Any]]:
        return [e for e in crm.received if e["type"] == "case.created.v1" and e["data"]["case_id"] == case["id"]]

    await wait_for(lambda: bool(created()), 20, "case.created.v1 at the outside consumer")
    env = created()[0]
    assert env["source"] == "atiende/intake" and env["tenant"] == "inmobiliaria-demo"
    assert env["subject"] == case["id"] and env["sequence"] == 1 and env["data"]["number"] == case["number"]
    # The pattern brought workflow's events about the case too, each valid against its schema.
    await wait_for(lambda: any(e["type"] == "case.deadline_set.v1" and e["subject"] == case["id"]
                               for e in crm.received), 20, "workflow's case.deadline_set.v1")
    assert all(e["type"].startswith("case.") for e in crm.received)
    task = crm.task
    assert task is not None and not task.done()


@pytest.mark.integration
async def test_an_invalid_message_goes_to_the_consumers_dlq_and_a_redelivery_is_handled_once(
        rabbit_system: System, crm: Running) -> None:
    queue, _ = consumer.queue_names(crm.namespace, "crm")
    good: dict[str, Any] = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "atiende/workflow", "type": "case.overdue.v1",
            "subject": str(uuid.uuid4()), "time": "2027-03-09T21:00:00Z", "datacontenttype": "application/json",
            "tenant": "inmobiliaria-demo", "correlationid": None, "causationid": None, "sequence": None,
            "data": {"case_id": str(uuid.uuid4()), "due_at": "2027-03-09T21:00:00Z", "case_version": 2,
                     "cycle": 1, "responsible_id": None}}
    bad = {**good, "id": str(uuid.uuid4()), "data": {k: v for k, v in good["data"].items() if k != "due_at"}}
    conn = await aio_pika.connect(AMQP_URL)
    try:  # straight to the consumer's queue: the services' queues never see these
        ch = await conn.channel()
        for body in (good, bad, good):
            await ch.default_exchange.publish(aio_pika.Message(json.dumps(body).encode(), message_id=body["id"]),
                                              routing_key=queue)
    finally:
        await conn.close()
    await wait_for(lambda: any(e["id"] == good["id"] for e in crm.received), 20, "the valid event")
    dead: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def dead_lettered() -> bool:
        dead.extend(await crm.dead_letters())
        return bool(dead)

    await wait_for(dead_lettered, 20, "the invalid event in crm's DLQ")
    assert [m.message_id for m in dead] == [bad["id"]] and crm.worker.rejected == 1
    await wait_for(lambda: crm.worker.duplicates == 1, 20, "the copy acked without effect")
    assert [e["id"] for e in crm.received if e["id"] in (good["id"], bad["id"])] == [good["id"]]

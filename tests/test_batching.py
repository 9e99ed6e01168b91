"""Consuming several messages per transaction (``EventProcessor.handle_batch`` and the buses'
batch workers) against the real PostgreSQL and RabbitMQ: a batch changes how often a service
commits, never what is done or how often."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from services.workflow.adapters.db import inbox as wf_inbox
from services.workflow.adapters.db import outbox as wf_outbox
from services.workflow.adapters.db import timers
from shared.contracts.envelope import Envelope
from shared.db import Database, Tx
from shared.messaging.bus import OutgoingMessage, PermanentError, Retryable
from shared.messaging.processor import EventProcessor, Handler, MarkManyHandled
from shared.messaging.rabbit import RabbitBus
from shared.timers import schedule
from tests.conftest import AMQP_URL

pytestmark = pytest.mark.integration

TYPE = "catalog.channel_changed.v1"  # any registered type: the contract check needs a valid payload


def event(i: int) -> Envelope:
    return Envelope(source="atiende/test", type=TYPE, subject=f"s{i}", tenant="t",
                    data={"code": f"c{i}", "name_es": "Canal", "name_en": "Channel", "active": True, "version": 1})


class Recorder:
    """A handler whose effect is a timer row (so what committed can be counted) and a call log."""

    def __init__(self, fail_on: set[str] | None = None) -> None:
        self.calls: list[str] = []
        self.fail_on = fail_on or set()

    async def __call__(self, tx: Tx, env: Envelope) -> None:
        self.calls.append(env.subject or "")
        if env.subject in self.fail_on:
            raise PermanentError(f"refused {env.subject}")
        await schedule(tx, timers, kind="test.batch", tenant="t", subject=env.subject or "", due_at=env.time,
                       payload={})


async def committed(db: Database) -> tuple[list[str], int]:
    async with db.read() as conn:
        subjects = sorted((await conn.execute(select(timers.c.subject).where(timers.c.kind == "test.batch"))).scalars())
        inbox_rows = (await conn.execute(select(func.count()).select_from(wf_inbox))).scalar_one()
    return subjects, inbox_rows


async def test_a_batch_handles_each_new_event_once_in_one_transaction(pg_database: str) -> None:
    db = Database(pg_database, "workflow", wf_outbox)
    rec = Recorder()
    proc = EventProcessor("workflow", db, wf_inbox, {TYPE: rec})
    e0, e1, e2 = event(0), event(1), event(2)
    await proc(e0)  # handled before: the batch must skip it
    await proc.handle_batch([e1, e0, e2, e1])  # e1 twice in the same delivery batch
    assert rec.calls == ["s0", "s1", "s2"]
    assert await committed(db) == (["s0", "s1", "s2"], 3)
    assert (proc.handled, proc.duplicates) == (3, 1)
    await db.dispose()


async def test_a_batch_on_sqlite_embedded_mode_skips_duplicates_too(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from services.workflow.bootstrap import MIGRATIONS

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'workflow.sqlite3'}", "workflow", wf_outbox)
    await db.migrate(MIGRATIONS)
    rec = Recorder()
    proc = EventProcessor("workflow", db, wf_inbox, {TYPE: rec})
    e0, e1, e2 = event(0), event(1), event(2)
    await proc(e0)
    await proc.handle_batch([e1, e0, e2, e1])
    assert rec.calls == ["s0", "s1", "s2"]
    assert await committed(db) == (["s0", "s1", "s2"], 3)
    await db.dispose()


async def test_a_failing_event_rolls_the_batch_back_and_one_by_one_loses_nothing(pg_database: str) -> None:
    db = Database(pg_database, "workflow", wf_outbox)
    rec = Recorder(fail_on={"s2"})
    proc = EventProcessor("workflow", db, wf_inbox, {TYPE: rec})
    batch = [event(i) for i in range(5)]
    with pytest.raises(PermanentError):
        await proc.handle_batch(batch)
    assert await committed(db) == ([], 0)  # nothing of the batch stayed
    results = await asyncio.gather(*(proc(e) for e in batch), return_exceptions=True)  # the bus's fallback
    assert [isinstance(r, PermanentError) for r in results] == [False, False, True, False, False]
    assert await committed(db) == (["s0", "s1", "s3", "s4"], 4)
    await db.dispose()


async def test_two_phase_batch_does_each_outside_effect_once(pg_database: str) -> None:
    """Like the notifier's e-mails: recorded together, done together, each event marked once;
    an event whose effect failed stays unmarked and is redone alone, the others are not."""
    db = Database(pg_database, "workflow", wf_outbox)
    done: list[str] = []
    flaky = {"s1"}

    async def record(tx: Tx, env: Envelope) -> None:
        return None

    async def effects(envs: list[Envelope], mark: MarkManyHandled) -> None:
        ok = [e for e in envs if e.subject not in flaky]
        done.extend(e.subject or "" for e in ok)
        async with db.transaction() as tx:
            await mark(tx, ok)
        if len(ok) < len(envs):
            raise Retryable("provider busy")

    async def effect(env: Envelope, mark_handled) -> None:  # type: ignore[no-untyped-def]
        async def mark(tx: Tx, _done: list[Envelope]) -> None:
            await mark_handled(tx)
        await effects([env], mark)

    proc = EventProcessor("workflow", db, wf_inbox, {TYPE: Handler(record, effect, effects)})
    batch = [event(i) for i in range(4)]
    with pytest.raises(Retryable):
        await proc.handle_batch(batch + [batch[0]])
    assert sorted(done) == ["s0", "s2", "s3"]
    flaky.clear()
    for e in batch:  # the bus's fallback, one by one
        await proc(e)
    assert sorted(done) == ["s0", "s1", "s2", "s3"]  # only s1 was redone
    assert (await committed(db))[1] == 4
    await db.dispose()


async def test_rabbit_batches_under_load_and_a_poison_message_still_dead_letters(pg_database: str,
                                                                                namespace: str) -> None:
    """Messages waiting in the queue are taken several at a time; one that always fails makes its
    batch fall back to one by one: the others are handled once, it alone goes to the DLQ."""
    db = Database(pg_database, "workflow", wf_outbox)
    rec = Recorder(fail_on={"s7"})
    sizes: list[int] = []

    class Watched(EventProcessor):
        async def handle_batch(self, envs: list[Envelope]) -> None:
            sizes.append(len(envs))
            await super().handle_batch(envs)

    proc = Watched("workflow", db, wf_inbox, {TYPE: rec})
    bus = RabbitBus(AMQP_URL, namespace, prefetch=100, batch=50, retry_delays_s=[0.2], max_attempts=2)
    await bus.start()
    try:
        await bus.declare("workflow", [TYPE])
        events = [event(i) for i in range(60)]
        await bus.publish([OutgoingMessage(e.id, e.type, e.to_bytes()) for e in events])
        await bus.subscribe("workflow", [TYPE], proc)
        for _ in range(200):
            subjects, _ = await committed(db)
            if len(subjects) == 59 and len(await bus.dead_letters("workflow")) == 1:
                break
            await asyncio.sleep(0.1)
        subjects, inbox_rows = await committed(db)
        assert subjects == sorted(f"s{i}" for i in range(60) if i != 7)
        assert inbox_rows == 59
        dead = await bus.dead_letters("workflow")
        assert [d.id for d in dead] == [str(events[7].id)]
        assert max(sizes) > 1, sizes  # batches really formed
    finally:
        await bus.close()
        await db.dispose()

"""Events in order (issue 9, point 5): a case's events delivered reordered and duplicated leave
every service's state as the truth; a gap never filled is dead-lettered, not applied.

The events are published on the bus as intake numbers them (``sequence`` = the case's version,
``case.created.v1`` = 1), so the tests do not depend on how intake's routes emit them."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from services.notifier.adapters.db import deliveries
from services.reporting.adapters.db import case_facts
from services.workflow.adapters.db import case_clocks, case_deadlines, timers
from shared.contracts.envelope import Envelope
from shared.messaging.bus import OutgoingMessage
from shared.messaging.ordering import CASE_EVENTS, Verdict, in_subject_order, verdict
from shared.messaging.topology import topic_matches
from tests.support.smtp_sink import SmtpSink
from tests.support.system import TENANT, System, case_body, demo, wait_for

INTAKE = "atiende/intake"


# -- the rule (no I/O) ------------------------------------------------------------------------------
def test_ordering_rule_applies_the_next_skips_the_stale_and_waits_on_a_gap() -> None:
    assert verdict(0, 1) is Verdict.APPLY  # a subject's first event
    assert verdict(3, 4) is Verdict.APPLY
    assert verdict(3, 3) is Verdict.STALE  # repeated (another copy, another id)
    assert verdict(3, 1) is Verdict.STALE  # older than what was applied
    assert verdict(0, 2) is Verdict.GAP  # case.created not applied yet
    assert verdict(3, 5) is Verdict.GAP


def _env(subject: str, seq: int | None, type_: str = "case.commented.v1", source: str = INTAKE) -> Envelope:
    return Envelope(source=source, type=type_, subject=subject, tenant=TENANT, sequence=seq, data={})


def test_a_batch_is_sorted_within_each_subject_keeping_the_subjects_places() -> None:
    a2, a1, x, b3, b2, a3, free = (_env("a", 2), _env("a", 1), _env("x", None), _env("b", 3), _env("b", 2),
                                   _env("a", 3), _env("a", None))
    out = in_subject_order([a2, a1, x, b3, b2, a3, free])
    assert out == [a1, a2, x, b2, b3, a3, free]
    # the same subject numbered by two sources is two histories
    w2, i1 = _env("a", 2, source="atiende/workflow"), _env("a", 1)
    assert in_subject_order([w2, i1]) == [w2, i1]


def test_topic_patterns_match_like_rabbitmq() -> None:
    assert topic_matches("catalog.#", "catalog.channel_changed.v1")
    assert topic_matches("catalog.*.v1", "catalog.area_changed.v1")
    assert not topic_matches("catalog.#", "case.created.v1")
    assert not topic_matches("catalog.*", "catalog.area_changed.v1")


def test_every_consumer_of_a_case_event_consumes_all_of_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Exact gap detection needs every numbered event of a case."""
    from shared.settings import Settings
    from tests.conftest import TOKEN_SECRET

    system = System(Settings(data_dir=tmp_path, token_secret=TOKEN_SECRET))
    for name, rt in system.rt.items():
        types = set(rt.processor.event_types)
        if types & CASE_EVENTS:
            assert CASE_EVENTS <= types, name


# -- helpers ----------------------------------------------------------------------------------------
def created(case_id: uuid.UUID, seq: int = 1, **over: Any) -> Envelope:
    data = {"case_id": str(case_id), "number": f"T-{str(case_id)[:6]}", "tenant_country": "CL",
            "tenant_timezone": "America/Santiago", "language": "es",
            "case_type": {"code": "consulta-general", "name": "Consulta general",
                          "deadline": {"unit": "business_days", "amount": 5}},
            "subject": "Copia de escritura", "description": "Solicita copia.",
            "contact": {"name": "Héctor Contreras", "email": "hector@example.cl", "phone": None},
            "responsible_email": demo("ejecutiva"), "priority": "normal", "status": "new",
            "created_at": datetime.now(UTC).isoformat()}
    data.update(over)
    return Envelope(source=INTAKE, type="case.created.v1", subject=str(case_id), tenant=TENANT, sequence=seq,
                    data=data)


def transition(case_id: uuid.UUID, seq: int, type_: str, status_from: str, status_to: str) -> Envelope:
    return Envelope(source=INTAKE, type=type_, subject=str(case_id), tenant=TENANT, sequence=seq, data={
        "case_id": str(case_id), "status_from": status_from, "status_to": status_to, "by": None,
        "by_name": "Ejecutiva Demo", "at": datetime.now(UTC).isoformat(), "text": "Listo."})


def executed(case_id: uuid.UUID, seq: int = 2) -> Envelope:
    return transition(case_id, seq, "case.executed.v1", "new", "in_execution")


def finished(case_id: uuid.UUID, seq: int = 3) -> Envelope:
    return transition(case_id, seq, "case.finished.v1", "in_execution", "finished_success")


def copy_of(env: Envelope) -> Envelope:
    """The same fact as another event (another id): only its sequence says it is old."""
    return env.model_copy(update={"id": uuid.uuid4()})


async def publish(system: System, *envs: Envelope) -> None:
    await system.bus.publish([OutgoingMessage(e.id, e.type, e.to_bytes()) for e in envs])


async def status_in_reporting(system: System, case_id: uuid.UUID) -> str | None:
    async with system.rt["reporting"].db.read() as conn:
        return (await conn.execute(select(case_facts.c.status).where(case_facts.c.case_id == case_id))).scalar()


async def workflow_state(system: System, case_id: uuid.UUID) -> tuple[str | None, int]:
    """The case's status in workflow and how many overdue timers are still armed for it."""
    async with system.rt["workflow"].db.read() as conn:
        status = (await conn.execute(select(case_deadlines.c.status)
                                     .where(case_deadlines.c.case_id == case_id))).scalar()
        armed = (await conn.execute(select(func.count()).select_from(timers).where(
            timers.c.subject == str(case_id), timers.c.fired_at.is_(None),
            timers.c.cancelled_at.is_(None)))).scalar_one()
    return status, int(armed)


def mails_of(sink: SmtpSink, case_id: uuid.UUID) -> Counter[tuple[str, str]]:
    return Counter((str(m.message["X-Atiende-Template"]), ",".join(m.to)) for m in sink.messages
                   if str(m.message.get("X-Atiende-Case")) == str(case_id))


# -- every service, real PostgreSQL and RabbitMQ ----------------------------------------------------
@pytest.mark.integration
async def test_reordered_and_duplicated_case_events_leave_every_service_at_the_truth(
        rabbit_system: System, smtp_sink: SmtpSink) -> None:
    """finished #3 and executed #2 before created #1, each delivered twice (same id) and once more
    as another event with the same number: reporting ends 'finished', workflow has no armed
    overdue timer for the finished case (R4.8), and notifier sent each e-mail once."""
    s = rabbit_system
    cid = uuid.uuid4()
    c1, e2, f3 = created(cid), executed(cid), finished(cid)
    await publish(s, f3, e2, f3)
    await asyncio.sleep(0.3)  # without ordering they would be applied (or parked) before #1 exists
    await publish(s, c1, c1, e2, copy_of(c1))
    await asyncio.sleep(0.3)
    await publish(s, copy_of(f3), copy_of(e2))

    async def settled() -> bool:
        return (await status_in_reporting(s, cid) == "finished_success"
                and await workflow_state(s, cid) == ("finished_success", 0)
                and sum(1 for _ in mails_of(smtp_sink, cid)) > 0)

    await wait_for(settled, 30, "every service at the truth")
    await asyncio.sleep(2.0)  # let any late copy (retry queues) arrive: nothing may change
    assert await status_in_reporting(s, cid) == "finished_success"
    assert await workflow_state(s, cid) == ("finished_success", 0)
    mails = mails_of(smtp_sink, cid)
    assert mails and all(n == 1 for n in mails.values()), mails
    assert {t for t, _ in mails} >= {"case_finished"}
    async with s.rt["notifier"].db.read() as conn:
        finished_rows = (await conn.execute(select(func.count()).select_from(deliveries).where(
            deliveries.c.case_id == cid, deliveries.c.template == "case_finished"))).scalar_one()
    assert finished_rows == sum(n for (t, _), n in mails.items() if t == "case_finished")
    assert s.rt["reporting"].processor.stale >= 2  # the copies with old numbers were skipped


@pytest.mark.integration
async def test_r4_8_an_execute_overtaking_created_is_applied_after_it(rabbit_system: System) -> None:
    """Without ordering, case.executed handled before case.created would change nothing, and the
    case would stay "new" in workflow (its R4.8 alert raised at the deadline of an executed case).
    In order: created, then executed — the resolution clock keeps its one timer (it runs until the
    case is finished) and the cycle is marked attended."""
    s = rabbit_system
    cid = uuid.uuid4()
    await publish(s, executed(cid))
    await asyncio.sleep(0.3)
    await publish(s, created(cid))

    async def settled() -> bool:
        return (await workflow_state(s, cid) == ("in_execution", 1)
                and await status_in_reporting(s, cid) == "in_execution")

    await wait_for(settled, 30, "workflow and reporting at 'in_execution'")
    async with s.rt["workflow"].db.read() as conn:
        all_timers = (await conn.execute(select(func.count()).select_from(timers)
                                         .where(timers.c.subject == str(cid)))).scalar_one()
        policy = (await conn.execute(select(case_clocks.c.policy).where(case_clocks.c.case_id == cid))).scalar_one()
    assert all_timers == 1 and policy["attended_cycle"] == 1


@pytest.mark.integration
async def test_a_gap_never_filled_is_dead_lettered_not_applied(rabbit_system: System) -> None:
    """#1 then #3 (#2 never comes): #3 waits (quick retries, retry queues), then goes to the DLQ;
    the read model stays at #1."""
    s = rabbit_system
    cid = uuid.uuid4()
    f3 = finished(cid)
    await publish(s, created(cid))
    await wait_for(lambda: _is(status_in_reporting(s, cid), "new"), 20, "case.created applied")
    await publish(s, f3)

    async def dead_lettered() -> bool:
        return any(d.id == str(f3.id) for d in await s.bus.dead_letters("reporting"))

    await wait_for(dead_lettered, 30, "the gapped event in reporting's DLQ")
    dl = next(d for d in await s.bus.dead_letters("reporting") if d.id == str(f3.id))
    assert "OutOfOrder" in dl.error
    assert await status_in_reporting(s, cid) == "new"
    assert (await workflow_state(s, cid))[0] == "new"


async def _is(coro: Any, value: Any) -> bool:
    return bool((await coro) == value)


@pytest.mark.integration
async def test_r4_8_a_late_overdue_does_not_mark_an_executed_case_overdue(rabbit_system: System) -> None:
    """workflow can fire the overdue timer before it has seen the execution; intake, the truth,
    does not list the executed case as overdue."""
    s = rabbit_system
    case = await s.create_case(case_body(41))
    r = await s.intake.post(f"/cases/{case['id']}/execute", json={"text": "En curso."},
                            headers=await s.auth("ejecutiva"))
    assert r.status_code == 200, r.text
    late = Envelope(source="atiende/workflow", type="case.overdue.v1", subject=case["id"], tenant=TENANT,
                    data={"case_id": case["id"], "due_at": datetime.now(UTC).isoformat()})
    handled_before = s.rt["intake"].processor.handled
    await publish(s, late)
    await wait_for(lambda: s.rt["intake"].processor.handled > handled_before, 20, "intake handled case.overdue")
    shown = (await s.intake.get(f"/cases/{case['id']}", headers=await s.auth())).json()
    assert shown["overdue"] is False


# -- embedded mode (LocalBus, SQLite) ---------------------------------------------------------------
@pytest.mark.integration
async def test_embedded_batches_apply_a_subjects_events_in_order_and_a_gap_loses_nothing_else(
        embedded_system: System) -> None:
    """LocalBus hands the consumer several messages at once: #3, #1, #2 in one batch all apply in
    order; a gap in a batch (case B's #3) fails the batch, and the one-by-one path still applies
    the rest (case C) while B's #3 waits and ends dead-lettered."""
    s = embedded_system
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    b3 = finished(b)
    await publish(s, finished(a), created(a), executed(a), created(b), b3, created(c), executed(c))

    async def settled() -> bool:
        return (await status_in_reporting(s, a) == "finished_success"
                and await status_in_reporting(s, c) == "in_execution"
                and await status_in_reporting(s, b) == "new")

    await wait_for(settled, 30, "cases A and C applied in order, B at #1")
    # workflow consumes the same batch on its own: it may settle a moment after reporting.
    await wait_for(lambda: _is(workflow_state(s, a), ("finished_success", 0)), 20, "case A finished in workflow")

    async def dead_lettered() -> bool:
        return any(d.id == str(b3.id) for d in await s.bus.dead_letters("reporting"))

    await wait_for(dead_lettered, 30, "B's #3 dead-lettered")
    assert await status_in_reporting(s, b) == "new"


# -- catalog cache on every replica (issue 9, point 4) ----------------------------------------------
@pytest.mark.integration
async def test_a_catalog_change_through_one_replica_reaches_the_other_replicas_cache(
        rabbit_system: System) -> None:
    """Replica B has the type cached (30 s TTL); the type is deactivated through replica A; B's
    next POST /cases is refused within a second (catalog.# on B's own queue clears its cache)."""
    s = rabbit_system
    replica = System(s.settings, services=("intake",))
    b = replica.rt["intake"]
    await b.start()
    try:
        await wait_for(lambda: b.subscribed, 20, "replica B subscribed")
        h = await s.auth()
        r = await replica.intake.post("/cases", json=case_body(51), headers=h)
        assert r.status_code == 201, r.text  # B has consulta-general cached now
        r = await s.intake.patch("/catalog/case-types/consulta-general", json={"active": False}, headers=h)
        assert r.status_code == 200, r.text

        async def refused_on_b() -> bool:
            r = await replica.intake.post("/cases", json=case_body(52), headers=h)
            return r.status_code == 422

        await wait_for(refused_on_b, 1.0, "replica B refusing the deactivated type", interval=0.1)
    finally:
        await b.stop()
        for c in replica.clients.values():
            await c.aclose()
        await replica.bus.close()


@pytest.mark.integration
async def test_a_case_entered_before_numbering_is_numbered_from_1_after_the_upgrade(rabbit_system: System) -> None:
    """intake_0007_case_numbering: a case that existed before events were numbered has no progress
    at its consumers; the migration sets its version to 0, so its next events are #1, #2… and are
    applied — not left waiting for numbers that were never given (and dead-lettered)."""
    from services.intake.adapters.db import cases
    from services.notifier.adapters.db import progress as notifier_progress
    from services.reporting.adapters.db import progress as reporting_progress
    from services.workflow.adapters.db import progress as workflow_progress

    s = rabbit_system
    cid = uuid.UUID((await s.create_case(case_body(71)))["id"])
    await wait_for(lambda: _is(workflow_state(s, cid), ("new", 1)), 30, "the case known to workflow")
    await wait_for(lambda: _is(status_in_reporting(s, cid), "new"), 30, "the case known to reporting")
    # As before numbering: no consumer has a progress row for it; the upgrade left its version at 0.
    for svc, progress in (("workflow", workflow_progress), ("notifier", notifier_progress),
                          ("reporting", reporting_progress)):
        async with s.rt[svc].db.transaction() as tx:
            await tx.conn.execute(progress.delete().where(progress.c.subject == str(cid)))
    async with s.rt["intake"].db.transaction() as tx:
        await tx.conn.execute(cases.update().where(cases.c.id == cid).values(version=0))
    admin = await s.auth("admin")
    r = await s.intake.post(f"/cases/{cid}/comments", json={"text": "Se llamó al cliente."}, headers=admin)
    assert r.status_code == 201, r.text
    r = await s.intake.post(f"/cases/{cid}/execute", json={"text": "Se envió la copia."}, headers=admin)
    assert r.status_code == 200, r.text
    # Executed: the resolution clock (and its one timer) runs on until the case is finished.
    await wait_for(lambda: _is(workflow_state(s, cid), ("in_execution", 1)), 30, "workflow applied #1 and #2")
    await wait_for(lambda: _is(status_in_reporting(s, cid), "in_execution"), 30, "reporting applied #1 and #2")
    async with s.rt["workflow"].db.read() as conn:
        last = (await conn.execute(select(workflow_progress.c.last_sequence)
                                   .where(workflow_progress.c.subject == str(cid)))).scalar()
    assert last == 2

"""Nothing accepted is lost, nothing is done twice: the proofs issue #2 asks for, against real
RabbitMQ and PostgreSQL, counting e-mails that really reached an SMTP server on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from services.intake.adapters.db import outbox as intake_outbox
from services.notifier.adapters.db import deliveries
from services.notifier.bootstrap import build as build_notifier
from services.workflow.adapters.db import case_deadlines, timers
from services.workflow.adapters.db import outbox as workflow_outbox
from shared.contracts.envelope import Envelope
from shared.faults import CRASH_EXIT_CODE
from shared.messaging.bus import OutgoingMessage
from shared.settings import Settings
from tests.support.smtp_sink import SmtpSink, free_port
from tests.support.system import System, case_body, wait_for

pytestmark = pytest.mark.integration


def assert_each_case_mailed_once(sink: SmtpSink, case_ids: list[str]) -> None:
    per_case = Counter((m.message["X-Atiende-Case"], m.message["X-Atiende-Template"]) for m in sink.messages)
    assert len(sink.messages) == 2 * len(case_ids)
    for cid in case_ids:
        assert per_case[(cid, "case_received")] == 1, cid
        assert per_case[(cid, "case_assigned")] == 1, cid
    message_ids = [m.message["Message-ID"] for m in sink.messages]
    assert len(set(message_ids)) == len(message_ids)


async def rabbitmqctl(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec("rabbitmqctl", *args, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()


async def pending_outbox(system: System, service: str = "intake") -> int:
    ob = intake_outbox if service == "intake" else workflow_outbox
    async with system.rt[service].db.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(ob).where(
            ob.c.published_at.is_(None), ob.c.type.like("case.%")))).scalar_one())


async def test_cases_accepted_while_broker_is_down_are_mailed_exactly_once(rabbit_system: System,
                                                                           smtp_sink: SmtpSink) -> None:
    """RabbitMQ stopped (the real node), 50 cases created → all accepted; RabbitMQ back → 100 e-mails,
    none twice; consumers come back after the restart (readiness)."""
    system = rabbit_system
    await rabbitmqctl("stop_app")
    try:
        ids = [(await system.create_case(case_body(i)))["id"] for i in range(50)]
        assert len(set(ids)) == 50
        assert await pending_outbox(system) == 50  # waiting for the broker, not lost
        r = await system.intake.get("/ready")
        assert r.status_code == 503 and r.json()["checks"]["broker"] == "down"
        assert smtp_sink.count() == 0
    finally:
        await rabbitmqctl("start_app")
    await wait_for(lambda: smtp_sink.count() >= 100, 120, "100 e-mails after the broker came back")
    await asyncio.sleep(1.5)  # anything doubled would arrive now
    assert_each_case_mailed_once(smtp_sink, ids)
    assert await pending_outbox(system) == 0

    async def all_ready() -> bool:
        for client in system.clients.values():
            if (await client.get("/ready")).status_code != 200:
                return False
        return True

    await wait_for(all_ready, 60, "every service ready again, consumers re-attached")
    # And the re-attached consumers really consume: a new case after the restart flows through.
    late = (await system.create_case(case_body(99)))["id"]
    await wait_for(lambda: len(smtp_sink.for_case(late)) == 2, 30, "e-mails of a case created after restart")


async def test_same_event_delivered_twice_sends_one_email(rabbit_system: System, smtp_sink: SmtpSink) -> None:
    system = rabbit_system
    case_id = (await system.create_case(case_body(1)))["id"]
    await wait_for(lambda: len(smtp_sink.for_case(case_id)) == 2, 20, "first e-mails")
    async with system.rt["workflow"].db.engine.connect() as conn:
        body = (await conn.execute(select(workflow_outbox.c.body)
                                   .where(workflow_outbox.c.type == "case.deadline_set.v1"))).scalar_one()
    env = Envelope.model_validate_json(body)
    notifier, workflow = system.rt["notifier"].processor, system.rt["workflow"].processor
    dup_before = notifier.duplicates
    msg = OutgoingMessage(env.id, env.type, body.encode())
    await system.bus.publish([msg])
    await system.bus.publish([msg])
    await wait_for(lambda: notifier.duplicates >= dup_before + 2, 20, "notifier saw both copies")
    # The atomic path too: case.created again → workflow drops it, one deadline row.
    async with system.rt["intake"].db.engine.connect() as conn:
        created = (await conn.execute(select(intake_outbox.c.body)
                                      .where(intake_outbox.c.type == "case.created.v1"))).scalar_one()
    cenv = Envelope.model_validate_json(created)
    wf_before = workflow.duplicates
    await system.bus.publish([OutgoingMessage(cenv.id, cenv.type, created.encode())])
    await wait_for(lambda: workflow.duplicates >= wf_before + 1, 20, "workflow saw the copy")
    async with system.rt["workflow"].db.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(case_deadlines))).scalar_one() == 1
    await asyncio.sleep(0.5)
    assert_each_case_mailed_once(smtp_sink, [case_id])


async def test_transient_smtp_failures_are_retried_and_delivered_on_third_try(rabbit_system: System,
                                                                            smtp_sink: SmtpSink) -> None:
    # The handler sends both e-mails of an event at once: the SMTP server answers 451 to the two
    # sends of the first attempt and to the two of the second; the third attempt delivers.
    smtp_sink.fail_next(4)
    case_id = (await rabbit_system.create_case(case_body(2)))["id"]
    await wait_for(lambda: len(smtp_sink.for_case(case_id)) == 2, 30, "e-mails after retries")
    assert smtp_sink.refusals == 4

    async def all_sent() -> bool:  # the rows are marked in the transaction right after the sends
        async with rabbit_system.rt["notifier"].db.engine.connect() as conn:
            states = (await conn.execute(select(deliveries.c.state))).scalars().all()
        return sorted(states) == ["sent", "sent"]

    await wait_for(all_sent, 20, "deliveries marked sent")
    async with rabbit_system.rt["notifier"].db.engine.connect() as conn:
        rows = {r.recipient_role: r for r in (await conn.execute(select(deliveries))).all()}
    assert rows["contact"].attempts == 3 and rows["contact"].state == "sent"
    assert rows["responsible"].attempts == 3 and rows["responsible"].state == "sent"
    assert await rabbit_system.bus.dead_letters("notifier") == []
    await asyncio.sleep(0.7)
    assert_each_case_mailed_once(smtp_sink, [case_id])


async def test_always_failing_handler_goes_to_dlq_and_replay_delivers_once(rabbit_system: System,
                                                                          smtp_sink: SmtpSink) -> None:
    system = rabbit_system
    smtp_sink.fail_always()
    case_id = (await system.create_case(case_body(3)))["id"]

    async def dead() -> bool:
        return len(await system.bus.dead_letters("notifier")) == 1

    await wait_for(dead, 30, "the message in atiende's notifier DLQ")
    [letter] = await system.bus.dead_letters("notifier")
    assert letter.type == "case.deadline_set.v1" and letter.attempts == 3
    assert "451" in letter.error
    assert smtp_sink.count() == 0 and smtp_sink.refusals == 3 * 2  # three attempts, two e-mails each
    # Peeking does not consume: it is still there.
    assert len(await system.bus.dead_letters("notifier")) == 1

    smtp_sink.fail_always(None)  # the fault is fixed
    assert await system.bus.replay_dead_letters("notifier") == 1
    await wait_for(lambda: len(smtp_sink.for_case(case_id)) == 2, 30, "e-mails after replay")
    await asyncio.sleep(0.7)
    assert_each_case_mailed_once(smtp_sink, [case_id])
    assert await system.bus.dead_letters("notifier") == []


async def test_permanent_smtp_rejection_goes_straight_to_dlq(rabbit_system: System, smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_always("550 5.1.1 mailbox unavailable")
    await rabbit_system.create_case(case_body(4))

    async def dead() -> bool:
        return len(await rabbit_system.bus.dead_letters("notifier")) == 1

    await wait_for(dead, 30, "the permanent failure in the DLQ")
    assert smtp_sink.refusals == 2  # one attempt (its two e-mails): no retries for a 5xx


def _service_env(settings: Settings, smtp_port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATIENDE_")}
    env.update({"ATIENDE_DATABASE_URL": settings.database_url, "ATIENDE_AMQP_URL": settings.amqp_url,
                "ATIENDE_NAMESPACE": settings.namespace, "ATIENDE_SMTP_HOST": "127.0.0.1",
                "ATIENDE_SMTP_PORT": str(smtp_port), "ATIENDE_RETRY_DELAYS_S": json.dumps(settings.retry_delays_s),
                "ATIENDE_MAX_ATTEMPTS": str(settings.max_attempts), "ATIENDE_LOG_JSON": "false",
                "ATIENDE_TOKEN_SECRET": settings.token_secret})
    env.update(extra)
    return env


async def test_consumer_killed_after_handling_before_ack_applies_effect_once(
        rabbit_settings: Settings, smtp_sink: SmtpSink) -> None:
    """A notifier process dies (os._exit) after its transaction committed and the e-mails went out,
    before the ack. RabbitMQ redelivers to the next notifier: the inbox recognises it, no e-mail again."""
    system = await System(rabbit_settings, services=("intake", "workflow", "reporting")).start()
    port = free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 - a real separate process is the point
        [sys.executable, "-m", "atiende", "serve", "notifier", "--port", str(port)],
        env=_service_env(rabbit_settings, smtp_sink.port, ATIENDE_FAULT="crash-before-ack:case.deadline_set.v1"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    replacement = None
    try:
        async def subprocess_ready() -> bool:
            try:
                async with httpx.AsyncClient() as client:
                    return (await client.get(f"http://127.0.0.1:{port}/ready")).status_code == 200
            except httpx.HTTPError:
                return False

        await wait_for(subprocess_ready, 60, "the notifier process ready")
        case_id = (await system.create_case(case_body(5)))["id"]
        await wait_for(lambda: proc.poll() is not None, 60, "the notifier process to crash")
        assert proc.returncode == CRASH_EXIT_CODE, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
        assert len(smtp_sink.for_case(case_id)) == 2  # the effect happened before the crash

        replacement = build_notifier(rabbit_settings, bus=system.bus)
        await replacement.start()
        await wait_for(lambda: replacement.processor.duplicates >= 1, 30, "the redelivered event dropped")
        await asyncio.sleep(0.5)
        assert_each_case_mailed_once(smtp_sink, [case_id])
        async with replacement.db.engine.connect() as conn:
            states = (await conn.execute(select(deliveries.c.state))).scalars().all()
        assert sorted(states) == ["sent", "sent"]
    finally:
        if proc.poll() is None:
            proc.kill()
        if replacement is not None:
            await replacement.stop()
        await system.stop()


async def test_two_intake_replicas_publish_each_event_once(rabbit_settings: Settings, smtp_sink: SmtpSink) -> None:
    """Two relays on one outbox (FOR UPDATE SKIP LOCKED): no event is published twice."""
    system = await System(rabbit_settings).start()
    replica = System(rabbit_settings, services=("intake",))
    replica.bus = system.bus
    replica.rt["intake"].bus = system.bus
    replica.rt["intake"].relay.bus = system.bus
    await replica.rt["intake"].start()
    try:
        clients = [system.intake, replica.intake]
        ids = []
        h = await system.auth()
        for i in range(60):
            r = await clients[i % 2].post("/cases", json=case_body(i), headers=h)
            assert r.status_code == 201
            ids.append(r.json()["id"])
        wf = system.rt["workflow"].processor

        async def sixty_deadlines() -> bool:  # workflow also handles the seed's calendar events: count cases
            async with system.rt["workflow"].db.engine.connect() as conn:
                return (await conn.execute(select(func.count()).select_from(case_deadlines))).scalar_one() == 60

        await wait_for(sixty_deadlines, 60, "workflow handled 60 cases")
        await wait_for(lambda: smtp_sink.count() == 120, 60, "120 e-mails")
        await asyncio.sleep(0.5)
        assert wf.duplicates == 0
        assert_each_case_mailed_once(smtp_sink, ids)
        numbers = {(await system.intake.get(f"/cases/{i}", headers=h)).json()["number"] for i in ids}
        assert len(numbers) == 60  # per-tenant numbers stay unique across replicas
    finally:
        await replica.rt["intake"].stop()
        for c in replica.clients.values():
            await c.aclose()
        await system.stop()


async def test_overdue_timer_fires_once_and_reaches_intake_and_reporting(rabbit_system: System) -> None:
    """R4.8: when the deadline passes, workflow's durable timer emits case.overdue."""
    system = rabbit_system
    case_id = (await system.create_case(case_body(6)))["id"]
    wf = system.rt["workflow"]
    async def armed() -> bool:
        async with wf.db.engine.connect() as conn:
            return (await conn.execute(select(func.count()).select_from(timers))).scalar_one() == 1
    await wait_for(armed, 20, "overdue timer armed")
    async with wf.db.engine.connect() as conn:
        due = (await conn.execute(select(case_deadlines.c.due_at))).scalar_one()
    system.travel_to(due + timedelta(minutes=1))  # time travel: the deadline is now in the past

    h = await system.auth()

    async def overdue_everywhere() -> bool:
        shown = (await system.intake.get(f"/cases/{case_id}", headers=h)).json()
        return bool(shown["overdue"])

    await wait_for(overdue_everywhere, 20, "intake shows the case overdue")
    async with wf.db.engine.connect() as conn:
        # One timer row per clock, moved in place: now pending for the ladder's next level.
        row = (await conn.execute(select(timers))).one()
        assert row.fired_at is None and row.payload["step"] == "escalate" and row.due_at > due
        assert (await conn.execute(select(func.count()).select_from(workflow_outbox)
                                   .where(workflow_outbox.c.type == "case.overdue.v1"))).scalar_one() == 1

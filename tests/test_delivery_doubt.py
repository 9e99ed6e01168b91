"""No delivery left in doubt (issue 11, item 6), against real PostgreSQL, RabbitMQ, an SMTP
server on loopback and the Twilio stand-in.

A delivery claimed for sending holds a lease; one still "sending" past it (its process died
between claim and result) is resolved by notifier's sweeper: an e-mail is re-sent with the same
Message-ID, an SMS is looked up at the provider first and sent only if the provider does not
have it. The last test kills a real notifier process (SIGKILL) in the middle of a burst."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections import defaultdict
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from atiende.cli import deliveries_unknown
from services.notifier.adapters.db import deliveries
from services.notifier.bootstrap import build as build_notifier
from services.notifier.sweeper import Sweeper
from shared.contracts.envelope import Envelope
from shared.db import utcnow
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from tests.support.smtp_sink import SmtpSink, free_port
from tests.support.system import System, case_body, wait_for
from tests.support.twilio_standin import TwilioStandIn
from tests.test_reliability import _service_env
from tests.test_sms import MOBILE, escalated, publish, s, setup, twilio, wait_state  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration


def quiet_sweeper(rt: ServiceRuntime) -> Sweeper:
    """The runtime's sweeper with its background task stopped, so a test runs it once, itself."""
    for t in rt._tasks:
        if t.get_name() == f"{rt.name}:deliveries":
            t.cancel()
    sweeper: Sweeper = rt.extras["sweeper"]
    return sweeper


async def rows_of(rt: ServiceRuntime, **where: Any) -> list[Any]:
    d = deliveries.c
    async with rt.db.read() as conn:
        return list((await conn.execute(select(deliveries).where(
            *(getattr(d, k) == v for k, v in where.items())).order_by(d.template))).all())


async def crash_while_sending(rt: ServiceRuntime, ids: list[uuid.UUID], **values: Any) -> None:
    """What a process killed between the claim and the result leaves: "sending", claimed by a
    replica that is gone, its lease long expired."""
    long_ago = utcnow() - timedelta(hours=1)
    async with rt.db.transaction() as tx:
        await tx.conn.execute(update(deliveries).where(deliveries.c.id.in_(ids)).values(
            state="sending", claimed_by="deadbeef", claimed_at=long_ago, lease_until=long_ago + timedelta(seconds=120),
            attempts=1, **values))


# -- e-mail ----------------------------------------------------------------------------------------
async def test_an_email_claimed_then_interrupted_is_sent_once_by_the_sweeper(
        rabbit_settings: Settings, smtp_sink: SmtpSink, capsys: pytest.CaptureFixture[str]) -> None:
    system = await System(Settings(**{**rabbit_settings.model_dump(), "max_attempts": 2}),
                          services=("intake", "workflow", "notifier")).start()
    try:
        rt = system.rt["notifier"]
        sweeper = quiet_sweeper(rt)
        # The real record phase: the SMTP server refuses, so the e-mails stay pending and the event
        # ends in the DLQ (no redelivery will ever send them).
        smtp_sink.fail_always()
        case = await system.create_case(case_body(1))
        cid = uuid.UUID(case["id"])

        async def dead() -> bool:
            return len(await system.bus.dead_letters("notifier")) >= 1

        await wait_for(dead, 30, "the event in notifier's DLQ")
        rows = await rows_of(rt, case_id=cid)
        assert [r.state for r in rows] == ["pending", "pending"]
        # The claim step ran, the send did not: the process died in between.
        await crash_while_sending(rt, [r.id for r in rows])
        smtp_sink.fail_always(None)
        assert smtp_sink.count() == 0

        await deliveries_unknown(system.settings, None, 100)  # the operator's view: both in doubt
        listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert {(x["case_id"], x["state"], x["channel"]) for x in listed} == {(case["id"], "sending", "email")}
        assert all("***@" in x["recipient"] for x in listed)

        assert await sweeper.sweep_once() == 2
        assert await sweeper.sweep_once() == 0  # resolved: nothing more to take
        mails = smtp_sink.for_case(case["id"])
        assert sorted(m.message["Message-ID"] for m in mails) == sorted(f"<{r.id}@atiende>" for r in rows)
        after = await rows_of(rt, case_id=cid)
        assert [r.state for r in after] == ["sent", "sent"]
        assert all(r.attempts == 2 and r.claimed_by == rt.replica_id for r in after)
        assert sweeper.counts["email_resent"] == 2

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=rt.app), base_url="http://n") as c:
            st = (await c.get("/deliveries/stats")).json()
        assert st["in_doubt"] == 0 and st["unknown"] == 0 and st["counters"]["email_resent"] == 2
        await asyncio.sleep(0.3)
        assert len(smtp_sink.for_case(case["id"])) == 2  # exactly once each
    finally:
        await system.stop()


async def test_a_redelivered_event_resends_an_expired_claim_with_the_same_message_id(
        rabbit_system: System, smtp_sink: SmtpSink) -> None:
    """The event comes back (its ack was lost with the process) after the lease: the e-mail is
    re-sent inline, with the same Message-ID; nothing is marked unknown."""
    rt = rabbit_system.rt["notifier"]
    quiet_sweeper(rt)
    case = await rabbit_system.create_case(case_body(2))
    await wait_for(lambda: len(smtp_sink.for_case(case["id"])) == 2, 30, "the two e-mails")
    rows = await rows_of(rt, case_id=uuid.UUID(case["id"]))
    await crash_while_sending(rt, [rows[0].id])
    emails = rt.extras["sweeper"].emails
    seen: list[Any] = []

    async def mark(tx: Any, done: list[Any]) -> None:
        seen.extend(done)

    env = Envelope(source="atiende/workflow", type="case.deadline_set.v1", tenant=rows[0].tenant, data={},
                   id=rows[0].event_id)
    await emails.send_pending_batch([env], mark)  # the redelivery's send phase
    assert seen == [env]
    again = [m for m in smtp_sink.for_case(case["id"]) if m.message["Message-ID"] == f"<{rows[0].id}@atiende>"]
    assert len(again) == 2  # the repeat a receiver can drop
    assert [r.state for r in await rows_of(rt, case_id=uuid.UUID(case["id"]))] == ["sent", "sent"]


# -- SMS -------------------------------------------------------------------------------------------
async def test_an_sms_created_before_the_crash_is_found_and_not_sent_again(s: System,  # noqa: F811
                                                                          twilio: TwilioStandIn) -> None:  # noqa: F811
    rt = s.rt["notifier"]
    sweeper = quiet_sweeper(rt)
    case, uid = await setup(s)
    env = escalated(case, uid)
    await publish(s, env)
    row = await wait_state(s, env, "queued")
    sid = row.provider_sid
    assert twilio.creates == 1
    # Twilio created the message; the process died before it recorded the answer.
    await crash_while_sending(rt, [row.id], provider_sid=None)
    assert await sweeper.sweep_once() == 1
    after = (await rows_of(rt, id=row.id))[0]
    assert twilio.creates == 1 and len(twilio.sent_to(MOBILE)) == 1 and twilio.lookups == 1
    assert after.state == "queued" and after.provider_sid == sid
    assert sweeper.counts["sms_found"] == 1


async def test_an_sms_twilio_never_got_is_sent_once_by_the_sweeper(s: System,  # noqa: F811
                                                                  twilio: TwilioStandIn) -> None:  # noqa: F811
    rt = s.rt["notifier"]
    sweeper = quiet_sweeper(rt)
    case, uid = await setup(s)
    env = escalated(case, uid)
    await publish(s, env)
    row = await wait_state(s, env, "queued")
    twilio.messages.clear()  # as if the request had never reached Twilio
    await crash_while_sending(rt, [row.id], provider_sid=None)
    assert await sweeper.sweep_once() == 1
    after = (await rows_of(rt, id=row.id))[0]
    assert twilio.lookups == 1 and twilio.creates == 2 and len(twilio.sent_to(MOBILE)) == 1
    assert after.state == "queued" and after.provider_sid == twilio.sent_to(MOBILE)[0].sid


# -- kill -9 in a burst ----------------------------------------------------------------------------
CASES = 300
LEASE_S = 3


def start_notifier(settings: Settings, smtp_port: int, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # a real separate process is the point
        [sys.executable, "-m", "atiende", "serve", "notifier", "--port", str(port)],
        env=_service_env(settings, smtp_port, ATIENDE_DELIVERY_LEASE_S=str(LEASE_S)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def ready(port: int) -> bool:
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"http://127.0.0.1:{port}/ready")).status_code == 200
    except httpx.HTTPError:
        return False


async def test_notifier_killed_mid_burst_leaves_no_email_unsent_or_in_doubt(rabbit_settings: Settings,
                                                                            smtp_sink: SmtpSink) -> None:
    settings = Settings(**{**rabbit_settings.model_dump(), "max_attempts": 10})
    system = await System(settings, services=("intake", "workflow")).start()
    port = free_port()
    proc = start_notifier(settings, smtp_sink.port, port)
    try:
        await wait_for(lambda: ready(port), 60, "the notifier process ready")
        h = await system.auth()
        ids: list[str] = []
        gate = asyncio.Semaphore(8)

        async def one(i: int) -> None:
            async with gate:
                r = await system.intake.post("/cases", json=case_body(i), headers=h)
                assert r.status_code == 201, r.text
                ids.append(r.json()["id"])

        burst = asyncio.gather(*(one(i) for i in range(CASES)))
        await wait_for(lambda: smtp_sink.count() >= 150, 90, "the burst's e-mails flowing")
        os.kill(proc.pid, signal.SIGKILL)  # mid-batch: claims in flight, sends done, nothing recorded
        proc.wait(10)
        await burst
        proc = start_notifier(settings, smtp_sink.port, port)
        await wait_for(lambda: ready(port), 60, "the replacement notifier ready")

        def distinct() -> int:
            return len({m.message["Message-ID"] for m in smtp_sink.messages})

        await wait_for(lambda: distinct() >= 2 * CASES, 90, f"{2 * CASES} distinct e-mails")

        st: dict[str, Any] = {}

        async def settled() -> bool:
            async with httpx.AsyncClient() as c:
                st.update((await c.get(f"http://127.0.0.1:{port}/deliveries/stats")).json())
            return bool(st["in_doubt"] == st["unknown"] == st["sending"] == st["failed"] == 0)

        await wait_for(settled, 30, "no delivery in doubt")
        await asyncio.sleep(LEASE_S + 1)  # any late resend would show by now

        per_key: dict[tuple[str, str], set[str]] = defaultdict(set)
        per_recipient: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        for m in smtp_sink.messages:
            per_key[(m.message["X-Atiende-Case"], m.message["X-Atiende-Template"])].add(m.message["Message-ID"])
            for to in m.to:
                per_recipient[(m.message["X-Atiende-Case"], m.message["X-Atiende-Template"], to)].add(
                    m.message["Message-ID"])
        for cid in ids:  # each e-mail arrived, and every copy of it carries one Message-ID
            assert len(per_key[(cid, "case_received")]) == 1, cid
            assert len(per_key[(cid, "case_assigned")]) == 1, cid
        assert len(per_key) == 2 * CASES and all(len(v) == 1 for v in per_recipient.values())
        repeats = len(smtp_sink.messages) - 2 * CASES
        print(f"\nkill -9 burst: {len(smtp_sink.messages)} e-mails received, {repeats} repeats; {st['counters']}")
        assert repeats >= 0  # copies of what was on the wire when the process died (same Message-ID)

        rt = build_notifier(settings, bus=system.bus)
        try:
            async with rt.db.read() as conn:
                states = (await conn.execute(select(deliveries.c.state))).scalars().all()
        finally:
            await rt.db.dispose()
        assert len(states) == 2 * CASES and set(states) == {"sent"}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        await system.stop()

"""SMS through Twilio (issue 11), against real servers on loopback: PostgreSQL, RabbitMQ, the real
``twilio`` client talking to a Twilio stand-in (tests/support/twilio_standin.py), and notifier's
status-callback endpoint served over HTTP (uvicorn) so that the stand-in's signed callbacks
arrive as Twilio's would. Counts are asserted at the stand-in, not calls.

workflow is not started: the tests publish its ``case.escalated.v1`` as it would (source
``atiende/workflow``, subject = the case id) for a case created through intake."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from services.notifier.adapters.db import case_recipients, deliveries, delivery_events, user_directory
from shared import clock
from shared.contracts.envelope import Envelope
from shared.messaging.bus import OutgoingMessage
from shared.settings import Settings
from tests.support.sms_system import system_with_sms
from tests.support.system import TENANT, System, case_body, demo, wait_for
from tests.support.twilio_standin import TwilioStandIn

WORKFLOW = "atiende/workflow"
MOBILE = "+56987654321"
DUE = datetime(2030, 1, 15, 15, 0, tzinfo=UTC)


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioStandIn]:
    standin = await TwilioStandIn().start()
    yield standin
    await standin.stop()


@pytest.fixture
async def s(rabbit_settings: Settings, twilio: TwilioStandIn) -> AsyncIterator[System]:
    async with system_with_sms(rabbit_settings, twilio, services=("intake", "notifier")) as system:
        yield system


# -- helpers --------------------------------------------------------------------------------------
async def user_id(s: System, local: str) -> str:
    r = await s.intake.get("/users", params={"limit": 100}, headers=await s.auth())
    assert r.status_code == 200, r.text
    return str(next(u["id"] for u in r.json()["items"] if u["email"] == demo(local)))


async def with_mobile(s: System, local: str, mobile: str = MOBILE) -> str:
    """The user's mobile set as an admin does (PATCH /users/{id}), once notifier's directory has it."""
    uid = await user_id(s, local)
    r = await s.intake.patch(f"/users/{uid}", json={"mobile": mobile}, headers=await s.auth())
    assert r.status_code == 200, r.text

    async def known() -> bool:
        async with s.rt["notifier"].db.read() as conn:
            return (await conn.execute(select(user_directory.c.mobile)
                                       .where(user_directory.c.user_id == uuid.UUID(uid)))).scalar() == mobile

    await wait_for(known, 20, "the mobile in notifier's directory")
    return uid


async def new_case(s: System) -> dict[str, Any]:
    case = await s.create_case(case_body(1))

    async def copied() -> bool:
        async with s.rt["notifier"].db.read() as conn:
            return (await conn.execute(select(case_recipients.c.case_id)
                                       .where(case_recipients.c.case_id == uuid.UUID(case["id"])))).first() is not None

    await wait_for(copied, 20, "notifier's copy of the case")
    return case


def escalated(case: dict[str, Any], uid: str, channels: list[str] | None = None) -> Envelope:
    data = {"case_id": case["id"], "case_version": 2, "kind": "case_overdue", "level": 0, "cycle": 1,
            "clock": "resolution", "due_at": DUE.isoformat(), "overdue_seconds": 2 * 3600 + 15 * 60,
            "urgent": False, "message": None, "task_id": None,
            "recipients": [{"user_id": uid, "reason": "responsible", "channels": channels or ["sms"]}],
            "at": clock.now().isoformat()}
    return Envelope(source=WORKFLOW, type="case.escalated.v1", subject=case["id"], tenant=TENANT, data=data)


async def publish(s: System, env: Envelope) -> None:
    await s.bus.publish([OutgoingMessage(env.id, env.type, env.to_bytes())])


async def sms_row(s: System, env: Envelope) -> Any:
    async with s.rt["notifier"].db.read() as conn:
        return (await conn.execute(select(deliveries).where(deliveries.c.event_id == env.id,
                                                            deliveries.c.channel == "sms"))).first()


async def wait_state(s: System, env: Envelope, *states: str, within: float = 20) -> Any:
    async def reached() -> bool:
        row = await sms_row(s, env)
        return row is not None and row.state in states

    await wait_for(reached, within, f"SMS delivery in {states}")
    return await sms_row(s, env)


async def history_of(s: System, row_id: uuid.UUID) -> list[str]:
    async with s.rt["notifier"].db.read() as conn:
        return list((await conn.execute(select(delivery_events.c.state)
                                        .where(delivery_events.c.delivery_id == row_id)
                                        .order_by(delivery_events.c.at))).scalars())


async def setup(s: System) -> tuple[dict[str, Any], str]:
    case = await new_case(s)
    return case, await with_mobile(s, "ejecutiva")


# -- tests ----------------------------------------------------------------------------------------
async def test_an_escalation_sends_one_sms_and_its_email(s: System, twilio: TwilioStandIn, smtp_sink: Any) -> None:
    case, uid = await setup(s)
    env = escalated(case, uid, ["email", "sms"])
    await publish(s, env)
    row = await wait_state(s, env, "queued")

    def escalation_mails() -> list[Any]:
        return [m for m in smtp_sink.for_case(case["id"]) if m.message["X-Atiende-Template"] == "case_escalated"]

    await wait_for(lambda: len(escalation_mails()) >= 1, 20, "the escalation e-mail")

    before = s.rt["notifier"].processor.duplicates
    await publish(s, env)  # redelivered: nothing more is sent
    await wait_for(lambda: s.rt["notifier"].processor.duplicates > before, 20, "duplicate dropped")
    await asyncio.sleep(0.3)

    sent = twilio.sent_to(MOBILE)
    assert len(sent) == 1 and twilio.creates == 1
    msg = sent[0]
    assert msg.from_ == "+15005550006"
    assert f"solicitud {case['number']} escalada" in msg.body and "atraso 2 h 15 min" in msg.body
    assert msg.status_callback == f"{s.settings.notifier_public_url}/sms/status/{row.id}"
    assert row.recipient == MOBILE and row.provider_sid == msg.sid
    assert len(escalation_mails()) == 1


async def test_twilio_500_twice_then_fine_sends_one_sms(s: System, twilio: TwilioStandIn) -> None:
    case, uid = await setup(s)
    twilio.fail_next(2, status=500)
    env = escalated(case, uid)
    await publish(s, env)
    row = await wait_state(s, env, "queued")
    await asyncio.sleep(0.5)
    assert twilio.creates == 3 and twilio.lookups == 0  # a 500 is an answer: nothing to look up
    assert len(twilio.sent_to(MOBILE)) == 1
    assert row.attempts == 3


async def test_429_is_retried(s: System, twilio: TwilioStandIn) -> None:
    case, uid = await setup(s)
    twilio.fail_next(1, status=429, code=20429, message="Too Many Requests")
    env = escalated(case, uid)
    await publish(s, env)
    await wait_state(s, env, "queued")
    assert len(twilio.sent_to(MOBILE)) == 1 and twilio.creates == 2 and twilio.lookups == 0


async def test_a_timeout_after_twilio_created_the_message_sends_no_second_sms(s: System,
                                                                             twilio: TwilioStandIn) -> None:
    case, uid = await setup(s)
    twilio.timeout_next(sleep_s=2.0)  # past the client's 1 s
    env = escalated(case, uid)
    await publish(s, env)
    row = await wait_state(s, env, "queued", "sent", "delivered")
    await asyncio.sleep(2.5)  # the stand-in's late answer comes and goes; retries would show by now
    sent = twilio.sent_to(MOBILE)
    assert len(sent) == 1 and twilio.creates == 1
    assert row.provider_sid == sent[0].sid  # found by the lookup, not resent
    assert twilio.lookups == 1 and row.attempts == 1
    assert await twilio.callback(sent[0].sid, "delivered") == 204
    assert (await sms_row(s, env)).state == "delivered"


async def test_a_dropped_connection_after_create_sends_no_second_sms(s: System, twilio: TwilioStandIn) -> None:
    case, uid = await setup(s)
    twilio.drop_next(after_create=True)
    env = escalated(case, uid)
    await publish(s, env)
    row = await wait_state(s, env, "queued")
    await asyncio.sleep(0.5)
    assert len(twilio.sent_to(MOBILE)) == 1 and twilio.creates == 1
    assert row.provider_sid == twilio.sent_to(MOBILE)[0].sid and twilio.lookups == 1


async def test_a_dropped_connection_before_create_is_sent_once_after_the_lookup(s: System,
                                                                                twilio: TwilioStandIn) -> None:
    case, uid = await setup(s)
    twilio.drop_next(after_create=False)
    env = escalated(case, uid)
    await publish(s, env)
    await wait_state(s, env, "queued")
    await asyncio.sleep(0.5)
    assert len(twilio.sent_to(MOBILE)) == 1 and twilio.creates == 2 and twilio.lookups == 1


async def test_callbacks_out_of_order_end_delivered(s: System, twilio: TwilioStandIn) -> None:
    case, uid = await setup(s)
    env = escalated(case, uid)
    await publish(s, env)
    row = await wait_state(s, env, "queued")
    assert await twilio.callback(row.provider_sid, "delivered") == 204
    assert await twilio.callback(row.provider_sid, "sent") == 204  # late: does not move it back
    row = await sms_row(s, env)
    assert row.state == "delivered"
    assert set(await history_of(s, row.id)) == {"queued", "delivered", "sent"}


async def test_a_forged_callback_is_403_and_changes_nothing(s: System, twilio: TwilioStandIn) -> None:
    case, uid = await setup(s)
    env = escalated(case, uid)
    await publish(s, env)
    row = await wait_state(s, env, "queued")
    sid = row.provider_sid
    assert await twilio.callback(sid, "failed", 30003, signature="bm90IGEgc2lnbmF0dXJl") == 403
    assert await twilio.callback(sid, "undelivered", 30005, signature="") == 403  # unsigned
    tampered = twilio.callback_params(twilio.messages[sid], "failed", 30003)
    # signed for "delivered", sent as "failed": the signature no longer matches
    assert await twilio.callback(sid, "delivered", params=tampered) == 403
    after = await sms_row(s, env)
    assert after.state == "queued" and after.error_code is None
    assert await history_of(s, row.id) == ["queued"]


async def test_a_permanent_error_is_failed_not_retried_and_in_the_case_history(s: System,
                                                                               twilio: TwilioStandIn) -> None:
    case, uid = await setup(s)
    twilio.fail_next(1, status=400, code=21211, message=f"The 'To' number {MOBILE} is not a valid phone number.")
    env = escalated(case, uid)
    await publish(s, env)
    row = await wait_state(s, env, "failed")
    assert row.error_code == "21211" and "21211" in (row.last_error or "")

    async def history_line() -> list[dict[str, Any]]:
        r = await s.intake.get(f"/cases/{case['id']}/history", params={"limit": 100}, headers=await s.auth())
        assert r.status_code == 200, r.text
        return [h for h in r.json()["items"] if h["kind"] == "notification_failed"]

    await wait_for(history_line, 20, "the notification_failed history line")
    await asyncio.sleep(1.0)  # a retry would have reached the stand-in by now
    assert twilio.creates == 1 and twilio.sent_to(MOBILE) == []
    (line,) = await history_line()
    assert line["data"]["channel"] == "sms" and line["data"]["state"] == "failed"
    assert line["data"]["error_code"] == "21211"
    assert line["data"]["recipient"] == "***4321"  # masked
    assert s.rt["notifier"].processor.handled >= 1


async def test_undelivered_callback_emits_the_failure(s: System, twilio: TwilioStandIn) -> None:
    case, uid = await setup(s)
    env = escalated(case, uid)
    await publish(s, env)
    row = await wait_state(s, env, "queued")
    assert await twilio.callback(row.provider_sid, "undelivered", 30005) == 204
    row = await sms_row(s, env)
    assert row.state == "undelivered" and row.error_code == "30005"

    async def history_line() -> bool:
        r = await s.intake.get(f"/cases/{case['id']}/history", params={"limit": 100}, headers=await s.auth())
        return any(h["kind"] == "notification_failed" and h["data"]["state"] == "undelivered"
                   for h in r.json()["items"])

    await wait_for(history_line, 20, "the undelivered history line")

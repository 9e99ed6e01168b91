"""notifier's side of time (issue 10): ``case.escalated.v1`` and ``case.sla_warning.v1`` e-mail
every recipient whose channels include e-mail, in the user's language, once per (event, recipient).

workflow is not started: the tests publish its events on the bus as it would (source
``atiende/workflow``, subject = the case id); intake gives notifier the case copy and the user
directory (case.created, user.upserted), and mail is read from a real SMTP sink."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from services.notifier.adapters.db import case_recipients, deliveries, inbox, user_directory
from shared import clock
from shared.contracts.envelope import Envelope
from shared.messaging.bus import OutgoingMessage
from shared.settings import Settings
from tests.support.smtp_sink import Received, SmtpSink
from tests.support.system import TENANT, System, case_body, demo, wait_for

WORKFLOW = "atiende/workflow"
DUE = datetime(2030, 1, 15, 15, 0, tzinfo=UTC)  # 12:00 in Santiago (UTC-3 in January)


@pytest.fixture(params=["embedded", "rabbit"])
def backend_settings(request: pytest.FixtureRequest) -> Settings:
    """SQLite + the in-process bus, or PostgreSQL + RabbitMQ."""
    return request.getfixturevalue(f"{request.param}_settings")  # type: ignore[no-any-return]


@pytest.fixture
async def s(backend_settings: Settings) -> AsyncIterator[System]:
    system = await System(backend_settings, services=("intake", "notifier")).start()
    yield system
    await system.stop()


# -- helpers --------------------------------------------------------------------------------------
async def user_id(s: System, local: str) -> str:
    r = await s.intake.get("/users", params={"limit": 100}, headers=await s.auth())
    assert r.status_code == 200, r.text
    return next(u["id"] for u in r.json()["items"] if u["email"] == demo(local))


async def new_case(s: System) -> dict[str, Any]:
    case = await s.create_case(case_body(1))

    async def copied() -> bool:
        async with s.rt["notifier"].db.read() as conn:
            return (await conn.execute(select(case_recipients.c.case_id)
                                       .where(case_recipients.c.case_id == uuid.UUID(case["id"])))).first() is not None

    await wait_for(copied, 20, "notifier's copy of the case")
    return case


def escalated(case: dict[str, Any], recipients: list[dict[str, Any]], **over: Any) -> Envelope:
    data = {"case_id": case["id"], "case_version": 2, "kind": "triage_supervisor", "level": 1, "cycle": 1,
            "clock": "resolution", "due_at": DUE.isoformat(), "overdue_seconds": 2 * 3600 + 15 * 60,
            "urgent": False, "message": "Revisar la clasificación, por favor.", "task_id": None,
            "recipients": recipients, "at": clock.now().isoformat(), **over}
    return Envelope(source=WORKFLOW, type="case.escalated.v1", subject=case["id"], tenant=TENANT, data=data)


async def publish(s: System, env: Envelope) -> None:
    await s.bus.publish([OutgoingMessage(env.id, env.type, env.to_bytes())])


def mails(sink: SmtpSink, case_id: str, template: str) -> list[Received]:
    return [m for m in sink.for_case(case_id) if m.message["X-Atiende-Template"] == template]


async def delivery_count(s: System, event_id: uuid.UUID) -> int:
    async with s.rt["notifier"].db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(deliveries)
                                       .where(deliveries.c.event_id == event_id))).scalar_one())


async def handled(s: System, event_id: uuid.UUID) -> bool:
    async with s.rt["notifier"].db.read() as conn:
        return (await conn.execute(select(inbox.c.event_id).where(inbox.c.event_id == event_id))).first() is not None


# -- tests ----------------------------------------------------------------------------------------
async def test_escalation_mails_each_email_recipient_once_in_spanish(s: System, smtp_sink: SmtpSink) -> None:
    case = await new_case(s)
    ejecutiva, ejecutivo = await user_id(s, "ejecutiva"), await user_id(s, "ejecutivo")
    env = escalated(case, [{"user_id": ejecutiva, "reason": "responsible", "channels": ["email", "sms"]},
                           {"user_id": ejecutivo, "reason": "manager", "channels": ["in_app"]}])
    await publish(s, env)
    await wait_for(lambda: len(mails(smtp_sink, case["id"], "case_escalated")) >= 1, 20, "escalation e-mail")
    # The e-mail leaves before the event is marked handled (two-phase): redeliver once it is.
    await wait_for(lambda: handled(s, env.id), 20, "the event marked handled")

    before = s.rt["notifier"].processor.duplicates
    await publish(s, env)  # redelivered (same id): nothing more is sent
    await wait_for(lambda: s.rt["notifier"].processor.duplicates > before, 20, "duplicate dropped")
    await asyncio.sleep(0.3)

    got = mails(smtp_sink, case["id"], "case_escalated")
    assert len(got) == 1, [m.to for m in got]
    assert got[0].to == [demo("ejecutiva")]  # none for the in_app-only recipient
    msg = got[0].message
    assert msg["Content-Language"] == "es"
    assert f"N° {case['number']}" in msg["Subject"] and "Derivada a supervisión" in msg["Subject"]
    body = msg.get_body(("plain",)).get_content()
    assert f"La solicitud N° {case['number']} fue escalada" in body
    assert "Vencía: 15-01-2030 12:00" in body  # the case's timezone
    assert "Atraso: 2 h 15 min" in body
    assert "Revisar la clasificación, por favor." in body
    assert "usted es el responsable" in body
    assert await delivery_count(s, env.id) == 1


async def test_two_recipients_of_one_event_each_get_their_mail(s: System, smtp_sink: SmtpSink) -> None:
    case = await new_case(s)
    ejecutiva, supervisora = await user_id(s, "ejecutiva"), await user_id(s, "supervisora")
    env = escalated(case, [{"user_id": ejecutiva, "reason": "responsible", "channels": ["email"]},
                           {"user_id": supervisora, "reason": "supervisor", "channels": ["email", "in_app"]}],
                    kind="case_overdue", level=0, message=None)
    await publish(s, env)
    await wait_for(lambda: len(mails(smtp_sink, case["id"], "case_escalated")) == 2, 20, "two escalation e-mails")
    got = {m.to[0]: m.message for m in mails(smtp_sink, case["id"], "case_escalated")}
    assert set(got) == {demo("ejecutiva"), demo("supervisora")}
    assert "Solicitud vencida" in got[demo("supervisora")]["Subject"]
    assert "usted es supervisor" in got[demo("supervisora")].get_body(("plain",)).get_content()
    assert "Mensaje:" not in got[demo("ejecutiva")].get_body(("plain",)).get_content()
    async with s.rt["notifier"].db.read() as conn:
        roles = set((await conn.execute(select(deliveries.c.recipient_role)
                                        .where(deliveries.c.event_id == env.id))).scalars())
    assert roles == {"responsible", "supervisor"}


async def test_unknown_user_is_retried_until_the_directory_has_them(s: System, smtp_sink: SmtpSink) -> None:
    case = await new_case(s)
    newcomer = uuid.uuid4()
    await publish(s, escalated(case, [{"user_id": str(newcomer), "reason": "subscriber", "channels": ["email"]}]))
    await asyncio.sleep(0.3)  # notifier tries it: NotYet (the user is not in its directory)
    assert mails(smtp_sink, case["id"], "case_escalated") == []

    profile = {"user_id": str(newcomer), "email": "nuevo@example.cl", "name": "Nuevo Suscriptor", "mobile": None,
               "roles": ["executor"], "manager_id": None, "projects": [], "escalation_subscriptions": [],
               "language": "es", "active": True}
    await publish(s, Envelope(source="atiende/intake", type="user.upserted.v1", subject=str(newcomer), tenant=TENANT,
                              data=profile))
    await wait_for(lambda: len(mails(smtp_sink, case["id"], "case_escalated")) == 1, 20, "mail once the user is known")
    assert mails(smtp_sink, case["id"], "case_escalated")[0].to == ["nuevo@example.cl"]


async def test_sla_warning_in_each_users_language(s: System, smtp_sink: SmtpSink) -> None:
    case = await new_case(s)
    ejecutiva, ejecutivo = await user_id(s, "ejecutiva"), await user_id(s, "ejecutivo")
    r = await s.intake.patch(f"/users/{ejecutivo}", json={"language": "en"}, headers=await s.auth())
    assert r.status_code == 200, r.text

    async def english() -> bool:
        async with s.rt["notifier"].db.read() as conn:
            lang = (await conn.execute(select(user_directory.c.language)
                                       .where(user_directory.c.user_id == uuid.UUID(ejecutivo)))).scalar()
        return lang == "en"

    await wait_for(english, 20, "notifier's directory in English")
    data = {"case_id": case["id"], "case_version": 1, "clock": "resolution", "percent": 80, "due_at": DUE.isoformat(),
            "cycle": 1, "recipients": [{"user_id": ejecutiva, "reason": "responsible", "channels": ["email"]},
                                       {"user_id": ejecutivo, "reason": "manager", "channels": ["sms", "email"]}]}
    await publish(s, Envelope(source=WORKFLOW, type="case.sla_warning.v1", subject=case["id"], tenant=TENANT,
                              data=data))
    await wait_for(lambda: len(mails(smtp_sink, case["id"], "case_sla_warning")) == 2, 20, "two warnings")
    got = {m.to[0]: m.message for m in mails(smtp_sink, case["id"], "case_sla_warning")}
    es, en = got[demo("ejecutiva")], got[demo("ejecutivo")]
    assert es["Content-Language"] == "es" and en["Content-Language"] == "en"
    assert f"solicitud N° {case['number']} lleva el 80 %" in es["Subject"]
    assert "Vence: 15-01-2030 12:00" in es.get_body(("plain",)).get_content()
    assert f"request No. {case['number']} has used 80% of its resolution time" in en["Subject"]
    assert "Due: 2030-01-15 12:00" in en.get_body(("plain",)).get_content()
    assert "you manage the request's responsible" in en.get_body(("plain",)).get_content()


async def test_inactive_user_is_skipped(s: System, smtp_sink: SmtpSink) -> None:
    case = await new_case(s)
    ejecutiva, ejecutivo = await user_id(s, "ejecutiva"), await user_id(s, "ejecutivo")
    r = await s.intake.patch(f"/users/{ejecutivo}", json={"active": False}, headers=await s.auth())
    assert r.status_code == 200, r.text

    async def inactive() -> bool:
        async with s.rt["notifier"].db.read() as conn:
            return (await conn.execute(select(user_directory.c.active)
                                       .where(user_directory.c.user_id == uuid.UUID(ejecutivo)))).scalar() is False

    await wait_for(inactive, 20, "notifier's directory: user inactive")
    env = escalated(case, [{"user_id": ejecutivo, "reason": "manager", "channels": ["email"]},
                           {"user_id": ejecutiva, "reason": "responsible", "channels": ["email"]}])
    await publish(s, env)
    await wait_for(lambda: len(mails(smtp_sink, case["id"], "case_escalated")) == 1, 20, "one escalation e-mail")
    await asyncio.sleep(0.3)
    assert [m.to for m in mails(smtp_sink, case["id"], "case_escalated")] == [[demo("ejecutiva")]]


def test_lateness_reads_in_days_hours_and_minutes() -> None:
    from services.notifier.domain import format_duration

    assert format_duration(2 * 3600 + 15 * 60, "es") == "2 h 15 min"
    assert format_duration(26 * 3600, "en") == "1 d 2 h"
    assert format_duration(30, "es") == "0 min"

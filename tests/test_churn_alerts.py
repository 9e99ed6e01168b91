"""R1.1 end to end (issue 12): a "total retention (alerts only)" request for a customer's policy
sends churn alerts by e-mail AND SMS to the customer's commercial executive, the head of their
commercial unit and the management line above, as many levels as the tenant configures; each
person once, each send in the case's history and the delivery ledger.

Against real servers on loopback: PostgreSQL, RabbitMQ, aiosmtpd (the e-mails) and the real
``twilio`` client talking to the Twilio stand-in (tests/support/twilio_standin.py), with
notifier's status-callback endpoint served over HTTP as in tests/test_sms.py. The demo insurer
(services/intake/seed.py, seed_parties.py): Carolina Fuentes (RUT 12.345.678-5) with policy
POL-0001, her executive "ejecutiva" → "jefe.comercial" (unit head) → "gerencia.comercial"."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from services.intake.seed import COMMERCIAL_LINES
from services.intake.seed_parties import demo_id, load_parties
from services.notifier.adapters.db import user_directory
from shared.settings import Settings
from tests.support.sms_system import system_with_sms
from tests.support.smtp_sink import SmtpSink
from tests.support.system import System, demo, wait_for
from tests.support.twilio_standin import TwilioStandIn

pytestmark = pytest.mark.integration

TENANT = "aseguradora-demo"
LINE = ("ejecutiva", "jefe.comercial", "gerencia.comercial")
MOBILES = {local: mobile for local, _, _, mobile in COMMERCIAL_LINES[TENANT]}
CUSTOMER = demo_id(TENANT, "party", "carolina")
POLICY = demo_id(TENANT, "asset", "policy/POL-0001")


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioStandIn]:
    standin = await TwilioStandIn().start()
    yield standin
    await standin.stop()


@pytest.fixture
async def s(rabbit_settings: Settings, twilio: TwilioStandIn) -> AsyncIterator[System]:
    async with system_with_sms(rabbit_settings, twilio) as system:
        yield system


# -- helpers --------------------------------------------------------------------------------------
async def user_ids(s: System) -> dict[str, str]:
    r = await s.intake.get("/users", params={"limit": 200}, headers=await s.auth("admin", TENANT))
    assert r.status_code == 200, r.text
    return {u["email"].split("@")[0]: u["id"] for u in r.json()["items"]}


async def line_known(s: System, ids: dict[str, str]) -> None:
    """workflow's copy of the manager line and notifier's directory of mobiles have the seed's."""
    from services.workflow.adapters.db import people

    async def workflow_knows() -> bool:
        async with s.rt["workflow"].db.read() as conn:
            rows = {str(r.user_id): r for r in (await conn.execute(select(people))).all()}
        chain = [(LINE[0], LINE[1]), (LINE[1], LINE[2])]
        return ids[LINE[2]] in rows and all(ids[a] in rows and str(rows[ids[a]].manager_id) == ids[b]
                                            for a, b in chain)

    async def notifier_knows() -> bool:
        async with s.rt["notifier"].db.read() as conn:
            rows = {str(r.user_id): r.mobile for r in (await conn.execute(
                select(user_directory.c.user_id, user_directory.c.mobile))).all()}
        return all(rows.get(ids[who]) == MOBILES[who] for who in LINE)

    await wait_for(workflow_knows, 30, "workflow's copy of the commercial line")
    await wait_for(notifier_knows, 30, "notifier's directory of the line's mobiles")


async def retention_request(s: System) -> str:
    """A "Retención total (sólo alertas)" request for Carolina's policy POL-0001, through the API."""
    body = {"type": "retencion-total", "subject": "Solicita rescate de su póliza POL-0001",
            "description": "La clienta pide rescatar su seguro de vida con ahorro.",
            "contact": {"name": "Carolina Fuentes Rojas", "email": "carolina.fuentes@example.cl",
                        "phone": "+56987654321"},
            "responsible_email": demo("ejecutiva", TENANT), "party_id": str(CUSTOMER), "asset_id": str(POLICY)}
    return str((await s.create_case(body, as_user="admin", tenant=TENANT))["id"])


def churn_emails(sink: SmtpSink, case_id: str) -> list[str]:
    """The addressees of the case's churn-alert e-mails, one entry per message."""
    return sorted(to for m in sink.for_case(case_id) if "Alerta de fuga" in str(m.message["Subject"])
                  for to in m.to)


async def assert_alerted(s: System, sink: SmtpSink, twilio: TwilioStandIn, case_id: str, told: tuple[str, ...]) -> None:
    emails = sorted(demo(who, TENANT) for who in told)
    numbers = sorted(MOBILES[who] for who in told)
    await wait_for(lambda: churn_emails(sink, case_id) == emails, 30, "the churn-alert e-mails")
    await wait_for(lambda: sorted(m.to for m in twilio.messages.values()) == numbers, 30, "the churn-alert SMS")
    await asyncio.sleep(1.0)  # nothing more arrives: each person once, nobody else
    assert churn_emails(sink, case_id) == emails
    assert sorted(m.to for m in twilio.messages.values()) == numbers
    assert all("Alerta de fuga" in m.body for m in twilio.messages.values())

    # The delivery ledger: one e-mail and one SMS per person, sent.
    admin = await s.auth("admin", TENANT)
    r = await s.clients["notifier"].get(f"/cases/{case_id}/deliveries", headers=admin)
    assert r.status_code == 200, r.text
    ledger = [d for d in r.json() if d["template"] == "case_escalated"]
    assert sorted((d["channel"], d["recipient"]) for d in ledger) == sorted(
        [("email", e) for e in emails] + [("sms", n) for n in numbers])
    # Accepted: the e-mail by the SMTP server, the SMS by Twilio (queued until its status callback).
    assert all(d["state"] in (("sent",) if d["channel"] == "email" else ("queued", "sent", "delivered"))
               for d in ledger), [(d["channel"], d["state"]) for d in ledger]

    # The case's history: each send, once.
    async def in_history() -> list[dict[str, Any]]:
        r = await s.intake.get(f"/cases/{case_id}/history", params={"limit": 200}, headers=admin)
        assert r.status_code == 200, r.text
        return [e["data"] for e in r.json()["items"] if e["kind"] == "notification_sent"]

    async def all_in_history() -> bool:
        return len(await in_history()) == len(ledger)

    await wait_for(all_in_history, 30, "each send in the case's history")
    lines = await in_history()
    assert sorted(x["delivery_id"] for x in lines) == sorted(d["id"] for d in ledger)
    assert sorted(x["channel"] for x in lines) == sorted(d["channel"] for d in ledger)


# -- tests ----------------------------------------------------------------------------------------
async def test_r1_1_a_retention_request_alerts_the_executive_and_two_levels_above_by_email_and_sms(
        s: System, smtp_sink: SmtpSink, twilio: TwilioStandIn) -> None:
    assert await load_parties(s.rt["intake"].db) > 0
    ids = await user_ids(s)
    admin = await s.auth("admin", TENANT)
    party = (await s.intake.get(f"/parties/{CUSTOMER}", headers=admin)).json()
    assert party["national_id"] == "12345678-5" and party["executive_id"] == ids["ejecutiva"]
    await line_known(s, ids)
    case_id = await retention_request(s)
    await assert_alerted(s, smtp_sink, twilio, case_id, LINE)  # the tenant's default: 2 levels


async def test_r1_1_with_one_level_only_the_executive_and_the_unit_head_are_alerted(
        s: System, smtp_sink: SmtpSink, twilio: TwilioStandIn) -> None:
    await load_parties(s.rt["intake"].db)
    ids = await user_ids(s)
    admin = await s.auth("admin", TENANT)
    current = (await s.intake.get("/catalog/sla-settings", headers=admin)).json()
    assert current["churn_alert_levels"] == 2
    body = {"warning_percents": current["warning_percents"], "quiet_hours": current["quiet_hours"],
            "ladder": current["ladder"], "churn_alert_levels": 1}
    r = await s.intake.put("/catalog/sla-settings", json=body, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["churn_alert_levels"] == 1
    bad = await s.intake.put("/catalog/sla-settings", json={**body, "churn_alert_levels": 6}, headers=admin)
    assert bad.status_code == 422

    from services.workflow.adapters.db import sla_settings

    async def workflow_has_it() -> bool:
        async with s.rt["workflow"].db.read() as conn:
            row = (await conn.execute(select(sla_settings.c.data).where(sla_settings.c.tenant == TENANT))).first()
        return row is not None and row.data.get("churn_alert_levels") == 1

    await wait_for(workflow_has_it, 30, "workflow's copy of churn_alert_levels")
    await line_known(s, ids)
    case_id = await retention_request(s)
    await assert_alerted(s, smtp_sink, twilio, case_id, LINE[:2])


async def test_r1_1_the_parties_api_takes_the_executive_and_refuses_a_stranger(s: System) -> None:
    ids = await user_ids(s)
    admin = await s.auth("admin", TENANT)
    r = await s.intake.post("/parties", json={"kind": "person", "name": "Tomás Ríos", "national_id": "7.654.321-6",
                                              "executive_id": ids["ejecutiva"]}, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["executive_id"] == ids["ejecutiva"]
    pid = r.json()["id"]
    r = await s.intake.patch(f"/parties/{pid}", json={"executive_id": str(uuid.uuid4())}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "executive_id"
    other = (await s.intake.get("/users", params={"limit": 200}, headers=await s.auth("admin", "gas-demo"))).json()
    r = await s.intake.post("/parties", json={"kind": "person", "name": "Otra", "executive_id": other["items"][0]["id"]},
                            headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "unknown_user"
    r = await s.intake.patch(f"/parties/{pid}", json={"executive_id": ids["jefe.comercial"]}, headers=admin)
    assert r.status_code == 200 and r.json()["executive_id"] == ids["jefe.comercial"]
    r = await s.intake.patch(f"/parties/{pid}", json={"executive_id": None}, headers=admin)
    assert r.status_code == 200 and r.json()["executive_id"] is None
    ct = (await s.intake.get("/catalog/case-types/retencion-total", headers=admin)).json()
    assert ct["churn_alert"] is True

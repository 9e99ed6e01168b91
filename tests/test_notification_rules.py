"""Notification rules and templates per tenant (issue 11 items 4 and 5): the procedures' defaults
with a tenant's own rules winning, tenant texts checked on save (syntax with its line, unknown
names), previews (an SMS's segments), and e-mails as multipart text + HTML threaded per case."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from services.notifier import domain
from services.notifier.adapters.db import deliveries
from services.notifier.adapters.in_app_tables import notifications
from services.notifier.rules import DEFAULTS, EVENT_RECIPIENTS, Rule, channels_for, sms_size
from tests.support.smtp_sink import SmtpSink
from tests.support.system import System, case_body, demo, wait_for

OTHER_TENANT = "gas-demo"
RULES = "/notification-rules"
TEMPLATES = "/notification-templates"


# -- pure -----------------------------------------------------------------------------------------
def test_defaults_are_the_procedures() -> None:
    none: dict[tuple[str, str], Rule] = {}
    assert channels_for(none, "case.created.v1", "contact") == {"email"}  # R4.3
    assert channels_for(none, "case.created.v1", "responsible") == {"email", "in_app"}  # R4.3, R4.7
    assert channels_for(none, "case.deadline_set.v1", "responsible") == {"email", "in_app"}  # R4.3's e-mails
    assert channels_for(none, "case.finished.v1", "contact") == {"email"}  # R4.6
    assert channels_for(none, "case.commented.v1", "responsible") == {"in_app"}  # R4.7
    assert channels_for(none, "task.created.v1", "cc") == {"email"}  # R2.4
    assert channels_for(none, "case.escalated.v1", "manager") == {"email", "sms", "in_app"}  # as the event says
    assert "R1.1" in DEFAULTS[("case.escalated.v1", "event_recipients")].procedure  # churn alerts, by the event
    assert channels_for(none, "user.invited.v1", "user") == {"email", "sms", "in_app"}  # not governed


def test_a_tenant_rule_wins_over_the_default() -> None:
    own = {("case.created.v1", "responsible"): Rule("case.created.v1", "responsible", frozenset({"in_app"})),
           ("case.escalated.v1", EVENT_RECIPIENTS): Rule("case.escalated.v1", EVENT_RECIPIENTS,
                                                         frozenset({"email"})),
           ("case.finished.v1", "contact"): Rule("case.finished.v1", "contact", frozenset({"email"}), active=False)}
    assert channels_for(own, "case.deadline_set.v1", "responsible") == {"in_app"}
    assert channels_for(own, "case.created.v1", "contact") == {"email"}  # still the default
    assert channels_for(own, "case.escalated.v1", "area_head") == {"email"}
    assert channels_for(own, "case.finished.v1", "contact") == set()  # inactive


@pytest.mark.parametrize(("text", "encoding", "segments"), [
    ("", "GSM-7", 0), ("a" * 160, "GSM-7", 1), ("a" * 161, "GSM-7", 2), ("a" * 306, "GSM-7", 2),
    ("a" * 307, "GSM-7", 3), ("€" * 80, "GSM-7", 1), ("€" * 81, "GSM-7", 2), ("ñÑüé¿¡" * 10, "GSM-7", 1),
    ("á" * 70, "UCS-2", 1), ("á" * 71, "UCS-2", 2), ("á" * 134, "UCS-2", 2), ("á" * 135, "UCS-2", 3),
    ("😀" * 35, "UCS-2", 1), ("😀" * 36, "UCS-2", 2)])
def test_sms_segments(text: str, encoding: str, segments: int) -> None:
    size = sms_size(text)
    assert (size.encoding, size.segments, size.length) == (encoding, segments, len(text))


def test_html_part_is_escaped_paragraphs() -> None:
    out = domain.html_of("Hola <b>Héctor</b>:\n\nLínea 1\nLínea 2 & más")
    assert "<p>Hola &lt;b&gt;Héctor&lt;/b&gt;:</p>" in out and "<p>Línea 1<br>\nLínea 2 &amp; más</p>" in out


# -- helpers --------------------------------------------------------------------------------------
async def put_rule(s: System, event: str, role: str, channels: list[str], active: bool = True,
                   as_user: str = "admin") -> Any:
    return await s.clients["notifier"].put(f"{RULES}/{event}/{role}", json={"channels": channels, "active": active},
                                           headers=await s.auth(as_user))


async def effective_rules(s: System, tenant: str) -> dict[tuple[str, str], dict[str, Any]]:
    r = await s.clients["notifier"].get(RULES, params={"limit": 200}, headers=await s.auth("admin", tenant))
    assert r.status_code == 200, r.text
    return {(x["event_type"], x["recipient_role"]): x for x in r.json()["items"]}


def plain(m: Any) -> str:
    return str(m.get_body(("plain",)).get_content())


async def case_deliveries(s: System, case_id: str) -> list[Any]:
    d = deliveries.c
    async with s.rt["notifier"].db.read() as conn:
        return list((await conn.execute(select(deliveries).where(d.case_id == uuid.UUID(case_id)))).all())


# -- integration ----------------------------------------------------------------------------------
@pytest.mark.integration
async def test_responsible_email_off_on_create_mails_only_the_contact(rabbit_system: System,
                                                                      smtp_sink: SmtpSink) -> None:
    s = rabbit_system
    r = await put_rule(s, "case.created.v1", "responsible", ["in_app"])
    assert r.status_code == 200, r.text
    assert r.json()["source"] == "tenant" and r.json()["channels"] == ["in_app"] and r.json()["version"] == 1
    rules = await effective_rules(s, "inmobiliaria-demo")
    assert rules[("case.created.v1", "responsible")]["channels"] == ["in_app"]
    assert rules[("case.created.v1", "contact")] | {"source": "default"} == rules[("case.created.v1", "contact")]

    case = await s.create_case(case_body(1))
    cid = case["id"]
    await wait_for(lambda: len(smtp_sink.for_case(cid)) >= 1, 20, "the contact's e-mail")

    async def told_in_app() -> bool:
        async with s.rt["notifier"].db.read() as conn:
            return (await conn.execute(select(notifications).where(
                notifications.c.case_id == uuid.UUID(cid)))).first() is not None

    await wait_for(told_in_app, 20, "the responsible's in-app notification")  # in_app kept
    rows = await case_deliveries(s, cid)  # stored together with the contact's: none for the responsible
    assert [(r.recipient_role, r.channel) for r in rows] == [("contact", "email")]
    mails = smtp_sink.for_case(cid)
    assert [m.to for m in mails] == [["cliente1@example.cl"]]

    # The e-mail: multipart/alternative (text, HTML), Date, a display name, threaded per case.
    msg = mails[0].message
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert case["number"] in plain(msg)
    html = msg.get_body(("html",)).get_content()
    assert "<p>" in html and case["number"] in html
    assert msg["X-Atiende-Template"] == "case_received" and msg["X-Atiende-Case"] == cid
    assert msg["Date"] and msg["From"].startswith("Atiende <")
    assert msg["Message-ID"] == f"<{rows[0].id}@atiende>"
    assert msg["References"] == msg["In-Reply-To"] == f"<case-{cid}@atiende>"

    # Back to both channels: the next case e-mails the responsible too.
    assert (await put_rule(s, "case.created.v1", "responsible", ["email", "in_app"])).json()["version"] == 2
    cid2 = (await s.create_case(case_body(2)))["id"]
    await wait_for(lambda: len(smtp_sink.for_case(cid2)) == 2, 20, "both e-mails")
    assert {m.to[0] for m in smtp_sink.for_case(cid2)} == {"cliente2@example.cl", demo("ejecutiva")}
    assert all(m.message["References"] == f"<case-{cid2}@atiende>" for m in smtp_sink.for_case(cid2))


async def test_a_tenant_template_in_spanish_is_used_for_the_next_email(embedded_system: System,
                                                                        smtp_sink: SmtpSink) -> None:
    s = embedded_system
    h = await s.auth()
    path = f"{TEMPLATES}/case_received/email/es-CL"
    shipped = await s.clients["notifier"].get(path, headers=h)
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["source"] == "shipped" and "contact_name" in shipped.json()["variables"]
    r = await s.clients["notifier"].put(path, headers=h, json={
        "subject": "Inmobiliaria Demo: recibimos su solicitud {{ number }}",
        "body": "Hola {{ contact_name }}:\n\nSu solicitud {{ number }} será respondida a más tardar el "
                "{{ due_date }}.\n\nSaludos <Inmobiliaria>"})
    assert r.status_code == 200, r.text
    assert r.json()["source"] == "tenant" and r.json()["language"] == "es" and r.json()["version"] == 1

    cid = (await s.create_case(case_body(3)))["id"]
    await wait_for(lambda: len(smtp_sink.for_case(cid)) == 2, 20, "two e-mails")
    mails = {m.message["X-Atiende-Template"]: m.message for m in smtp_sink.for_case(cid)}
    received = mails["case_received"]
    assert received["Subject"].startswith("Inmobiliaria Demo: recibimos su solicitud ")
    assert "Hola Héctor Contreras:" in plain(received) and "Saludos <Inmobiliaria>" in plain(received)
    assert "Saludos &lt;Inmobiliaria&gt;" in received.get_body(("html",)).get_content()
    assert "asignada" in mails["case_assigned"]["Subject"]  # another template: still the shipped one

    # Another tenant sees its own defaults: no rule, no template of the first.
    await put_rule(s, "task.created.v1", "cc", [])
    mine = await effective_rules(s, "inmobiliaria-demo")
    theirs = await effective_rules(s, OTHER_TENANT)
    assert mine[("task.created.v1", "cc")]["channels"] == [] and mine[("task.created.v1", "cc")]["source"] == "tenant"
    assert all(x["source"] == "default" for x in theirs.values())
    assert theirs[("task.created.v1", "cc")]["channels"] == ["email"]
    assert theirs[("case.escalated.v1", "event_recipients")]["channels"] == ["email", "sms", "in_app"]
    other = await s.clients["notifier"].get(path, headers=await s.auth("admin", OTHER_TENANT))
    assert other.json()["source"] == "shipped"
    listed = await s.clients["notifier"].get(TEMPLATES, params={"limit": 200}, headers=h)
    by_key = {(t["template"], t["channel"], t["language"]): t for t in listed.json()["items"]}
    assert by_key[("case_received", "email", "es")]["source"] == "tenant"
    assert by_key[("case_escalated", "sms", "en")]["source"] == "shipped"

    # Back to the shipped text.
    assert (await s.clients["notifier"].delete(path, headers=h)).status_code == 204
    assert (await s.clients["notifier"].get(path, headers=h)).json()["source"] == "shipped"


async def test_templates_are_checked_and_previewed(embedded_system: System) -> None:
    s = embedded_system
    n = s.clients["notifier"]
    h = await s.auth()
    path = f"{TEMPLATES}/case_finished/email/es"

    r = await n.put(path, headers=h, json={"subject": "Solicitud {{ number }}",
                                           "body": "Hola {{ contact_name }}:\n\nLínea dos\n{% if outcome %}\nsin fin"})
    assert r.status_code == 422, r.text
    [err] = r.json()["errors"]
    assert err["field"] == "body" and err["code"] == "template_syntax" and err["line"] == 4
    assert "línea 4" in err["message"]

    r = await n.put(path, headers={**h, "Accept-Language": "en"}, json={
        "subject": "Case {{ numero }}", "body": "Dear {{ contact_name }}, {{ saldo }} {{ number }}"})
    assert r.status_code == 422, r.text
    errors = {e["field"]: e for e in r.json()["errors"]}
    assert errors["subject"]["variables"] == ["numero"] and errors["body"]["variables"] == ["saldo"]
    assert "Unknown variables: saldo" in errors["body"]["message"]

    # for_responsible exists only in the responsible's e-mail: used bare, the contact's cannot render.
    r = await n.put(path, headers=h, json={"subject": "S {{ number }}", "body": "{% if for_responsible %}R{% endif %}"})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "template_error", r.text
    assert (await n.get(path, headers=h)).json()["source"] == "shipped"  # nothing was stored

    r = await n.post(path + "/preview", headers=h)
    assert r.status_code == 200, r.text
    assert "2026-000123 finalizada" in r.json()["subject"] and "<p>" in r.json()["html"]
    r = await n.post(path + "/preview", headers=h, json={"body": "Borrador para {{ contact_name }}"})
    assert r.status_code == 200 and r.json()["body"] == "Borrador para Héctor Contreras", r.text

    sms = f"{TEMPLATES}/case_escalated/sms/es"
    r = await n.post(sms + "/preview", headers=h)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["subject"] is None and got["length"] == len(got["body"]) and got["segments"] >= 1
    r = await n.post(sms + "/preview", headers=h, json={"body": "Solicitud {{ number }}: " + "x" * 150})
    assert r.json()["encoding"] == "GSM-7" and r.json()["segments"] == 2 and r.json()["length"] == 173, r.text
    r = await n.post(sms + "/preview", headers=h, json={"body": "Atención {{ number }}"})
    assert r.json()["encoding"] == "UCS-2" and r.json()["segments"] == 1, r.text
    assert (await n.put(sms, headers=h, json={"subject": "no", "body": "x"})).status_code == 422
    assert (await n.get(f"{TEMPLATES}/case_received/sms/es", headers=h)).status_code == 404


async def test_only_admins_and_only_known_rules(embedded_system: System) -> None:
    s = embedded_system
    n = s.clients["notifier"]
    for who in ("ejecutiva", "supervisora"):
        hw = await s.auth(who)
        assert (await n.get(RULES, headers=hw)).status_code == 403
        assert (await put_rule(s, "case.created.v1", "responsible", [], as_user=who)).status_code == 403
        assert (await n.get(TEMPLATES, headers=hw)).status_code == 403
        assert (await n.post(f"{TEMPLATES}/case_received/email/es/preview", headers=hw)).status_code == 403
    r = await put_rule(s, "case.nonsense.v1", "responsible", ["email"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "event_type", r.text
    r = await put_rule(s, "case.created.v1", "gerente", ["email"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "recipient_role", r.text
    r = await put_rule(s, "case.created.v1", "contact", ["sms"])  # no planner texts a contact
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "channel_not_available", r.text
    r = await put_rule(s, "case.created.v1", "contact", ["fax"])
    assert r.status_code == 422, r.text
    assert all(x["source"] == "default" for x in (await effective_rules(s, "inmobiliaria-demo")).values())

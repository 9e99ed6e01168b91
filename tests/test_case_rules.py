"""The holes issue 9 closed in intake's case rules: catalog references checked on POST /cases
(R3.2, R4.2), types that require an interaction (R2.3), the commitment-date refusal naming both
dates (R2.3), executors kept in their projects (R4.4), permission on the row as locked, the
attachments a type needs to finish (R1.2), follow-up kinds and business lines as catalog data
(R3.1, R3.5), one meaning of overdue (R4.8), the responsible's finish e-mail and the headers of
every e-mail, all problems at once in Spanish, the send-mail cap (R4.6), paged history and
numbered case events."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from email.mime.text import MIMEText
from typing import Any

import pytest
from sqlalchemy import select, update

from services.intake.adapters.case_tables import attachments
from services.intake.adapters.catalog_tables import projects
from services.intake.adapters.db import case_types, cases, outbox, tenants, users
from services.intake.domain import access
from services.intake.domain.access import Principal, Role
from services.notifier.adapters.mailer import stamp
from tests.support.system import CASE, System, case_body, demo, wait_for

GAS = "gas-demo"


async def post(s: System, body: dict[str, Any], as_user: str = "admin", tenant: str = "inmobiliaria-demo",
               **headers: str) -> Any:
    return await s.intake.post("/cases", json=body, headers={**await s.auth(as_user, tenant), **headers})


def codes(r: Any) -> dict[str, str]:
    return {e["field"]: e["code"] for e in r.json()["errors"]}


async def db_exec(s: System, stmt: Any) -> None:
    async with s.rt["intake"].db.engine.begin() as conn:
        await conn.execute(stmt)
    s.rt["intake"].extras["catalog"].clear()


# -- pure rules -----------------------------------------------------------------------------------
def test_r4_4_an_executor_creates_only_in_the_projects_of_their_profile_even_leaving_it_out() -> None:
    one = Principal(tenant="t", roles=frozenset({Role.EXECUTOR}), projects=frozenset({"medidor"}))
    two = Principal(tenant="t", roles=frozenset({Role.EXECUTOR}), projects=frozenset({"medidor", "granel"}))
    none = Principal(tenant="t", roles=frozenset({Role.EXECUTOR}))
    assert access.project_to_create_in(one, None) == "medidor"  # the only one: defaulted
    with pytest.raises(access.CreateRefusal) as exc:
        access.project_to_create_in(two, None)
    assert exc.value.field == "project" and exc.value.code == "project_required"
    for who, project in ((one, "granel"), (none, None)):
        with pytest.raises(access.CreateRefusal) as exc:
            access.project_to_create_in(who, project)
        assert exc.value.field is None  # 403
    with pytest.raises(access.CreateRefusal) as exc:
        access.project_to_create_in(Principal(tenant="t", roles=frozenset({Role.VIEWER})), None)
    assert "consulta no crean" in exc.value.message[0] and "Viewers do not create" in exc.value.message[1]
    assert access.project_to_create_in(Principal(tenant="t", roles=frozenset({Role.ADMIN})), None) is None


def test_every_email_gets_a_date_and_a_display_name_in_from() -> None:
    m = MIMEText("x", "plain", "utf-8")
    m["From"] = "no-reply@atiende.local"
    stamp(m)
    assert m["From"] == "Atiende <no-reply@atiende.local>" and m["Date"]
    named = MIMEText("x", "plain", "utf-8")
    named["From"] = "Mesa de ayuda <ayuda@example.cl>"
    assert stamp(named)["From"] == "Mesa de ayuda <ayuda@example.cl>"


# -- POST /cases ----------------------------------------------------------------------------------


@pytest.mark.integration
async def test_r4_2_every_catalog_reference_is_checked_all_at_once(rabbit_system: System) -> None:
    """Channel, area, category path and project are active entries of the tenant's catalog (as
    interactions and tasks check theirs); all the problems come in one 422."""
    r = await post(rabbit_system, case_body(1, channel="paloma-mensajera", area="no-existe",
                                            category_path=["atencion", "no-existe"], project="otro-proyecto"))
    assert r.status_code == 422
    found = {(e["field"], e["code"]) for e in r.json()["errors"]}
    assert found >= {("channel", "unknown_channel"), ("area", "unknown_area"), ("category_path", "unknown_category"),
                     ("project", "unknown_project")}
    # Another tenant's codes are not this tenant's (gas-demo's project "granel").
    r = await post(rabbit_system, case_body(1, project="granel"))
    assert codes(r) == {"project": "unknown_project"}
    # An inactive entry no longer takes new cases.
    await db_exec(rabbit_system, update(projects).where(projects.c.tenant == "inmobiliaria-demo",
                                                        projects.c.code == "edificio-los-robles").values(active=False))
    r = await post(rabbit_system, case_body(1, project="edificio-los-robles"))
    assert codes(r) == {"project": "unknown_project"}
    assert (await post(rabbit_system, case_body(1, project="condominio-el-mirador", channel="web", area="posventa",
                                                category_path=["atencion", "consultas"]))).status_code == 201


@pytest.mark.integration
async def test_r3_2_a_type_that_names_its_channels_needs_one_when_the_channel_is_left_out(rabbit_system: System) -> None:
    body = {**case_body(2), "type": "gestion-cobranza", "responsible_email": demo("ejecutiva", GAS)}
    r = await post(rabbit_system, body, tenant=GAS)
    assert r.status_code == 422 and codes(r) == {"channel": "channel_required_by_type"}
    assert "telefono" in r.json()["errors"][0]["message"]
    assert (await post(rabbit_system, {**body, "channel": "correo"}, tenant=GAS)).status_code == 201


@pytest.mark.integration
async def test_r2_3_the_event_type_exists_only_under_an_interaction(rabbit_system: System) -> None:
    """Seed 002: an event (macro task) is created under an interaction; the demo utility's
    ``evento`` type requires one (``case_types.requires_interaction``)."""
    tenant = "electrica-demo"
    body = {**case_body(3), "type": "evento", "responsible_email": demo("ejecutiva", tenant)}
    r = await post(rabbit_system, body, tenant=tenant)
    assert r.status_code == 422 and codes(r) == {"interaction_id": "interaction_required"}
    party = await rabbit_system.intake.post("/parties", json={"kind": "stakeholder", "name": "Alcaldía Demo"},
                                            headers=await rabbit_system.auth("admin", tenant))
    assert party.status_code == 201, party.text
    inter = await rabbit_system.intake.post("/interactions", headers=await rabbit_system.auth("admin", tenant),
                                            json={"party_id": party.json()["id"], "channel": "telefono",
                                                  "summary": "Corte programado en la colonia."})
    assert inter.status_code == 201, inter.text
    r = await post(rabbit_system, {**body, "interaction_id": inter.json()["id"]}, tenant=tenant)
    assert r.status_code == 201, r.text


@pytest.mark.integration
async def test_r2_3_commitment_refusal_names_both_dates(rabbit_system: System) -> None:
    r = await post(rabbit_system, case_body(4, customer_commitment_date="2026-12-10",
                                            internal_commitment_date="2026-12-11"))
    assert r.status_code == 422
    pointers = {e["pointer"] for e in r.json()["errors"] if e["code"] == "commitment_dates"}
    assert pointers == {"#/body/internal_commitment_date", "#/body/customer_commitment_date"}


@pytest.mark.integration
async def test_r4_4_executor_cannot_leave_their_projects_by_leaving_the_project_out(rabbit_system: System) -> None:
    s = rabbit_system
    made = await s.create_case(case_body(5), as_user="ejecutiva")  # one project in her profile: that one
    assert made["project"] == "edificio-los-robles"
    assert (await post(s, case_body(5, project="condominio-el-mirador"), "ejecutiva")).status_code == 403
    await db_exec(s, update(users).where(users.c.email == demo("ejecutivo")).values(
        projects=["edificio-los-robles", "condominio-el-mirador"]))
    r = await post(s, case_body(5), "ejecutivo")
    assert r.status_code == 422 and codes(r) == {"project": "project_required"}
    await db_exec(s, update(users).where(users.c.email == demo("ejecutivo")).values(projects=[]))
    assert (await post(s, case_body(5), "ejecutivo")).status_code == 403
    r = await post(s, case_body(5), "lectura")
    assert r.status_code == 403 and "consulta no crean solicitudes" in r.json()["detail"]
    r = await post(s, case_body(5), "lectura", **{"Accept-Language": "en"})
    assert "Viewers do not create cases" in r.json()["detail"]


@pytest.mark.integration
async def test_a_body_with_several_problems_reports_all_of_them_in_spanish(rabbit_system: System) -> None:
    """An unknown type and a bad e-mail together (schema and catalog in one 422); the cross-field
    rules are reported beside field errors; no library English."""
    body = {**case_body(6, type="no-existe", channel="paloma", internal_commitment_date="2026-12-11",
                        customer_commitment_date="2026-12-10"),
            "contact": {"name": "Ana", "email": "no-es-correo"}, "subject": "x"}
    r = await post(rabbit_system, body)
    assert r.status_code == 422
    c = codes(r)
    assert c["type"] == "unknown_case_type" and c["channel"] == "unknown_channel"
    assert c["subject"] == "string_too_short" and c["internal_commitment_date"] == "commitment_dates"
    email = next(e for e in r.json()["errors"] if e["field"] == "contact.email")
    assert email["message"] == "No es una dirección de correo válida."
    assert not any("valid email" in e["message"] for e in r.json()["errors"])
    # Neither responsible: named beside the field errors, not hidden behind them.
    r = await post(rabbit_system, {k: v for k, v in body.items() if k != "responsible_email"})
    assert codes(r)["responsible_id"] == "responsible" and "subject" in codes(r)


# -- actions --------------------------------------------------------------------------------------
@pytest.mark.integration
async def test_r4_4_permission_is_checked_on_the_row_as_locked(rabbit_system: System) -> None:
    """A reassignment committed while an execute waits for the row: the execute sees the new
    responsible and is refused (it used to be allowed by an earlier unlocked read)."""
    s = rabbit_system
    cid = (await s.create_case(case_body(7)))["id"]  # responsible: ejecutiva
    mine = await s.auth("ejecutiva")
    async with s.rt["intake"].db.engine.connect() as conn:
        other = (await conn.execute(select(users.c.id, users.c.email).where(
            users.c.email == demo("ejecutivo")))).one()
    async with s.rt["intake"].db.engine.begin() as conn:
        await conn.execute(select(cases.c.id).where(cases.c.id == uuid.UUID(cid)).with_for_update())
        await conn.execute(update(cases).where(cases.c.id == uuid.UUID(cid)).values(
            responsible_id=other.id, responsible_email=other.email))
        pending = asyncio.create_task(s.intake.post(f"/cases/{cid}/execute", json={"text": "x"}, headers=mine))
        await asyncio.sleep(0.5)
        assert not pending.done()  # waiting for the row
    r = await pending
    assert r.status_code == 403


@pytest.mark.integration
async def test_r1_2_a_type_requiring_attachments_is_not_finished_without_them(rabbit_system: System) -> None:
    s = rabbit_system
    tenant = "aseguradora-demo"
    body = {**case_body(8), "type": "retencion-total", "responsible_email": demo("ejecutiva", tenant)}
    cid = (await s.create_case(body, tenant=tenant))["id"]
    admin = await s.auth("admin", tenant)
    r = await s.intake.post(f"/cases/{cid}/finish", json={"outcome": "success", "comment": "Desiste."}, headers=admin)
    assert r.status_code == 409 and r.json()["type"].endswith("/attachments-required")
    assert r.json()["missing"] == ["attachments"] and "adjunto" in r.json()["detail"]
    async with s.rt["intake"].db.engine.begin() as conn:
        await conn.execute(attachments.insert().values(
            id=uuid.uuid4(), tenant=tenant, owner_kind="case", owner_id=uuid.UUID(cid), case_id=uuid.UUID(cid),
            filename="carta.pdf", content_type="application/pdf", size=5, sha256="0" * 64, content=b"%PDF-",
            uploaded_by=None, uploaded_at=datetime.now(UTC), is_signed_letter=True))
    r = await s.intake.post(f"/cases/{cid}/finish", json={"outcome": "success", "comment": "Desiste."}, headers=admin)
    assert r.status_code == 200, r.text


@pytest.mark.integration
async def test_refusals_name_states_in_words_not_codes(rabbit_system: System) -> None:
    s = rabbit_system
    cid = (await s.create_case(case_body(9)))["id"]
    admin = await s.auth("admin")
    await s.intake.post(f"/cases/{cid}/finish", json={"outcome": "success", "comment": "Listo."}, headers=admin)
    r = await s.intake.post(f"/cases/{cid}/execute", json={"text": "x"}, headers=admin)
    assert r.status_code == 409 and r.json()["allowed_actions"] == ["reopen"]
    assert "finalizada con éxito" in r.json()["detail"] and "finished_success" not in r.json()["detail"]
    assert "reabrir" in r.json()["detail"]


@pytest.mark.integration
async def test_r4_8_overdue_has_one_meaning_in_the_case_and_the_inbox(rabbit_system: System) -> None:
    """Overdue: workflow's case.overdue set ``overdue_since``; executing or finishing ends it; the
    case resource and the inbox (flag and filter) agree."""
    s = rabbit_system
    admin = await s.auth("admin")
    ids = [(await s.create_case(case_body(10 + i)))["id"] for i in range(2)]
    past = datetime.now(UTC) - timedelta(days=1)
    for cid in ids:  # as the case.overdue handler leaves them, deadline passed
        await db_exec(s, update(cases).where(cases.c.id == uuid.UUID(cid)).values(
            due_at=past, due_date=past.date(), overdue_since=past))

    async def inbox_overdue() -> set[str]:
        r = await s.intake.get("/inbox", params={"overdue": "true", "status": ["new", "in_execution",
                                                                               "finished_success"]}, headers=admin)
        return {x["id"] for x in r.json()["items"] if x["overdue"]}

    assert await inbox_overdue() == set(ids)
    await s.intake.post(f"/cases/{ids[0]}/execute", json={"text": "En curso."}, headers=admin)
    await s.intake.post(f"/cases/{ids[1]}/finish", json={"outcome": "success", "comment": "Listo."}, headers=admin)
    for cid in ids:
        assert (await s.intake.get(f"/cases/{cid}", headers=admin)).json()["overdue"] is False
    assert await inbox_overdue() == set()
    r = await s.intake.get("/inbox", params={"overdue": "false", "status": ["in_execution", "finished_success"]},
                           headers=admin)
    assert {x["id"] for x in r.json()["items"]} == set(ids)
    assert not any(x["overdue"] for x in r.json()["items"])


@pytest.mark.integration
async def test_r4_6_send_mail_caps_its_recipients(rabbit_system: System) -> None:
    s = rabbit_system
    cid = (await s.create_case(case_body(12)))["id"]
    admin = await s.auth("admin")
    many = [f"c{i}@example.cl" for i in range(21)]
    r = await s.intake.post(f"/cases/{cid}/mails", json={"subject": "Hola", "body": "x", "to": many}, headers=admin)
    assert r.status_code == 422 and codes(r) == {"to": "too_many_recipients"} and "20" in r.json()["errors"][0]["message"]
    await db_exec(s, update(tenants).where(tenants.c.slug == "inmobiliaria-demo").values(max_mail_recipients=2))
    r = await s.intake.post(f"/cases/{cid}/mails", json={"subject": "Hola", "body": "x", "to": many[:2],
                                                         "cc": many[2:3]}, headers=admin)
    assert r.status_code == 422 and "2" in r.json()["errors"][0]["message"]
    r = await s.intake.post(f"/cases/{cid}/mails", json={"subject": "Hola", "body": "x", "to": many[:1],
                                                         "cc": many[:1]}, headers=admin)
    assert r.status_code == 202  # one address, given twice
    r = await s.intake.post(f"/cases/{cid}/mails", json={"subject": "Hola", "body": "x",
                                                         "cc": [f"x{i}@example.cl" for i in range(201)]}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "too_long"


@pytest.mark.integration
async def test_r4_6_history_pages_and_case_events_carry_the_case_version(rabbit_system: System) -> None:
    s = rabbit_system
    cid = (await s.create_case(case_body(13)))["id"]
    admin = await s.auth("admin")
    for text in ("uno", "dos", "tres"):
        assert (await s.intake.post(f"/cases/{cid}/comments", json={"text": text}, headers=admin)).status_code == 201
    await s.intake.post(f"/cases/{cid}/execute", json={"text": "hecho"}, headers=admin)
    kinds: list[str] = []
    cursor = None
    while True:
        r = await s.intake.get(f"/cases/{cid}/history", params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                               headers=admin)
        assert r.status_code == 200, r.text
        kinds += [h["kind"] for h in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert kinds == ["created", "commented", "commented", "commented", "execute"]
    r = await s.intake.get(f"/cases/{cid}/history", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cursor"
    async with s.rt["intake"].db.engine.connect() as conn:
        bodies = (await conn.execute(select(outbox.c.body).where(outbox.c.type.like("case.%"))
                                     .order_by(outbox.c.id))).scalars().all()
        version = (await conn.execute(select(cases.c.version).where(cases.c.id == uuid.UUID(cid)))).scalar_one()
    mine = [json.loads(b) for b in bodies if json.loads(b)["subject"] == cid]
    assert [(e["type"], e["sequence"]) for e in mine] == [
        ("case.created.v1", 1), ("case.commented.v1", 2), ("case.commented.v1", 3), ("case.commented.v1", 4),
        ("case.executed.v1", 5)]
    assert version == 5


# -- catalog data instead of constants (R3.1, R3.5) ---------------------------------------------
def _gas(i: int, type_: str, **over: Any) -> dict[str, Any]:
    return {**case_body(i), "type": type_, "responsible_email": demo("ejecutiva", GAS), "channel": "telefono",
            "project": "granel", **over}


@pytest.mark.integration
async def test_r3_1_a_follow_ups_kind_comes_from_its_types_catalog_entry_not_its_code(rabbit_system: System) -> None:
    s = rabbit_system
    await db_exec(s, update(case_types).where(case_types.c.tenant == GAS, case_types.c.code == "no-ejecucion-solucion")
                  .values(follow_up_kind="late_response"))
    original = await s.create_case(_gas(14, "gestion-cobranza"), tenant=GAS)
    follow = await s.create_case(_gas(15, "no-ejecucion-solucion", follow_up_of=original["id"]), tenant=GAS)
    r = await s.intake.get(f"/cases/{original['id']}/follow-ups", headers=await s.auth("admin", GAS))
    assert [(x["id"], x["kind"]) for x in r.json()["items"]] == [(follow["id"], "late_response")]


@pytest.mark.integration
async def test_r3_5_a_projects_business_line_is_catalog_data(rabbit_system: System) -> None:
    s = rabbit_system
    original = await s.create_case(_gas(16, "gestion-cobranza"), tenant=GAS)
    h = await s.auth("admin", GAS)
    t = (await s.intake.get(f"/cases/{original['id']}/triage", headers=h)).json()
    assert t["business_line"] == "bulk"  # seeded: granel is the bulk line
    await db_exec(s, update(projects).where(projects.c.tenant == GAS, projects.c.code == "granel")
                  .values(business_line="meter"))
    t = (await s.intake.get(f"/cases/{original['id']}/triage", headers=h)).json()
    assert t["business_line"] == "meter"


# -- e-mails ----------------------------------------------------------------------------------
@pytest.mark.integration
async def test_r4_6_the_responsible_gets_their_own_finish_email_and_every_email_has_date_and_from_name(
        rabbit_system: System, smtp_sink: Any) -> None:
    s = rabbit_system
    cid = (await s.create_case(case_body(17)))["id"]
    mine = await s.auth("ejecutiva")
    r = await s.intake.post(f"/cases/{cid}/finish", json={"outcome": "success", "comment": "Copia enviada."},
                            headers=mine)
    assert r.status_code == 200
    await wait_for(lambda: len([m for m in smtp_sink.for_case(cid)
                                if m.message["X-Atiende-Template"] == "case_finished"]) == 2, 20, "finish e-mails")
    finished = {m.to[0]: m for m in smtp_sink.for_case(cid) if m.message["X-Atiende-Template"] == "case_finished"}
    to_responsible = finished[CASE["responsible_email"]].message.get_body(("plain",)).get_content()
    to_contact = finished["cliente17@example.cl"].message.get_body(("plain",)).get_content()
    assert "que usted tenía asignada fue finalizada" in to_responsible and "Estimado(a)" not in to_responsible
    assert "Su solicitud N°" in to_contact
    for m in smtp_sink.for_case(cid):
        assert m.message["Date"] and m.message["From"].startswith("Atiende <")

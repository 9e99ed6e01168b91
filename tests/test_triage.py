"""Follow-ups (R3.1, R3.3) and the contact center's decision table (R3.4) with the business-line
difference (R3.5): the eight rules as pure functions, then end to end through the API on the
gas distributor's demo tenant."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from services.intake.adapters.db import cases, outbox, tenants
from services.intake.domain import triage
from services.intake.domain.triage import Action, BusinessLine, CaseFacts, Filer, FollowUpKind, decide
from services.intake.seed import DEMO_CATALOG, demo_case_type
from tests.support.system import System, demo, wait_for

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
FUTURE = NOW + timedelta(days=3)
PAST = NOW - timedelta(days=1)


def o(answered: bool, due: datetime | None = FUTURE) -> CaseFacts:
    return CaseFacts(answered=answered, due_at=due, created_at=NOW - timedelta(days=10))


def f(answered: bool, due: datetime | None = FUTURE, kind: FollowUpKind = FollowUpKind.DISAGREEMENT,
      age_days: int = 2) -> CaseFacts:
    return CaseFacts(answered=answered, due_at=due, created_at=NOW - timedelta(days=age_days), kind=kind)


# -- the eight rules (R3.4) -----------------------------------------------------------------------
def test_r3_4_rule_1_original_unanswered_within_deadline_tell_its_date() -> None:
    d = decide(o(False), None, customer_disagrees=False, now=NOW)
    assert (d.rule, d.action, d.about) == (1, Action.TELL_DEADLINE, triage.About.ORIGINAL)
    assert d.new_request_allowed and not d.extended
    # A deadline workflow has not computed yet counts as within it.
    assert decide(o(False, due=None), None, customer_disagrees=False, now=NOW).rule == 1


def test_r3_4_rule_2_original_answered_customer_unaware_tell_the_answer() -> None:
    d = decide(o(True), None, customer_disagrees=False, now=NOW)
    assert (d.rule, d.action, d.about) == (2, Action.TELL_ANSWER, triage.About.ORIGINAL)
    # Answered is answered, whatever the deadline did afterwards.
    assert decide(o(True, due=PAST), None, customer_disagrees=False, now=NOW).rule == 2


def test_r3_4_rule_3_original_unanswered_past_deadline_late_response_follow_up() -> None:
    d = decide(o(False, due=PAST), None, customer_disagrees=False, now=NOW)
    assert (d.rule, d.action, d.follow_up_kind) == (3, Action.CREATE_FOLLOW_UP, FollowUpKind.LATE_RESPONSE)
    assert d.new_request_allowed


def test_r3_4_rule_4_original_answered_customer_disagrees_disagreement_follow_up() -> None:
    d = decide(o(True), None, customer_disagrees=True, now=NOW)
    assert (d.rule, d.action, d.follow_up_kind) == (4, Action.CREATE_FOLLOW_UP, FollowUpKind.DISAGREEMENT)


def test_r3_4_rule_5_original_answered_follow_up_unanswered_within_deadline_tell_its_date() -> None:
    d = decide(o(True), f(False), customer_disagrees=True, now=NOW)
    assert (d.rule, d.action, d.about) == (5, Action.TELL_DEADLINE, triage.About.FOLLOW_UP)
    assert not d.extended
    # The table's gap: O unanswered, its late-response follow-up still in time → wait for it (like 5).
    gap = decide(o(False, due=PAST), f(False, kind=FollowUpKind.LATE_RESPONSE), customer_disagrees=False, now=NOW)
    assert (gap.rule, gap.about, gap.extended) == (5, triage.About.FOLLOW_UP, True)


def test_r3_4_rule_6_original_unanswered_follow_up_answered_escalate_no_new_request() -> None:
    d = decide(o(False, due=PAST), f(True, kind=FollowUpKind.LATE_RESPONSE), customer_disagrees=False, now=NOW)
    assert (d.rule, d.action, d.new_request_allowed) == (6, Action.ESCALATE_TO_SUPERVISOR, False)


def test_r3_4_rule_7_follow_up_unanswered_past_deadline_escalate_whether_original_answered_or_not() -> None:
    for answered in (True, False):
        d = decide(o(answered, due=PAST), f(False, due=PAST), customer_disagrees=False, now=NOW)
        assert (d.rule, d.action, d.new_request_allowed) == (7, Action.ESCALATE_TO_SUPERVISOR, False)


def test_r3_4_rule_8_both_answered_customer_still_disagrees_escalate_no_new_request() -> None:
    d = decide(o(True), f(True), customer_disagrees=True, now=NOW)
    assert (d.rule, d.action, d.new_request_allowed) == (8, Action.ESCALATE_TO_SUPERVISOR, False)
    # Both answered and the customer does not disagree: read them the latest (the follow-up's) answer.
    d = decide(o(True), f(True), customer_disagrees=False, now=NOW)
    assert (d.rule, d.action, d.about, d.extended) == (2, Action.TELL_ANSWER, triage.About.FOLLOW_UP, True)


def test_r3_4_the_table_is_total_every_combination_gets_exactly_one_rule() -> None:
    seen = set()
    for o_answered in (True, False):
        for o_due in (FUTURE, PAST, None):
            for fu in (None, f(True), f(False), f(False, due=PAST)):
                for disagrees in (True, False):
                    d = decide(o(o_answered, o_due), fu, customer_disagrees=disagrees, now=NOW)
                    assert 1 <= d.rule <= 8
                    assert (d.action == Action.ESCALATE_TO_SUPERVISOR) == (d.rule in (6, 7, 8))
                    assert d.new_request_allowed == (d.rule not in (6, 7, 8))
                    seen.add(d.rule)
    assert seen == set(range(1, 9))


def test_r3_3_r3_4_f_is_the_latest_late_or_disagreement_follow_up_others_do_not_count() -> None:
    older = f(True, age_days=9)
    newer = f(False, kind=FollowUpKind.LATE_RESPONSE, age_days=1)
    other = f(False, kind=FollowUpKind.COLLECTIONS_MANAGEMENT, age_days=0)
    assert triage.table_follow_up([older, newer, other]) is newer
    assert triage.table_follow_up([other]) is None
    assert triage.table_follow_up([]) is None


def test_r3_3_answered_means_executed_or_finished_past_deadline_means_unanswered_and_late() -> None:
    assert triage.is_answered("in_execution", NOW)
    assert triage.is_answered("finished_failure", None)
    assert not triage.is_answered("new", None)
    assert not triage.is_answered("waiting_on_customer", None)
    assert CaseFacts(answered=False, due_at=PAST).past_deadline(NOW)
    assert not CaseFacts(answered=True, due_at=PAST).past_deadline(NOW)
    assert not CaseFacts(answered=False, due_at=None).past_deadline(NOW)


# -- R3.5 and R3.1 --------------------------------------------------------------------------------
def test_r3_5_meter_customers_file_follow_ups_themselves_packaged_and_bulk_through_the_agent() -> None:
    late = o(False, due=PAST)
    assert decide(late, None, customer_disagrees=False, now=NOW, business_line=BusinessLine.METER).filed_by \
        == Filer.CUSTOMER
    for line in (BusinessLine.PACKAGED, BusinessLine.BULK, None):
        assert decide(late, None, customer_disagrees=False, now=NOW, business_line=line).filed_by == Filer.AGENT
    assert decide(o(True), None, customer_disagrees=True, now=NOW,
                  business_line=BusinessLine.METER).filed_by == Filer.CUSTOMER
    # The line is the tenant's catalog data about a project (seeded for the demo gas tenant).
    lines = DEMO_CATALOG["gas-demo"]["business_lines"]
    assert triage.business_line_of(lines["medidor"]) == BusinessLine.METER
    assert triage.business_line_of(lines["envasado"]) == BusinessLine.PACKAGED
    assert triage.business_line_of(lines["granel"]) == BusinessLine.BULK
    assert triage.business_line_of(DEMO_CATALOG["inmobiliaria-demo"].get("business_lines", {}).get(
        "edificio-los-robles")) is None
    es, en = triage.message(decide(late, None, customer_disagrees=False, now=NOW, business_line=BusinessLine.METER))
    assert "él mismo" in es and "themselves" in en
    es, en = triage.message(decide(late, None, customer_disagrees=False, now=NOW, business_line=BusinessLine.BULK))
    assert es.startswith("Cree un requerimiento") and "respuesta fuera de plazo" in es


def test_r3_1_follow_up_kinds_from_the_case_type_catalog() -> None:
    """R3.1: which kind a follow-up is comes from its type's catalog entry (``follow_up_kind``),
    seeded for the demo gas tenant — not from the type's code."""
    gas = DEMO_CATALOG["gas-demo"]
    rules = {**gas["types"], **{code: r for code, _, _, r in gas["more_types"]}}

    def kind(code: str) -> FollowUpKind | None:
        return triage.kind_of(demo_case_type("gas-demo", code, code, code, 3, rules.get(code, {}))["follow_up_kind"])

    assert kind("respuesta-fuera-de-plazo") == FollowUpKind.LATE_RESPONSE
    assert kind("inconformidad-respuesta") == FollowUpKind.DISAGREEMENT
    assert kind("no-ejecucion-solucion") == FollowUpKind.SOLUTION_NOT_EXECUTED
    assert kind("demora-habilitacion") == FollowUpKind.DELAY_ENABLING_SERVICE
    assert kind("tardanza-reposicion") == FollowUpKind.DELAY_RECONNECTING_SUPPLY
    assert kind("gestion-cobranza") == FollowUpKind.COLLECTIONS_MANAGEMENT
    assert triage.kind_of(None) is None and triage.kind_of("consulta-general") is None
    assert not hasattr(triage, "KIND_CODES") and not hasattr(triage, "PROJECT_LINES")


def test_r3_4_escalation_messages_say_not_to_file_another_request() -> None:
    for rule_case in ((o(False), f(True)), (o(True), f(False, due=PAST)), (o(True), f(True))):
        d = decide(*rule_case, customer_disagrees=True, now=NOW)
        es, en = triage.message(d)
        assert "supervisor" in es and "No indique" in es and "Do not tell" in en


# -- through the API (gas distributor demo tenant) ------------------------------------------------
GAS = "gas-demo"


async def _gas_original(system: System, i: int, project: str = "medidor") -> dict[str, Any]:
    """An ordinary request of the gas tenant (a case type made for the test: the demo catalog only
    has the follow-up kinds and the typified collections request)."""
    admin = await system.auth("admin", GAS)
    r = await system.intake.get("/catalog/case-types/reclamo-medidor", headers=admin)
    if r.status_code == 404:
        r = await system.intake.post("/catalog/case-types", headers=admin, json={
            "code": "reclamo-medidor", "name_es": "Reclamo de medidor", "name_en": "Meter complaint",
            "deadline": {"unit": "business_days", "amount": 5}})
        assert r.status_code == 201, r.text
    return await system.create_case(_gas_body(i, "reclamo-medidor", project=project), tenant=GAS)


def _gas_body(i: int, type_: str, **over: Any) -> dict[str, Any]:
    return {"type": type_, "subject": f"Reclamo {i}", "description": "El cliente reclama por su boleta.",
            "contact": {"name": "Rosa Fuentes", "email": f"rosa{i}@example.cl", "phone": "+56922223333"},
            "responsible_email": demo("ejecutiva", GAS), **over}


async def _with_deadline(system: System, case_id: str) -> dict[str, Any]:
    admin = await system.auth("admin", GAS)
    shown: dict[str, Any] = {}

    async def has_deadline() -> bool:
        shown.update((await system.intake.get(f"/cases/{case_id}", headers=admin)).json())
        return shown.get("deadline") is not None

    await wait_for(has_deadline, what="the deadline from workflow")
    return shown


async def _set_due(system: System, case_id: str, due_at: datetime) -> None:
    """Move a case's maximum response date (as if time had passed)."""
    async with system.rt["intake"].db.engine.begin() as conn:
        await conn.execute(update(cases).where(cases.c.id == uuid.UUID(case_id)).values(due_at=due_at,
                                                                              due_date=due_at.date()))


async def _triage(system: System, case_id: str, as_user: str = "ejecutivo", lang: str = "es",
                  **params: str) -> dict[str, Any]:
    r = await system.intake.get(f"/cases/{case_id}/triage", params=params,
                                headers={**await system.auth(as_user, GAS), "Accept-Language": lang})
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.mark.integration
async def test_r3_4_r3_5_late_original_through_the_api_rules_1_3_5_6(rabbit_system: System) -> None:
    s = rabbit_system
    c = s.intake
    original = await _gas_original(s, 1)
    shown = await _with_deadline(s, original["id"])
    # Rule 1: unanswered, within its deadline → tell the maximum response date.
    t = await _triage(s, original["id"])
    assert (t["rule"], t["action"]) == (1, "tell_deadline")
    assert t["deadline"]["due_at"] == shown["deadline"]["due_at"] and t["deadline_of"] == original["id"]
    due_es = datetime.fromisoformat(shown["deadline"]["due_date"]).strftime("%d-%m-%Y")
    assert due_es in t["message"] and t["follow_ups"] == [] and t["business_line"] == "meter"
    # Rule 3: past its deadline → a late-response follow-up; metered gas: the customer files it (R3.5).
    await _set_due(s, original["id"], datetime.now(UTC) - timedelta(days=2))
    t = await _triage(s, original["id"], lang="en")
    assert (t["rule"], t["action"]) == (3, "create_follow_up")
    assert t["follow_up"] == {"kind": "late_response", "case_type": "respuesta-fuera-de-plazo",
                              "follow_up_of": original["id"], "filed_by": "customer"}
    assert "themselves" in t["message"] and t["original"]["past_deadline"] is True
    # …for packaged gas the agent files it.
    t = await _triage(s, original["id"], business_line="packaged")
    assert t["follow_up"]["filed_by"] == "agent" and t["message"].startswith("Cree un requerimiento")
    # The follow-up is filed (R3.1): it links to its original and is listed there.
    late = await s.create_case(_gas_body(2, "respuesta-fuera-de-plazo", follow_up_of=original["id"]), tenant=GAS)
    await _with_deadline(s, late["id"])
    r = await c.get(f"/cases/{original['id']}/follow-ups", headers=await s.auth("lectura", GAS))
    assert r.status_code == 200
    assert [(x["id"], x["kind"], x["answered"], x["follow_up_of"]) for x in r.json()["items"]] == [
        (late["id"], "late_response", False, original["id"])]
    # Rule 5 (the table's gap: O unanswered, its follow-up in time) → tell the follow-up's date.
    t = await _triage(s, original["id"])
    assert (t["rule"], t["deadline_of"], t["extended"]) == (5, late["id"], True)
    assert t["table_follow_up"]["id"] == late["id"] and "seguimiento" in t["message"]
    # Asked on the follow-up itself, triage answers for its original.
    assert (await _triage(s, late["id"]))["original"]["id"] == original["id"]
    # Rule 6: the follow-up is answered, the original still is not → escalate, no new request.
    r = await c.post(f"/cases/{late['id']}/execute", json={"text": "Se derivó al área comercial."},
                     headers=await s.auth("ejecutiva", GAS))
    assert r.status_code == 200, r.text
    t = await _triage(s, original["id"])
    assert (t["rule"], t["action"], t["escalate_to_supervisor"], t["new_request_allowed"]) == (
        6, "escalate_to_supervisor", True, False)
    assert "No indique al cliente hacer otro requerimiento" in t["message"]


@pytest.mark.integration
async def test_r3_4_answered_original_through_the_api_rules_2_4_5_7_8(rabbit_system: System) -> None:
    s = rabbit_system
    c = s.intake
    mine = await s.auth("ejecutiva", GAS)
    original = await _gas_original(s, 3, project="granel")
    await _with_deadline(s, original["id"])
    r = await c.post(f"/cases/{original['id']}/execute", json={"text": "Se reprogramó la carga del estanque."},
                     headers=mine)
    assert r.status_code == 200
    # Rule 2: answered, the customer does not know → the answer (the last execution's text).
    t = await _triage(s, original["id"])
    assert (t["rule"], t["action"]) == (2, "tell_answer")
    assert t["answer"]["text"] == "Se reprogramó la carga del estanque." and t["answer"]["case_id"] == original["id"]
    # A finish text is a later answer.
    r = await c.post(f"/cases/{original['id']}/finish", json={"outcome": "success",
                                                              "comment": "Carga realizada el martes."}, headers=mine)
    assert r.status_code == 200
    assert (await _triage(s, original["id"]))["answer"]["text"] == "Carga realizada el martes."
    # Rule 4: the customer disagrees → a disagreement follow-up; bulk gas: the agent files it (R3.5).
    t = await _triage(s, original["id"], customer_disagrees="true")
    assert (t["rule"], t["follow_up"]["kind"], t["follow_up"]["case_type"], t["follow_up"]["filed_by"]) == (
        4, "disagreement", "inconformidad-respuesta", "agent")
    disagreement = await s.create_case(_gas_body(4, "inconformidad-respuesta", follow_up_of=original["id"]),
                                       tenant=GAS)
    await _with_deadline(s, disagreement["id"])
    # Rule 5: the follow-up is unanswered and in time → its maximum response date.
    t = await _triage(s, original["id"], customer_disagrees="true")
    assert (t["rule"], t["deadline_of"], t["extended"]) == (5, disagreement["id"], False)
    # Rule 7: …and past it → escalate.
    await _set_due(s, disagreement["id"], datetime.now(UTC) - timedelta(hours=3))
    t = await _triage(s, original["id"])
    assert (t["rule"], t["escalate_to_supervisor"]) == (7, True)
    # Rule 8: the follow-up answered and the customer still disagrees → escalate.
    r = await c.post(f"/cases/{disagreement['id']}/execute", json={"text": "Se mantiene la fecha de carga."},
                     headers=mine)
    assert r.status_code == 200
    t = await _triage(s, original["id"], customer_disagrees="true", lang="en")
    assert (t["rule"], t["new_request_allowed"]) == (8, False)
    assert t["message"].startswith("The customer still disagrees")
    # …not disagreeing: read them the follow-up's answer.
    t = await _triage(s, original["id"], customer_disagrees="false")
    assert (t["rule"], t["answer"]["case_id"], t["answer"]["text"]) == (2, disagreement["id"],
                                                                         "Se mantiene la fecha de carga.")


@pytest.mark.integration
async def test_r3_4_triage_refusals_and_tenant_isolation(rabbit_system: System) -> None:
    s = rabbit_system
    c = s.intake
    original = await _gas_original(s, 5)
    r = await c.get(f"/cases/{original['id']}/triage", params={"business_line": "lpg", "colour": "red"},
                    headers=await s.auth("admin", GAS))
    assert r.status_code == 422
    assert sorted(e["field"] for e in r.json()["errors"]) == ["business_line", "colour"]
    other = await s.auth("admin")  # inmobiliaria-demo
    assert (await c.get(f"/cases/{original['id']}/triage", headers=other)).status_code == 404
    assert (await c.get(f"/cases/{original['id']}/follow-ups", headers=other)).status_code == 404


# -- POST /cases refuses the follow-ups rules 6–8 forbid (R3.4: "no new request") -----------------
ESCALATE_TEXT = ("No indique al cliente hacer otro requerimiento", "Do not tell the customer to file another request")


async def _stored(s: System, original_id: str) -> dict[str, Any]:
    """What a refused follow-up must leave as it was: the original's follow-ups, the inbox, the
    tenant's cases and case-number counter, and the case.created.v1 events in intake's outbox."""
    admin = await s.auth("admin", GAS)
    r = await s.intake.get(f"/cases/{original_id}/follow-ups", headers=admin)
    assert r.status_code == 200, r.text
    inbox = await s.intake.get("/inbox", headers=admin)
    assert inbox.status_code == 200, inbox.text
    async with s.rt["intake"].db.engine.connect() as conn:
        n_cases = (await conn.execute(select(func.count()).select_from(cases).where(cases.c.tenant == GAS))).scalar()
        next_number = (await conn.execute(select(tenants.c.next_case_number).where(tenants.c.slug == GAS))).scalar()
        created = (await conn.execute(select(func.count()).select_from(outbox).where(
            outbox.c.type == "case.created.v1"))).scalar()
    return {"follow_ups": [x["id"] for x in r.json()["items"]], "inbox": sorted(x["id"] for x in inbox.json()["items"]),
            "inbox_total": inbox.json()["total"], "cases": n_cases, "next_number": next_number, "events": created}


async def _refused(s: System, original_id: str, body: dict[str, Any], rule: int) -> None:
    """R3.4 rules 6–8: POST /cases with follow_up_of is 409 (es and en), naming follow_up_of, the rule
    and triage's message; nothing is stored or published, no case number is taken."""
    before = await _stored(s, original_id)
    expected = triage.message(triage.Decision(rule, Action.ESCALATE_TO_SUPERVISOR, new_request_allowed=False))
    for i, lang in enumerate(("es-CL", "en")):
        r = await s.intake.post("/cases", json=body, headers={**await s.auth("admin", GAS), "Accept-Language": lang})
        assert r.status_code == 409, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert (problem["type"], problem["status"], problem["rule"], problem["action"], problem["original_id"]) == (
            "https://atiende.dev/problems/escalate-to-supervisor", 409, rule, "escalate_to_supervisor", original_id)
        assert problem["instance"] == "/cases"
        [error] = problem["errors"]
        assert (error["field"], error["pointer"], error["code"]) == (
            "follow_up_of", "#/body/follow_up_of", "escalate_to_supervisor")
        assert error["message"] == expected[i] and ESCALATE_TEXT[i] in error["message"]
        assert problem["detail"].startswith((f"R3.4, regla {rule}: ", f"R3.4, rule {rule}: ")[i])
        assert expected[i] in problem["detail"]
    assert await _stored(s, original_id) == before


async def _execute(s: System, case_id: str, text: str) -> None:
    r = await s.intake.post(f"/cases/{case_id}/execute", json={"text": text}, headers=await s.auth("ejecutiva", GAS))
    assert r.status_code == 200, r.text


@pytest.mark.integration
async def test_r3_4_rule_6_post_follow_up_refused_409_escalate_no_new_request(rabbit_system: System) -> None:
    """R3.4 rule 6 (O unanswered + F answered): POST /cases refuses a late-response or disagreement
    follow-up; a follow-up of another kind (not the table's) is still filed."""
    s = rabbit_system
    original = await _gas_original(s, 11)
    await _with_deadline(s, original["id"])
    await _set_due(s, original["id"], datetime.now(UTC) - timedelta(days=2))
    late = await s.create_case(_gas_body(12, "respuesta-fuera-de-plazo", follow_up_of=original["id"]), tenant=GAS)
    await _with_deadline(s, late["id"])
    await _execute(s, late["id"], "Se derivó al área comercial.")
    assert (await _triage(s, original["id"]))["rule"] == 6
    await _refused(s, original["id"], _gas_body(13, "respuesta-fuera-de-plazo", follow_up_of=original["id"]), 6)
    await _refused(s, original["id"], _gas_body(14, "inconformidad-respuesta", follow_up_of=original["id"]), 6)
    # Filed on the answered follow-up, it is still about the same original (the chain's root).
    await _refused(s, original["id"], _gas_body(15, "respuesta-fuera-de-plazo", follow_up_of=late["id"]), 6)
    other = await s.create_case(_gas_body(16, "no-ejecucion-solucion", follow_up_of=original["id"]), tenant=GAS)
    assert other["follow_up_of"] == original["id"]


@pytest.mark.integration
async def test_r3_4_rule_7_post_follow_up_refused_409_escalate_no_new_request(rabbit_system: System) -> None:
    """R3.4 rule 7 (F unanswered, past its deadline): POST /cases refuses another follow-up."""
    s = rabbit_system
    original = await _gas_original(s, 21, project="envasado")
    await _with_deadline(s, original["id"])
    await _set_due(s, original["id"], datetime.now(UTC) - timedelta(days=4))
    late = await s.create_case(_gas_body(22, "respuesta-fuera-de-plazo", follow_up_of=original["id"]), tenant=GAS)
    await _with_deadline(s, late["id"])
    await _set_due(s, late["id"], datetime.now(UTC) - timedelta(hours=3))
    assert (await _triage(s, original["id"]))["rule"] == 7
    await _refused(s, original["id"], _gas_body(23, "respuesta-fuera-de-plazo", follow_up_of=original["id"]), 7)
    await _refused(s, original["id"], _gas_body(24, "inconformidad-respuesta", follow_up_of=original["id"]), 7)


@pytest.mark.integration
async def test_r3_4_rule_8_post_disagreement_follow_up_refused_409_escalate_no_new_request(
        rabbit_system: System) -> None:
    """R3.4 rule 8 (O and F answered, the customer still disagrees): POST /cases refuses another
    disagreement follow-up (filing one means the customer disagrees)."""
    s = rabbit_system
    original = await _gas_original(s, 31, project="granel")
    await _with_deadline(s, original["id"])
    await _execute(s, original["id"], "Se reprogramó la carga del estanque.")
    disagreement = await s.create_case(_gas_body(32, "inconformidad-respuesta", follow_up_of=original["id"]),
                                       tenant=GAS)
    await _with_deadline(s, disagreement["id"])
    await _execute(s, disagreement["id"], "Se mantiene la fecha de carga.")
    assert (await _triage(s, original["id"], customer_disagrees="true"))["rule"] == 8
    await _refused(s, original["id"], _gas_body(33, "inconformidad-respuesta", follow_up_of=original["id"]), 8)


@pytest.mark.integration
async def test_r3_4_rules_3_and_4_post_follow_up_still_created_201(rabbit_system: System) -> None:
    """R3.4 rules 3 and 4 call for a follow-up: POST /cases files it (201), linked to its original."""
    s = rabbit_system
    admin = await s.auth("admin", GAS)
    late_original = await _gas_original(s, 41)
    await _with_deadline(s, late_original["id"])
    await _set_due(s, late_original["id"], datetime.now(UTC) - timedelta(days=2))
    assert (await _triage(s, late_original["id"]))["rule"] == 3
    r = await s.intake.post("/cases", json=_gas_body(42, "respuesta-fuera-de-plazo",
                                                     follow_up_of=late_original["id"]), headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["follow_up_of"] == late_original["id"]
    answered = await _gas_original(s, 43, project="granel")
    await _with_deadline(s, answered["id"])
    await _execute(s, answered["id"], "Se reprogramó la carga del estanque.")
    assert (await _triage(s, answered["id"], customer_disagrees="true"))["rule"] == 4
    r = await s.intake.post("/cases", json=_gas_body(44, "inconformidad-respuesta", follow_up_of=answered["id"]),
                            headers=admin)
    assert r.status_code == 201, r.text
    for original, created in ((late_original, "respuesta-fuera-de-plazo"), (answered, "inconformidad-respuesta")):
        r = await s.intake.get(f"/cases/{original['id']}/follow-ups", headers=admin)
        assert [x["type"] for x in r.json()["items"]] == [created]

"""Customer self-service (R3.5: meter customers file their follow-ups themselves) through intake's
public endpoints, on the gas distributor's demo tenant (RabbitMQ + PostgreSQL, real SMTP on
loopback): the look-up by number and national id shows only what the customer may see; every
mismatch is the same 404; failed look-ups are limited; a follow-up is filed as the staff path
files it, or refused with R3.4's reason and escalated to the supervisor.

Rate limit, as decided: failed look-ups count per (tenant, client address) and per (tenant,
number typed), 5 in 15 minutes. A locked number is locked for every address (that is what stops
guessing a national id from many addresses), so the right id from another address waits too;
other numbers from another address are not affected."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import func, select

from services.intake.adapters.case_tables import case_history
from services.intake.adapters.db import outbox
from services.intake.domain import self_service as rules
from services.intake.domain import triage
from shared import clock
from tests.conftest import TOKEN_SECRET
from tests.support.smtp_sink import SmtpSink
from tests.support.system import System, demo, wait_for
from tests.test_triage import _set_due, _with_deadline

GAS = "gas-demo"
RUT = "7.654.321-6"  # Rosa Elena Pizarro, a metered-gas customer
LOOKUP = f"/public/{GAS}/requests/lookup"
FOLLOWUPS = f"/public/{GAS}/requests/followups"
KEYS = {"number", "type_name", "status", "status_label", "created_on", "max_response_date", "can_file_follow_up",
        "follow_up_kinds", "message", "token", "token_expires_in"}


# -- helpers ---------------------------------------------------------------------------------------
async def _customer(s: System, national_id: str = RUT, name: str = "Rosa Elena Pizarro") -> str:
    admin = await s.auth("admin", GAS)
    r = await s.intake.post("/parties", json={"kind": "person", "name": name, "national_id": national_id,
                                              "email": "rosa.pizarro@example.cl"}, headers=admin)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _request(s: System, i: int, party_id: str | None, *, type_: str = "reclamo-medidor",
                   project: str = "medidor", **over: Any) -> dict[str, Any]:
    admin = await s.auth("admin", GAS)
    if (await s.intake.get(f"/catalog/case-types/{type_}", headers=admin)).status_code == 404:
        r = await s.intake.post("/catalog/case-types", headers=admin, json={
            "code": type_, "name_es": "Reclamo de medidor", "name_en": "Meter complaint",
            "deadline": {"unit": "business_days", "amount": 5}})
        assert r.status_code == 201, r.text
    body = {"type": type_, "subject": f"Reclamo {i}", "description": "La boleta llegó con un cobro que no reconozco.",
            "contact": {"name": "Rosa Pizarro", "email": f"rosa{i}@example.cl", "phone": "+56955512345"},
            "responsible_email": demo("ejecutiva", GAS), "project": project, **over}
    if party_id is not None:
        body["party_id"] = party_id
    return await s.create_case(body, tenant=GAS)


async def _late(s: System, case_id: str) -> None:
    await _with_deadline(s, case_id)
    await _set_due(s, case_id, datetime.now(UTC) - timedelta(days=2))


async def answered_follow_up(s: System, original_id: str) -> dict[str, Any]:
    """A late-response follow-up the agent filed on the original, answered (executed) by the area:
    with the original still unanswered, R3.4 rule 6."""
    late = await s.create_case({
        "type": "respuesta-fuera-de-plazo", "subject": "Seguimiento", "description": "Sin respuesta.",
        "contact": {"name": "Rosa Pizarro", "email": "rosa@example.cl"}, "responsible_email": demo("ejecutiva", GAS),
        "follow_up_of": original_id}, tenant=GAS)
    r = await s.intake.post(f"/cases/{late['id']}/execute", json={"text": "Se derivó al área comercial."},
                            headers=await s.auth("ejecutiva", GAS))
    assert r.status_code == 200, r.text
    return late


def _from(s: System, ip: str) -> httpx.AsyncClient:
    """intake as a customer at ``ip`` sees it."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=s.rt["intake"].app, client=(ip, 40000)),
                             base_url="http://intake")


async def _look_up(c: httpx.AsyncClient, number: str, national_id: str = RUT, *, tenant: str = GAS,
                   lang: str = "es-CL") -> httpx.Response:
    return await c.post(f"/public/{tenant}/requests/lookup", json={"number": number, "national_id": national_id},
                        headers={"Accept-Language": lang})


async def _found(c: httpx.AsyncClient, number: str, **kw: Any) -> dict[str, Any]:
    r = await _look_up(c, number, **kw)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _file(c: httpx.AsyncClient, token: str, kind: str, text: str = "Nadie me ha respondido.",
                tenant: str = GAS) -> httpx.Response:
    return await c.post(f"/public/{tenant}/requests/followups", json={"kind": kind, "text": text},
                        headers={"Authorization": f"Bearer {token}"})


def _escalation_mails(sink: SmtpSink) -> Counter[tuple[str, str]]:
    return Counter((m.message["X-Atiende-Case"], m.to[0].split("@")[0])
                   for m in list(sink.messages) if m.message["X-Atiende-Template"] == "case_escalated")


async def _outbox_count(s: System, type_: str) -> int:
    async with s.rt["intake"].db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(outbox).where(outbox.c.type == type_)))
                   .scalar_one())


# -- the look-up -------------------------------------------------------------------------------------
@pytest.mark.integration
async def test_r3_5_right_number_and_national_id_show_status_and_max_response_date_nothing_else(
        rabbit_system: System) -> None:
    s = rabbit_system
    original = await _request(s, 1, await _customer(s))
    shown = await _with_deadline(s, original["id"])
    # The id typed without dots, the number without its zeros: both are compared normalised.
    found = await _found(s.intake, str(int(original["number"])), national_id="7654321-6")
    assert set(found) == KEYS
    due = date.fromisoformat(shown["deadline"]["due_date"])
    assert {k: v for k, v in found.items() if k not in ("token", "created_on")} == {
        "number": original["number"], "type_name": "Reclamo de medidor", "status": "new", "status_label": "nueva",
        "max_response_date": due.isoformat(), "can_file_follow_up": False, "follow_up_kinds": [],
        "message": f"La solicitud N° {original['number']} está dentro de plazo. La fecha máxima de respuesta es el "
                   f"{due.strftime('%d-%m-%Y')}.",
        "token_expires_in": 1800}
    assert found["created_on"] == original["created_at"][:10]
    en = await _found(s.intake, original["number"], lang="en")
    assert (en["type_name"], en["status_label"]) == ("Meter complaint", "new")
    assert en["message"].startswith(f"Request no. {original['number']} is within its deadline")


@pytest.mark.integration
async def test_r3_5_a_wrong_national_id_number_or_tenant_reveals_nothing_the_same_404(rabbit_system: System) -> None:
    s = rabbit_system
    original = await _request(s, 2, await _customer(s))
    other_party = await _customer(s, "12.345.678-5", "Héctor Contreras")
    someone_elses = await _request(s, 3, other_party)
    without_party = await _request(s, 4, None)
    # A national id that cannot be one (check digit) is a typing error, named on its field (and
    # not counted as a failed look-up).
    r = await _look_up(s.intake, original["number"], "7.654.321-0")
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["national_id"]
    r = await s.intake.post(LOOKUP, json={"number": "", "colour": "red"})
    assert r.status_code == 422
    assert sorted(e["field"] for e in r.json()["errors"]) == ["colour", "national_id", "number"]
    tries = {
        "wrong national id": await _look_up(s.intake, original["number"], "12345678-5"),
        "another's request": await _look_up(s.intake, someone_elses["number"]),
        "unknown number": await _look_up(s.intake, "999999"),
        "a request without a party": await _look_up(s.intake, without_party["number"]),
        "not a number at all": await _look_up(s.intake, "ABC-1"),
    }
    bodies = {what: (r.status_code, r.headers["content-type"], r.json()) for what, r in tries.items()}
    expected = (404, "application/problem+json", {
        "type": "https://atiende.dev/problems/not-found", "title": rules.NOT_FOUND[0], "status": 404,
        "instance": LOOKUP})
    assert bodies == dict.fromkeys(tries, expected)
    # Another tenant, or none, with the right number and id: the same answer (the path is its own).
    for tenant in ("inmobiliaria-demo", "no-existe"):
        r = await _look_up(s.intake, original["number"], tenant=tenant)
        assert (r.status_code, {k: v for k, v in r.json().items() if k != "instance"}) == (
            404, {k: v for k, v in expected[2].items() if k != "instance"})


@pytest.mark.integration
async def test_r3_5_failed_look_ups_are_limited_per_address_and_per_number_429_with_retry_after(
        rabbit_system: System) -> None:
    s = rabbit_system
    party = await _customer(s)
    mine, second = await _request(s, 5, party), await _request(s, 6, party)
    a, b = _from(s, "203.0.113.7"), _from(s, "198.51.100.9")
    try:
        for _ in range(rules.MAX_FAILURES):
            assert (await _look_up(a, mine["number"], "12345678-5")).status_code == 404
        locked = await _look_up(a, mine["number"])  # now even the right id waits
        assert locked.status_code == 429, locked.text
        assert locked.headers["content-type"].startswith("application/problem+json")
        assert 0 < int(locked.headers["Retry-After"]) <= rules.WINDOW.total_seconds()
        assert locked.json()["type"].endswith("/too-many-attempts") and "minuto" in locked.json()["detail"]
        # The address is locked for every number…
        assert (await _look_up(a, second["number"])).status_code == 429
        # …and the number for every address, while another address finds another number.
        assert (await _look_up(b, mine["number"])).status_code == 429
        assert (await _found(b, second["number"]))["number"] == second["number"]
        # Once the window has passed, the right id works again.
        s.travel_to(clock.now() + rules.WINDOW + timedelta(seconds=5))
        assert (await _found(a, mine["number"]))["number"] == mine["number"]
    finally:
        await a.aclose()
        await b.aclose()


# -- filing a follow-up ------------------------------------------------------------------------------
@pytest.mark.integration
async def test_r3_5_the_customer_files_a_late_response_follow_up_linked_to_the_original_in_the_inbox(
        rabbit_system: System) -> None:
    s = rabbit_system
    party = await _customer(s)
    original = await _request(s, 7, party)
    await _late(s, original["id"])
    found = await _found(s.intake, original["number"])
    assert found["can_file_follow_up"] is True
    assert found["follow_up_kinds"] == [{"kind": "late_response", "label": "Respuesta fuera de plazo"}]
    assert "fuera de plazo" in found["message"]
    # Disagreeing with an answer the area has not given is not R3.4's follow-up here.
    r = await _file(s.intake, found["token"], "disagreement")
    assert r.status_code == 409 and r.json()["type"].endswith("/follow-up-not-called-for")
    assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [("kind", "follow_up_not_called_for")]
    text = "Pasaron los 5 días hábiles y nadie me ha respondido por el cobro."
    r = await _file(s.intake, found["token"], "late_response", text)
    assert r.status_code == 201, r.text
    filed = r.json()
    assert set(filed) == {"number", "follow_up_of"} and filed["follow_up_of"] == original["number"]
    # Staff see it: linked to the original (R3.1), in the inbox, filed by self-service.
    admin = await s.auth("admin", GAS)
    r = await s.intake.get(f"/cases/{original['id']}/follow-ups", headers=admin)
    [item] = r.json()["items"]
    assert (item["number"], item["kind"], item["follow_up_of"]) == (filed["number"], "late_response", original["id"])
    case = (await s.intake.get(f"/cases/{item['id']}", headers=admin)).json()
    assert (case["type"], case["description"], case["party_id"], case["channel"], case["project"]) == (
        "respuesta-fuera-de-plazo", text, party, "web", "medidor")
    inbox = (await s.intake.get("/inbox", headers=admin)).json()
    assert item["id"] in [x["id"] for x in inbox["items"]]
    async with s.rt["intake"].db.read() as conn:
        first = (await conn.execute(select(case_history.c.kind, case_history.c.actor_name, case_history.c.actor_id)
                                    .where(case_history.c.case_id == uuid.UUID(item["id"]))
                                    .order_by(case_history.c.id))).first()
    assert first is not None and tuple(first) == ("created", rules.ACTOR_NAME, None)
    # Filing again: the follow-up is running (rule 5), so the customer is told its date instead.
    again = await _file(s.intake, found["token"], "late_response")
    assert again.status_code == 409 and again.json()["rule"] == 5
    assert len((await s.intake.get(f"/cases/{original['id']}/follow-ups", headers=admin)).json()["items"]) == 1


@pytest.mark.integration
async def test_r3_4_r3_5_an_answered_request_takes_a_disagreement_follow_up(rabbit_system: System) -> None:
    """R3.4 rules 2 and 4: the area answered (and finished); the customer who disagrees files a
    disagreement follow-up (flagged "not satisfied", R0.1); a late response does not apply."""
    s = rabbit_system
    original = await _request(s, 13, await _customer(s))
    agent = await s.auth("ejecutiva", GAS)
    for action, body in (("execute", {"text": "Se revisó el medidor."}),
                         ("finish", {"outcome": "success", "comment": "El cobro es correcto."})):
        r = await s.intake.post(f"/cases/{original['id']}/{action}", json=body, headers=agent)
        assert r.status_code == 200, r.text
    found = await _found(s.intake, original["number"])
    assert (found["status"], found["follow_up_kinds"]) == (
        "finished_success", [{"kind": "disagreement", "label": "Inconformidad en la respuesta"}])
    assert found["message"].startswith(f"El área ya respondió la solicitud N° {original['number']}")
    r = await _file(s.intake, found["token"], "late_response")
    assert r.status_code == 409 and r.json()["rule"] == 2
    r = await _file(s.intake, found["token"], "disagreement", "El medidor marca más de lo que consumo.")
    assert r.status_code == 201, r.text
    [item] = (await s.intake.get(f"/cases/{original['id']}/follow-ups", headers=await s.auth("admin", GAS))
              ).json()["items"]
    case = (await s.intake.get(f"/cases/{item['id']}", headers=await s.auth("admin", GAS))).json()
    assert (case["number"], case["type"], case["not_satisfied"], item["kind"]) == (
        r.json()["number"], "inconformidad-respuesta", True, "disagreement")


@pytest.mark.integration
async def test_r3_4_r3_5_where_triage_says_escalate_the_follow_up_is_refused_and_the_supervisor_e_mailed(
        rabbit_system: System, smtp_sink: SmtpSink) -> None:
    """R3.4 rule 6 (the original unanswered, its follow-up answered): no new request; the
    customer reads why, and the supervisor of the area gets the e-mail, as from the staff button."""
    s = rabbit_system
    original = await _request(s, 8, await _customer(s))
    await _late(s, original["id"])
    late = await answered_follow_up(s, original["id"])
    found = await _found(s.intake, original["number"])
    assert [k["kind"] for k in found["follow_up_kinds"]] == ["late_response", "disagreement"]
    assert "supervisor" in found["message"]
    text = "Me respondieron el seguimiento pero mi reclamo sigue igual."
    r = await _file(s.intake, found["token"], "late_response", text)
    assert r.status_code == 409, r.text
    problem = r.json()
    told = rules.escalated_message(triage.Decision(6, triage.Action.ESCALATE_TO_SUPERVISOR,
                                                   new_request_allowed=False))
    assert (problem["type"], problem["rule"], problem["escalated"], problem["detail"]) == (
        "https://atiende.dev/problems/escalated-to-supervisor", 6, True, told[0])
    assert [(e["field"], e["code"], e["message"]) for e in problem["errors"]] == [
        ("kind", "escalated_to_supervisor", told[0])]
    await wait_for(lambda: _escalation_mails(smtp_sink)[(original["id"], "supervisora")] == 1, 30,
                   "the supervisor e-mailed")
    [mail] = [m for m in smtp_sink.messages if m.message["X-Atiende-Template"] == "case_escalated"]
    body = mail.message.get_body(("plain",)).get_content()
    assert text in body and "Escale el caso al supervisor" in body
    async with s.rt["intake"].db.read() as conn:  # (the e-mail's own history line may follow it)
        [line] = (await conn.execute(select(case_history.c.actor_name, case_history.c.data).where(
            case_history.c.case_id == uuid.UUID(original["id"]),
            case_history.c.kind == "escalated_to_supervisor"))).all()
    assert (line.actor_name, line.data["rule"]) == (rules.ACTOR_NAME, 6)
    # Pressed again, in English: the same refusal, no second escalation, still no new request.
    r = await s.intake.post(FOLLOWUPS, json={"kind": "disagreement", "text": "¿Y?"},
                            headers={"Authorization": f"Bearer {found['token']}", "Accept-Language": "en"})
    assert r.status_code == 409 and r.json()["errors"][0]["message"] == told[1]
    assert await _outbox_count(s, "case.triage_escalated.v1") == 1
    follow_ups = (await s.intake.get(f"/cases/{original['id']}/follow-ups", headers=await s.auth("admin", GAS)))
    assert [x["id"] for x in follow_ups.json()["items"]] == [late["id"]]


@pytest.mark.integration
async def test_r3_5_packaged_gas_customers_are_told_the_agent_files_their_follow_up(rabbit_system: System) -> None:
    s = rabbit_system
    original = await _request(s, 9, await _customer(s), project="envasado")
    await _late(s, original["id"])
    found = await _found(s.intake, original["number"])
    assert (found["can_file_follow_up"], found["follow_up_kinds"], found["message"]) == (
        False, [], rules.AGENT_FILES[0])
    r = await _file(s.intake, found["token"], "late_response")
    assert r.status_code == 409 and rules.AGENT_FILES[0] in r.json()["errors"][0]["message"]
    assert await _outbox_count(s, "case.triage_escalated.v1") == 0


@pytest.mark.integration
async def test_r3_5_a_self_service_token_reaches_only_its_own_case(rabbit_system: System) -> None:
    s = rabbit_system
    party = await _customer(s)
    mine, theirs = await _request(s, 10, party), await _request(s, 11, party)
    await _late(s, theirs["id"])
    token = (await _found(s.intake, mine["number"]))["token"]
    # Not a staff token: it reads no case, not even its own.
    for path in (f"/cases/{mine['id']}", f"/cases/{theirs['id']}", "/inbox"):
        assert (await s.intake.get(path, headers={"Authorization": f"Bearer {token}"})).status_code == 401
    # Not valid in another tenant; a staff token is not a self-service token.
    assert (await _file(s.intake, token, "late_response", tenant="inmobiliaria-demo")).status_code == 401
    staff = (await s.auth("admin", GAS))["Authorization"].removeprefix("Bearer ")
    assert (await _file(s.intake, staff, "late_response")).status_code == 401
    # Pointing it at another case needs the key: signed with anything else (the access-token
    # secret included), it is refused.
    claims = jwt.decode(token, options={"verify_signature": False})
    for key in (TOKEN_SECRET, "a-guessed-key-as-long-as-a-real-one-0123456789"):
        forged = jwt.encode({**claims, "sub": theirs["id"]}, key, algorithm="HS256")
        assert (await _file(s.intake, forged, "late_response")).status_code == 401
    r = await s.intake.post(FOLLOWUPS, json={"kind": "late_response", "text": "x"})
    assert r.status_code == 401 and r.json()["type"].endswith("/unauthenticated")
    # With its own token the (late) other case is untouched: mine is within its deadline (rule 1).
    r = await _file(s.intake, token, "late_response")
    assert r.status_code == 409 and r.json()["rule"] == 1
    admin = await s.auth("admin", GAS)
    assert (await s.intake.get(f"/cases/{theirs['id']}/follow-ups", headers=admin)).json()["items"] == []
    # After 30 minutes it has expired.
    s.travel_to(clock.now() + rules.TOKEN_TTL + timedelta(seconds=1))
    assert (await _file(s.intake, token, "late_response")).status_code == 401


async def test_r3_5_self_service_in_embedded_mode(embedded_system: System) -> None:
    """The same endpoints on SQLite and the in-process bus (`atiende run`): found, not found, limited."""
    s = embedded_system
    original = await _request(s, 12, await _customer(s))
    assert (await _found(s.intake, original["number"]))["number"] == original["number"]
    for _ in range(rules.MAX_FAILURES):
        assert (await _look_up(s.intake, original["number"], "12345678-5")).status_code == 404
    assert (await _look_up(s.intake, original["number"])).status_code == 429

"""intake's case API contract: Idempotency-Key, RFC 9457 problem details field by field, and that a
refused request stores and publishes nothing."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from services.intake.adapters.db import cases, idempotency_keys, outbox
from tests.support.system import CASE, System, case_body

pytestmark = pytest.mark.integration


async def _counts(system: System) -> tuple[int, int]:
    """Cases stored and case.created events written (user events from the seed don't count)."""
    async with system.rt["intake"].db.engine.connect() as conn:
        n_cases = (await conn.execute(select(func.count()).select_from(cases))).scalar_one()
        n_events = (await conn.execute(select(func.count()).select_from(outbox)
                                       .where(outbox.c.type == "case.created.v1"))).scalar_one()
    return n_cases, n_events


async def post(system: System, body: object, as_user: str = "admin", **headers: str):  # type: ignore[no-untyped-def]
    return await system.intake.post("/cases", json=body, headers={**await system.auth(as_user), **headers})


async def test_same_idempotency_key_and_body_returns_first_result_and_creates_nothing(rabbit_system: System) -> None:
    h = {"Idempotency-Key": "crm-import-42"}
    first = await post(rabbit_system, CASE, **h)
    again = await post(rabbit_system, CASE, **h)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await _counts(rabbit_system) == (1, 1)


async def test_same_idempotency_key_with_other_body_is_refused(rabbit_system: System) -> None:
    h = {"Idempotency-Key": "crm-import-43"}
    assert (await post(rabbit_system, CASE, **h)).status_code == 201
    r = await post(rabbit_system, case_body(7), **h)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    p = r.json()
    assert p["type"].endswith("/idempotency-key-reused") and p["status"] == 422
    assert p["errors"][0]["field"] == "Idempotency-Key"
    assert await _counts(rabbit_system) == (1, 1)


async def test_idempotency_keys_are_per_tenant(rabbit_system: System) -> None:
    h = {"Idempotency-Key": "same-key"}
    a = await post(rabbit_system, CASE, **h)
    body = {**CASE, "type": "gestion-cobranza", "responsible_email": "ejecutiva@gas-demo.atiende.cl",
            "channel": "telefono"}  # the type names its channels (R3.2): one of them is required
    b = await rabbit_system.intake.post("/cases", json=body, headers={**await rabbit_system.auth(tenant="gas-demo"), **h})
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]


async def test_concurrent_requests_with_one_key_create_one_case(rabbit_system: System) -> None:
    h = {"Idempotency-Key": "double-click"}
    await rabbit_system.auth()
    results = await asyncio.gather(*(post(rabbit_system, CASE, **h) for _ in range(5)))
    assert {r.status_code for r in results} == {201}
    assert len({r.json()["id"] for r in results}) == 1
    assert await _counts(rabbit_system) == (1, 1)
    async with rabbit_system.rt["intake"].db.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(idempotency_keys))).scalar_one() == 1


async def test_bad_input_gets_problem_details_for_every_field_and_changes_nothing(rabbit_system: System) -> None:
    bad = {"type": "Consulta General!", "subject": "x", "description": "",
           "contact": {"name": "Ana", "email": "no-es-un-correo", "phone": "12345"},
           "responsible_email": "ejecutiva@example.cl", "prioridad": "urgente"}
    r = await post(rabbit_system, bad)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    p = r.json()
    assert p["title"] == "Los datos enviados no son válidos"
    assert p["instance"] == "/cases"
    fields = {e["field"]: e for e in p["errors"]}
    assert set(fields) == {"type", "subject", "description", "contact.email", "contact.phone", "prioridad"}
    assert fields["contact.email"]["pointer"] == "#/body/contact/email"
    assert fields["subject"]["message"] == "El texto es demasiado corto (mínimo 3)."
    assert fields["prioridad"]["message"] == "Campo no permitido."
    assert await _counts(rabbit_system) == (0, 0)


async def test_problem_texts_in_english_when_asked(rabbit_system: System) -> None:
    r = await post(rabbit_system, {"type": "consulta-general"}, **{"Accept-Language": "en-US,en;q=0.9"})
    p = r.json()
    assert p["title"] == "The data sent is not valid"
    assert {e["field"] for e in p["errors"]} >= {"subject", "description", "contact"}
    assert "This field is required." in {e["message"] for e in p["errors"]}


async def test_unknown_case_type_or_responsible_are_field_errors(rabbit_system: System) -> None:
    r = await post(rabbit_system, case_body(1, type="no-such-type", responsible_email="nadie@example.cl"))
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"pointer": "#/body/type", "field": "type", "code": "unknown_case_type",
         "message": "El tipo de solicitud no existe para este cliente."},
        {"pointer": "#/body/responsible_email", "field": "responsible_email", "code": "unknown_responsible",
         "message": "El responsable no es un usuario activo de este cliente."}]
    # Another tenant's type is not this tenant's type; another tenant's user is no responsible here.
    r = await post(rabbit_system, case_body(1, type="gestion-cobranza"))
    assert r.status_code == 422
    r = await post(rabbit_system, case_body(1, responsible_email="ejecutiva@gas-demo.atiende.cl"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "responsible_email"
    both = {**CASE, "responsible_id": "0b4f5b8e-0000-4000-8000-000000000000"}
    r = await post(rabbit_system, both)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "responsible"
    assert await _counts(rabbit_system) == (0, 0)


async def test_malformed_json_and_unknown_case_are_problems(rabbit_system: System) -> None:
    h = await rabbit_system.auth()
    r = await rabbit_system.intake.post("/cases", content=b"{not json",
                                        headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "json_invalid"
    r = await rabbit_system.intake.get("/cases/0b4f5b8e-0000-4000-8000-000000000000", headers=h)
    assert r.status_code == 404 and r.json()["title"] == "Solicitud no encontrada"
    r = await rabbit_system.intake.get("/cases/not-a-uuid", headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "#/path/case_id"


async def test_correlation_id_is_echoed_and_carried_by_events(rabbit_system: System) -> None:
    r = await post(rabbit_system, CASE, **{"X-Correlation-ID": "req-abc-123"})
    assert r.headers["x-correlation-id"] == "req-abc-123"
    async with rabbit_system.rt["intake"].db.engine.connect() as conn:
        body = (await conn.execute(select(outbox.c.body).where(outbox.c.type == "case.created.v1"))).scalar_one()
    assert '"correlationid":"req-abc-123"' in body

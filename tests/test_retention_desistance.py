"""Seed 001 on a retention request ("retencion-total" of the insurer): R1.3 offers recorded with
the customer's answer, R1.2 the desistance letter as a PDF (read back with pypdf) and the
successful desistance, which needs the signed letter attached and closes the case as retained."""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pypdf
import pytest
from sqlalchemy import select

from services.intake.adapters.db import outbox
from services.intake.domain import retention
from shared import clock
from tests.support.system import System, case_body, demo

pytestmark = pytest.mark.integration
TENANT = "aseguradora-demo"


def test_r1_2_spanish_date_and_rut_as_chile_writes_it() -> None:
    assert retention.spanish_date(date(2026, 12, 3)) == "3 de diciembre de 2026"
    assert retention.spanish_date(date(2027, 1, 15)) == "15 de enero de 2027"
    assert retention.format_national_id("12345678-5", "CL") == "12.345.678-5"
    assert retention.format_national_id("0614-050707-104-8", "SV") == "0614-050707-104-8"
    assert retention.is_retention_type("retencion-total") and not retention.is_retention_type("rescate")


async def _events(s: System, type_: str) -> list[dict[str, Any]]:
    async with s.rt["intake"].db.engine.connect() as conn:
        rows = (await conn.execute(select(outbox.c.body).where(outbox.c.type == type_).order_by(outbox.c.id))).all()
    return [json.loads(r.body) for r in rows]


async def _retention_case(s: System, i: int = 0) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A customer with a RUT, their policy, and a retention request for it (by the ejecutiva)."""
    h = await s.auth("ejecutiva", TENANT)
    r = await s.intake.post("/parties", json={"kind": "person", "name": "Gustavo Trejo Mejía",
                                              "national_id": "12.345.678-5" if i == 0 else "10.359.182-1"}, headers=h)
    assert r.status_code == 201, r.text
    party = r.json()
    r = await s.intake.post("/assets", json={"kind": "policy", "code": f"SVI-3793{i}", "name": "Seguro de vida SVI",
                                             "party_id": party["id"]}, headers=h)
    assert r.status_code == 201, r.text
    policy = r.json()
    case = await s.create_case({**case_body(i), "type": "retencion-total", "responsible_email": demo("ejecutiva", TENANT),
                                "project": "vida-individual", "party_id": party["id"], "asset_id": policy["id"]},
                               as_user="ejecutiva", tenant=TENANT)
    return party, policy, case


def _pdf(files: bytes, name: str = "carta-firmada.pdf") -> dict[str, Any]:
    return {"file": (name, files, "application/pdf")}


def _text(pdf: bytes) -> str:
    return " ".join((p.extract_text() or "") for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


async def _walk(s: System) -> None:
    """The happy path: offers, letter, desistance with the signed letter, case retained."""
    h = await s.auth("ejecutiva", TENANT)
    c = s.intake
    party, policy, case = await _retention_case(s)
    cid = case["id"]
    r = await c.post(f"/cases/{cid}/retention-offers", json={"kind": "loan", "description": "Préstamo de 2 UF"},
                     headers=h)
    assert r.status_code == 201, r.text
    loan = r.json()
    assert loan["accepted"] is None and loan["kind"] == "loan"
    r = await c.post(f"/cases/{cid}/retention-offers", json={"kind": "premium_pause", "accepted": False}, headers=h)
    assert r.status_code == 201, r.text
    r = await c.patch(f"/cases/{cid}/retention-offers/{loan['id']}", json={"accepted": True}, headers=h)
    assert r.status_code == 200 and r.json()["accepted"] is True, r.text
    r = await c.get(f"/cases/{cid}/retention-offers", headers=h)
    assert [(o["kind"], o["accepted"]) for o in r.json()["items"]] == [("loan", True), ("premium_pause", False)]

    r = await c.get(f"/cases/{cid}/desistance-letter", headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf", r.text
    text = _text(r.content)
    today = clock.now().astimezone(ZoneInfo("America/Santiago")).date()
    for expected in ("Gustavo Trejo Mejía", "12.345.678-5", policy["code"], retention.spanish_date(today),
                     "Ejecutiva Demo", "Carta de Desistimiento"):
        assert expected in text, (expected, text)

    # The customer signs the printed letter; it is scanned and attached.
    r = await c.post(f"/cases/{cid}/attachments", files=_pdf(r.content), headers=h)
    assert r.status_code == 201, r.text
    letter = r.json()
    r = await c.post(f"/cases/{cid}/desistance", json={"letter_attachment_id": letter["id"],
                                                       "note": "Desiste del rescate."}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "finished_success"
    r = await c.get(f"/cases/{cid}/history", params={"limit": 100}, headers=h)
    kinds = [(e["kind"], e["data"].get("text")) for e in r.json()["items"]]
    assert ("desistance_registered", None) in kinds and ("finish_success", "retained") in kinds

    [event] = await _events(s, "case.desistance_registered.v1")
    d = event["data"]
    assert d["case_id"] == cid and d["offers_accepted"] == ["loan"] and d["letter_attachment_id"] == letter["id"]
    assert d["party_id"] == party["id"] and d["asset_id"] == policy["id"] and d["policy_code"] == policy["code"]
    me = (await c.get("/auth/me", headers=h)).json()
    assert d["executive_id"] == me["user_id"] and d["executive_name"] == "Ejecutiva Demo"
    finished = await _events(s, "case.finished.v1")
    assert [e["data"]["text"] for e in finished] == ["retained"]
    # Numbered with the case's version: created 1, offers 2–4, desistance 5, finished 6.
    offers = await _events(s, "case.retention_offer_recorded.v1")
    assert [e["sequence"] for e in offers] == [2, 3, 4] and event["sequence"] == 5 and finished[0]["sequence"] == 6


async def test_r1_3_r1_2_offers_letter_and_desistance_with_the_signed_letter(rabbit_system: System) -> None:
    await _walk(rabbit_system)


async def test_r1_2_desistance_is_refused_without_this_cases_signed_pdf(rabbit_system: System) -> None:
    s = rabbit_system
    c = s.intake
    h = await s.auth("ejecutiva", TENANT)
    _, _, case = await _retention_case(s, 0)
    _, _, other = await _retention_case(s, 1)
    cid = case["id"]
    r = await c.post(f"/cases/{cid}/desistance", json={}, headers=h)
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["letter_attachment_id"]
    letter = (await c.get(f"/cases/{other['id']}/desistance-letter", headers=h)).content
    r = await c.post(f"/cases/{other['id']}/attachments", files=_pdf(letter), headers=h)
    assert r.status_code == 201, r.text
    r = await c.post(f"/cases/{cid}/desistance", json={"letter_attachment_id": r.json()["id"]}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "letter_attachment_id", r.text
    assert r.json()["errors"][0]["code"] == "letter_required"
    r = await c.get(f"/cases/{cid}", headers=h)
    assert r.json()["status"] == "new"
    assert await _events(s, "case.desistance_registered.v1") == []

    # Not a retention request: no offers, no letter.
    plain = await s.create_case({**case_body(5), "type": "consulta-siniestro",
                                 "responsible_email": demo("ejecutiva", TENANT), "project": "vida-individual"},
                                as_user="ejecutiva", tenant=TENANT)
    r = await c.post(f"/cases/{plain['id']}/retention-offers", json={"kind": "loan"}, headers=h)
    assert r.status_code == 409 and r.json()["type"].endswith("/not-a-retention-request"), r.text
    assert (await c.get(f"/cases/{plain['id']}/desistance-letter", headers=h)).status_code == 409
    r = await c.post(f"/cases/{cid}/retention-offers", json={"kind": "gift"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "kind"


async def test_r1_2_the_letter_names_the_partys_own_executive_over_the_responsible(rabbit_system: System) -> None:
    s = rabbit_system
    h = await s.auth("ejecutiva", TENANT)
    ejecutivo = (await s.intake.get("/auth/me", headers=await s.auth("ejecutivo", TENANT))).json()["user_id"]
    r = await s.intake.post("/parties", json={"kind": "person", "name": "Ana María Pérez", "national_id": "7.654.321-6",
                                              "executive_id": ejecutivo}, headers=h)
    assert r.status_code == 201, r.text
    case = await s.create_case({**case_body(7), "type": "retencion-total", "responsible_email": demo("ejecutiva", TENANT),
                                "project": "vida-individual", "party_id": r.json()["id"]},
                               as_user="ejecutiva", tenant=TENANT)
    text = _text((await s.intake.get(f"/cases/{case['id']}/desistance-letter", headers=h)).content)
    assert "Ejecutivo Demo" in text and "7.654.321-6" in text and "Ana María Pérez" in text, text


async def test_r1_2_r1_3_the_same_walk_in_embedded_mode(embedded_system: System) -> None:
    await _walk(embedded_system)

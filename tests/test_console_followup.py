"""Creating a case as a follow-up of an earlier one in the console (R3.1, R3.4): the screen first
shows the API's triage of the earlier case (GET /cases/{id}/triage); where triage says to
escalate (rules 6–8, "no new request") it offers "Escalar a supervisor" instead of the create
form, otherwise the form files the follow-up linked to its original. The gas distributor's demo
tenant has the follow-up kinds; the cases are set up through the API as tests/test_triage.py does.

Without a browser (httpx against the console of the one origin, embedded mode), both branches;
then the same in Debian's Chromium with an axe scan."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.intake.seed import DEMO_PASSWORD
from tests.support.browser import Site, check_screen, log_in
from tests.support.system import System, demo
from tests.test_console import console  # noqa: F401  (a fixture)
from tests.test_triage import GAS, _gas_body, _gas_original, _set_due, _with_deadline

pytestmark = pytest.mark.integration


async def _log_in_gas(client: httpx.AsyncClient, local: str = "ejecutiva") -> None:
    r = await client.post("/console/login", data={"tenant": GAS, "email": demo(local, GAS), "password": DEMO_PASSWORD})
    assert r.status_code == 303, r.text


async def _late_original(s: System, i: int) -> dict[str, Any]:
    """R3.4 rule 3: an original unanswered past its maximum response date."""
    original = await _gas_original(s, i, project="envasado")
    await _with_deadline(s, original["id"])
    await _set_due(s, original["id"], datetime.now(UTC) - timedelta(days=4))
    return original


async def _escalating_original(s: System, i: int) -> dict[str, Any]:
    """R3.4 rule 7: its late-response follow-up is unanswered and past its own deadline too."""
    original = await _late_original(s, i)
    late = await s.create_case(_gas_body(i + 1, "respuesta-fuera-de-plazo", follow_up_of=original["id"]), tenant=GAS)
    await _with_deadline(s, late["id"])
    await _set_due(s, late["id"], datetime.now(UTC) - timedelta(hours=3))
    return original


async def _follow_ups(s: System, case_id: str) -> list[dict[str, Any]]:
    r = await s.intake.get(f"/cases/{case_id}/follow-ups", headers=await s.auth("admin", GAS))
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def _hidden(html: str, name: str) -> list[str]:
    return re.findall(rf'<input type="hidden" name="{name}" value="([^"]*)">', html)


async def test_r3_4_rule_3_triage_shown_first_then_the_follow_up_is_filed_linked_to_its_original(
        embedded_system: System, console: httpx.AsyncClient) -> None:  # noqa: F811
    s = embedded_system
    original = await _late_original(s, 51)
    await _log_in_gas(console)
    # Named by its number: the verdict of rule 3, the type it calls for preselected, the link kept.
    r = await console.get("/console/cases/new", params={"follow_up_of": original["number"]})
    assert r.status_code == 200, r.text
    assert 'data-triage-rule="3"' in r.text and "Cree un requerimiento" in r.text  # packaged gas: the agent files it
    assert "Escalar a supervisor" not in r.text and 'id="create-form"' in r.text
    assert _hidden(r.text, "type") == ["respuesta-fuera-de-plazo"]
    assert original["id"] in _hidden(r.text, "follow_up_of")
    assert f"seguimiento de la N° {original['number']}" in r.text
    # The form files it: the API links it to its original (R3.1).
    r = await console.post("/console/cases/new", data={
        "type": "respuesta-fuera-de-plazo", "follow_up_of": original["id"], "subject": "Sin respuesta",
        "description": "El cliente no ha recibido respuesta.", "contact.name": "Rosa Fuentes",
        "contact.email": "rosa51@example.cl", "responsible_id": await _user_id(s, "ejecutiva")})
    assert r.status_code == 303, r.text
    made = r.headers["location"].split("/cases/")[1].split("?")[0]
    assert [(x["id"], x["kind"]) for x in await _follow_ups(s, original["id"])] == [(made, "late_response")]
    # An unknown number is refused beside the field; the plain create form stays.
    r = await console.get("/console/cases/new", params={"follow_up_of": "999999"})
    assert 'id="fu-of-error"' in r.text and "No hay una solicitud con ese número o id." in r.text


async def test_r3_4_rule_7_escalate_to_a_supervisor_instead_of_the_create_form(
        embedded_system: System, console: httpx.AsyncClient) -> None:  # noqa: F811
    s = embedded_system
    original = await _escalating_original(s, 61)
    before = await _follow_ups(s, original["id"])
    await _log_in_gas(console)
    r = await console.get("/console/cases/new", params={"follow_up_of": original["id"]})
    assert r.status_code == 200, r.text
    assert 'data-triage-rule="7"' in r.text and "No indique al cliente hacer otro requerimiento" in r.text
    assert "Escalar a supervisor" in r.text
    assert 'id="create-form"' not in r.text and 'class="choose-type"' not in r.text  # no new request
    # The API's refusal of an empty message, beside its field.
    r = await console.post("/console/cases/new/escalate", data={"follow_up_of": original["id"], "message": ""})
    assert r.status_code == 200 and 'id="fu-message-error"' in r.text
    r = await console.post("/console/cases/new/escalate", data={
        "follow_up_of": original["id"], "message": "El cliente pide hablar con la jefatura."})
    assert r.status_code == 200 and "data-escalated" in r.text and "regla 7 de R3.4" in r.text
    history = (await s.intake.get(f"/cases/{original['id']}/history", params={"limit": 200},
                                  headers=await s.auth("admin", GAS))).json()["items"]
    escalated = [h["data"] for h in history if h["kind"] == "escalated_to_supervisor"]
    assert [(e["rule"], e["message"]) for e in escalated] == [(7, "El cliente pide hablar con la jefatura.")]
    assert await _follow_ups(s, original["id"]) == before  # and no new case
    r = await console.get("/console/cases/new/escalate")  # the form's address, e.g. after the language switch
    assert r.status_code == 303 and r.headers["location"] == "/console/cases/new"


async def _user_id(s: System, local: str) -> str:
    users = (await s.intake.get("/users", params={"limit": 200}, headers=await s.auth("admin", GAS))).json()["items"]
    return str(next(u["id"] for u in users if u["email"] == demo(local, GAS)))


async def test_r3_4_browser_follow_up_triage_then_escalation(site: Site, browser: Any) -> None:  # noqa: F811
    s = site.system
    late = await _late_original(s, 71)
    escalating = await _escalating_original(s, 81)
    page = await log_in(browser, site, "ejecutiva", tenant=GAS)
    await page.get_by_role("link", name="Nueva solicitud").click()
    await page.get_by_label("N° o id de la solicitud anterior").fill(late["number"])
    await page.get_by_role("button", name="Revisar la solicitud").click()
    await page.locator("[data-triage-rule='3']").wait_for()
    assert await page.get_by_label("Tipo de solicitud").input_value() == "respuesta-fuera-de-plazo"
    await check_screen(page, "create-follow-up")
    await page.get_by_label("Asunto").fill("Sin respuesta a tiempo")
    await page.get_by_label("Descripción").fill("El cliente no ha recibido respuesta.")
    await page.get_by_label("Nombre del contacto").fill("Rosa Fuentes")
    await page.get_by_label("Correo del contacto").fill("rosa71@example.cl")
    await page.get_by_role("button", name="Registrar solicitud").click()
    await page.wait_for_url(f"{site.console}/cases/*")
    made = page.url.split("/cases/")[1].split("?")[0]
    assert [x["id"] for x in await _follow_ups(s, late["id"])] == [made]

    await page.get_by_role("link", name="Nueva solicitud").click()
    await page.get_by_label("N° o id de la solicitud anterior").fill(escalating["number"])
    await page.get_by_role("button", name="Revisar la solicitud").click()
    await page.locator("[data-triage-rule='7']").wait_for()
    assert await page.locator("#create-form").count() == 0
    await check_screen(page, "create-follow-up-escalate")
    await page.get_by_label("Mensaje para el supervisor").fill("El cliente pide hablar con la jefatura.")
    await page.get_by_role("button", name="Escalar a supervisor").click()
    await page.locator("[data-escalated]").wait_for()
    assert await page.evaluate("document.activeElement.hasAttribute('data-escalated')")
    await check_screen(page, "create-follow-up-escalated")
    await page.context.close()

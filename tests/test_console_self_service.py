"""The console's public self-service page (R3.5: meter customers file their follow-ups themselves)
in a real browser: Debian's Chromium driven by Playwright against the real services, served as
`atiende run` serves them (the one origin with the console under /console; the fixtures are
tests/test_console_browser.py's).

The page also works without JavaScript (plain form posts, embedded mode). A customer with the
right request number and national id sees its status and maximum response
date and files a late-response follow-up, which staff then find linked to the original; a wrong
national id shows the one "not found" and nothing of the request; where R3.4 says to escalate,
the refusal is the API's message beside the reason. Each state passes an axe scan with no
serious or critical violation (screenshots under var/screenshots/)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.intake.domain import self_service as rules
from tests.support.browser import Site, check_screen
from tests.test_console import console  # noqa: F401  (a fixture)
from tests.test_self_service import GAS, RUT, _customer, _late, _request, answered_follow_up

pytestmark = pytest.mark.integration
WRONG_RUT = "12.345.678-5"


async def _open(browser: Any, site: Site, locale: str = "es-CL") -> Any:  # noqa: F811
    context = await browser.new_context(locale=locale)
    page = await context.new_page()
    page.set_default_timeout(15_000)
    await page.goto(f"{site.console}/p/{GAS}/")
    return page


async def _look_up(page: Any, number: str, national_id: str) -> None:
    await page.get_by_label("Número de solicitud").fill(number)
    await page.get_by_label("RUT o documento de identidad").fill(national_id)
    await page.get_by_role("button", name="Buscar mi solicitud").click()


async def _focused_id(page: Any) -> str:
    return str(await page.evaluate("document.activeElement && document.activeElement.id"))


async def test_r3_5_the_right_number_and_rut_file_a_follow_up_a_wrong_rut_reveals_nothing(
        site: Site, browser: Any) -> None:  # noqa: F811
    s = site.system
    original = await _request(s, 21, await _customer(s))
    await _late(s, original["id"])
    page = await _open(browser, site)
    await check_screen(page, "self-service-form")
    # A wrong national id: the one "not found", nothing of the request.
    await _look_up(page, original["number"], WRONG_RUT)
    result = page.locator("#result")
    await result.get_by_role("alert").wait_for()
    assert rules.NOT_FOUND[0] in await result.inner_text()
    shown = await page.locator("main").inner_text()
    assert "Reclamo de medidor" not in shown and "nueva" not in shown and "Ingresar un seguimiento" not in shown
    assert await _focused_id(page) == "result-title"
    await check_screen(page, "self-service-not-found")
    # The right one: status and maximum response date, and the follow-up form (late: R3.4 rule 3).
    await _look_up(page, original["number"], RUT)
    await result.locator("[data-field=status]").wait_for()
    assert await result.locator("[data-field=status]").inner_text() == "nueva"
    case = (await s.intake.get(f"/cases/{original['id']}", headers=await s.auth("admin", GAS))).json()
    due = date.fromisoformat(case["deadline"]["due_date"])
    assert await result.locator("[data-field=due]").inner_text() == due.strftime("%d-%m-%Y")
    assert await _focused_id(page) == "result-title"
    await check_screen(page, "self-service-found")
    await page.get_by_label("Respuesta fuera de plazo").check()
    await page.get_by_label("Cuéntenos qué ocurre").fill("Pasó el plazo y no he tenido respuesta.")
    await page.get_by_role("button", name="Enviar seguimiento").click()
    done = page.locator("#followup [role=status]")
    await done.wait_for()
    admin = await s.auth("admin", GAS)
    [follow_up] = (await s.intake.get(f"/cases/{original['id']}/follow-ups", headers=admin)).json()["items"]
    assert f"N° {follow_up['number']}" in await done.inner_text() and follow_up["kind"] == "late_response"
    await check_screen(page, "self-service-filed")
    # English on request: the switch in the frame.
    await page.get_by_label("Idioma").select_option("en")
    await page.get_by_role("button", name="Cambiar").click()
    await page.get_by_role("heading", name="Check your request").wait_for()
    await page.context.close()


async def test_r3_4_r3_5_an_escalation_is_the_apis_message_beside_the_reason(
        site: Site, browser: Any) -> None:  # noqa: F811
    s = site.system
    original = await _request(s, 22, await _customer(s))
    await _late(s, original["id"])
    await answered_follow_up(s, original["id"])
    page = await _open(browser, site)
    await _look_up(page, original["number"], RUT)
    await page.get_by_label("Cuéntenos qué ocurre").fill("Respondieron el seguimiento, pero mi reclamo sigue igual.")
    await page.get_by_role("button", name="Enviar seguimiento").click()
    beside = page.locator("#followup [data-field=kind]")
    await beside.wait_for()
    assert "escalado a un supervisor" in await beside.inner_text()
    assert await page.get_by_label("Respuesta fuera de plazo").get_attribute("aria-invalid") == "true"
    assert await _focused_id(page) == ""  # the alert (no id) has the focus, not the form's start
    assert await page.evaluate("document.activeElement.getAttribute('role')") == "alert"
    await check_screen(page, "self-service-escalated")
    await page.context.close()


async def test_r3_5_the_page_works_without_javascript(embedded_system: Any, console: Any) -> None:  # noqa: F811
    """Plain form posts (no htmx): whole pages, the token in the page's own HttpOnly cookie."""
    s = embedded_system
    original = await _request(s, 23, await _customer(s))
    await _late(s, original["id"])
    base = f"/console/p/{GAS}"
    r = await console.get(f"{base}/")
    assert r.status_code == 200 and "Consulte su solicitud" in r.text and 'lang="es-CL"' in r.text
    r = await console.post(f"{base}/lookup", data={"number": original["number"], "national_id": WRONG_RUT})
    assert r.status_code == 200 and rules.NOT_FOUND[0] in r.text and "Reclamo de medidor" not in r.text
    assert "Max-Age=0" in r.headers["set-cookie"]  # a failed look-up forgets any earlier token
    r = await console.post(f"{base}/lookup", data={"number": original["number"], "national_id": RUT})
    assert r.status_code == 200 and "Reclamo de medidor" in r.text and "Respuesta fuera de plazo" in r.text
    cookie = r.headers["set-cookie"]
    assert "atiende_self_service=" in cookie and "HttpOnly" in cookie and f"Path={base}" in cookie
    assert cookie.split("=", 1)[1].split(";")[0] not in r.text  # the token never is in the page
    r = await console.post(f"{base}/followups", data={"kind": "late_response", "text": "Sigo sin respuesta."})
    assert r.status_code == 200 and "Ingresamos su seguimiento N°" in r.text, r.text
    assert (await console.get("/console/p/No Válido/")).status_code == 404
    # The language switch returns to the address of the last post: the page again, in English.
    r = await console.post("/console/language", data={"lang": "en", "next": f"{base}/followups"})
    assert r.headers["location"] == f"{base}/followups"
    r = await console.get(r.headers["location"], follow_redirects=True)
    assert r.status_code == 200 and "Check your request" in r.text and 'lang="en"' in r.text

"""The console's work screens (issue 14) in a real browser: the task inbox (R2.4), the technical
manager's work orders (R2.5), an interaction with its events (R2.2, R2.6) and parties (R2.1, R2.7,
R2.8) — Debian's Chromium driven by Playwright against the real services, with the fixtures of
tests/test_console_browser.py. Each screen passes an axe scan with no serious or critical
violation (screenshots under var/screenshots/); the denials are checked on the page (no button)
and on the API (it refuses anyway)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from services.intake.adapters.case_tables import tasks as task_table
from tests.support.browser import Site, check_screen, log_in, token
from tests.support.system import System, case_body, demo
from tests.test_console import _log_in, console  # noqa: F401  (a fixture)

pytestmark = pytest.mark.integration


async def _user_id(origin: Site, local: str) -> str:
    users = (await origin.api.get("/users", params={"limit": 200}, headers=await token(origin, "admin"))).json()["items"]
    return str(next(u["id"] for u in users if u["email"] == demo(local)))


async def _task(origin: Site, case_id: str, responsible: str, title: str, days: int = 3) -> dict[str, Any]:
    r = await origin.api.post(f"/cases/{case_id}/tasks", headers=await token(origin, "admin"), json={
        "title": title, "responsible_id": await _user_id(origin, responsible),
        "due_date": (date.today() + timedelta(days=days)).isoformat()})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _make_past_due(origin: Site, task_id: str) -> None:
    """The API refuses a due date in the past, so a task becomes overdue by its date moving back
    (as the calendar would, a few days later)."""
    async with origin.system.rt["intake"].db.engine.begin() as conn:
        await conn.execute(update(task_table).where(task_table.c.id == uuid.UUID(task_id))
                           .values(due_date=date.today() - timedelta(days=2)))


async def _focused(page: Any, attribute: str) -> str | None:
    return await page.evaluate(f"document.activeElement && document.activeElement.getAttribute('{attribute}')")


# -- R2.4 the task inbox ----------------------------------------------------------------------------
async def test_r2_4_task_inbox_shows_due_dates_marks_overdue_and_closes_with_a_note(
        site: Site, browser: Any) -> None:  # noqa: F811
    case = await site.system.create_case(case_body(41))
    late = await _task(site, case["id"], "ejecutiva", "Llamar al cliente")
    soon = await _task(site, case["id"], "ejecutiva", "Pedir presupuesto", days=5)
    theirs = await _task(site, case["id"], "ejecutivo", "Visitar el departamento")
    await _make_past_due(site, late["id"])

    page = await log_in(browser, site, "ejecutiva")
    await page.get_by_role("link", name="Tareas", exact=True).click()
    await page.wait_for_url(f"{site.console}/tasks")
    rows = page.locator("tr[data-task]")
    assert await rows.count() == 2  # only her own tasks, soonest due first
    late_row, soon_row = page.locator(f"tr[data-task='{late['id']}']"), page.locator(f"tr[data-task='{soon['id']}']")
    assert "Atrasada" in await late_row.inner_text()
    assert "Atrasada" not in await soon_row.inner_text()
    assert (date.today() + timedelta(days=5)).strftime("%d-%m-%Y") in await soon_row.inner_text()
    assert "2 tareas" in await page.locator("#task-count").inner_text()
    await check_screen(page, "tasks")

    # Closing without a note: the API's message beside the note, and the focus on it.
    await late_row.get_by_role("button", name="Cerrar tarea").click()
    error = late_row.locator(".field-error[data-field=note]")
    await error.wait_for()
    assert await late_row.get_by_label("Nota de cierre").get_attribute("aria-invalid") == "true"
    assert await _focused(page, "name") == "note"
    await check_screen(page, "tasks-refused")
    await late_row.get_by_label("Nota de cierre").fill("Cliente contactado; visita agendada.")
    await late_row.get_by_role("button", name="Cerrar tarea").click()
    await page.locator("#tasks .notice", has_text="Llamar al cliente").wait_for()
    assert await _focused(page, "role") == "status"
    assert await page.locator(f"tr[data-task='{late['id']}']").count() == 0  # the open view no longer has it
    assert "1 tarea" in await page.locator("#task-count").inner_text()
    closed = (await site.api.get(f"/tasks/{late['id']}", headers=await token(site, "ejecutiva"))).json()
    assert closed["status"] == "closed" and closed["closing_note"] == "Cliente contactado; visita agendada."

    # From its case: every task of it; a colleague's has no close button, and the API refuses anyway.
    await soon_row.get_by_role("link", name="Ver todas las tareas de la solicitud").click()
    await page.locator("h1", has_text=f"Tareas de la solicitud N° {case['number']}").wait_for()
    assert await page.locator("tr[data-task]").count() == 3
    their_row = page.locator(f"tr[data-task='{theirs['id']}']")
    assert await their_row.get_by_role("button", name="Cerrar tarea").count() == 0
    assert "Cerrada" in await page.locator(f"tr[data-task='{late['id']}']").inner_text()
    await check_screen(page, "tasks-of-case")
    r = await site.api.post(f"/tasks/{theirs['id']}/close", json={"note": "No es mía."},
                            headers=await token(site, "ejecutiva"))
    assert r.status_code == 403
    await page.context.close()


# -- R2.5 work orders -------------------------------------------------------------------------------
async def _work_order(origin: Site, case_id: str, title: str, description: str) -> dict[str, Any]:
    task = await _task(origin, case_id, "ejecutivo", title)
    r = await origin.api.post(f"/tasks/{task['id']}/work-order", json={"description": description},
                            headers=await token(origin, "ejecutivo"))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_r2_5_only_the_technical_manager_approves_or_rejects_work_orders(
        site: Site, browser: Any) -> None:  # noqa: F811
    case = await site.system.create_case(case_body(42))
    first = await _work_order(site, case["id"], "Reparar empalme", "Cambio de empalme en poste 12.")
    second = await _work_order(site, case["id"], "Podar árbol", "Poda de árbol sobre la red.")

    # An executor reads them but has no approve button; the API refuses the approval anyway.
    page = await log_in(browser, site, "ejecutivo")
    await page.get_by_role("link", name="Órdenes de trabajo").click()
    await page.locator(f"article[data-work-order='{first['id']}']").wait_for()
    assert await page.get_by_role("button", name="Aprobar").count() == 0
    assert await page.get_by_role("button", name="Rechazar").count() == 0
    await check_screen(page, "work-orders-executor")
    r = await site.api.post(f"/work-orders/{first['id']}/approve", json={}, headers=await token(site, "ejecutivo"))
    assert r.status_code == 403
    await page.context.close()

    page = await log_in(browser, site, "gerencia.tecnica")
    await page.get_by_role("link", name="Órdenes de trabajo").click()
    one = page.locator(f"article[data-work-order='{first['id']}']")
    await one.wait_for()
    assert "2 órdenes de trabajo" in await page.locator("#wo-count").inner_text()
    await check_screen(page, "work-orders")
    # Rejecting needs a reason: the API's message beside it.
    await one.locator("form[data-action=reject]").get_by_role("button", name="Rechazar").click()
    error = one.locator("form[data-action=reject] .field-error[data-field=comment]")
    await error.wait_for()
    assert "Indique por qué se rechaza." in await error.inner_text()
    await check_screen(page, "work-orders-refused")
    reject = one.locator("form[data-action=reject]")
    await reject.get_by_label("Motivo del rechazo").fill("Corresponde al municipio.")
    await reject.get_by_role("button", name="Rechazar").click()
    await page.locator("#work-orders .notice", has_text="rechazada").wait_for()
    other = page.locator(f"article[data-work-order='{second['id']}']")
    await other.get_by_label("Comentario (opcional)").fill("Proceda el lunes.")
    await other.get_by_role("button", name="Aprobar").click()
    await page.locator("#work-orders .notice", has_text="aprobada").wait_for()
    assert "No hay órdenes de trabajo" in await page.locator("#work-orders").inner_text()
    tm = await token(site, "gerencia.tecnica")
    got = [(await site.api.get(f"/work-orders/{w['id']}", headers=tm)).json() for w in (first, second)]
    assert [(w["status"], w["decision_comment"]) for w in got] == [
        ("rejected", "Corresponde al municipio."), ("approved", "Proceda el lunes.")]
    # The decided ones, by their state.
    await page.get_by_label("Estado").select_option("rejected")
    await page.get_by_role("button", name="Mostrar").click()
    await page.locator(f"article[data-work-order='{first['id']}'] [data-field=status]", has_text="Rechazada").wait_for()
    await page.context.close()


# -- R2.2, R2.6 an interaction with its events -------------------------------------------------------
async def _party(origin: Site, **fields: Any) -> dict[str, Any]:
    r = await origin.api.post("/parties", json={"kind": "stakeholder", "name": "Municipalidad de San Miguel", **fields},
                              headers=await token(origin, "admin"))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_r2_2_r2_6_an_interaction_registered_shows_its_events_and_closes_once_they_are_finished(
        site: Site, browser: Any) -> None:  # noqa: F811
    party = await _party(site)
    # R2.2: registered from the party's page; an empty summary is refused beside it.
    page = await log_in(browser, site, "ejecutiva")
    await page.goto(f"{site.console}/parties/{party['id']}")
    await page.get_by_role("link", name="Registrar una atención").click()
    await page.get_by_label("Canal").select_option("telefono")
    await page.get_by_role("button", name="Registrar").click()
    await page.locator(".field-error[data-field=summary]").wait_for()
    await page.get_by_label("Resumen de la atención").fill("Llama por humedad en el departamento 402.")
    await page.get_by_role("button", name="Registrar").click()
    await page.locator("h1", has_text="Atención AT-").wait_for()
    interaction_id = page.url.rsplit("/", 1)[1]
    admin = await token(site, "admin")
    interaction = (await site.api.get(f"/interactions/{interaction_id}", headers=admin)).json()
    assert interaction["party_id"] == party["id"] and interaction["channel"] == "telefono"
    case = await site.system.create_case(case_body(43, interaction_id=interaction_id))

    await page.goto(f"{site.console}/interactions")
    await page.locator(f"tr[data-interaction='{interaction['code']}']").get_by_role(
        "link", name=interaction["code"]).click()
    event = page.locator(f"li[data-case='{case['number']}']")
    await event.wait_for()
    assert "Municipalidad de San Miguel" in await page.locator("main").inner_text()
    assert "(abierta)" in await event.inner_text()
    await check_screen(page, "interaction")
    # R2.6: refused while its case is open — the API's message names it.
    await page.get_by_role("button", name="Cerrar la atención").click()
    refusal = page.locator("#interaction [role=alert]")
    await refusal.wait_for()
    assert case["number"] in await refusal.inner_text()
    await check_screen(page, "interaction-refused")

    # Whoever did not register it has no close button, and the API refuses anyway.
    other = await log_in(browser, site, "ejecutivo")
    await other.goto(f"{site.console}/interactions/{interaction_id}")
    await other.locator("h1", has_text=interaction["code"]).wait_for()
    assert await other.get_by_role("button", name="Cerrar la atención").count() == 0
    r = await site.api.post(f"/interactions/{interaction_id}/close", json={}, headers=await token(site, "ejecutivo"))
    assert r.status_code == 403
    await other.context.close()

    r = await site.api.post(f"/cases/{case['id']}/finish", json={"outcome": "success", "comment": "Resuelto."},
                            headers=admin)
    assert r.status_code == 200, r.text
    await page.get_by_label("Nota de cierre (opcional)").fill("Humedad reparada.")
    await page.get_by_role("button", name="Cerrar la atención").click()
    await page.locator("#interaction .notice", has_text="Atención cerrada.").wait_for()
    assert await page.locator("#interaction [data-field=status]").inner_text() == "Cerrada"
    assert await page.get_by_role("button", name="Cerrar la atención").count() == 0
    shown = (await site.api.get(f"/interactions/{interaction_id}", headers=admin)).json()
    assert shown["status"] == "closed" and shown["closing_note"] == "Humedad reparada."
    await page.context.close()


# -- R2.1, R2.7, R2.8 parties and the supplies import ---------------------------------------------------
SUPPLIES_CSV = (
    "external_id;name;party_national_id;party_name;party_kind;tariff\n"
    "SM-2001;Suministro Gran Avenida 5100;7.654.321-6;Rosa Pizarro;person;BT-1\n"
    "SM-2002;Suministro Gran Avenida 5102;15614076-4;Fogón Ltda.;company;AT-2\n"
)


async def test_r2_8_parties_search_details_history_edit_with_refusals_and_supplies_import(
        site: Site, browser: Any) -> None:  # noqa: F811
    party = await _party(site, kind="company", name="Constructora Los Andes", national_id="76.086.428-5",
                         email="contacto@losandes.cl")
    admin = await token(site, "admin")
    r = await site.api.post(f"/parties/{party['id']}/contacts", headers=admin, json={
        "name": "Paula Rojas", "position": "Gerenta de proyectos", "decision_maker": True})
    assert r.status_code == 201, r.text
    case = await site.system.create_case(case_body(44, party_id=party["id"]))

    page = await log_in(browser, site, "ejecutiva")
    await page.get_by_role("link", name="Partes", exact=True).click()
    await page.get_by_label("Buscar (nombre, RUT, correo o teléfono)").fill("los andes")
    await page.get_by_role("button", name="Buscar", exact=True).click()
    row = page.locator(f"tr[data-party='{party['id']}']")
    await row.wait_for()
    assert "1 parte" in await page.locator("#pt-count").inner_text()
    assert await page.get_by_role("link", name="Importar suministros").count() == 0  # an admin's
    await check_screen(page, "parties")
    await row.get_by_role("link", name="Constructora Los Andes").click()
    await page.locator("h1", has_text="Constructora Los Andes").wait_for()
    assert "Paula Rojas" in await page.locator("main").inner_text()
    await page.locator(f"tr[data-case='{case['number']}']").wait_for()  # its history
    await check_screen(page, "party")

    # Editing: a wrong e-mail, then a wrong RUT, each refused beside its field; nothing changes.
    await page.get_by_role("link", name="Modificar la parte").click()
    await page.get_by_label("Correo electrónico").fill("no-es-correo")
    await page.get_by_role("button", name="Guardar").click()
    await page.locator(".field-error[data-field=email]").wait_for()
    assert await page.get_by_label("Correo electrónico").get_attribute("aria-invalid") == "true"
    await page.get_by_label("Correo electrónico").fill("proyectos@losandes.cl")
    await page.get_by_label("RUT o documento").fill("12.345.678-9")
    await page.get_by_role("button", name="Guardar").click()
    error = page.locator(".field-error[data-field=national_id]")
    await error.wait_for()
    assert "RUT" in await error.inner_text()
    assert await page.get_by_label("RUT o documento").get_attribute("aria-invalid") == "true"
    assert await page.get_by_label("Correo electrónico").input_value() == "proyectos@losandes.cl"  # kept as typed
    await check_screen(page, "party-refused")
    assert (await site.api.get(f"/parties/{party['id']}", headers=admin)).json()["email"] == "contacto@losandes.cl"
    await page.get_by_label("RUT o documento").fill("76.086.428-5")
    await page.get_by_label("Dirección").fill("Av. Apoquindo 4500")
    await page.get_by_role("button", name="Guardar").click()
    await page.locator("[role=status]", has_text="Parte guardada.").wait_for()
    changed = (await site.api.get(f"/parties/{party['id']}", headers=admin)).json()
    assert (changed["email"], changed["address"]) == ("proyectos@losandes.cl", "Av. Apoquindo 4500")

    # A new party: the required name is refused beside it.
    await page.goto(f"{site.console}/parties/new")
    await page.get_by_role("button", name="Crear parte").click()
    await page.locator(".field-error[data-field=name]").wait_for()
    await page.get_by_label("Nombre", exact=True).fill("Junta de Vecinos Villa Sur")
    await page.get_by_role("button", name="Crear parte").click()
    await page.locator("h1", has_text="Junta de Vecinos Villa Sur").wait_for()
    await page.context.close()

    # The supplies import (an admin's): the outcome of the load, and each refused row.
    page = await log_in(browser, site, "admin")
    await page.goto(f"{site.console}/parties")
    await page.get_by_role("link", name="Importar suministros").click()
    await page.get_by_label("Archivo CSV").set_input_files(files=[{
        "name": "suministros.csv", "mimeType": "text/csv", "buffer": SUPPLIES_CSV.encode()}])
    await page.get_by_role("button", name="Importar").click()
    result = page.locator("#import-result")
    await result.locator("[data-field=created]").wait_for()
    assert await result.locator("[data-field=created]").inner_text() == "1"
    refused = result.locator("tr[data-row='2']")
    assert "SM-2002" in await refused.inner_text() and "party_national_id" in await refused.inner_text()
    assert await _focused(page, "role") == "status"
    await check_screen(page, "supplies-import")
    r = await site.api.post("/supplies/import", content=SUPPLIES_CSV.encode(),
                            headers={**await token(site, "ejecutiva"), "Content-Type": "text/csv"})
    assert r.status_code == 403  # an executor imports nothing, whatever the page shows
    await page.context.close()


# -- without JavaScript: plain form posts, whole pages ------------------------------------------------
async def test_r2_4_r2_5_r4_4_the_work_screens_work_without_javascript_and_show_the_apis_refusals(
        embedded_system: System, console: Any) -> None:  # noqa: F811
    s = embedded_system
    admin = await s.auth("admin")
    case = await s.create_case(case_body(45))
    users = (await s.intake.get("/users", params={"limit": 200}, headers=admin)).json()["items"]
    ejecutivo = next(u["id"] for u in users if u["email"] == demo("ejecutivo"))
    r = await s.intake.post(f"/cases/{case['id']}/tasks", headers=admin, json={
        "title": "Reparar empalme", "responsible_id": ejecutivo,
        "due_date": (date.today() + timedelta(days=3)).isoformat()})
    assert r.status_code == 201, r.text
    task = r.json()
    r = await s.intake.post(f"/tasks/{task['id']}/work-order", json={"description": "Cambio de empalme."},
                            headers=await s.auth("ejecutivo"))
    assert r.status_code == 201, r.text
    order = r.json()

    await _log_in(console, "ejecutivo")
    # R2.4: the case links to its tasks; there, the responsible's name and the list's total (the
    # API gives both: no look-up per row); the work order names who does the task.
    name = next(u["name"] for u in users if u["id"] == ejecutivo)
    r = await console.get(f"/console/cases/{case['id']}")
    assert f'href="/console/tasks?case_id={case["id"]}"' in r.text
    r = await console.get("/console/tasks", params={"case_id": case["id"]})
    assert r.status_code == 200 and "1 tarea" in r.text
    assert f'<td data-field="responsible">{name}</td>' in r.text
    r = await console.get("/console/work-orders")
    assert f'<dd data-field="responsible">{name}</dd>' in r.text
    # R2.5: a plain post of a decision by an executor: the API's refusal, and nothing decided.
    r = await console.post(f"/console/work-orders/{order['id']}/approve", data={"comment": ""})
    assert r.status_code == 200 and "Sólo un Gerente Técnico aprueba o rechaza" in r.text
    assert (await s.intake.get(f"/work-orders/{order['id']}", headers=admin)).json()["status"] == "pending_approval"
    # R2.4: the task does not close while its work order awaits approval (the API's 409, shown).
    r = await console.post(f"/console/tasks/{task['id']}/close?status=open", data={"note": "Hecho."})
    assert r.status_code == 200 and "La orden de trabajo sigue pendiente" in r.text
    r = await console.get(f"/console/tasks/{task['id']}/close?status=open")
    assert r.status_code == 303 and r.headers["location"] == "/console/tasks?status=open"
    # R4.4: a viewer reads parties but is offered no way to create one, and the API refuses it.
    await _log_in(console, "lectura")
    r = await console.get("/console/parties")
    assert r.status_code == 200 and "Nueva parte" not in r.text and "Importar suministros" not in r.text
    r = await console.post("/console/parties/new", data={"kind": "person", "name": "Sin permiso"})
    assert r.status_code == 403 and "sólo permite consultar" in r.text
    found = (await s.intake.get("/parties", params={"q": "Sin permiso"}, headers=admin)).json()["items"]
    assert found == []

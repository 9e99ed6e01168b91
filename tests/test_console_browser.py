"""The agents' console (issue 14) in a real browser: Debian's Chromium driven by Playwright,
against the real services (RabbitMQ + PostgreSQL), served over HTTP by uvicorn on a loopback port:
the one origin with the console mounted under /console, as `atiende run` serves it.

Each flow is a person's: an executive logs in, creates a case, finds it by the customer's RUT,
executes and finishes it (R4.5, R4.6); a colleague sees no action button on it and the API
refuses anyway (R4.4); a comment raises the responsible's bell live in another browser (R4.7); a
refused action shows the API's message in Spanish beside its field. Every screen passes an axe
scan with no serious or critical violation, and is saved as a screenshot under var/screenshots/.

Chromium comes from the project's own files (`make browser`, called by .ci/run). Locally without
it the tests skip; in CI (CI=true) they fail instead."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.intake.seed import DEMO_PASSWORD
from tests.support.browser import Site, check_screen, log_in, log_in_in, token
from tests.support.smtp_sink import SmtpSink
from tests.support.system import TENANT, case_body, demo, wait_for

RUT = "10.359.182-1"
pytestmark = pytest.mark.integration


# -- the flows ------------------------------------------------------------------------------------
async def test_R4_5_R4_6_executive_creates_finds_by_rut_executes_and_finishes(site: Site, browser: Any) -> None:
    admin = await token(site, "admin")
    party = await site.api.post("/parties", json={"kind": "person", "name": "Héctor Contreras", "national_id": RUT,
                                                  "email": "hector@example.cl"}, headers=admin)
    assert party.status_code == 201, party.text
    other = await site.system.create_case(case_body(9, responsible_email=demo("ejecutiva")))  # not the customer's

    page = await log_in(browser, site, "ejecutiva")
    await check_screen(page, "inbox")

    await page.get_by_role("link", name="Nueva solicitud").click()
    await page.get_by_label("Tipo de solicitud").select_option("consulta-general")
    await page.get_by_role("button", name="Elegir").click()
    await page.get_by_label("Asunto").fill("Copia de escritura del depto. 301")
    await page.get_by_label("Descripción").fill("El propietario pide copia de la escritura.")
    await page.get_by_label("Nombre del contacto").fill("Héctor Contreras")
    await page.get_by_label("Correo del contacto").fill("hector@example.cl")
    await page.get_by_label("RUT del cliente").fill(RUT)
    await check_screen(page, "create-case")
    await page.get_by_role("button", name="Registrar solicitud").click()
    await page.wait_for_url(f"{site.console}/cases/*")
    case_id = page.url.split("/cases/")[1].split("?")[0]
    made = (await site.api.get(f"/cases/{case_id}", headers=admin)).json()
    assert made["party_id"] == party.json()["id"] and made["responsible"]["email"] == demo("ejecutiva")

    # The inbox finds it by the customer's RUT (written without dots), and says how many it found.
    await page.get_by_role("link", name="Bandeja").click()
    await page.get_by_label("Buscar (nombre, correo, teléfono, número, asunto o RUT)").fill("10359182-1")
    await page.get_by_role("button", name="Buscar", exact=True).click()
    await page.wait_for_url("**/console/inbox?q=10359182-1*")  # the view is a link (htmx pushed it)
    row = page.locator(f"tr[data-case='{made['number']}']")
    await row.wait_for()
    assert "1 solicitud ·" in await page.locator("#result-count").inner_text()
    assert await page.locator(f"tr[data-case='{other['number']}']").count() == 0
    assert await page.evaluate("document.activeElement.id") == "results"  # focus moved to the results
    await check_screen(page, "inbox-search")
    await row.get_by_role("link", name=made["number"]).click()
    await page.wait_for_url(f"{site.console}/cases/{case_id}")
    await wait_for(lambda: _has_clocks(site, case_id, admin), 20, "workflow's clocks")
    await page.reload()
    await check_screen(page, "case")

    execute = page.locator("form[data-action='execute']")
    await execute.get_by_label("Texto").fill("Solicité la copia a la notaría.")
    await execute.get_by_role("button", name="Ejecutar").click()
    await page.locator("h1", has_text="En ejecución").wait_for()
    finish = page.locator("form[data-action='finish']")
    await finish.get_by_label("Comentario").fill("Copia enviada por correo.")
    await finish.get_by_role("button", name="Finalizar").click()
    await page.locator("h1", has_text="Finalizada con éxito").wait_for()
    assert (await site.api.get(f"/cases/{case_id}", headers=admin)).json()["status"] == "finished_success"
    await page.locator("li[data-kind='finish_success']").wait_for()  # the timeline shows it
    await page.context.close()


async def _has_clocks(site: Site, case_id: str, headers: dict[str, str]) -> bool:
    return bool((await site.api.get(f"/cases/{case_id}/sla", headers=headers)).json()["clocks"])


async def test_R4_4_executor_sees_no_action_on_a_colleagues_case_and_the_api_refuses(site: Site, browser: Any) -> None:
    made = await site.system.create_case(case_body(1, responsible_email=demo("ejecutiva")))
    page = await log_in(browser, site, "ejecutivo")
    await page.goto(f"{site.console}/cases/{made['id']}")
    forms = page.locator("form.action")
    # R4.4: on a colleague's case an executor only comments and sends mail.
    assert await forms.evaluate_all("fs => fs.map(f => f.dataset.action)") == ["comment", "mail"]
    for action in ("execute", "finish", "pause", "priority", "assign", "reopen"):
        assert await page.locator(f"form[data-action='{action}']").count() == 0, action
    # …and the API refuses it anyway.
    r = await site.api.post(f"/cases/{made['id']}/execute", json={"text": "Lo hago yo."},
                            headers={**await token(site, "ejecutivo"), "Accept-Language": "es"})
    assert r.status_code == 403, r.text
    # The viewer sees no action at all.
    viewer = await log_in(browser, site, "lectura")
    await viewer.goto(f"{site.console}/cases/{made['id']}")
    assert await viewer.locator("form.action").count() == 0
    await viewer.locator("[data-no-actions]").wait_for()
    await page.context.close()
    await viewer.context.close()


async def test_R4_7_a_comment_raises_the_responsibles_bell_live(site: Site, browser: Any) -> None:
    made = await site.system.create_case(case_body(2, responsible_email=demo("ejecutiva")))
    responsible = await token(site, "ejecutiva")

    async def unread() -> int:
        return int((await site.api.get("/notifications/unread-count", headers=responsible)).json()["unread"])

    await wait_for(lambda: _at_least(unread, 1), 20, "the creation's in-app notification")  # R4.7
    before = await unread()

    watcher = await browser.new_context(locale="es-CL")
    page = await log_in_in(watcher, site, "ejecutiva")
    bell = page.locator("#bell-count [data-unread]")
    await page.wait_for_function(f"() => document.querySelector('#bell-count [data-unread]')?.dataset.unread == '{before}'")
    await page.goto(f"{site.console}/notifications")
    await check_screen(page, "notifications")
    async with page.expect_response(lambda r: r.url.endswith("/console/live")):  # the live stream is open
        await page.goto(f"{site.console}/inbox")
    await page.wait_for_function(f"() => document.querySelector('#bell-count [data-unread]')?.dataset.unread == '{before}'")

    supervisor = await log_in(browser, site, "supervisora")
    await supervisor.goto(f"{site.console}/cases/{made['id']}")
    comment = supervisor.locator("form[data-action='comment']")
    await comment.get_by_label("Texto").fill("Por favor llame al cliente hoy.")
    await comment.get_by_role("button", name="Comentar").click()
    await supervisor.locator("form[data-action='comment'] [role='status']").wait_for()

    # No reload on the responsible's page: the bell's count goes up by itself (pushed; the bell
    # does not poll).
    await page.wait_for_function(
        f"() => Number(document.querySelector('#bell-count [data-unread]')?.dataset.unread) > {before}", timeout=15_000)
    assert "sin leer" in await bell.inner_text()
    await watcher.close()
    await supervisor.context.close()


async def _at_least(count: Any, n: int) -> bool:
    return bool(await count() >= n)


async def test_a_refused_action_shows_the_fields_message_in_spanish_beside_it(site: Site, browser: Any) -> None:
    made = await site.system.create_case(case_body(3, responsible_email=demo("ejecutiva")))
    page = await log_in(browser, site, "ejecutiva")
    await page.goto(f"{site.console}/cases/{made['id']}")
    finish = page.locator("form[data-action='finish']")
    await finish.get_by_label("Sin éxito").check()
    await finish.get_by_role("button", name="Finalizar").click()  # without success and without a comment
    message = page.locator("#finish-comment-error")
    await message.wait_for()
    assert await message.inner_text() == "Indique por qué se cierra sin éxito."  # the API's own, in Spanish
    assert await page.locator("#finish-comment").get_attribute("aria-describedby") == "finish-comment-error"
    # Focus moved to the answer; nothing changed on the case.
    assert await page.evaluate("document.activeElement.closest('form')?.dataset.action") == "finish"
    assert (await site.api.get(f"/cases/{made['id']}", headers=await token(site, "admin"))).json()["status"] == "new"
    await check_screen(page, "case-refused")
    await page.context.close()


async def test_log_in_refusal_password_setup_and_log_out(site: Site, browser: Any) -> None:
    """A wrong password stays on the form with the API's refusal; the set-up page (R4.1) and the
    log-in page pass axe; log out revokes the token at the API."""
    context = await browser.new_context(locale="es-CL")
    page = await context.new_page()
    await page.goto(f"{site.console}/login")
    await check_screen(page, "login")
    await page.get_by_label("Cliente (tenant)").fill(TENANT)
    await page.get_by_label("Correo electrónico").fill(demo("ejecutiva"))
    await page.get_by_label("Contraseña").fill("not-the-password")
    await page.get_by_role("button", name="Entrar").click()
    await page.locator("[role='alert']").wait_for()
    assert page.url.startswith(f"{site.console}/login")

    await page.goto(f"{site.console}/password-setup?token=not-a-real-token-123")
    await check_screen(page, "password-setup")
    await page.get_by_label("Nueva contraseña").fill("una-clave-bien-larga-2026")
    await page.get_by_role("button", name="Guardar contraseña").click()
    await page.locator("[role='alert']").wait_for()  # the API refused the unknown link

    page = await log_in_in(context, site, "ejecutiva")
    cookies = {c["name"]: c for c in await context.cookies()}
    session = cookies["atiende_console_token"]
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    await page.get_by_role("button", name="Cerrar sesión").click()
    await page.wait_for_url(f"{site.console}/login*")
    r = await site.api.get("/auth/me", headers={"Authorization": f"Bearer {session['value']}"})
    assert r.status_code == 401  # revoked at the API
    await context.close()


async def test_R4_8_an_overdue_alert_in_the_bell_keyboard_only(site: Site, browser: Any) -> None:
    """The responsible's bell counts the overdue alert and the notifications page lists it, most
    overdue first (R4.8); everything reached with the keyboard alone, from the skip link on."""
    from shared import clock
    from tests.test_alerts_api import raise_alert

    made = await site.system.create_case(case_body(4, responsible_email=demo("ejecutiva")))
    await raise_alert(site.system, made, clock.now() - timedelta(hours=3))

    context = await browser.new_context(locale="es-CL")
    page = await context.new_page()
    page.set_default_timeout(15_000)
    await page.goto(f"{site.console}/login")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Saltar al contenido"
    await page.keyboard.press("Enter")
    for text in (TENANT, demo("ejecutiva"), DEMO_PASSWORD):
        await page.keyboard.press("Tab")
        await page.keyboard.type(text)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{site.console}/inbox")
    await page.wait_for_function("() => Number(document.querySelector('#bell-count [data-unread]')?.dataset.unread) >= 2")

    await page.locator("#bell").focus()  # the bell is a link: Enter opens the list
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{site.console}/notifications")
    alert = page.locator("li[data-alert].unread")
    assert made["number"] in await alert.inner_text() and "Solicitud atrasada" in await alert.inner_text()
    await page.get_by_role("button", name="Marcar alertas vistas").focus()
    await page.keyboard.press("Enter")
    await page.locator("li[data-alert]:not(.unread)").wait_for()
    headers = await token(site, "ejecutiva")
    assert (await site.api.get("/alerts/unread-count", headers=headers)).json()["unread"] == 0
    await context.close()


async def test_R4_8_an_alert_raised_while_the_page_is_open_raises_the_bell_without_reload(site: Site, browser: Any) -> None:
    """intake pushes the alert count (GET /alerts/stream, relayed at /console/live/alerts): the bell
    goes up by itself while the responsible looks at the inbox; nothing polls."""
    from shared import clock
    from tests.test_alerts_api import raise_alert

    made = await site.system.create_case(case_body(5, responsible_email=demo("ejecutiva")))
    context = await browser.new_context(locale="es-CL")
    page = await log_in_in(context, site, "ejecutiva")
    async with page.expect_response(lambda r: r.url.endswith("/console/live/alerts")):
        await page.goto(f"{site.console}/inbox")
    await page.locator("#bell-count [data-unread]").wait_for()
    before = int(await page.locator("#bell-count [data-unread]").get_attribute("data-unread") or 0)
    await raise_alert(site.system, made, clock.now() - timedelta(hours=2))
    await page.wait_for_function(
        f"() => Number(document.querySelector('#bell-count [data-unread]')?.dataset.unread) > {before}", timeout=15_000)
    await context.close()


async def test_the_live_relay_closes_notifiers_stream_when_the_browser_leaves(site: Site) -> None:
    """/console/live relays notifier's SSE with the bearer header; leaving the page ends the
    upstream stream too (each user has a bounded number of them)."""
    hub = site.system.rt["notifier"].extras["live"]
    async with httpx.AsyncClient(base_url=site.base, timeout=10) as browser_like:
        r = await browser_like.post("/console/login", data={"tenant": TENANT, "email": demo("ejecutiva"),
                                                            "password": DEMO_PASSWORD})
        assert r.status_code == 303
        for _ in range(3):
            async with browser_like.stream("GET", "/console/live") as live:
                assert live.headers["content-type"].startswith("text/event-stream")
                first = await anext(live.aiter_text())
                assert "event: ready" in first
                assert hub.count() >= 1
        await wait_for(lambda: hub.count() == 0, 10, "notifier's streams closed")
    async with httpx.AsyncClient(base_url=site.base) as anonymous:
        assert (await anonymous.get("/console/live")).status_code == 204  # no session: EventSource stops


async def test_R4_1_a_new_user_sets_the_password_from_the_mailed_link_and_logs_in(
        site: Site, browser: Any, smtp_sink: SmtpSink) -> None:
    r = await site.api.post("/users", headers=await token(site, "admin"), json={
        "email": "nueva.ejecutiva@example.cl", "name": "Nueva Ejecutiva", "roles": ["executor"],
        "projects": ["edificio-los-robles"]})
    assert r.status_code == 201, r.text

    def invitation() -> Any:
        return next((m for m in smtp_sink.messages if m.message["X-Atiende-Template"] == "user_invited"), None)

    await wait_for(lambda: invitation() is not None, 20, "the invitation e-mail")
    body = invitation().message.get_body(("plain",)).get_content()
    link_token = re.search(r"password-setup\?token=([A-Za-z0-9_\-]+)", body).group(1)

    context = await browser.new_context(locale="es-CL")
    page = await context.new_page()
    await page.goto(f"{site.console}/password-setup?token={link_token}")
    await page.get_by_label("Nueva contraseña").fill("corta")
    await page.get_by_role("button", name="Guardar contraseña").click()
    await page.locator("#password-error").wait_for()  # the API's rule on passwords, beside the field
    await page.get_by_label("Nueva contraseña").fill("una-clave-bien-larga-2026")
    await page.get_by_role("button", name="Guardar contraseña").click()
    await page.get_by_role("status").wait_for()
    await page.get_by_role("link", name="Iniciar sesión").click()
    await page.get_by_label("Cliente (tenant)").fill(TENANT)
    await page.get_by_label("Correo electrónico").fill("nueva.ejecutiva@example.cl")
    await page.get_by_label("Contraseña").fill("una-clave-bien-larga-2026")
    await page.get_by_role("button", name="Entrar").click()
    await page.wait_for_url(f"{site.console}/inbox")
    await context.close()

"""The console's admin screens (issue 14) in a real browser, against the real services (the
fixtures are tests/test_console_browser.py's): users and roles (R4.1, R4.4), the catalog (R4.2)
and notifier's templates. Only an admin sees them: others get no nav entry and a 403 page when
they type the address. Each state passes an axe scan (screenshots under var/screenshots/)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.browser import Site, check_screen, log_in, token

pytestmark = pytest.mark.integration


async def _user(site: Site, email: str) -> dict[str, Any]:
    r = await site.api.get("/users", params={"limit": 200}, headers=await token(site, "admin"))
    return next(u for u in r.json()["items"] if u["email"] == email)


async def test_R4_1_R4_4_admin_invites_changes_roles_and_deactivates_a_user(site: Site, browser: Any) -> None:  # noqa: F811
    page = await log_in(browser, site, "admin")
    await page.get_by_role("navigation", name="Navegación principal").get_by_role(
        "link", name="Administración").click()
    await page.get_by_role("heading", name="Usuarios y roles", level=1).wait_for()
    assert await page.locator("tr[data-user]").count() >= 4  # the seeded demo users
    await check_screen(page, "admin-users")
    # No role: the API's refusal beside the roles, nothing created.
    form = page.locator("#invite-form")
    await form.get_by_label("Nombre").fill("Nuevo Supervisor")
    await form.get_by_label("Correo electrónico").fill("nuevo.supervisor@example.cl")
    await form.get_by_role("button", name="Invitar").click()
    await page.locator("#i-roles-error").wait_for()
    assert await page.locator("#i-name").input_value() == "Nuevo Supervisor"  # what was typed stays
    await check_screen(page, "admin-users-refused")
    r = await site.api.get("/users", params={"limit": 200}, headers=await token(site, "admin"))
    assert "nuevo.supervisor@example.cl" not in {u["email"] for u in r.json()["items"]}
    # With a role and a manager: invited.
    await form.get_by_label("Ejecutivo", exact=True).check()
    await form.get_by_label("Jefatura").select_option(label="Supervisora Demo (" + (
        await _user_email(site, "Supervisora Demo")) + ")")
    await form.get_by_role("button", name="Invitar").click()
    await page.get_by_role("status").wait_for()
    assert "nuevo.supervisor@example.cl" in await page.get_by_role("status").inner_text()
    made = await _user(site, "nuevo.supervisor@example.cl")
    assert made["roles"] == ["executor"] and made["manager_id"] is not None and not made["has_password"]
    # Change the roles: none is refused beside the field; supervisor is saved.
    await page.get_by_role("link", name="Nuevo Supervisor").click()
    roles = page.locator("#roles-form")
    await roles.get_by_label("Ejecutivo", exact=True).uncheck()
    await roles.get_by_role("button", name="Guardar").click()
    await page.locator("#u-roles-error").wait_for()
    assert (await _user(site, made["email"]))["roles"] == ["executor"]
    await page.locator("#roles-form").get_by_label("Supervisor", exact=True).check()
    await page.locator("#roles-form").get_by_role("button", name="Guardar").click()
    await page.get_by_role("status").wait_for()
    assert (await _user(site, made["email"]))["roles"] == ["supervisor"]
    await check_screen(page, "admin-user")
    # Deactivate (the API ends their sessions); the button turns into reactivate.
    await page.get_by_role("button", name="Desactivar usuario").click()
    await page.get_by_role("button", name="Reactivar usuario").wait_for()
    assert (await _user(site, made["email"]))["active"] is False


async def _user_email(site: Site, name: str) -> str:
    r = await site.api.get("/users", params={"limit": 200}, headers=await token(site, "admin"))
    return str(next(u for u in r.json()["items"] if u["name"] == name)["email"])


@pytest.mark.parametrize("path", ["/admin/users", "/admin/catalog/case-types", "/admin/catalog/areas/x", "/admin/templates",
                                  "/admin/catalog/new/categories", "/admin/catalog/sla-settings"])
async def test_R4_4_non_admins_see_no_admin_entry_and_get_403_when_typing_it(
        site: Site, browser: Any, path: str) -> None:  # noqa: F811
    page = await log_in(browser, site, "supervisora")
    nav = page.get_by_role("navigation", name="Navegación principal")
    await nav.get_by_role("link", name="Bandeja").wait_for()
    assert await nav.get_by_role("link", name="Administración").count() == 0
    response = await page.goto(f"{site.console}{path}")
    assert response.status == 403
    await page.get_by_role("heading", name="Sin acceso").wait_for()
    assert await page.locator("form.stack").count() == 0  # no admin form at all
    await check_screen(page, "admin-forbidden")


async def test_R4_2_admin_edits_a_channel_and_a_case_types_rules_and_reads_the_other_lists(
        site: Site, browser: Any) -> None:  # noqa: F811
    admin = await token(site, "admin")
    [channel, *_] = (await site.api.get("/catalog/channels", headers=admin)).json()
    [ctype, *_] = (await site.api.get("/catalog/case-types", headers=admin)).json()
    page = await log_in(browser, site, "admin")
    await page.goto(f"{site.console}/admin/users")
    await page.get_by_role("navigation", name="Secciones de administración").get_by_role("link", name="Catálogo").click()
    await page.get_by_role("heading", name="Canales").wait_for()
    await check_screen(page, "admin-catalog-channels")
    # A channel: an empty Spanish name is refused beside it; a new one is saved.
    await page.get_by_role("link", name=channel["code"], exact=True).click()
    await page.get_by_label("Nombre (español)").fill("")
    await page.get_by_role("button", name="Guardar").click()
    await page.locator("#e-name_es-error").wait_for()
    await check_screen(page, "admin-catalog-refused")
    await page.get_by_label("Nombre (español)").fill("Canal renombrado")
    await page.get_by_role("button", name="Guardar").click()
    await page.get_by_role("status").wait_for()
    assert (await site.api.get(f"/catalog/channels/{channel['code']}", headers=admin)).json()["name_es"] == (
        "Canal renombrado")
    # A case type's rules: a deadline that is no number is refused beside it; then saved.
    tabs = page.get_by_role("navigation", name="Listas del catálogo")
    await tabs.get_by_role("link", name="Tipos de solicitud").click()
    await page.locator(f"tr[data-entry='{ctype['code']}']").wait_for()
    await check_screen(page, "admin-catalog-case-types")
    await page.get_by_role("link", name=ctype["code"], exact=True).click()
    await page.get_by_label("Cantidad").fill("diez")
    await page.get_by_role("button", name="Guardar").click()
    await page.locator("#e-deadline-amount-error").wait_for()
    assert (await site.api.get(f"/catalog/case-types/{ctype['code']}", headers=admin)).json() == ctype
    await page.get_by_label("Cantidad").fill("7")
    await page.get_by_label("Teléfono del contacto").check()
    await page.get_by_role("button", name="Guardar").click()
    await page.get_by_role("status").wait_for()
    changed = (await site.api.get(f"/catalog/case-types/{ctype['code']}", headers=admin)).json()
    assert changed["deadline"]["amount"] == 7 and "contact.phone" in changed["required_fields"]
    # The other lists (their forms: test_R4_2_admin_grows_the_category_tree_...).
    for name, shot in (("Categorías", "categories"), ("Calendarios", "calendars"), ("Áreas", "areas")):
        await page.get_by_role("navigation", name="Listas del catálogo").get_by_role("link", name=name).click()
        await page.get_by_role("heading", name=name, level=2).wait_for()
        await check_screen(page, f"admin-catalog-{shot}")


async def test_R4_2_admin_grows_the_category_tree_adds_a_calendar_and_sets_the_sla_thresholds(
        site: Site, browser: Any) -> None:  # noqa: F811
    """R3.2 (a child category, renamed), R4.2 (a new calendar: a bad period refused beside its day,
    in Spanish), R4.8 (the warning thresholds): every form of the catalog, each state axe-checked."""
    admin = await token(site, "admin")
    [root, *_] = [c for c in (await site.api.get("/catalog/categories", headers=admin)).json() if c["level"] == 1]
    page = await log_in(browser, site, "admin")
    await page.goto(f"{site.console}/admin/catalog/categories")
    await page.get_by_role("link", name=f"Crear subcategoría: {root['path']}", exact=True).click()
    await page.get_by_role("heading", name="Nueva categoría", level=1).wait_for()
    assert await page.get_by_label("Categoría superior").input_value() == root["path"]
    await page.get_by_label("Código").fill("Mal Código")
    await page.get_by_label("Nombre (español)").fill("Reclamos web")
    await page.get_by_role("button", name="Crear").click()
    await page.locator("#e-code-error").wait_for()
    await check_screen(page, "admin-catalog-category-refused")
    await page.get_by_label("Código").fill("reclamos-web")
    await page.get_by_role("button", name="Crear").click()
    path = f"{root['path']}/reclamos-web"
    await page.locator(f"tr[data-entry='{path}']").wait_for()
    assert path in await page.get_by_role("status").inner_text()
    await check_screen(page, "admin-catalog-category-created")
    await page.get_by_role("link", name=path, exact=True).click()
    await page.get_by_label("Nombre (español)").fill("Reclamos por la web")
    await page.get_by_role("button", name="Guardar").click()
    await page.get_by_role("status").wait_for()
    made = (await site.api.get("/catalog/categories/lookup", params={"path": path}, headers=admin)).json()
    assert made["name_es"] == "Reclamos por la web" and made["level"] == 2
    # A calendar: a period that is no time is refused beside its day; then created.
    tabs = page.get_by_role("navigation", name="Listas del catálogo")
    await tabs.get_by_role("link", name="Calendarios").click()
    await page.get_by_role("link", name="Nuevo calendario").click()
    await page.get_by_label("Código").fill("sucursal-norte")
    await page.get_by_label("Nombre", exact=True).fill("Sucursal Norte")
    await page.get_by_label("Lunes").fill("de nueve a seis")
    await page.get_by_label("Martes").fill("09:00-13:00, 14:00-18:00")
    await page.get_by_label("Días no hábiles adicionales (feriados)").fill("2026-12-07 Aniversario")
    await page.get_by_role("button", name="Crear").click()
    await page.locator("#e-hours-1-error").wait_for()
    await check_screen(page, "admin-catalog-calendar-refused")
    assert await page.get_by_label("Martes").input_value() == "09:00-13:00, 14:00-18:00"  # what was typed stays
    await page.get_by_label("Lunes").fill("09:00-18:00")
    await page.get_by_role("button", name="Crear").click()
    await page.locator("tr[data-entry='sucursal-norte']").wait_for()
    cal = (await site.api.get("/catalog/calendars/sucursal-norte", headers=admin)).json()
    assert cal["hours"]["2"] == [{"start": "09:00", "end": "13:00"}, {"start": "14:00", "end": "18:00"}]
    assert cal["extra_closed_days"] == [{"date": "2026-12-07", "name": "Aniversario"}]
    # The tenant's SLA settings: thresholds out of order refused beside them; then saved.
    await tabs.get_by_role("link", name="Metas y escalamiento").click()
    await page.get_by_role("heading", name="Metas y escalamiento", level=2).wait_for()
    await check_screen(page, "admin-catalog-sla-settings")
    await page.get_by_label("Avisos al (% del plazo hábil)").fill("80, 40")
    await page.get_by_role("button", name="Guardar").click()
    await page.locator("#s-warning_percents-error").wait_for()
    await check_screen(page, "admin-catalog-sla-refused")
    await page.get_by_label("Avisos al (% del plazo hábil)").fill("40, 80")
    await page.get_by_role("button", name="Guardar").click()
    await page.get_by_role("status").wait_for()
    settings = (await site.api.get("/catalog/sla-settings", headers=admin)).json()
    assert settings["warning_percents"] == [40, 80]


async def _templates(site: Site) -> list[dict[str, Any]]:
    r = await site.api.get("/notification-templates", params={"limit": 200}, headers=await token(site, "admin"))
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_admin_edits_previews_saves_and_resets_a_notification_template(site: Site, browser: Any) -> None:  # noqa: F811
    found = await _templates(site)
    mail = next(x for x in found if x["channel"] == "email" and x["language"] == "es")
    sms = next(x for x in found if x["channel"] == "sms" and x["language"] == "es")
    key = f"{mail['template']}/email/es"
    page = await log_in(browser, site, "admin")
    await page.goto(f"{site.console}/admin/users")
    await page.get_by_role("navigation", name="Secciones de administración").get_by_role(
        "link", name="Plantillas de notificación").click()
    await page.locator(f"tr[data-template='{key}']").wait_for()
    await check_screen(page, "admin-templates")
    await page.locator(f"tr[data-template='{key}'] a").click()
    # A variable the planners never give: notifier's refusal beside the body, on preview already.
    await page.get_by_label("Texto").fill("Hola {{ no_existe }}")
    await page.get_by_role("button", name="Vista previa").click()
    await page.locator("#t-body-error").wait_for()
    assert "no_existe" in await page.locator("#t-body-error").inner_text()
    await check_screen(page, "admin-template-refused")
    # A good draft: rendered on the sample case, the focus on the preview; nothing saved yet.
    await page.get_by_label("Asunto").fill("Aviso de prueba")
    await page.get_by_label("Texto").fill("Hola, este es un aviso de prueba.")
    await page.get_by_role("button", name="Vista previa").click()
    await page.locator("[data-preview=subject]").wait_for()
    assert await page.locator("[data-preview=subject]").inner_text() == "Aviso de prueba"
    assert "aviso de prueba" in await page.locator("[data-preview=body]").inner_text()
    assert await page.evaluate("document.activeElement.id") == "preview-title"
    assert next(x for x in await _templates(site) if x["template"] == mail["template"]
                and x["channel"] == "email" and x["language"] == "es")["source"] == "shipped"
    await check_screen(page, "admin-template-preview")
    # Saved, then back to the shipped text.
    await page.get_by_role("button", name="Guardar plantilla").click()
    await page.get_by_role("status").wait_for()
    saved = next(x for x in await _templates(site) if x["template"] == mail["template"]
                 and x["channel"] == "email" and x["language"] == "es")
    assert saved["source"] == "tenant" and saved["body"] == "Hola, este es un aviso de prueba."
    await page.get_by_role("button", name="Volver al texto original").click()
    await page.get_by_role("status").wait_for()
    assert await page.get_by_role("button", name="Volver al texto original").count() == 0
    # An SMS: no subject; the preview tells its length, encoding and segments.
    await page.goto(f"{site.console}/admin/templates/{sms['template']}/sms/es")
    assert await page.get_by_label("Asunto").count() == 0
    await page.get_by_role("button", name="Vista previa").click()
    await page.locator("[data-preview=sms]").wait_for()
    assert "segmento" in await page.locator("[data-preview=sms]").inner_text()
    await check_screen(page, "admin-template-sms")

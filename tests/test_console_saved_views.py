"""R4.5 in a real browser: the console inbox's saved views. A user filters the inbox, saves the
view under a name, reloads, opens it from the list — the same filters apply — and deletes it;
another user does not see it. Each state passes an axe scan (fixtures of tests/test_console_browser.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.browser import Site, check_screen, log_in, token

pytestmark = pytest.mark.integration


async def test_r4_5_save_reload_open_and_delete_a_view(site: Site, browser: Any) -> None:  # noqa: F811
    page = await log_in(browser, site, "ejecutiva")
    await page.goto(f"{site.console}/inbox?priority=urgent&sort=-created")
    await page.get_by_label("Nombre de la vista").fill("Urgentes recientes")
    await page.get_by_role("button", name="Guardar vista").click()
    await page.get_by_role("link", name="Urgentes recientes").wait_for()  # after the redirect
    await page.goto(f"{site.console}/inbox")  # a fresh page: the filters are cleared, the view stays
    assert await page.locator("#f-sort").input_value() == "deadline"
    await check_screen(page, "inbox-saved-views")
    await page.get_by_role("link", name="Urgentes recientes").click()
    await page.wait_for_url("**/inbox?priority=urgent&sort=-created")
    assert await page.locator("#f-sort").input_value() == "-created"
    assert await page.locator("#f-priority option[value=urgent]").evaluate("o => o.selected")

    # a duplicate name is the API's refusal beside the name field
    await page.get_by_label("Nombre de la vista").fill("Urgentes recientes")
    await page.get_by_role("button", name="Guardar vista").click()
    await page.locator("#sv-name-error").wait_for()
    await check_screen(page, "inbox-saved-view-duplicate")

    other = await token(site, "supervisora")
    assert (await site.api.get("/inbox/views", headers=other)).json()["items"] == []

    await page.get_by_role("button", name="Eliminar la vista Urgentes recientes").click()
    await page.get_by_text("Aún no tiene vistas guardadas.").wait_for()
    mine = await token(site, "ejecutiva")
    assert (await site.api.get("/inbox/views", headers=mine)).json()["items"] == []

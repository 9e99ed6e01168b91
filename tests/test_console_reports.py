"""The console's reports page in a real browser, against the real services (the fixtures are
tests/test_console_browser.py's): reporting's SLA and workload reports (issue 13) as charts
relayed with the user's token and as tables of the API's numbers, a from/to period whose refusal
shows beside the field, a grouping and period length that every chart follows; and the inbox's
export job (R4.10) whose progress is polled live and whose file is downloaded through the
console. Each state passes an axe scan."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from console.i18n import format_number
from tests.support.browser import Site, check_screen, log_in, token
from tests.support.system import wait_for

pytestmark = pytest.mark.integration
REPORTS = ("sla-compliance", "backlog-aging", "response-times", "volumes")


async def _volumes_total(site: Site) -> int:
    r = await site.api.get("/reports/volumes", headers=await token(site, "supervisora"))
    assert r.status_code == 200, r.text
    return int(r.json()["total"])


async def test_R4_4_a_supervisor_reads_every_report_as_chart_and_table_for_a_period(
        site: Site, browser: Any) -> None:  # noqa: F811
    before = await _volumes_total(site)
    for _ in range(2):
        await site.system.create_case()
    await wait_for(lambda: _at_least(site, before + 2), 30, "reporting's read model has the cases")
    page = await log_in(browser, site, "supervisora")
    await page.get_by_role("navigation", name="Navegación principal").get_by_role("link", name="Reportes").click()
    await page.get_by_role("heading", name="Volumen de ingreso").wait_for()
    for name in REPORTS:  # each chart is the API's SVG, loaded through the console's relay
        img = page.locator(f"img[data-chart={name}]")
        await wait_for(lambda img=img: _loaded(img), 15, f"the {name} chart")
        assert await page.locator(f"table[data-report={name}]").count() == 1
    api_total = await _volumes_total(site)
    assert await page.locator("table[data-report=volumes] [data-total]").inner_text() == format_number(api_total, "es")
    await check_screen(page, "reports")
    # An empty period: the API's refusal beside "to", no chart.
    await page.get_by_label("Desde (inclusive)").fill("2026-12-10")
    await page.get_by_label("Hasta (exclusive)").fill("2026-12-01")
    await page.get_by_role("button", name="Ver reportes").click()
    await page.locator("#p-to-error").wait_for()
    assert await page.locator("img[data-chart]").count() == 0
    await check_screen(page, "reports-refused")
    # A period: the chart's address carries it too.
    await page.get_by_label("Desde (inclusive)").fill("2026-01-01")
    await page.get_by_label("Hasta (exclusive)").fill("2027-01-01")
    await page.get_by_role("button", name="Ver reportes").click()
    chart = page.locator("img[data-chart=volumes]")
    await chart.wait_for()
    assert "from=2026-01-01" in (await chart.get_attribute("src") or "")
    # Grouped by area, per week: every chart follows the selection and still loads.
    await page.get_by_label("Agrupar por").select_option(label="Área")
    await page.get_by_label("Largo del período").select_option(label="Semana (ISO)")
    await page.get_by_role("button", name="Ver reportes").click()
    await page.locator("[data-grouping=area]").first.wait_for()
    for name in REPORTS:
        img = page.locator(f"img[data-chart={name}]")
        assert "by=area" in (await img.get_attribute("src") or "")
        await wait_for(lambda img=img: _loaded(img), 15, f"the {name} chart by area")
    assert "period=week" in (await chart.get_attribute("src") or "")
    await check_screen(page, "reports-by-area")


async def _at_least(site: Site, n: int) -> bool:
    return await _volumes_total(site) >= n


async def _loaded(img: Any) -> bool:
    return bool(await img.evaluate("i => i.complete && i.naturalWidth > 0"))


async def test_R4_10_an_executive_exports_the_inbox_with_live_progress_and_downloads_it(
        site: Site, browser: Any) -> None:  # noqa: F811
    await site.system.create_case()
    page = await log_in(browser, site, "ejecutiva")
    await page.goto(f"{site.console}/reports")
    assert "Los reportes son para administradores y supervisores." in await page.locator("main").inner_text()
    # The chart relay adds the token but not a right: the API still refuses an executive.
    refused = await page.context.request.get(f"{site.console}/reports/charts/volumes.svg")
    assert refused.status == 403
    await page.get_by_label("Formato").select_option("csv")
    await page.get_by_role("button", name="Exportar la bandeja").click()
    link = page.get_by_role("link", name="Descargar")
    await link.wait_for(timeout=30_000)  # polled every second until the job is done
    assert await page.locator("#export-job").get_attribute("data-state") == "done"
    assert await page.locator("#export-status").get_attribute("aria-live") == "polite"
    await check_screen(page, "reports-export-done")
    async with page.expect_download() as waiting:
        await link.click()
    download = await waiting.value
    path = await download.path()
    lines = (await anyio.Path(path).read_text(encoding="utf-8-sig")).splitlines()
    assert lines[0].startswith("N° solicitud;")  # Spanish headers, the es-CL separator
    jobs = await site.api.get("/inbox/exports", headers=await token(site, "ejecutiva"))
    [job] = jobs.json()["items"]
    assert job["state"] == "done" and len(lines) - 1 == job["rows_done"] == job["rows_total"] >= 1

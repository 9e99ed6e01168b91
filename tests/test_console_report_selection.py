"""The reports screen's selection without a browser, through the one origin of embedded mode:
the grouping (``by``), the period length and the from/to dates (the tenant's days) go to each
report that takes them, its chart's address carries the same selection, and a selection the API
refuses is shown beside its field. Reports are for admins and supervisors (R4.4)."""

from __future__ import annotations

import re

import httpx

from tests.support.system import System
from tests.test_console import console  # noqa: F401  (fixture)
from tests.test_console_catalog import _error_of, _log_in


def _chart_src(html: str, name: str) -> str:
    found = re.search(rf'<img src="([^"]+)"[^>]*data-chart="{name}"', html)
    assert found, f"no {name} chart"
    return found.group(1).replace("&amp;", "&")


async def test_R4_4_the_grouping_and_period_reach_every_report_and_its_chart(
        embedded_system: System, console: httpx.AsyncClient) -> None:  # noqa: F811
    await embedded_system.create_case()
    await _log_in(console, "supervisora")
    page = await console.get("/console/reports")
    assert page.status_code == 200 and "America/Santiago" in page.text  # the tenant's zone
    assert 'data-grouping="channel"' in page.text  # volumes' own default
    page = await console.get("/console/reports?from=2026-01-01&to=2027-01-01&by=area&period=week")
    assert page.status_code == 200
    for name in ("sla-compliance", "backlog-aging", "response-times", "volumes"):
        src = _chart_src(page.text, name)
        assert "from=2026-01-01" in src and "to=2027-01-01" in src and "by=area" in src, src
        assert ("period=week" in src) is (name != "backlog-aging")  # backlog aging has no period length
        chart = await console.get(src)
        assert chart.status_code == 200 and chart.headers["content-type"].startswith("image/svg+xml")
    assert page.text.count('data-grouping="area"') == 4
    # A grouping one report lacks: the others use it, that one keeps its own.
    page = await console.get("/console/reports?by=responsible")
    assert "by=responsible" in _chart_src(page.text, "sla-compliance")
    assert "by=" not in _chart_src(page.text, "volumes") and 'data-grouping="channel"' in page.text
    # The API's refusal of the selection, beside its field.
    bad = await console.get("/console/reports?period=year")
    assert bad.status_code == 422 and _error_of(bad.text, "p-period") and "data-chart=" not in bad.text

"""The console's catalog forms (R4.2) without a browser, through the one origin of embedded mode:
create forms for every kind (channels, areas, case types, categories, calendars), the category
tree's rename and (de)activation, a calendar's hours and holidays, and the tenant's SLA settings
(R4.8 warnings, R4.9 ladder). Each form: the happy path as the API then reads it, a refusal shown
beside the field it names, and a non-admin who gets no form while the API refuses them anyway
(R4.4). The browser flow with its axe scans is test_console_admin.py's."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from services.intake.seed import DEMO_PASSWORD
from tests.support.system import TENANT, System, demo
from tests.test_console import console  # noqa: F401  (fixture)

HX = {"HX-Request": "true"}


async def _log_in(client: httpx.AsyncClient, local: str = "admin") -> None:
    r = await client.post("/console/login", data={"tenant": TENANT, "email": demo(local), "password": DEMO_PASSWORD})
    assert r.status_code == 303, r.text


async def _api(system: System, path: str, local: str = "admin") -> Any:
    r = await system.intake.get(path, headers=await system.auth(local))
    assert r.status_code == 200, r.text
    return r.json()


def _error_of(html: str, field_id: str) -> str:
    """The message shown beside the control ``field_id`` (its ``<id>-error`` element)."""
    found = re.search(rf'id="{re.escape(field_id)}-error"[^>]*>([^<]*)<', html)
    assert found, f"no message beside {field_id}"
    return found.group(1)


@pytest.mark.parametrize(("kind", "form", "api_list"), [
    ("channels", {"code": "kiosko", "name_es": "Kiosko", "name_en": "Kiosk", "active": "true"}, "/catalog/channels"),
    ("areas", {"code": "cobranza-norte", "name_es": "Cobranza Norte", "active": "true"}, "/catalog/areas"),
    ("case-types", {"code": "reclamo-kiosko", "name_es": "Reclamo en kiosko", "deadline.amount": "5",
                    "deadline.unit": "business_days", "required_fields": "contact.email", "active": "true"},
     "/catalog/case-types"),
])
async def test_R4_2_an_admin_creates_an_entry_of_each_kind_and_a_bad_code_is_refused_beside_it(
        embedded_system: System, console: httpx.AsyncClient, kind: str, form: dict[str, str],  # noqa: F811
        api_list: str) -> None:
    await _log_in(console)
    page = await console.get(f"/console/admin/catalog/new/{kind}")
    assert page.status_code == 200 and 'id="e-code"' in page.text
    bad = await console.post(f"/console/admin/catalog/new/{kind}", data={**form, "code": "Con Espacios"})
    assert bad.status_code == 422 and _error_of(bad.text, "e-code")
    assert 'value="Con Espacios"' in bad.text  # what was typed stays
    assert "con-espacios" not in {e["code"] for e in await _api(embedded_system, api_list)}
    made = await console.post(f"/console/admin/catalog/new/{kind}", data=form)
    assert made.status_code == 303 and made.headers["location"].endswith(f"?created={form['code']}")
    [entry] = [e for e in await _api(embedded_system, api_list) if e["code"] == form["code"]]
    assert entry["name_es"] == form["name_es"] and entry["active"]
    if kind == "case-types":
        assert entry["deadline"] == {"unit": "business_days", "amount": 5}
        assert entry["required_fields"] == ["contact.email"]
    listed = await console.get(f"/console/admin/catalog/{kind}?created={form['code']}")
    assert f'data-entry="{form["code"]}"' in listed.text and 'role="status"' in listed.text


async def test_R3_2_categories_a_child_is_created_renamed_deactivated_and_a_fourth_level_is_refused(
        embedded_system: System, console: httpx.AsyncClient) -> None:  # noqa: F811
    await _log_in(console)
    [root, *_] = [c for c in await _api(embedded_system, "/catalog/categories") if c["level"] == 1]
    form = await console.get(f"/console/admin/catalog/new/categories?parent={root['path']}")
    assert f'<option value="{root["path"]}" selected' in form.text
    made = await console.post("/console/admin/catalog/new/categories", data={
        "parent": root["path"], "code": "nueva-sub", "name_es": "Nueva subcategoría", "name_en": ""})
    assert made.status_code == 303
    child = (await embedded_system.intake.get("/catalog/categories/lookup", params={"path": f"{root['path']}/nueva-sub"},
                                              headers=await embedded_system.auth("admin"))).json()
    assert child["level"] == 2 and child["name_en"] == "Nueva subcategoría"  # the API's default: the Spanish name
    # Rename and deactivate it: PATCH /catalog/categories/{id}.
    edit = await console.get(f"/console/admin/catalog/categories/{child['id']}")
    assert edit.status_code == 200 and child["path"] in edit.text
    empty = await console.post(f"/console/admin/catalog/categories/{child['id']}",
                               data={"name_es": "", "name_en": "Sub"})
    assert empty.status_code == 422 and _error_of(empty.text, "e-name_es")
    saved = await console.post(f"/console/admin/catalog/categories/{child['id']}",
                               data={"name_es": "Subcategoría renombrada", "name_en": "Renamed"})
    assert saved.status_code == 303 and saved.headers["location"].endswith(f"done={child['path']}")
    after = await _api(embedded_system, f"/catalog/categories/{child['id']}")
    assert after["name_es"] == "Subcategoría renombrada" and after["active"] is False  # unchecked: deactivated
    # R3.2: at most three levels; the API's refusal is shown beside the parent.
    [deep, *_] = [c for c in await _api(embedded_system, "/catalog/categories") if c["level"] == 3]
    refused = await console.post("/console/admin/catalog/new/categories", data={
        "parent": deep["path"], "code": "cuarto", "name_es": "Cuarto nivel"})
    assert refused.status_code == 422 and _error_of(refused.text, "e-parent")


async def test_R4_2_a_calendar_is_created_with_hours_and_holidays_and_a_bad_period_is_refused_beside_its_day(
        embedded_system: System, console: httpx.AsyncClient) -> None:  # noqa: F811
    await _log_in(console)
    form = {"code": "sucursal-sur", "name": "Sucursal Sur", "country": "CL", "subdivision": "", "timezone":
            "America/Santiago", "hours.1": "09:00-13:00, 14:00-18:00", "hours.2": "09:00-18:00",
            "hours.3": "09:00-18:00", "hours.4": "09:00-18:00", "hours.5": "09:00-14:00", "hours.6": "",
            "hours.7": "", "extra_closed_days": "2026-12-07 Aniversario", "extra_working_days": "", "active": "true"}
    bad = await console.post("/console/admin/catalog/new/calendars", data={**form, "hours.2": "nueve a seis"})
    assert bad.status_code == 422 and _error_of(bad.text, "e-hours-2")
    no_code = await console.post("/console/admin/catalog/new/calendars", data={**form, "code": ""})
    assert no_code.status_code == 422 and _error_of(no_code.text, "e-code")
    assert "sucursal-sur" not in {c["code"] for c in await _api(embedded_system, "/catalog/calendars")}
    made = await console.post("/console/admin/catalog/new/calendars", data=form)
    assert made.status_code == 303, made.text
    cal = await _api(embedded_system, "/catalog/calendars/sucursal-sur")
    assert cal["hours"]["1"] == [{"start": "09:00", "end": "13:00"}, {"start": "14:00", "end": "18:00"}]
    assert "6" not in cal["hours"] and cal["extra_closed_days"] == [{"date": "2026-12-07", "name": "Aniversario"}]
    # The same code again is not a silent replacement.
    again = await console.post("/console/admin/catalog/new/calendars", data={**form, "name": "Otra"})
    assert again.status_code == 422 and _error_of(again.text, "e-code") == "Ya existe un calendario con ese código."
    assert (await _api(embedded_system, "/catalog/calendars/sucursal-sur"))["name"] == "Sucursal Sur"
    # Edit: the form shows what the API has; a bad holiday date is refused beside the list.
    edit = await console.get("/console/admin/catalog/calendars/sucursal-sur")
    assert "09:00-13:00, 14:00-18:00" in edit.text and "2026-12-07 Aniversario" in edit.text
    refused = await console.post("/console/admin/catalog/calendars/sucursal-sur",
                                 data={**form, "extra_closed_days": "2026-13-40 Nunca"})
    assert refused.status_code == 422 and _error_of(refused.text, "e-extra_closed_days")
    saved = await console.post("/console/admin/catalog/calendars/sucursal-sur",
                               data={**form, "hours.6": "10:00-13:00", "extra_working_days": "2026-12-19 Cierre"})
    assert saved.status_code == 303
    cal = await _api(embedded_system, "/catalog/calendars/sucursal-sur")
    assert cal["hours"]["6"] == [{"start": "10:00", "end": "13:00"}]
    assert cal["extra_working_days"] == [{"date": "2026-12-19", "name": "Cierre"}]


async def test_R4_8_R4_9_sla_settings_are_edited_and_a_bad_threshold_is_refused_beside_it(
        embedded_system: System, console: httpx.AsyncClient) -> None:  # noqa: F811
    await _log_in(console)
    before = await _api(embedded_system, "/catalog/sla-settings")
    page = await console.get("/console/admin/catalog/sla-settings")
    assert page.status_code == 200 and 'id="sla-form"' in page.text
    assert page.text.count("data-level=") == len(before["ladder"]) + 1  # each level, and one to add
    form: dict[str, Any] = {"warning_percents": "75, 50", "quiet_hours": "true", "churn_alert_levels": "2",
                            "ladder.0.after.amount": "0", "ladder.0.after.unit": "business_hours",
                            "ladder.0.to": "manager_chain", "ladder.0.steps_up": "1", "ladder.0.channels": ["email"],
                            "ladder.1.after.amount": "", "ladder.1.after.unit": "business_hours",
                            "ladder.1.to": "manager_chain", "ladder.1.steps_up": "1"}
    bad = await console.post("/console/admin/catalog/sla-settings", data=form)
    assert bad.status_code == 422 and _error_of(bad.text, "s-warning_percents")
    assert 'value="75, 50"' in bad.text
    assert await _api(embedded_system, "/catalog/sla-settings") == before
    no_channel = await console.post("/console/admin/catalog/sla-settings", data={
        **form, "warning_percents": "50, 80", "ladder.0.channels": [], "ladder.0.after.amount": "0"})
    assert no_channel.status_code == 422 and _error_of(no_channel.text, "s-ladder-0-channels")
    saved = await console.post("/console/admin/catalog/sla-settings", data={
        **form, "warning_percents": "50, 80", "ladder.1.after.amount": "4", "ladder.1.steps_up": "2",
        "ladder.1.channels": ["sms", "in_app"], "quiet_hours": ""})
    assert saved.status_code == 303
    after = await _api(embedded_system, "/catalog/sla-settings")
    assert after["warning_percents"] == [50, 80] and after["quiet_hours"] is False
    assert [(lv["level"], lv["after"]["amount"], lv["steps_up"], lv["channels"]) for lv in after["ladder"]] == [
        (1, 0, 1, ["email"]), (2, 4, 2, ["sms", "in_app"])]
    # In English, the refusal too.
    await console.post("/console/language", data={"lang": "en", "next": "/console/admin/catalog/sla-settings"})
    english = await console.post("/console/admin/catalog/sla-settings", data={**form, "warning_percents": "0"})
    assert "Targets and escalation" in english.text
    assert _error_of(english.text, "s-warning_percents") == "The percent must be 1 to 99."


@pytest.mark.parametrize("path", ["/console/admin/catalog/new/categories", "/console/admin/catalog/new/calendars",
                                  "/console/admin/catalog/sla-settings", "/console/admin/catalog/calendars/default"])
async def test_R4_4_a_supervisor_gets_no_catalog_form_and_the_api_refuses_the_write_anyway(
        embedded_system: System, console: httpx.AsyncClient, path: str) -> None:  # noqa: F811
    await _log_in(console, "supervisora")
    shown = await console.get(path)
    assert shown.status_code == 403 and "<form method=\"post\" action=\"/console/admin" not in shown.text
    posted = await console.post(path, data={"code": "x", "name_es": "X", "warning_percents": "50"})
    assert posted.status_code == 403
    supervisor = await embedded_system.auth("supervisora")
    for method, api_path, body in (
            ("POST", "/catalog/categories", {"code": "x", "name_es": "X"}),
            ("PUT", "/catalog/calendars/x", {"country": "CL", "timezone": "America/Santiago"}),
            ("PUT", "/catalog/sla-settings", {"warning_percents": [50]})):
        r = await embedded_system.intake.request(method, api_path, json=body, headers=supervisor)
        assert r.status_code == 403, (api_path, r.text)

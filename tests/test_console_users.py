"""The console's invitation form (R4.1, R4.4, R4.9) without a browser, through the one origin of
embedded mode: besides name, e-mail, roles and manager it takes the mobile (SMS), the projects an
executive enters cases in and the escalation subscriptions, as POST /users does; a refusal is
shown beside the field it names; a non-admin gets no form and the API refuses them anyway."""

from __future__ import annotations

import httpx

from tests.support.system import System
from tests.test_console import console  # noqa: F401  (fixture)
from tests.test_console_catalog import _api, _error_of, _log_in


async def test_R4_4_R4_9_an_invitation_carries_mobile_projects_and_subscriptions(
        embedded_system: System, console: httpx.AsyncClient) -> None:  # noqa: F811
    await _log_in(console)
    [project, *_] = await _api(embedded_system, "/catalog/projects")
    [kind, *_] = await _api(embedded_system, "/catalog/escalation-kinds")
    page = await console.get("/console/admin/users")
    assert f'name="projects" value="{project["code"]}"' in page.text
    assert f'name="escalation_subscriptions" value="{kind["code"]}"' in page.text
    form = {"name": "Nueva Ejecutiva", "email": "nueva.ejecutiva@example.cl", "mobile": "no es teléfono",
            "roles": "executor", "projects": project["code"], "escalation_subscriptions": kind["code"]}
    bad = await console.post("/console/admin/users", data=form)
    assert bad.status_code == 422 and _error_of(bad.text, "i-mobile")
    assert f'value="{project["code"]}" checked' in bad.text  # what was chosen stays
    users = (await _api(embedded_system, "/users?limit=200"))["items"]
    assert form["email"] not in {u["email"] for u in users}
    made = await console.post("/console/admin/users", data={**form, "mobile": "+56911112222"})
    assert made.status_code == 303, made.text
    [user] = [u for u in (await _api(embedded_system, "/users?limit=200"))["items"] if u["email"] == form["email"]]
    assert user["mobile"] == "+56911112222" and user["projects"] == [project["code"]]
    assert user["escalation_subscriptions"] == [kind["code"]] and user["roles"] == ["executor"]


async def test_R4_4_a_supervisor_cannot_invite_through_the_console_nor_the_api(
        embedded_system: System, console: httpx.AsyncClient) -> None:  # noqa: F811
    await _log_in(console, "supervisora")
    assert (await console.get("/console/admin/users")).status_code == 403
    r = await console.post("/console/admin/users", data={"name": "X", "email": "x@example.cl", "roles": "admin"})
    assert r.status_code == 403 and 'id="invite-form"' not in r.text
    api = await embedded_system.intake.post("/users", json={"name": "X", "email": "x@example.cl", "roles": ["admin"]},
                                            headers=await embedded_system.auth("supervisora"))
    assert api.status_code == 403

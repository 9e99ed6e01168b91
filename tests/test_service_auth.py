"""Tokens on every service (issue 9, point 4): workflow's, notifier's and reporting's endpoints
answer only a valid user token, only for its tenant; a token revoked by logout, a deactivated
user's token and a demoted user's old roles stop working there too (shared/sessions.py)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from services.intake.adapters.db import users
from services.intake.seed import DEMO_PASSWORD
from tests.support.system import TENANT, System, case_body, demo, wait_for

pytestmark = pytest.mark.integration

OTHER = "aseguradora-demo"


async def login(s: System, local: str, tenant: str = TENANT) -> dict[str, str]:
    """A fresh token (not System.auth's shared one: these tests revoke theirs)."""
    r = await s.intake.post("/auth/token", data={"username": demo(local, tenant), "password": DEMO_PASSWORD,
                                                  "tenant": tenant})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def user_id(s: System, local: str, tenant: str = TENANT) -> str:
    async with s.rt["intake"].db.read() as conn:
        return str((await conn.execute(select(users.c.id).where(users.c.email == demo(local, tenant)))).scalar_one())


def endpoints(s: System, case_id: str) -> list[tuple[httpx.AsyncClient, str]]:
    return [(s.clients["workflow"], f"/deadlines/{case_id}"),
            (s.clients["notifier"], f"/cases/{case_id}/deliveries"),
            (s.clients["reporting"], "/reports/case-counts")]


async def case_known_everywhere(s: System) -> str:
    case_id = str((await s.create_case(case_body(31)))["id"])
    h = await s.auth()

    async def known() -> bool:
        return all([(await c.get(path, headers=h)).status_code == 200 for c, path in endpoints(s, case_id)])

    await wait_for(known, 20, "the case on workflow, notifier and reporting")
    return case_id


async def eventually_status(s: System, case_id: str, headers: dict[str, str], status: int) -> None:
    async def all_are() -> bool:
        return all([(await c.get(path, headers=headers)).status_code == status for c, path in endpoints(s, case_id)])

    await wait_for(all_are, 15, f"{status} on workflow, notifier and reporting")


async def test_no_token_or_a_bad_one_is_401_on_every_service(rabbit_system: System) -> None:
    s = rabbit_system
    case_id = await case_known_everywhere(s)
    for client, path in endpoints(s, case_id):
        r = await client.get(path)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer", (path, r.text)
        assert r.json()["detail"] == "Inicie sesión: falta el token de acceso."
        assert (await client.get(path, headers={"Authorization": "Bearer nope"})).status_code == 401
        assert (await client.get(path, headers={"X-API-Key": "ak_whatever"})).status_code == 401


async def test_another_tenants_case_is_404_and_reports_are_the_tokens_tenant(rabbit_system: System) -> None:
    s = rabbit_system
    case_id = await case_known_everywhere(s)
    other = await login(s, "admin", OTHER)
    for client, path in endpoints(s, case_id)[:2]:
        r = await client.get(path, headers=other)
        assert r.status_code == 404, (path, r.text)
        assert "hector" not in r.text and "due_at" not in r.text
    counts = (await s.reporting.get("/reports/case-counts", headers=other)).json()
    assert counts["tenant"] == OTHER
    r = await s.reporting.get("/reports/case-counts", params={"tenant": TENANT}, headers=other)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "tenant", r.text
    r = await s.reporting.get("/reports/priority-changes", params={"tenant": TENANT}, headers=other)
    assert r.status_code == 422
    r = await s.reporting.get("/reports/case-counts", params={"tenant": OTHER}, headers=other)
    assert r.status_code == 200 and r.json()["tenant"] == OTHER


async def test_a_token_revoked_by_logout_stops_on_every_service(rabbit_system: System) -> None:
    s = rabbit_system
    case_id = await case_known_everywhere(s)
    mine = await login(s, "ejecutivo")
    await eventually_status(s, case_id, mine, 200)
    # intake's logout emits user.session_revoked.v1; the other services' copies take it from there.
    assert (await s.intake.post("/auth/logout", headers=mine)).status_code == 204
    await eventually_status(s, case_id, mine, 401)
    r = await s.reporting.get("/reports/case-counts", headers=mine)
    assert r.json()["detail"] == "El token fue revocado; inicie sesión de nuevo."
    await eventually_status(s, case_id, await login(s, "ejecutivo"), 200)  # a new session works


async def test_a_deactivated_users_token_stops_on_every_service(rabbit_system: System) -> None:
    s = rabbit_system
    case_id = await case_known_everywhere(s)
    theirs = await login(s, "lectura")
    await eventually_status(s, case_id, theirs, 200)  # R4.4: viewers read
    r = await s.intake.patch(f"/users/{await user_id(s, 'lectura')}", json={"active": False}, headers=await s.auth())
    assert r.status_code == 200, r.text
    await eventually_status(s, case_id, theirs, 401)
    r = await s.clients["workflow"].get(f"/deadlines/{case_id}", headers=theirs)
    assert r.json()["detail"] == "El usuario está desactivado."


async def test_r4_4_a_demoted_user_loses_the_old_roles_on_reporting(rabbit_system: System) -> None:
    """The roles are the copy's (from user.upserted.v1), not the token's."""
    s = rabbit_system
    sup = await login(s, "supervisora")
    assert (await s.reporting.get("/reports/priority-changes", headers=sup)).status_code == 200
    r = await s.intake.patch(f"/users/{await user_id(s, 'supervisora')}", json={"roles": ["viewer"]},
                             headers=await s.auth())
    assert r.status_code == 200, r.text

    async def refused() -> bool:
        return (await s.reporting.get("/reports/priority-changes", headers=sup)).status_code == 403

    await wait_for(refused, 15, "the old supervisor role refused on reporting")
    assert (await s.reporting.get("/reports/case-counts", headers=sup)).status_code == 200  # still reads

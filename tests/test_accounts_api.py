"""Issue 9's holes in accounts and the catalog, through intake's API: list filters before the page
is cut, roles as a set (R4.4), logout reaching the other services (user.session_revoked.v1),
user.upserted.v1 on deactivation and role change, the /docs Authorize form (R4.1 logins), the
OpenAPI security schemes, NUL and lone surrogates refused, explicit nulls in catalog PATCH
bodies refused field by field (R4.2), and the catalog data triage and case creation read
(a type's follow-up kind R3.1/R3.5 and its required interaction R2.3; a project's business
line R3.5)."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from sqlalchemy import select

from services.intake.adapters.db import outbox
from services.intake.seed import DEMO_PASSWORD
from tests.support.system import TENANT, System, demo

pytestmark = pytest.mark.integration


async def events(system: System, event_type: str) -> list[dict[str, Any]]:
    """The envelopes of that type intake wrote to its outbox, oldest first."""
    async with system.rt["intake"].db.engine.connect() as conn:
        rows = (await conn.execute(select(outbox.c.body).where(outbox.c.type == event_type)
                                   .order_by(outbox.c.id))).all()
    return [json.loads(r.body) for r in rows]


def errors_by_field(r: Any) -> dict[str, str]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return {e["field"]: e["code"] for e in r.json()["errors"]}


async def user_ids(system: System) -> dict[str, str]:
    r = await system.intake.get("/users", params={"limit": 200}, headers=await system.auth("admin"))
    return {u["email"]: u["id"] for u in r.json()["items"]}


# -- lists ------------------------------------------------------------------------------------
async def test_r4_4_user_list_filters_apply_before_the_page_is_cut(rabbit_system: System) -> None:
    """``GET /users?role=viewer&limit=1`` answered ``[]`` while a viewer existed: the role was
    filtered after the page was cut. Now every filter is in the query."""
    c, h = rabbit_system.intake, await rabbit_system.auth("admin")
    r = await c.get("/users", params={"role": "viewer", "limit": 1}, headers=h)
    assert r.status_code == 200, r.text
    assert [u["email"] for u in r.json()["items"]] == [demo("lectura")]
    managers = (await c.get("/users", params={"role": "technical_manager", "limit": 1}, headers=h)).json()
    assert [u["email"] for u in managers["items"]] == [demo("gerencia.tecnica")] and managers["next_cursor"] is None
    # Paging through every user two at a time gives each once, in e-mail order.
    seen: list[str] = []
    cursor = None
    while True:
        page = (await c.get("/users", params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                            headers=h)).json()
        seen += [u["email"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) and len(seen) >= 6
    executors = (await c.get("/users", params={"role": "executor", "limit": 1}, headers=h)).json()
    rest = (await c.get("/users", params={"role": "executor", "cursor": executors["next_cursor"]},
                        headers=h)).json()
    assert {u["email"] for u in executors["items"] + rest["items"]} == {
        demo("ejecutiva"), demo("ejecutivo"), demo("gerencia.tecnica")}
    r = await c.get("/users", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=h)
    assert errors_by_field(r) == {"cursor": "invalid_cursor"}


async def test_api_keys_are_listed_in_pages(rabbit_system: System) -> None:
    c, h = rabbit_system.intake, await rabbit_system.auth("admin")
    made = [(await c.post("/api-keys", json={"name": f"clave {i}"}, headers=h)).json()["id"] for i in range(3)]
    first = (await c.get("/api-keys", params={"limit": 2}, headers=h)).json()
    second = (await c.get("/api-keys", params={"limit": 2, "cursor": first["next_cursor"]}, headers=h)).json()
    assert [k["id"] for k in first["items"] + second["items"]] == made and second["next_cursor"] is None


# -- roles are a set (R4.4) ---------------------------------------------------------------------
async def test_r4_4_a_users_roles_are_a_set(rabbit_system: System) -> None:
    c, h = rabbit_system.intake, await rabbit_system.auth("admin")
    r = await c.post("/users", headers=h, json={"email": "doble@example.cl", "name": "Doble",
                                                "roles": ["executor", "executor", "viewer", "executor"],
                                                "projects": ["edificio-los-robles", "edificio-los-robles"]})
    assert r.status_code == 201, r.text
    assert r.json()["roles"] == ["executor", "viewer"] and r.json()["projects"] == ["edificio-los-robles"]
    uid = r.json()["id"]
    r = await c.patch(f"/users/{uid}", json={"roles": ["viewer", "viewer"],
                                             "escalation_subscriptions": ["case_overdue", "case_overdue"]}, headers=h)
    assert r.status_code == 200 and r.json()["roles"] == ["viewer"] and r.json()["escalation_subscriptions"] == ["case_overdue"]
    assert (await c.get(f"/users/{uid}", headers=h)).json()["roles"] == ["viewer"]
    sent = [e["data"] for e in await events(rabbit_system, "user.upserted.v1") if e["data"]["user_id"] == uid]
    assert [d["roles"] for d in sent] == [["executor", "viewer"], ["viewer"]]


# -- sessions ---------------------------------------------------------------------------------
async def test_logout_emits_session_revoked_so_other_services_stop_accepting_the_token(rabbit_system: System
                                                                                        ) -> None:
    c = rabbit_system.intake
    login = await c.post("/auth/token", data={"username": demo("supervisora"), "password": DEMO_PASSWORD,
                                              "tenant": TENANT})
    token = login.json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    auth = {"Authorization": f"Bearer {token}"}
    assert (await c.post("/auth/logout", headers=auth)).status_code == 204
    sent = await events(rabbit_system, "user.session_revoked.v1")
    assert len(sent) == 1 and sent[0]["tenant"] == TENANT and sent[0]["subject"] == claims["sub"]
    data = sent[0]["data"]
    assert data["user_id"] == claims["sub"] and data["token_id"] == claims["jti"]
    assert abs(int(jwt.decode(token, options={"verify_signature": False})["exp"])
               - _epoch(data["expires_at"])) <= 1 and data["at"]
    assert (await c.post("/auth/logout", headers=auth)).status_code == 401  # revoked: no second event
    assert len(await events(rabbit_system, "user.session_revoked.v1")) == 1


def _epoch(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso).timestamp())


async def test_deactivation_and_role_change_emit_user_upserted(rabbit_system: System) -> None:
    """Other services apply a deactivation or a demotion from user.upserted.v1 (R4.4)."""
    c, h = rabbit_system.intake, await rabbit_system.auth("admin")
    uid = (await user_ids(rabbit_system))[demo("supervisora")]
    assert (await c.patch(f"/users/{uid}", json={"roles": ["viewer"]}, headers=h)).status_code == 200
    assert (await c.patch(f"/users/{uid}", json={"active": False}, headers=h)).status_code == 200
    sent = [e["data"] for e in await events(rabbit_system, "user.upserted.v1") if e["data"]["user_id"] == uid]
    assert [(d["roles"], d["active"]) for d in sent][-2:] == [(["viewer"], True), (["viewer"], False)]


async def test_r4_1_login_through_the_docs_authorize_form_gives_the_tenant_as_client_id(rabbit_system: System
                                                                                         ) -> None:
    """The /docs Authorize dialog (OAuth2 password flow) has no ``tenant`` field: it sends the
    tenant as ``client_id``, in the form or in an ``Authorization: Basic`` header."""
    c = rabbit_system.intake
    form = {"username": demo("ejecutiva"), "password": DEMO_PASSWORD, "grant_type": "password"}
    r = await c.post("/auth/token", data={**form, "client_id": TENANT})
    assert r.status_code == 200, r.text
    basic = base64.b64encode(f"{TENANT}:".encode()).decode()
    r = await c.post("/auth/token", data=form, headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 200, r.text
    me = (await c.get("/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})).json()
    assert me["tenant"] == TENANT and me["email"] == demo("ejecutiva")
    assert errors_by_field(await c.post("/auth/token", data=form)) == {"tenant": "missing"}
    r = await c.post("/auth/token", data={**form, "client_id": "gas-demo"})  # the wrong tenant: the usual 401
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


async def test_openapi_has_an_authorize_button_and_documents_refusals(rabbit_system: System) -> None:
    doc = (await rabbit_system.intake.get("/openapi.json")).json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["OAuth2Password"]["flows"]["password"]["tokenUrl"] == "/auth/token"
    assert schemes["ApiKey"] == {**schemes["ApiKey"], "type": "apiKey", "in": "header", "name": "X-API-Key"}
    me = doc["paths"]["/auth/me"]["get"]
    assert {"OAuth2Password": []} in me["security"] and {"ApiKey": []} in me["security"]
    logout = doc["paths"]["/auth/logout"]["post"]["responses"]
    assert "content" not in logout["204"] and "application/problem+json" in logout["401"]["content"]
    patch = doc["paths"]["/catalog/case-types/{code}"]["patch"]
    assert {"401", "403", "404", "422"} <= set(patch["responses"])
    for name in ("UserIn", "UserPatch", "ApiKeyIn", "TenantIn", "PasswordSetupIn", "EntryIn", "ProjectIn",
                 "CategoryIn", "CaseTypeIn", "CaseTypePatch", "CalendarIn"):
        assert "example" in doc["components"]["schemas"][name], name
    token_form = doc["paths"]["/auth/token"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    form_schema = doc["components"]["schemas"][token_form["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert "tenant" in form_schema["properties"] and "client_id" in form_schema["properties"]


# -- bad text and explicit nulls (never a 500) ----------------------------------------------------
async def test_nul_bytes_and_lone_surrogates_are_422_naming_the_field(rabbit_system: System) -> None:
    c, h = rabbit_system.intake, await rabbit_system.auth("admin")
    r = await c.post("/users", headers=h, json={"email": "nul@example.cl", "name": "Nu\x00l", "roles": ["viewer"]})
    assert errors_by_field(r) == {"name": "unsafe_text"}
    raw = '{"code": "fax", "name_es": "F\\ud800x"}'  # a lone surrogate, as JSON allows it
    r = await c.post("/catalog/channels", content=raw, headers={**h, "Content-Type": "application/json"})
    assert errors_by_field(r) in ({"name_es": "unsafe_text"}, {"name_es": "string_unicode"})  # JSON parser's own
    r = await c.patch("/catalog/case-types/consulta-general", json={"name_es": "a\x00b"}, headers=h)
    assert errors_by_field(r) == {"name_es": "unsafe_text"}
    r = await c.put("/calendar", json={"country": "CL", "timezone": "America/Santiago",
                                       "extra_closed_days": [{"date": "2026-12-07", "name": "x\x00"}]}, headers=h)
    assert errors_by_field(r) == {"extra_closed_days.0.name": "unsafe_text"}
    r = await c.post("/auth/token", data={"username": "a\x00@example.cl", "password": "x", "tenant": TENANT})
    assert errors_by_field(r) == {"username": "unsafe_text"}
    r = await c.post("/api-keys", json={"name": "k\x00"}, headers=h)
    assert errors_by_field(r) == {"name": "unsafe_text"}


async def test_r4_2_explicit_nulls_in_catalog_patch_bodies_are_422_per_field(rabbit_system: System) -> None:
    """An explicit null would clear what a catalog entry must have: each such field is refused
    on its own (``null_not_allowed``), nothing changes, no event. Nulls that mean something
    (no head, every project, no business line) still work."""
    s, c, h = rabbit_system, rabbit_system.intake, await rabbit_system.auth("admin")
    before = len(await events(s, "catalog.case_type_changed.v1"))
    r = await c.patch("/catalog/channels/telefono", json={"name_es": None, "name_en": None, "active": None}, headers=h)
    assert errors_by_field(r) == {"name_es": "null_not_allowed", "name_en": "null_not_allowed",
                                  "active": "null_not_allowed"}
    r = await c.patch("/catalog/case-types/consulta-general", headers=h, json={
        "deadline": None, "pinned": None, "required_fields": None, "is_follow_up": None,
        "requires_attachments_to_finish": None, "requires_interaction": None, "active": None})
    assert set(errors_by_field(r)) == {"deadline", "pinned", "required_fields", "is_follow_up",
                                       "requires_attachments_to_finish", "requires_interaction", "active"}
    assert set(errors_by_field(r).values()) == {"null_not_allowed"}
    node = (await c.get("/catalog/categories", headers=h)).json()[0]
    r = await c.patch(f"/catalog/categories/{node['id']}", json={"active": None, "name_es": None}, headers=h)
    assert errors_by_field(r) == {"active": "null_not_allowed", "name_es": "null_not_allowed"}
    assert len(await events(s, "catalog.case_type_changed.v1")) == before
    assert (await c.get("/catalog/channels/telefono", headers=h)).json()["version"] == 1
    r = await c.patch("/catalog/case-types/consulta-general", json={"projects": None, "follow_up_kind": None},
                      headers=h)
    assert r.status_code == 200 and r.json()["projects"] is None


# -- catalog data for triage and case creation (R2.3, R3.1, R3.5) -------------------------------
async def test_r3_5_a_follow_up_types_kind_and_r2_3_required_interaction_are_catalog_data(rabbit_system: System
                                                                                          ) -> None:
    s, c, h = rabbit_system, rabbit_system.intake, await rabbit_system.auth("admin")
    body = {"code": "fuera-de-plazo", "name_es": "Respuesta fuera de plazo", "deadline": {"amount": 2},
            "is_follow_up": True, "follow_up_kind": "late_response", "requires_interaction": True}
    r = await c.post("/catalog/case-types", json=body, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["follow_up_kind"] == "late_response" and r.json()["requires_interaction"] is True
    sent = [e["data"] for e in await events(s, "catalog.case_type_changed.v1") if e["data"]["code"] == "fuera-de-plazo"]
    assert [(d["follow_up_kind"], d["requires_interaction"]) for d in sent] == [("late_response", True)]
    # Only a follow-up type has a kind; the kind is one of triage's.
    r = await c.post("/catalog/case-types", json={**body, "code": "otro", "is_follow_up": False}, headers=h)
    assert errors_by_field(r) == {"follow_up_kind": "not_a_follow_up"}
    r = await c.post("/catalog/case-types", json={**body, "code": "otro", "follow_up_kind": "tardanza"}, headers=h)
    assert errors_by_field(r) == {"follow_up_kind": "literal_error"}
    r = await c.patch("/catalog/case-types/fuera-de-plazo", json={"is_follow_up": False}, headers=h)
    assert errors_by_field(r) == {"follow_up_kind": "not_a_follow_up"}  # checked on the type as it would be
    r = await c.patch("/catalog/case-types/fuera-de-plazo", json={"is_follow_up": False, "follow_up_kind": None,
                                                                  "requires_interaction": False}, headers=h)
    assert r.status_code == 200, r.text
    assert (r.json()["is_follow_up"], r.json()["follow_up_kind"], r.json()["requires_interaction"]) == (
        False, None, False)
    last = [e["data"] for e in await events(s, "catalog.case_type_changed.v1")
            if e["data"]["code"] == "fuera-de-plazo"][-1]
    assert (last["version"], last["follow_up_kind"], last["requires_interaction"]) == (2, None, False)


async def test_r3_5_a_projects_business_line_is_catalog_data(rabbit_system: System) -> None:
    s, c, h = rabbit_system, rabbit_system.intake, await rabbit_system.auth("admin")
    r = await c.post("/catalog/projects", json={"code": "gas-granel", "name_es": "Gas granel",
                                                "business_line": "bulk"}, headers=h)
    assert r.status_code == 201 and r.json()["business_line"] == "bulk"
    r = await c.post("/catalog/projects", json={"code": "otro", "name_es": "Otro", "business_line": "gas"}, headers=h)
    assert errors_by_field(r) == {"business_line": "literal_error"}
    r = await c.patch("/catalog/projects/gas-granel", json={"business_line": None}, headers=h)
    assert r.status_code == 200 and r.json()["business_line"] is None
    sent = [e["data"] for e in await events(s, "catalog.project_changed.v1") if e["data"]["code"] == "gas-granel"]
    assert [(d["version"], d["business_line"]) for d in sent] == [(1, "bulk"), (2, None)]
    listed = {p["code"]: p for p in (await c.get("/catalog/projects", headers=h)).json()}
    assert listed["gas-granel"]["business_line"] is None and "business_line" in listed["edificio-los-robles"]


async def test_r4_4_user_role_filter_before_paging_in_embedded_mode(embedded_system: System) -> None:
    """The same filter on SQLite (embedded mode), where roles are matched with ``json_each``."""
    c, h = embedded_system.intake, await embedded_system.auth("admin")
    r = await c.get("/users", params={"role": "viewer", "limit": 1}, headers=h)
    assert r.status_code == 200, r.text
    assert [u["email"] for u in r.json()["items"]] == [demo("lectura")]

"""Authentication and authorization through intake's API: logins, lockout, expiry, revocation,
invitations by e-mail (R4.1), API keys, the platform operator, and the R4.4 matrix of roles ×
actions × own/other case × same/other tenant. Denials are tested as much as grants."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from services.intake.adapters.db import outbox
from services.intake.seed import DEMO_PASSWORD
from shared.auth import issue_token
from shared.db import utcnow
from tests.conftest import TOKEN_SECRET
from tests.support.smtp_sink import SmtpSink
from tests.support.system import CASE, TENANT, System, case_body, demo, wait_for

pytestmark = pytest.mark.integration


async def login(system: System, email: str, password: str = DEMO_PASSWORD, tenant: str = TENANT) -> Any:
    return await system.intake.post("/auth/token", data={"username": email, "password": password, "tenant": tenant})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- logins and tokens --------------------------------------------------------------------------
async def test_login_returns_a_token_that_identifies_user_and_tenant(rabbit_system: System) -> None:
    r = await login(rabbit_system, demo("ejecutiva"))
    assert r.status_code == 200 and r.json()["token_type"] == "bearer" and r.json()["expires_in"] == 8 * 3600
    me = (await rabbit_system.intake.get("/auth/me", headers=bearer(r.json()["access_token"]))).json()
    assert me["tenant"] == TENANT and me["email"] == demo("ejecutiva") and me["roles"] == ["executor"]
    assert me["projects"] == ["edificio-los-robles"]


async def test_wrong_password_unknown_user_and_wrong_tenant_all_get_the_same_401(rabbit_system: System) -> None:
    answers = [await login(rabbit_system, demo("ejecutiva"), "not-the-password"),
               await login(rabbit_system, "nobody@example.cl"),
               await login(rabbit_system, demo("ejecutiva"), tenant="gas-demo")]
    assert {r.status_code for r in answers} == {401}
    assert len({r.json()["detail"] for r in answers}) == 1  # nothing tells which part was wrong
    assert answers[0].headers["www-authenticate"] == "Bearer"


async def test_repeated_failed_logins_lock_the_account(rabbit_system: System) -> None:
    for _ in range(5):
        assert (await login(rabbit_system, demo("ejecutivo"), "wrong-password")).status_code == 401
    locked = await login(rabbit_system, demo("ejecutivo"))  # even the right password, while locked
    assert locked.status_code == 429 and locked.json()["type"].endswith("/login-locked")
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    assert (await login(rabbit_system, demo("ejecutiva"))).status_code == 200  # others unaffected


async def test_missing_malformed_forged_and_expired_tokens_are_401(rabbit_system: System) -> None:
    c = rabbit_system.intake
    assert (await c.get("/auth/me")).status_code == 401
    assert (await c.get("/auth/me", headers={"Authorization": "Basic abc"})).status_code == 401
    assert (await c.get("/auth/me", headers=bearer("not.a.jwt"))).status_code == 401
    me = (await c.get("/auth/me", headers=await rabbit_system.auth("ejecutiva"))).json()
    forged = issue_token("another-secret-0123456789-0123456789-xx", user_id=uuid.UUID(me["user_id"]),
                         tenant=TENANT, roles=["admin"], jti="x" * 20, now=utcnow(), ttl=timedelta(hours=1))
    assert (await c.get("/auth/me", headers=bearer(forged))).status_code == 401
    expired = issue_token(TOKEN_SECRET, user_id=uuid.UUID(me["user_id"]), tenant=TENANT, roles=["executor"],
                          jti="y" * 20, now=utcnow() - timedelta(hours=9), ttl=timedelta(hours=8))
    r = await c.get("/auth/me", headers=bearer(expired))
    assert r.status_code == 401 and r.json()["detail"] == "La sesión expiró; inicie sesión de nuevo."
    # A well-signed token that intake never issued (no row) is refused too.
    unknown = issue_token(TOKEN_SECRET, user_id=uuid.UUID(me["user_id"]), tenant=TENANT, roles=["admin"],
                          jti="z" * 20, now=utcnow(), ttl=timedelta(hours=1))
    assert (await c.get("/auth/me", headers=bearer(unknown))).status_code == 401


async def test_logout_revokes_the_token_at_once(rabbit_system: System) -> None:
    token = (await login(rabbit_system, demo("supervisora"))).json()["access_token"]
    assert (await rabbit_system.intake.post("/auth/logout", headers=bearer(token))).status_code == 204
    r = await rabbit_system.intake.get("/auth/me", headers=bearer(token))
    assert r.status_code == 401 and "revocado" in r.json()["detail"]


async def test_deactivating_a_user_ends_their_sessions_and_assignments(rabbit_system: System) -> None:
    c = rabbit_system.intake
    token = (await login(rabbit_system, demo("ejecutivo"))).json()["access_token"]
    admin = await rabbit_system.auth("admin")
    users = {u["email"]: u for u in (await c.get("/users", headers=admin)).json()["items"]}
    uid = users[demo("ejecutivo")]["id"]
    r = await c.patch(f"/users/{uid}", json={"active": False}, headers=admin)
    assert r.status_code == 200 and r.json()["active"] is False
    assert (await c.get("/auth/me", headers=bearer(token))).status_code == 401
    assert (await login(rabbit_system, demo("ejecutivo"))).status_code == 401
    r = await c.post("/cases", json=case_body(1, responsible_email=demo("ejecutivo")), headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "unknown_responsible"


# -- invitations (R4.1) -------------------------------------------------------------------------
async def test_r4_1_new_user_gets_a_one_time_link_by_email_never_a_password(rabbit_system: System,
                                                                            smtp_sink: SmtpSink) -> None:
    c = rabbit_system.intake
    admin = await rabbit_system.auth("admin")
    r = await c.post("/users", headers=admin, json={
        "email": "Nueva.Ejecutiva@Example.cl", "name": "Nueva Ejecutiva", "roles": ["executor"],
        "projects": ["edificio-los-robles"], "mobile": "+56911112222"})
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["email"] == "nueva.ejecutiva@example.cl" and user["has_password"] is False

    def invitation() -> Any:
        return next((m for m in smtp_sink.messages if m.message["X-Atiende-Template"] == "user_invited"), None)

    await wait_for(lambda: invitation() is not None, 20, "the invitation e-mail")
    mail = invitation()
    assert mail.to == ["nueva.ejecutiva@example.cl"]
    body = mail.message.get_body(("plain",)).get_content()
    assert "Inmobiliaria Demo" in mail.message["Subject"] and "contraseña" in body
    token = re.search(r"password-setup\?token=([A-Za-z0-9_\-]+)", body).group(1)

    weak = await c.post("/auth/password-setup", json={"token": token, "password": "corta"})
    assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "password"
    assert (await c.post("/auth/password-setup", json={"token": token, "password": "una-clave-bien-larga"})
            ).status_code == 204
    again = await c.post("/auth/password-setup", json={"token": token, "password": "otra-clave-bien-larga"})
    assert again.status_code == 422 and again.json()["errors"][0]["code"] == "invalid_setup_token"
    assert (await login(rabbit_system, "nueva.ejecutiva@example.cl", "una-clave-bien-larga")).status_code == 200


async def test_resending_an_invitation_voids_the_earlier_link(rabbit_system: System, smtp_sink: SmtpSink) -> None:
    c = rabbit_system.intake
    admin = await rabbit_system.auth("admin")
    uid = (await c.post("/users", headers=admin, json={"email": "otra@example.cl", "name": "Otra",
                                                      "roles": ["viewer"]})).json()["id"]

    def links() -> list[str]:
        return [re.search(r"token=([A-Za-z0-9_\-]+)", m.message.get_body(("plain",)).get_content()).group(1) for m in smtp_sink.messages
                if m.message["X-Atiende-Template"] == "user_invited" and m.to == ["otra@example.cl"]]

    await wait_for(lambda: len(links()) == 1, 20, "the first invitation e-mail")
    [first] = links()
    assert (await c.post(f"/users/{uid}/invitation", headers=admin)).status_code == 202
    await wait_for(lambda: len(links()) == 2, 20, "the second invitation e-mail")
    [second] = [t for t in links() if t != first]
    assert (await c.post("/auth/password-setup", json={"token": first, "password": "una-clave-bien-larga"})
            ).status_code == 422
    assert (await c.post("/auth/password-setup", json={"token": second, "password": "una-clave-bien-larga"})
            ).status_code == 204


async def test_user_admin_validation_and_denials(rabbit_system: System) -> None:
    c = rabbit_system.intake
    admin = await rabbit_system.auth("admin")
    users = {u["email"]: u for u in (await c.get("/users", headers=admin)).json()["items"]}
    me_id = users[demo("admin")]["id"]
    # Field by field.
    r = await c.post("/users", headers=admin, json={"email": "x", "name": "", "roles": ["root"], "mobile": "123"})
    assert {e["field"] for e in r.json()["errors"]} == {"email", "name", "roles.0", "mobile"}
    r = await c.post("/users", headers=admin, json={"email": demo("ejecutiva"), "name": "Dup", "roles": ["viewer"]})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "duplicate_email"
    r = await c.post("/users", headers=admin, json={"email": "z@example.cl", "name": "Z", "roles": ["viewer"],
                                                    "manager_id": str(uuid.uuid4())})
    assert r.json()["errors"][0]["code"] == "unknown_manager"
    # The management line may not loop.
    sup = users[demo("supervisora")]["id"]
    exe = users[demo("ejecutiva")]["id"]
    assert (await c.patch(f"/users/{exe}", json={"manager_id": sup}, headers=admin)).status_code == 200
    r = await c.patch(f"/users/{sup}", json={"manager_id": exe}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "manager_cycle"
    r = await c.patch(f"/users/{me_id}", json={"roles": ["viewer"]}, headers=admin)
    assert r.json()["errors"][0]["code"] == "self_lockout"
    # Denials: non-admins do not administer; another tenant's user is not found.
    for who in ("supervisora", "ejecutiva", "lectura", "gerencia.tecnica"):
        h = await rabbit_system.auth(who)
        assert (await c.post("/users", headers=h, json={"email": "n@example.cl", "name": "N", "roles": ["viewer"]})
                ).status_code == 403
        assert (await c.patch(f"/users/{exe}", json={"name": "X"}, headers=h)).status_code == 403
        assert (await c.get("/users", headers=h)).status_code == 200  # everyone may pick a responsible
    gas_admin = await rabbit_system.auth("admin", "gas-demo")
    assert (await c.get(f"/users/{exe}", headers=gas_admin)).status_code == 404
    assert (await c.patch(f"/users/{exe}", json={"name": "X"}, headers=gas_admin)).status_code == 404
    assert all(u["email"].endswith("gas-demo.atiende.cl") for u in (await c.get("/users", headers=gas_admin)).json()["items"])


# -- the projects of a profile (R4.4) ------------------------------------------------------------
async def user_events(system: System) -> int:
    """How many user.upserted.v1 / user.invited.v1 events intake has written to its outbox."""
    async with system.rt["intake"].db.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(outbox).where(
            outbox.c.type.in_(["user.upserted.v1", "user.invited.v1"])))).scalar_one())


async def test_r4_4_a_new_users_projects_must_be_projects_of_the_callers_tenant(rabbit_system: System,
                                                                               smtp_sink: SmtpSink) -> None:
    """R4.4: a typo (or another tenant's project) in ``projects`` is refused field by field, with
    nothing stored, no event and no invitation; valid codes are kept, repeats dropped, and the
    executor then creates cases in that project and not in another."""
    c = rabbit_system.intake
    admin = await rabbit_system.auth("admin")
    new = {"email": "typo@example.cl", "name": "Con Error", "roles": ["executor"]}
    before = await user_events(rabbit_system)
    r = await c.post("/users", headers=admin, json={**new, "projects": ["edificio-los-robles", "edifcio-los-robles"]})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    [err] = r.json()["errors"]
    assert err == {"pointer": "#/body/projects/1", "field": "projects.1", "code": "unknown_project",
                   "message": "No existe un proyecto con ese código en este cliente."}
    r = await c.post("/users", headers={**admin, "Accept-Language": "en"},
                     json={**new, "projects": ["nope", "edificio-los-robles", "also-nope", "nope"]})
    assert r.status_code == 422 and r.json()["detail"] == "2 field(s) with errors; nothing was stored."
    assert [(e["field"], e["message"]) for e in r.json()["errors"]] == [  # one error per bad code
        ("projects.0", "This tenant has no project with that code."),
        ("projects.2", "This tenant has no project with that code.")]
    # gas-demo has a project "medidor"; it is not inmobiliaria-demo's.
    r = await c.post("/users", headers=admin, json={**new, "projects": ["medidor"]})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "unknown_project"
    assert r.json()["errors"][0]["pointer"] == "#/body/projects/0"
    # An inactive project is refused for a new user.
    assert (await c.patch("/catalog/projects/condominio-el-mirador", json={"active": False}, headers=admin)
            ).status_code == 200
    r = await c.post("/users", headers=admin, json={**new, "projects": ["condominio-el-mirador"]})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "inactive_project"
    assert (await c.patch("/catalog/projects/condominio-el-mirador", json={"active": True}, headers=admin)
            ).status_code == 200
    assert "typo@example.cl" not in {u["email"] for u in (await c.get("/users", headers=admin)).json()["items"]}
    assert await user_events(rabbit_system) == before  # no user.upserted.v1, no user.invited.v1

    # Valid codes: created, a repeated code kept once (in order).
    r = await c.post("/users", headers=admin, json={
        "email": "mirador@example.cl", "name": "Ejecutiva Mirador", "roles": ["executor"],
        "projects": ["condominio-el-mirador", "condominio-el-mirador"]})
    assert r.status_code == 201, r.text
    assert r.json()["projects"] == ["condominio-el-mirador"]
    await wait_for(lambda: any(m.to == ["mirador@example.cl"] for m in smtp_sink.messages), 20, "the invitation")
    assert not any(m.to == ["typo@example.cl"] for m in smtp_sink.messages)
    mail = next(m for m in smtp_sink.messages if m.to == ["mirador@example.cl"])
    token = re.search(r"password-setup\?token=([A-Za-z0-9_\-]+)", mail.message.get_body(("plain",)).get_content()).group(1)
    assert (await c.post("/auth/password-setup", json={"token": token, "password": "una-clave-bien-larga"})
            ).status_code == 204
    h = bearer((await login(rabbit_system, "mirador@example.cl", "una-clave-bien-larga")).json()["access_token"])
    assert (await c.post("/cases", json=case_body(1, project="condominio-el-mirador"), headers=h)).status_code == 201
    assert (await c.post("/cases", json=case_body(2, project="edificio-los-robles"), headers=h)).status_code == 403


async def test_r4_4_changing_a_users_projects_checks_them_against_the_catalog(rabbit_system: System) -> None:
    """R4.4 on PATCH /users/{id}: an unknown or other-tenant code is refused and the profile's
    projects stay as they were (no event); an inactive project may stay where already assigned
    but is not newly given."""
    c = rabbit_system.intake
    admin = await rabbit_system.auth("admin")
    ids = {u["email"]: u["id"] for u in (await c.get("/users", headers=admin)).json()["items"]}
    exe, other = ids[demo("ejecutiva")], ids[demo("ejecutivo")]  # edificio-los-robles / condominio-el-mirador
    before = await user_events(rabbit_system)
    r = await c.patch(f"/users/{exe}", headers={**admin, "Accept-Language": "en"},
                      json={"name": "Renombrada", "projects": ["edificio-los-robles", "los-robles"]})
    assert r.status_code == 422
    assert [(e["pointer"], e["code"], e["message"]) for e in r.json()["errors"]] == [
        ("#/body/projects/1", "unknown_project", "This tenant has no project with that code.")]
    r = await c.patch(f"/users/{exe}", headers=admin, json={"projects": ["granel"]})  # gas-demo's
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "projects.0"
    r = await c.patch(f"/users/{exe}", headers=admin, json={"projects": None})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "null_not_allowed"
    # Explicit nulls for what a user must have are refused field by field (absent = keep).
    r = await c.patch(f"/users/{exe}", headers={**admin, "Accept-Language": "en"},
                      json={"name": None, "roles": None, "escalation_subscriptions": None, "active": None})
    assert r.status_code == 422
    assert sorted((e["pointer"], e["code"]) for e in r.json()["errors"]) == [
        ("#/body/active", "null_not_allowed"), ("#/body/escalation_subscriptions", "null_not_allowed"),
        ("#/body/name", "null_not_allowed"), ("#/body/roles", "null_not_allowed")]
    assert r.json()["errors"][0]["message"] == "This field cannot be null; leave it out to keep it unchanged."
    got = (await c.get(f"/users/{exe}", headers=admin)).json()
    assert got["projects"] == ["edificio-los-robles"] and got["name"] == "Ejecutiva Demo"
    assert await user_events(rabbit_system) == before
    # Another tenant's admin cannot probe this user through the projects check either.
    gas_admin = await rabbit_system.auth("admin", "gas-demo")
    assert (await c.patch(f"/users/{exe}", json={"projects": ["medidor"]}, headers=gas_admin)).status_code == 404

    assert (await c.patch("/catalog/projects/condominio-el-mirador", json={"active": False}, headers=admin)
            ).status_code == 200
    r = await c.patch(f"/users/{exe}", headers=admin, json={"projects": ["edificio-los-robles", "condominio-el-mirador"]})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "inactive_project"
    assert r.json()["errors"][0]["pointer"] == "#/body/projects/1"
    r = await c.patch(f"/users/{other}", headers=admin,  # already had it: it may stay
                      json={"projects": ["condominio-el-mirador", "edificio-los-robles", "edificio-los-robles"]})
    assert r.status_code == 200 and r.json()["projects"] == ["condominio-el-mirador", "edificio-los-robles"]


# -- API keys -----------------------------------------------------------------------------------
async def test_api_keys_are_shown_once_work_and_can_be_revoked(rabbit_system: System) -> None:
    c = rabbit_system.intake
    admin = await rabbit_system.auth("admin")
    r = await c.post("/api-keys", json={"name": "Importador CRM"}, headers=admin)
    assert r.status_code == 201
    key = r.json()["key"]
    assert key.startswith("atk_") and r.json()["prefix"] == key[:10]
    listed = (await c.get("/api-keys", headers=admin)).json()["items"]
    assert listed[0]["prefix"] == key[:10] and "key" not in listed[0]
    created = await c.post("/cases", json=CASE, headers={"X-API-Key": key})
    assert created.status_code == 201
    assert (await c.get(f"/cases/{created.json()['id']}", headers={"X-API-Key": key})).status_code == 200
    assert (await c.get("/users", headers={"X-API-Key": key})).status_code == 200
    assert (await c.post("/api-keys", json={"name": "x"}, headers={"X-API-Key": key})).status_code == 403
    assert (await c.delete(f"/api-keys/{r.json()['id']}", headers=admin)).status_code == 204
    revoked = await c.post("/cases", json=CASE, headers={"X-API-Key": key})
    assert revoked.status_code == 401 and "revocada" in revoked.json()["detail"]
    assert (await c.post("/cases", json=CASE, headers={"X-API-Key": "atk_made_up"})).status_code == 401
    for who in ("supervisora", "ejecutiva", "lectura"):
        assert (await c.post("/api-keys", json={"name": "x"}, headers=await rabbit_system.auth(who))).status_code == 403
    gas_admin = await rabbit_system.auth("admin", "gas-demo")
    assert (await c.delete(f"/api-keys/{r.json()['id']}", headers=gas_admin)).status_code == 404


# -- tenants ------------------------------------------------------------------------------------
async def test_operator_creates_tenants_only_with_the_operator_token(rabbit_settings, smtp_sink: SmtpSink) -> None:  # type: ignore[no-untyped-def]
    settings = rabbit_settings.model_copy(update={"operator_token": "op-secret-for-tests-0123456789abcdef"})
    system = await System(settings, services=("intake", "notifier")).start()
    try:
        body = {"slug": "gas-sur", "name": "Gas del Sur", "country": "cl", "timezone": "America/Santiago",
                "admin_email": "jefa@gassur.cl", "admin_name": "Jefa de Servicio"}
        c = system.intake
        assert (await c.post("/operator/tenants", json=body)).status_code == 403
        assert (await c.post("/operator/tenants", json=body, headers={"X-Operator-Token": "nope"})).status_code == 403
        bad = await c.post("/operator/tenants", headers={"X-Operator-Token": "op-secret-for-tests-0123456789abcdef"},
                           json={**body, "country": "XX", "timezone": "Mars/Olympus"})
        assert {e["field"] for e in bad.json()["errors"]} == {"country", "timezone"}
        r = await c.post("/operator/tenants", json=body, headers={"X-Operator-Token": "op-secret-for-tests-0123456789abcdef"})
        assert r.status_code == 201 and r.json()["country"] == "CL"
        await wait_for(lambda: any(m.to == ["jefa@gassur.cl"] for m in smtp_sink.messages), 20, "admin invitation")
        dup = await c.post("/operator/tenants", json=body, headers={"X-Operator-Token": "op-secret-for-tests-0123456789abcdef"})
        assert dup.status_code == 422 and dup.json()["errors"][0]["code"] == "duplicate_slug"
    finally:
        await system.stop()


# -- the R4.4 matrix on cases --------------------------------------------------------------------
async def test_r4_4_who_may_create_cases_where(rabbit_system: System) -> None:
    c = rabbit_system.intake
    own_project = case_body(1, project="edificio-los-robles")
    other_project = case_body(2, project="condominio-el-mirador")
    expect = {  # user: (own project, other project, no project)
        "admin": (201, 201, 201), "supervisora": (201, 201, 201), "ejecutiva": (201, 403, 201),
        "ejecutivo": (403, 201, 201), "lectura": (403, 403, 403), "gerencia.tecnica": (403, 201, 201)}
    for who, codes in expect.items():
        h = await rabbit_system.auth(who)
        got = tuple([(await c.post("/cases", json=b, headers=h)).status_code
                     for b in (own_project, other_project, case_body(3))])
        assert got == codes, who
    assert (await c.post("/cases", json=CASE)).status_code == 401


async def test_r4_4_every_role_reads_every_case_of_its_tenant_and_none_of_another(rabbit_system: System) -> None:
    c = rabbit_system.intake
    case = await rabbit_system.create_case(case_body(1))  # responsible: ejecutiva
    for who in ("admin", "supervisora", "ejecutiva", "ejecutivo", "lectura", "gerencia.tecnica"):
        assert (await c.get(f"/cases/{case['id']}", headers=await rabbit_system.auth(who))).status_code == 200, who
        other = await rabbit_system.auth(who, "gas-demo")
        r = await c.get(f"/cases/{case['id']}", headers=other)
        assert r.status_code == 404 and r.json()["title"] == "Solicitud no encontrada", who
    assert (await c.get(f"/cases/{case['id']}")).status_code == 401


async def test_reports_are_per_tenant_and_need_a_token(rabbit_system: System) -> None:
    await rabbit_system.create_case(case_body(1))
    assert (await rabbit_system.reporting.get("/reports/case-counts")).status_code == 401
    forged = issue_token("another-secret-0123456789-0123456789-xx", user_id=uuid.uuid4(), tenant=TENANT,
                         roles=["admin"], jti="q" * 20, now=utcnow(), ttl=timedelta(hours=1))
    assert (await rabbit_system.reporting.get("/reports/case-counts", headers=bearer(forged))).status_code == 401
    await wait_for(lambda: rabbit_system.rt["reporting"].processor.handled >= 1, 20, "read model")
    assert (await rabbit_system.report("lectura", "gas-demo"))["total"] == 0


async def test_r2_7_cases_of_a_restricted_party_are_hidden_like_the_party(rabbit_system: System) -> None:
    c = rabbit_system.intake
    admin = await rabbit_system.auth("admin")
    users = {u["email"]: u["id"] for u in (await c.get("/users", headers=admin)).json()["items"]}
    r = await c.post("/parties", headers=admin, json={
        "kind": "person", "name": "Cliente Reservado", "national_id": "10.359.182-1"})
    assert r.status_code == 201, r.text
    party = r.json()["id"]
    r = await c.put(f"/parties/{party}/sharing", headers=admin,
                    json={"restricted": True, "shared_with": [users[demo("ejecutiva")]]})
    assert r.status_code == 200, r.text
    cid = (await rabbit_system.create_case(case_body(1, party_id=party)))["id"]
    assert (await c.get(f"/cases/{cid}", headers=await rabbit_system.auth("ejecutiva"))).status_code == 200
    hidden = await c.get(f"/cases/{cid}", headers=await rabbit_system.auth("ejecutivo"))
    assert hidden.status_code == 404
    r = await c.post(f"/cases/{cid}/comments", json={"text": "x"}, headers=await rabbit_system.auth("ejecutivo"))
    assert r.status_code == 404
    # Nor can someone outside the sharing list file a case against that party.
    r = await c.post("/cases", json=case_body(2, party_id=party), headers=await rabbit_system.auth("ejecutivo"))
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "unknown_party"

"""The catalog ("mantenedores", R4.2) through intake's API: channels, areas, projects, the
category tree (R3.2), case types with their rules (R4.2, R3.2, R0.3) and the business calendar;
admins write, every user of the tenant reads, other tenants see nothing (404). Field-by-field
problems for bad input. The calendar travels as an event to workflow, which computes deadlines
with it (extra closed days skipped, working hours for business-hours rules)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from services.intake.adapters.db import outbox
from services.workflow import domain
from services.workflow.adapters.db import calendars
from services.workflow.service_layer import copies, policies
from shared.contracts.envelope import Envelope
from shared.contracts.events import CalendarChanged, CaseCreated
from shared.messaging.bus import Retryable
from tests.support.system import TENANT, System, case_body, demo, wait_for

pytestmark = pytest.mark.integration

ROLES = ["admin", "supervisora", "ejecutiva", "ejecutivo", "lectura", "gerencia.tecnica"]
NON_ADMINS = ROLES[1:]
LISTS = ["/catalog/channels", "/catalog/areas", "/catalog/projects", "/catalog/categories",
         "/catalog/categories/tree", "/catalog/case-types", "/calendar"]


def new_type(code: str = "tipo-prueba", **over: Any) -> dict[str, Any]:
    return {"code": code, "name_es": "Tipo de prueba", "name_en": "Test type",
            "deadline": {"unit": "business_days", "amount": 3}, **over}


async def events(system: System, event_type: str) -> list[dict[str, Any]]:
    """The data of the events of that type intake wrote to its outbox, oldest first."""
    async with system.rt["intake"].db.engine.connect() as conn:
        rows = (await conn.execute(select(outbox.c.body).where(outbox.c.type == event_type)
                                   .order_by(outbox.c.id))).all()
    return [json.loads(r.body) for r in rows]


async def case_deadline(system: System, case_id: str, tenant: str = TENANT) -> dict[str, Any]:
    h = await system.auth("admin", tenant)
    shown: dict[str, Any] = {}

    async def has_deadline() -> bool:
        shown.update((await system.intake.get(f"/cases/{case_id}", headers=h)).json())
        return shown.get("deadline") is not None

    await wait_for(has_deadline, 30, "the deadline from workflow")
    return shown["deadline"]


def errors_by_field(r: Any) -> dict[str, str]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return {e["field"]: e["code"] for e in r.json()["errors"]}


# -- channels, areas, projects ---------------------------------------------------------------
async def test_r4_2_admin_maintains_channels_and_each_change_is_a_versioned_event(rabbit_system: System) -> None:
    s, h = rabbit_system, await rabbit_system.auth()
    r = await s.intake.post("/catalog/channels", json={"code": "whatsapp", "name_es": "WhatsApp"}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json() | {"updated_at": None} == {"code": "whatsapp", "name_es": "WhatsApp", "name_en": "WhatsApp",
                                               "active": True, "version": 1, "updated_at": None}
    r = await s.intake.patch("/catalog/channels/whatsapp", json={"name_es": "WhatsApp Business", "active": False},
                             headers=h)
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["active"] is False
    assert r.json()["name_en"] == "WhatsApp Business"  # follows the Spanish name until given its own
    listed = (await s.intake.get("/catalog/channels", headers=h)).json()
    assert {c["code"] for c in listed} >= {"telefono", "correo", "carta", "redes-sociales", "presencial", "web",
                                           "whatsapp"}
    active = (await s.intake.get("/catalog/channels", params={"active": "true"}, headers=h)).json()
    assert "whatsapp" not in {c["code"] for c in active}
    sent = [e for e in await events(s, "catalog.channel_changed.v1") if e["data"]["code"] == "whatsapp"]
    assert [(e["tenant"], e["data"]["version"], e["data"]["active"]) for e in sent] == [
        (TENANT, 1, True), (TENANT, 2, False)]


async def test_areas_have_an_active_head_user_of_the_tenant(rabbit_system: System) -> None:
    s, h = rabbit_system, await rabbit_system.auth()
    users = {u["email"]: u["id"] for u in (await s.intake.get("/users", headers=h)).json()["items"]}
    body = {"code": "reclamos", "name_es": "Reclamos", "name_en": "Complaints",
            "head_user_id": users[demo("supervisora")]}
    r = await s.intake.post("/catalog/areas", json=body, headers=h)
    assert r.status_code == 201 and r.json()["head_user_id"] == users[demo("supervisora")]
    r = await s.intake.patch("/catalog/areas/reclamos", json={"head_user_id": None}, headers=h)
    assert r.status_code == 200 and r.json()["head_user_id"] is None and r.json()["version"] == 2
    # Another tenant's user, a made-up id and a deactivated user are no head here.
    gas_admin = (await s.intake.get("/auth/me", headers=await s.auth("admin", "gas-demo"))).json()
    for bad in (gas_admin["user_id"], str(uuid.uuid4())):
        r = await s.intake.patch("/catalog/areas/reclamos", json={"head_user_id": bad}, headers=h)
        assert errors_by_field(r) == {"head_user_id": "unknown_user"}
    await s.intake.patch(f"/users/{users[demo('ejecutivo')]}", json={"active": False}, headers=h)
    r = await s.intake.post("/catalog/areas", json={**body, "code": "otra", "head_user_id": users[demo("ejecutivo")]},
                            headers=h)
    assert errors_by_field(r) == {"head_user_id": "unknown_user"}


async def test_projects_crud_and_duplicate_codes(rabbit_system: System) -> None:
    s, h = rabbit_system, await rabbit_system.auth()
    r = await s.intake.post("/catalog/projects", json={"code": "torre-norte", "name_es": "Torre Norte",
                                                       "name_en": "North Tower"}, headers=h)
    assert r.status_code == 201
    assert (await s.intake.get("/catalog/projects/torre-norte", headers=h)).json()["name_en"] == "North Tower"
    r = await s.intake.post("/catalog/projects", json={"code": "torre-norte", "name_es": "Otra"}, headers=h)
    assert errors_by_field(r) == {"code": "duplicate_code"}
    r = await s.intake.post("/catalog/projects", json={"code": "Torre Norte!", "name_es": ""}, headers=h)
    assert errors_by_field(r) == {"code": "string_pattern_mismatch", "name_es": "string_too_short"}
    # The seed's project codes (users' profiles refer to them, R4.4) are there with names.
    seeded = {p["code"]: p["name_es"] for p in (await s.intake.get("/catalog/projects", headers=h)).json()}
    assert seeded["edificio-los-robles"] == "Edificio Los Robles" and "condominio-el-mirador" in seeded


# -- who may read and write ----------------------------------------------------------------------
async def test_every_role_of_the_tenant_reads_the_catalog(rabbit_system: System) -> None:
    s = rabbit_system
    for role in ROLES:
        h = await s.auth(role)
        for path in LISTS:
            r = await s.intake.get(path, headers=h)
            assert r.status_code == 200, (role, path, r.text)
            assert r.json(), (role, path)
        assert (await s.intake.get("/catalog/case-types/consulta-general", headers=h)).status_code == 200


WRITES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/catalog/channels", {"code": "fax", "name_es": "Fax"}),
    ("PATCH", "/catalog/channels/telefono", {"active": False}),
    ("POST", "/catalog/areas", {"code": "nueva", "name_es": "Nueva"}),
    ("PATCH", "/catalog/areas/posventa", {"name_es": "Otra"}),
    ("POST", "/catalog/projects", {"code": "nuevo", "name_es": "Nuevo"}),
    ("PATCH", "/catalog/projects/edificio-los-robles", {"active": False}),
    ("POST", "/catalog/categories", {"code": "nueva", "name_es": "Nueva"}),
    ("POST", "/catalog/case-types", new_type()),
    ("PATCH", "/catalog/case-types/consulta-general", {"deadline": {"amount": 1}}),
    ("PUT", "/calendar", {"country": "CL", "timezone": "America/Santiago"}),
]


async def test_writes_without_a_token_are_401_and_by_non_admins_403(rabbit_system: System) -> None:
    s = rabbit_system
    for method, path, body in WRITES:
        r = await s.intake.request(method, path, json=body)
        assert r.status_code == 401, (method, path)
        for role in NON_ADMINS:
            r = await s.intake.request(method, path, json=body, headers=await s.auth(role))
            assert r.status_code == 403, (role, method, path, r.text)
            assert r.json()["detail"] == "Sólo un administrador puede hacer esto."
    for path in LISTS:
        assert (await s.intake.get(path)).status_code == 401
    # Nothing changed: no catalog event beyond the seed's.
    assert not [e for e in await events(s, "catalog.channel_changed.v1") if e["data"]["version"] > 1]


async def test_another_tenants_catalog_is_404_and_codes_are_per_tenant(rabbit_system: System) -> None:
    s = rabbit_system
    gas, inmo = await s.auth("admin", "gas-demo"), await s.auth()
    # gestion-cobranza exists only in gas-demo: from inmobiliaria-demo it does not exist at all.
    assert (await s.intake.get("/catalog/case-types/gestion-cobranza", headers=gas)).status_code == 200
    for method, path, body in [("GET", "/catalog/case-types/gestion-cobranza", None),
                               ("PATCH", "/catalog/case-types/gestion-cobranza", {"active": False}),
                               ("GET", "/catalog/areas/gestion-clientes", None),
                               ("PATCH", "/catalog/areas/gestion-clientes", {"name_es": "x"}),
                               ("GET", "/catalog/projects/granel", None),
                               ("PATCH", "/catalog/projects/granel", {"active": False})]:
        r = await s.intake.request(method, path, json=body, headers=inmo)
        assert r.status_code == 404, (method, path)
        assert r.json()["type"].endswith("/not-found")
    node = (await s.intake.get("/catalog/categories/lookup", params={"path": "medidor/cobranza"},
                               headers=gas)).json()
    assert (await s.intake.get(f"/catalog/categories/{node['id']}", headers=inmo)).status_code == 404
    assert (await s.intake.patch(f"/catalog/categories/{node['id']}", json={"active": False},
                                 headers=inmo)).status_code == 404
    r = await s.intake.get("/catalog/categories/lookup", params={"path": "medidor/cobranza"}, headers=inmo)
    assert r.status_code == 404
    # The same code may exist in two tenants, independently.
    r = await s.intake.post("/catalog/areas", json={"code": "gestion-clientes", "name_es": "Clientes"}, headers=inmo)
    assert r.status_code == 201
    gas_area = (await s.intake.get("/catalog/areas/gestion-clientes", headers=gas)).json()
    assert gas_area["name_es"] == "Gestión de Clientes" and gas_area["version"] == 1


# -- category tree (R3.2) ------------------------------------------------------------------------
async def test_r3_2_category_tree_of_three_levels_with_path_lookup(rabbit_system: System) -> None:
    s, h = rabbit_system, await rabbit_system.auth()
    add = [(None, "posventa", "Posventa"), ("posventa", "terminaciones", "Terminaciones"),
           ("posventa/terminaciones", "pintura", "Pintura")]
    for parent, code, name in add:
        r = await s.intake.post("/catalog/categories", json={"parent": parent, "code": code, "name_es": name},
                                headers=h)
        assert r.status_code == 201, r.text
    assert r.json()["path"] == "posventa/terminaciones/pintura" and r.json()["level"] == 3
    found = (await s.intake.get("/catalog/categories/lookup", params={"path": "posventa/terminaciones/pintura"},
                                headers=await s.auth("lectura"))).json()
    assert [t["name_es"] for t in found["trail"]] == ["Posventa", "Terminaciones", "Pintura"]
    tree = (await s.intake.get("/catalog/categories/tree", headers=h)).json()
    branch = next(n for n in tree if n["code"] == "posventa")
    assert branch["children"][0]["children"][0]["path"] == "posventa/terminaciones/pintura"
    under = (await s.intake.get("/catalog/categories", params={"under": "posventa"}, headers=h)).json()
    assert [c["path"] for c in under] == ["posventa", "posventa/terminaciones", "posventa/terminaciones/pintura"]

    # A fourth level, an unknown parent, a sibling with the same code: field errors, nothing stored.
    cases = [({"parent": "posventa/terminaciones/pintura", "code": "muros", "name_es": "Muros"}, {"parent": "too_deep"}),
             ({"parent": "no/existe", "code": "x", "name_es": "X"}, {"parent": "unknown_category"}),
             ({"parent": "posventa", "code": "terminaciones", "name_es": "Otra"}, {"code": "duplicate_code"}),
             ({"parent": "a/b/c/d", "code": "x", "name_es": "X"}, {"parent": "string_pattern_mismatch"})]
    for body, expected in cases:
        assert errors_by_field(await s.intake.post("/catalog/categories", json=body, headers=h)) == expected
    assert len(under) == len((await s.intake.get("/catalog/categories", params={"under": "posventa"},
                                                 headers=h)).json())

    # A node with active children is not deactivated; leaves first, then it can be.
    parent_id = (await s.intake.get("/catalog/categories/lookup", params={"path": "posventa/terminaciones"},
                                    headers=h)).json()["id"]
    r = await s.intake.patch(f"/catalog/categories/{parent_id}", json={"active": False}, headers=h)
    assert errors_by_field(r) == {"active": "has_active_children"}
    r = await s.intake.patch(f"/catalog/categories/{found['id']}", json={"active": False, "name_en": "Paint"},
                             headers=h)
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["name_en"] == "Paint"
    r = await s.intake.patch(f"/catalog/categories/{parent_id}", json={"active": False}, headers=h)
    assert r.status_code == 200 and r.json()["active"] is False
    r = await s.intake.patch(f"/catalog/categories/{found['id']}", json={"active": True}, headers=h)
    assert errors_by_field(r) == {"active": "parent_inactive"}
    sent = [e["data"] for e in await events(s, "catalog.category_changed.v1") if e["data"]["path"].startswith("posventa")]
    assert [(d["path"], d["version"]) for d in sent][-2:] == [("posventa/terminaciones/pintura", 2),
                                                              ("posventa/terminaciones", 2)]
    assert sent[0]["parent_path"] is None and sent[2]["parent_path"] == "posventa/terminaciones"


# -- case types (R4.2, R3.2, R3.1, R1.2, R0.3) ------------------------------------------------------
async def test_r3_2_gas_collections_management_is_seeded_as_the_procedure_types_it(rabbit_system: System) -> None:
    """R3.2: Medidor > Cobranza > Gestión de cobranza, team Gestión de Clientes, priority high,
    class complaint; channels phone, e-mail, social networks — never in person."""
    s = rabbit_system
    h = await s.auth("ejecutiva", "gas-demo")
    t = (await s.intake.get("/catalog/case-types/gestion-cobranza", headers=h)).json()
    channels = {c["code"]: c["name_es"] for c in (await s.intake.get("/catalog/channels", headers=h)).json()}
    assert [channels[c] for c in t["allowed_channels"]] == ["Teléfono", "Correo electrónico", "Redes sociales"]
    assert "presencial" in channels and "presencial" not in t["allowed_channels"]
    assert t["pinned"] == {"category": "medidor/cobranza/gestion-cobranza", "area": "gestion-clientes",
                           "priority": "high", "document_class": "complaint"}
    assert t["default_priority"] == "high" and t["is_follow_up"] is False
    assert set(t["required_fields"]) == {"contact.phone", "contact.email", "description"}
    trail = (await s.intake.get("/catalog/categories/lookup", params={"path": t["pinned"]["category"]},
                                headers=h)).json()["trail"]
    assert " > ".join(x["name_es"] for x in trail) == "Medidor > Cobranza > Gestión de cobranza"
    area = (await s.intake.get(f"/catalog/areas/{t['pinned']['area']}", headers=h)).json()
    assert area["name_es"] == "Gestión de Clientes" and area["head_user_id"] is not None
    by_channel = (await s.intake.get("/catalog/case-types", params={"channel": "presencial"}, headers=h)).json()
    assert "gestion-cobranza" not in {x["code"] for x in by_channel}
    # R3.1: the follow-up kinds are marked as such; one counts business hours.
    types = {x["code"]: x for x in (await s.intake.get("/catalog/case-types", headers=h)).json()}
    assert types["respuesta-fuera-de-plazo"]["is_follow_up"] and types["inconformidad-respuesta"]["is_follow_up"]
    assert types["tardanza-reposicion"]["deadline"] == {"unit": "business_hours", "amount": 16}


async def test_every_seeded_case_type_refers_to_existing_catalog_entries(rabbit_system: System) -> None:
    s = rabbit_system
    for tenant in ("aseguradora-demo", "electrica-demo", "gas-demo", "inmobiliaria-demo"):
        h = await s.auth("admin", tenant)
        codes = {k: {x["code"] for x in (await s.intake.get(f"/catalog/{k}", headers=h)).json()}
                 for k in ("channels", "areas", "projects")}
        for t in (await s.intake.get("/catalog/case-types", headers=h)).json():
            assert set(t["allowed_channels"] or []) <= codes["channels"], (tenant, t["code"])
            assert set(t["projects"] or []) <= codes["projects"], (tenant, t["code"])
            assert t["pinned"]["area"] is None or t["pinned"]["area"] in codes["areas"], (tenant, t["code"])
            if t["pinned"]["category"]:
                r = await s.intake.get("/catalog/categories/lookup", params={"path": t["pinned"]["category"]},
                                       headers=h)
                assert r.status_code == 200, (tenant, t["code"])
        assert (await s.intake.get("/calendar", headers=h)).json()["version"] == 1


async def test_r4_2_case_type_crud_with_rules_and_project_scope(rabbit_system: System) -> None:
    s, h = rabbit_system, await rabbit_system.auth()
    body = new_type("entrega-llaves", name_es="Entrega de llaves", name_en="Key handover",
                    deadline={"unit": "business_hours", "amount": 24}, allowed_channels=["presencial", "correo"],
                    pinned={"category": "documentacion/escrituras/copia", "area": "escrituras",
                            "document_class": "request"},
                    requires_attachments_to_finish=True, required_fields=["contact.phone"],
                    projects=["edificio-los-robles"])
    r = await s.intake.post("/catalog/case-types", json=body, headers=h)
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["deadline"] == {"unit": "business_hours", "amount": 24} and t["default_priority"] == "normal"
    assert t["pinned"]["priority"] is None and t["projects"] == ["edificio-los-robles"] and t["version"] == 1
    in_project = (await s.intake.get("/catalog/case-types", params={"project": "edificio-los-robles"},
                                     headers=h)).json()
    elsewhere = (await s.intake.get("/catalog/case-types", params={"project": "condominio-el-mirador"},
                                    headers=h)).json()
    assert "entrega-llaves" in {x["code"] for x in in_project}
    assert "entrega-llaves" not in {x["code"] for x in elsewhere}
    assert "consulta-general" in {x["code"] for x in elsewhere}  # no project scope: everywhere

    r = await s.intake.patch("/catalog/case-types/entrega-llaves",
                             json={"projects": None, "pinned": {"priority": "high"}, "is_follow_up": True}, headers=h)
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["projects"] is None and t["pinned"] == {"category": None, "area": None, "priority": "high",
                                                     "document_class": None}
    assert t["default_priority"] == "high" and t["is_follow_up"] and t["version"] == 2
    assert t["allowed_channels"] == ["presencial", "correo"]  # untouched
    sent = [e["data"] for e in await events(s, "catalog.case_type_changed.v1")
            if e["data"]["code"] == "entrega-llaves"]
    assert [(d["version"], d["deadline"]["unit"], d["pinned"]["priority"]) for d in sent] == [
        (1, "business_hours", None), (2, "business_hours", "high")]
    r = await s.intake.post("/catalog/case-types", json=body, headers=h)
    assert errors_by_field(r) == {"code": "duplicate_code"}


async def test_r3_2_case_type_references_are_checked_field_by_field(rabbit_system: System) -> None:
    s, h = rabbit_system, await rabbit_system.auth()
    before = len(await events(s, "catalog.case_type_changed.v1"))
    bad = new_type(deadline={"unit": "business_days", "amount": 0},
                   allowed_channels=["telefono", "paloma-mensajera"],
                   pinned={"category": "medidor/cobranza/gestion-cobranza",  # gas-demo's, not ours
                           "area": "no-existe", "priority": "urgent", "document_class": "poema"},
                   projects=["granel"], required_fields=["contact.fax"])
    r = await s.intake.post("/catalog/case-types", json=bad, headers=h)
    # Shape errors first (pydantic): the document class and the required field are not in their lists.
    assert errors_by_field(r) == {"pinned.document_class": "literal_error", "required_fields.0": "literal_error"}
    bad["pinned"]["document_class"] = "complaint"
    bad["required_fields"] = []
    r = await s.intake.post("/catalog/case-types", json=bad, headers=h)
    assert errors_by_field(r) == {
        "deadline.amount": "deadline_out_of_range", "allowed_channels.1": "unknown_channel",
        "projects.0": "unknown_project", "pinned.category": "unknown_category", "pinned.area": "unknown_area",
        "pinned.priority": "urgent_not_allowed"}
    messages = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert messages["allowed_channels.1"] == "No existe un canal activo con ese código."
    assert r.json()["errors"][0]["pointer"] == "#/body/deadline/amount"
    r = await s.intake.post("/catalog/case-types", json=bad, headers={**h, "Accept-Language": "en"})
    assert {e["message"] for e in r.json()["errors"]} >= {"No active channel with that code."}
    # A deactivated channel is no longer allowed in a type; a business-hours rule has its own range.
    await s.intake.patch("/catalog/channels/carta", json={"active": False}, headers=h)
    r = await s.intake.post("/catalog/case-types", json=new_type(allowed_channels=["carta"],
                                                                 deadline={"unit": "business_hours", "amount": 2001}),
                            headers=h)
    assert errors_by_field(r) == {"allowed_channels.0": "unknown_channel", "deadline.amount": "deadline_out_of_range"}
    r = await s.intake.patch("/catalog/case-types/consulta-general", json={"allowed_channels": []}, headers=h)
    assert errors_by_field(r) == {"allowed_channels": "too_short"}
    assert len(await events(s, "catalog.case_type_changed.v1")) == before
    assert (await s.intake.get("/catalog/case-types/tipo-prueba", headers=h)).status_code == 404


async def test_r0_3_no_case_type_starts_cases_urgent(rabbit_system: System) -> None:
    """R0.3: creating a case as urgent is forbidden, so no type may default to or pin urgent; a
    default that contradicts the pinned priority (R3.2) is refused too."""
    s, h = rabbit_system, await rabbit_system.auth()
    r = await s.intake.post("/catalog/case-types", json=new_type(default_priority="urgent"), headers=h)
    assert errors_by_field(r) == {"default_priority": "urgent_not_allowed"}
    assert "R0.3" in r.json()["errors"][0]["message"]
    r = await s.intake.patch("/catalog/case-types/consulta-general", json={"pinned": {"priority": "urgent"}},
                             headers=h)
    assert errors_by_field(r) == {"pinned.priority": "urgent_not_allowed"}
    r = await s.intake.post("/catalog/case-types", json=new_type(default_priority="low",
                                                                 pinned={"priority": "high"}), headers=h)
    assert errors_by_field(r) == {"default_priority": "conflicts_with_pinned"}
    assert (await s.intake.get("/catalog/case-types/consulta-general", headers=h)).json()["version"] == 1


async def test_r4_2_a_changed_deadline_rule_applies_at_once_to_new_cases(rabbit_system: System) -> None:
    """The catalog cache is cleared on write: the next case already carries the new rule."""
    s, h = rabbit_system, await rabbit_system.auth()
    first = await s.create_case(case_body(1))  # warms the cache: consulta-general = 5 business days
    r = await s.intake.patch("/catalog/case-types/consulta-general",
                             json={"deadline": {"unit": "business_days", "amount": 1}}, headers=h)
    assert r.status_code == 200
    second = await s.create_case(case_body(2))
    created = [CaseCreated.model_validate(e["data"]) for e in await events(s, "case.created.v1")]
    assert [c.case_type.deadline.amount for c in created] == [5, 1]
    a, b = await case_deadline(s, first["id"]), await case_deadline(s, second["id"])
    assert date.fromisoformat(b["due_date"]) < date.fromisoformat(a["due_date"])
    r = await s.intake.patch("/catalog/case-types/consulta-general", json={"active": False}, headers=h)
    assert r.status_code == 200
    r = await s.intake.post("/cases", json=case_body(3), headers=h)
    assert errors_by_field(r) == {"type": "unknown_case_type"}


# -- business calendar -----------------------------------------------------------------------------
async def test_calendar_is_read_by_everyone_and_validated_field_by_field(rabbit_system: System) -> None:
    s, h = rabbit_system, await rabbit_system.auth()
    cal = (await s.intake.get("/calendar", params={"year": 2026}, headers=await s.auth("lectura"))).json()
    assert cal["country"] == "CL" and cal["timezone"] == "America/Santiago" and cal["version"] == 1
    assert cal["working_hours"] == {"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "18:00"}
    assert {"date": "2026-09-18", "name": "Día de la Independencia"} in cal["national_holidays"]
    en = (await s.intake.get("/calendar", params={"year": 2026}, headers={**h, "Accept-Language": "en"})).json()
    assert {"date": "2026-12-25", "name": "Christmas Day"} in en["national_holidays"]
    bad = {"country": "XX", "timezone": "America/Gotham",
           "extra_closed_days": [{"date": "2026-12-07"}, {"date": "2026-12-07", "name": "otra vez"}],
           "working_hours": {"days": [1, 2], "start": "18:00", "end": "09:00"}}
    r = await s.intake.put("/calendar", json=bad, headers=h)
    assert errors_by_field(r) == {"country": "unknown_country", "timezone": "unknown_timezone",
                                  "working_hours.end": "end_before_start",
                                  "extra_closed_days.1.date": "duplicate_date"}
    r = await s.intake.put("/calendar", json={"country": "CL", "timezone": "America/Santiago",
                                              "working_hours": {"days": [0, 8]}}, headers=h)
    assert set(errors_by_field(r)) == {"working_hours.days.0", "working_hours.days.1"}
    assert (await s.intake.get("/calendar", headers=h)).json()["version"] == 1  # nothing stored


async def test_r4_2_calendar_change_reaches_workflow_and_skips_the_extra_closed_day(rabbit_system: System) -> None:
    """R4.2 through the real broker: an admin closes the next business day; workflow receives
    catalog.calendar_changed.v1 and the next case's deadline skips that day."""
    s, h = rabbit_system, await rabbit_system.auth()
    today = datetime.now(UTC).astimezone(ZoneInfo("America/Santiago")).date()
    plain = domain.calendar_for("CL", "America/Santiago")
    closed = plain.add_business_days(today, 1)  # the day a 1-business-day deadline would fall on
    r = await s.intake.patch("/catalog/case-types/consulta-general", json={"deadline": {"amount": 1}}, headers=h)
    assert r.status_code == 200
    r = await s.intake.put("/calendar", headers=h, json={
        "country": "CL", "timezone": "America/Santiago",
        "extra_closed_days": [{"date": closed.isoformat(), "name": "Inventario anual"}],
        "working_hours": {"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "18:00"}})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["extra_closed_days"] == [
        {"date": closed.isoformat(), "name": "Inventario anual"}]
    case = await s.create_case(case_body(1))
    deadline = await case_deadline(s, case["id"])
    expected = domain.calendar_for("CL", "America/Santiago", [closed]).add_business_days(today, 1)
    assert date.fromisoformat(deadline["due_date"]) == expected and expected > closed
    async with s.rt["workflow"].db.engine.connect() as conn:
        copy = (await conn.execute(select(calendars).where(calendars.c.tenant == TENANT,
                                                           calendars.c.code == "default"))).one()
    assert copy.version == 2 and [d["date"] for d in copy.data["extra_closed_days"]] == [closed.isoformat()]
    assert [e["data"]["calendar_version"] for e in await events(s, "case.created.v1")] == [2]


async def test_r4_2_business_hours_rule_counts_working_hours_in_workflow(rabbit_system: System) -> None:
    s, h = rabbit_system, await rabbit_system.auth()
    r = await s.intake.post("/catalog/case-types", json=new_type(
        "urgencia-posventa", deadline={"unit": "business_hours", "amount": 4}), headers=h)
    assert r.status_code == 201
    case = await s.create_case(case_body(1, type="urgencia-posventa"))
    deadline = await case_deadline(s, case["id"])
    cal = domain.calendar_for("CL", "America/Santiago", work_start=time(9), work_end=time(18))
    expected = cal.add_business_hours(datetime.fromisoformat(case["created_at"]), 4)
    assert datetime.fromisoformat(deadline["due_at"]) == expected
    d = (await s.clients["workflow"].get(f"/deadlines/{case['id']}", headers=h)).json()
    assert datetime.fromisoformat(d["due_at"]) == expected


async def test_workflow_waits_for_the_calendar_a_case_was_entered_under(rabbit_system: System) -> None:
    """A case entered after a calendar change must not be computed with the older calendar: if
    its calendar_version has not reached workflow yet, the handler asks for a retry. An older
    calendar event arriving late does not overwrite a newer one."""
    s = rabbit_system
    wf = s.rt["workflow"]
    await wait_for(lambda: _calendar_version(s, TENANT, 1), 20, "the seeded calendar in workflow")
    created = CaseCreated.model_validate({
        "case_id": str(uuid.uuid4()), "number": "000099", "tenant_country": "CL", "tenant_timezone": "America/Santiago",
        "language": "es", "case_type": {"code": "consulta-general", "name": "Consulta",
                                        "deadline": {"unit": "business_days", "amount": 1}},
        "subject": "s", "description": "d", "contact": {"name": "n", "email": "n@example.cl"},
        "responsible_email": "r@example.cl", "priority": "normal", "status": "new",
        "created_at": "2026-11-20T12:00:00Z", "calendar_version": 2})
    def calendar_of(tx):  # type: ignore[no-untyped-def]
        return copies.calendar_of(tx.conn, TENANT, created.calendar_code, country="CL", timezone="America/Santiago",
                                  at_least=created.calendar_version)

    async with wf.db.transaction() as tx:
        with pytest.raises(Retryable):
            await calendar_of(tx)
    newer = CalendarChanged(country="CL", timezone="America/Santiago", work_days=[1, 2, 3, 4, 5],
                            work_start=time(9), work_end=time(18), version=2,
                            extra_closed_days=[{"date": date(2026, 11, 23)}])  # type: ignore[list-item]
    older = newer.model_copy(update={"version": 1, "extra_closed_days": []})
    for ev in (newer, older):
        async with wf.db.transaction() as tx:
            await policies.on_calendar_changed(tx, Envelope(source="test", type="catalog.calendar_changed.v1",
                                                            subject=TENANT, tenant=TENANT,
                                                            data=ev.model_dump(mode="json")))
    async with wf.db.transaction() as tx:
        cal = await calendar_of(tx)
    assert set(cal.extra_closed) == {date(2026, 11, 23)}
    assert domain.response_deadline(created.created_at, 1, cal).due_date == date(2026, 11, 24)


async def _calendar_version(s: System, tenant: str, version: int) -> bool:
    async with s.rt["workflow"].db.engine.connect() as conn:
        v = (await conn.execute(select(calendars.c.version)
                                .where(calendars.c.tenant == tenant, calendars.c.code == "default"))).scalar()
    return v == version


async def test_embedded_mode_keeps_the_catalog_and_the_calendar_in_step(embedded_system: System) -> None:
    """The same migrations and events on SQLite and the in-process bus (``atiende run``)."""
    s = embedded_system
    h = await s.auth("admin", "gas-demo")
    r = await s.intake.post("/catalog/categories", json={"parent": "medidor/cobranza", "code": "convenio",
                                                         "name_es": "Convenio de pago"}, headers=h)
    assert r.status_code == 201
    r = await s.intake.put("/calendar", headers=h, json={"country": "CL", "timezone": "America/Santiago",
                                                         "extra_closed_days": [{"date": "2030-01-02"}]})
    assert r.status_code == 200 and r.json()["version"] == 2
    await wait_for(lambda: _calendar_version(s, "gas-demo", 2), 20, "the calendar in workflow")
    async with s.rt["intake"].db.engine.connect() as conn:
        n = (await conn.execute(select(func.count()).select_from(outbox)
                                .where(outbox.c.type.like("catalog.%")))).scalar_one()
    assert n > 50  # the seed's catalog of four tenants, and these two changes

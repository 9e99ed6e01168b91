"""Parties and assets through intake's API (R2.1, R2.7, R2.8, R4.2, R0.1): national ids validated
for the tenant's country, parties and contacts, assets, the billing import of supplies and their
read-only status, sharing per party, search and paging, and the denials (401, 403, 404, 422)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from services.intake.adapters.case_tables import interactions
from services.intake.adapters.db import outbox
from services.intake.adapters.party_tables import can_see_party_id, parties, party_visible
from services.intake.domain import parties as rules
from services.intake.domain.access import (
    Principal,
    Role,
    can_change_party_sharing,
    can_import_supplies,
    can_write_parties,
)
from services.intake.seed_parties import demo_id, load_parties
from services.reporting.adapters.db import asset_facts, party_facts
from shared.db import utcnow
from tests.support.system import System, case_body, wait_for

GAS = "gas-demo"


# -- rules, no I/O ------------------------------------------------------------------------------

def test_r0_1_chilean_rut_with_a_wrong_check_digit_is_refused() -> None:
    with pytest.raises(rules.InvalidNationalId) as exc:
        rules.normalize_national_id("15614076-4", "CL")
    assert exc.value.message[0] == "El RUT no es válido (revise el dígito verificador)."
    for bad in ("12.345.678-9", "abc", "1-2"):
        with pytest.raises(rules.InvalidNationalId):
            rules.normalize_national_id(bad, "cl")


def test_r0_1_chilean_rut_is_accepted_and_normalised_without_dots() -> None:
    for written in ("10.359.182-1", "10359182-1", "103591821", " 10.359.182-1 "):
        nid = rules.normalize_national_id(written, "CL")
        assert (nid.value, nid.key) == ("10359182-1", "103591821")
    assert rules.normalize_national_id("12.345.670-k", "CL").value == "12345670-K"
    assert rules.national_id_search_key("10.359.182-1", "CL") == rules.national_id_search_key("103591821", "CL")


def test_el_salvador_dui_and_nit_other_countries_and_unknown_ones() -> None:
    assert rules.normalize_national_id("000162975", "SV").value == "00016297-5"  # DUI
    assert rules.normalize_national_id("06140507071048", "SV").value == "0614-050707-104-8"  # NIT
    for bad in ("00016297-4", "0614-050707-104-0", "123"):
        with pytest.raises(rules.InvalidNationalId):
            rules.normalize_national_id(bad, "SV")
    assert rules.normalize_national_id("20-12345678-6", "AR").key == "20123456786"  # stdnum's ar.cuit
    with pytest.raises(rules.InvalidNationalId):
        rules.normalize_national_id("123", "AR")
    assert rules.normalize_national_id(" X-99 ", "ZZ").value == "X-99"  # a country stdnum does not know


def test_names_are_searched_without_case_or_accents() -> None:
    assert rules.fold("  HÉCTOR   Muñoz ") == "hector munoz"
    assert rules.like_escape("50%_off") == "50\\%\\_off"
    assert rules.may_be_internal("stakeholder") and not rules.may_be_internal("person")


def test_who_may_write_share_and_import() -> None:
    uid = uuid.uuid4()

    def who(*roles: Role, user: uuid.UUID | None = uid) -> Principal:
        return Principal(tenant="t", roles=frozenset(roles), user_id=user)

    for role in (Role.ADMIN, Role.SUPERVISOR, Role.EXECUTOR, Role.TECHNICAL_MANAGER):
        assert can_write_parties(who(role))
    assert not can_write_parties(who(Role.VIEWER)) and not can_write_parties(who(Role.INTEGRATION, user=None))
    assert can_change_party_sharing(who(Role.ADMIN), created_by=None)
    assert can_change_party_sharing(who(Role.EXECUTOR), created_by=uid)
    assert not can_change_party_sharing(who(Role.SUPERVISOR), created_by=uuid.uuid4())
    assert can_import_supplies(who(Role.ADMIN)) and can_import_supplies(who(Role.INTEGRATION, user=None))
    assert not can_import_supplies(who(Role.EXECUTOR)) and not can_import_supplies(who(Role.SUPERVISOR))


# -- through the API ----------------------------------------------------------------------------

async def me(system: System, local: str, tenant: str = "inmobiliaria-demo") -> uuid.UUID:
    r = await system.intake.get("/auth/me", headers=await system.auth(local, tenant))
    return uuid.UUID(r.json()["user_id"])


async def create_party(system: System, body: dict[str, Any], as_user: str = "ejecutiva",
                       tenant: str = "inmobiliaria-demo") -> dict[str, Any]:
    r = await system.intake.post("/parties", json=body, headers=await system.auth(as_user, tenant))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def events(system: System, type_: str) -> int:
    async with system.rt["intake"].db.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(outbox)
                                       .where(outbox.c.type == type_))).scalar_one())


@pytest.mark.integration
async def test_party_and_contacts_crud_with_national_id_rules(rabbit_system: System) -> None:
    s = rabbit_system
    h = await s.auth("ejecutiva")
    base = await events(s, "party.upserted.v1")
    # R0.1: a RUT with a wrong check digit is refused, field by field, nothing stored.
    r = await s.intake.post("/parties", json={"kind": "owner", "name": "Héctor Contreras", "national_id": "15614076-4"},
                            headers=h)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"] == [{"pointer": "#/body/national_id", "field": "national_id",
                                   "code": "invalid_national_id",
                                   "message": "El RUT no es válido (revise el dígito verificador)."}]
    # R0.1: accepted and stored normalised.
    party = await create_party(s, {"kind": "owner", "name": "Héctor Contreras", "national_id": "10.359.182-1",
                                   "email": "Hector@Example.cl", "phone": "+56912345678",
                                   "details": {"since": 2019}})
    assert party["national_id"] == "10359182-1" and party["email"] == "hector@example.cl"
    assert party["kind"] == "owner" and party["restricted"] is False and party["contacts"] == []
    assert party["created_by"] == str(await me(s, "ejecutiva")) and party["source"] == "user"
    # The same id in other punctuation is the same person.
    dup = await s.intake.post("/parties", json={"kind": "person", "name": "Otro", "national_id": "103591821"},
                              headers=h)
    assert dup.status_code == 422 and dup.json()["errors"][0]["code"] == "duplicate_national_id"
    # Several bad fields at once, each reported (in English when asked).
    bad = await s.intake.post("/parties", json={"kind": "tenant", "name": "", "email": "no-mail", "phone": "12345",
                                                "unknown": 1}, headers={**h, "Accept-Language": "en"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"kind", "name", "email", "phone", "unknown"}
    internal = await s.intake.post("/parties", json={"kind": "person", "name": "X", "internal": True}, headers=h)
    assert internal.status_code == 422 and internal.json()["errors"][0]["code"] == "internal_not_stakeholder"

    pid = party["id"]
    got = await s.intake.get(f"/parties/{pid}", headers=await s.auth("lectura"))  # viewers read
    assert got.status_code == 200 and got.json()["name"] == "Héctor Contreras"
    r = await s.intake.patch(f"/parties/{pid}", json={"name": "Héctor Contreras Muñoz", "address": "Av. Sur 1",
                                                      "national_id": "7.654.321-6"}, headers=h)
    assert r.status_code == 200 and r.json()["national_id"] == "7654321-6" and r.json()["address"] == "Av. Sur 1"
    r = await s.intake.patch(f"/parties/{pid}", json={"national_id": "15614076-4", "name": None}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"
    r = await s.intake.patch(f"/parties/{pid}", json={"national_id": "15614076-4"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "invalid_national_id"

    # R2.8: contacts — people met and decision makers.
    r = await s.intake.post(f"/parties/{pid}/contacts", json={"name": "Lucía Muñoz", "position": "Cónyuge",
                                                              "decision_maker": True, "email": "LUCIA@example.cl",
                                                              "phone": "+56922233344"}, headers=h)
    assert r.status_code == 201 and r.json()["email"] == "lucia@example.cl"
    cid = r.json()["id"]
    r = await s.intake.post(f"/parties/{pid}/contacts", json={"name": "", "phone": "222"}, headers=h)
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"name", "phone"}
    r = await s.intake.patch(f"/parties/{pid}/contacts/{cid}", json={"position": "Apoderada"}, headers=h)
    assert r.status_code == 200 and r.json()["position"] == "Apoderada" and r.json()["decision_maker"] is True
    # Left out = unchanged; null for what a contact must have is refused field by field.
    r = await s.intake.patch(f"/parties/{pid}/contacts/{cid}", json={"name": None, "decision_maker": None,
                                                                    "position": None}, headers=h)
    assert r.status_code == 422 and sorted((e["field"], e["code"]) for e in r.json()["errors"]) == [
        ("decision_maker", "null_not_allowed"), ("name", "null_not_allowed")]
    detail = (await s.intake.get(f"/parties/{pid}", headers=h)).json()
    assert [c["name"] for c in detail["contacts"]] == ["Lucía Muñoz"]
    assert (await s.intake.get(f"/parties/{pid}/contacts", headers=h)).json()["items"][0]["id"] == cid
    assert (await s.intake.delete(f"/parties/{pid}/contacts/{cid}", headers=h)).status_code == 204
    assert (await s.intake.delete(f"/parties/{pid}/contacts/{cid}", headers=h)).status_code == 404

    # R2.8 history: its interactions and cases, open, closed or all.
    hist = await s.intake.get(f"/parties/{pid}/history", headers=h)
    assert hist.status_code == 200 and hist.json() == {"party_id": pid, "interactions": [], "cases": []}
    case = await s.create_case(case_body(1, party_id=pid), as_user="ejecutiva")
    await s.create_case(case_body(2), as_user="ejecutiva")  # another party's (none): not listed
    now = utcnow()
    async with s.rt["intake"].db.engine.begin() as conn:
        await conn.execute(insert(interactions), {
            "id": uuid.uuid4(), "tenant": "inmobiliaria-demo", "code": "AT-900001", "party_id": uuid.UUID(pid),
            "channel": "phone", "summary": "Llamó por la escritura", "occurred_at": now, "status": "closed",
            "created_at": now, "closed_at": now})
    hist = (await s.intake.get(f"/parties/{pid}/history", headers=h)).json()
    assert [c["id"] for c in hist["cases"]] == [case["id"]] and hist["cases"][0]["number"] == case["number"]
    assert [i["code"] for i in hist["interactions"]] == ["AT-900001"]
    opened = (await s.intake.get(f"/parties/{pid}/history", params={"status": "open"}, headers=h)).json()
    assert [c["id"] for c in opened["cases"]] == [case["id"]] and opened["interactions"] == []
    closed = (await s.intake.get(f"/parties/{pid}/history", params={"status": "closed"}, headers=h)).json()
    assert closed["cases"] == [] and len(closed["interactions"]) == 1
    assert (await s.intake.get(f"/parties/{pid}/history?status=pending", headers=h)).status_code == 422

    # Created, changed once (refused changes emit nothing): two events; reporting keeps the latest.
    assert await events(s, "party.upserted.v1") == base + 2

    async def copied() -> bool:
        async with s.rt["reporting"].db.engine.connect() as conn:
            row = (await conn.execute(select(party_facts).where(party_facts.c.party_id == uuid.UUID(pid)))).first()
        return row is not None and row.name == "Héctor Contreras Muñoz" and row.kind == "owner"

    await wait_for(copied, what="reporting's copy of the party")


@pytest.mark.integration
async def test_denials_401_403_and_another_tenants_party_is_404(rabbit_system: System) -> None:
    s = rabbit_system
    party = await create_party(s, {"kind": "prospect", "name": "Inversiones Sur"})
    pid = party["id"]
    c = s.intake
    assert (await c.get("/parties")).status_code == 401
    assert (await c.get(f"/parties/{pid}")).status_code == 401
    assert (await c.post("/supplies/import", json=[])).status_code == 401

    viewer = await s.auth("lectura")
    assert (await c.get("/parties", headers=viewer)).status_code == 200
    for method, url, body in (("POST", "/parties", {"kind": "person", "name": "X"}),
                              ("PATCH", f"/parties/{pid}", {"name": "X"}),
                              ("POST", f"/parties/{pid}/contacts", {"name": "X"}),
                              ("PUT", f"/parties/{pid}/sharing", {"restricted": True}),
                              ("POST", "/assets", {"kind": "policy", "code": "P1", "name": "X"}),
                              ("POST", "/supplies/import", [{"external_id": "1", "name": "X"}])):
        r = await c.request(method, url, json=body, headers=viewer)
        assert r.status_code == 403, (method, url, r.text)
        assert r.headers["content-type"] == "application/problem+json" and r.json()["detail"]

    # An API key reads and imports supplies, but does not create parties.
    key = (await c.post("/api-keys", json={"name": "facturación"}, headers=await s.auth("admin"))).json()["key"]
    api = {"X-API-Key": key}
    assert (await c.get(f"/parties/{pid}", headers=api)).status_code == 200
    r = await c.post("/parties", json={"kind": "person", "name": "X"}, headers=api)
    assert r.status_code == 403 and r.json()["detail"] == "Su perfil sólo permite consultar clientes y partes."
    # Executors don't import supplies.
    r = await c.post("/supplies/import", json=[{"external_id": "1", "name": "X"}], headers=await s.auth("ejecutiva"))
    assert r.status_code == 403 and "importar suministros" in r.json()["detail"]
    # Only an admin or the creator changes who the party is shared with.
    r = await c.put(f"/parties/{pid}/sharing", json={"restricted": True}, headers=await s.auth("supervisora"))
    assert r.status_code == 403

    # Another tenant's party does not exist for this one, whatever the role.
    other = await s.auth("admin", GAS)
    for method, url, body in (("GET", f"/parties/{pid}", None), ("PATCH", f"/parties/{pid}", {"name": "X"}),
                              ("GET", f"/parties/{pid}/history", None), ("GET", f"/parties/{pid}/contacts", None),
                              ("POST", f"/parties/{pid}/contacts", {"name": "X"}),
                              ("GET", f"/parties/{pid}/assets", None),
                              ("PUT", f"/parties/{pid}/sharing", {"restricted": False})):
        r = await c.request(method, url, json=body, headers=other)
        assert r.status_code == 404, (method, url, r.text)
    assert (await c.get("/parties", params={"name": "Inversiones"}, headers=other)).json()["items"] == []
    r = await c.post("/assets", json={"kind": "policy", "code": "P-9", "name": "X", "party_id": pid}, headers=other)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "unknown_party"
    assert (await c.get(f"/parties/{uuid.uuid4()}", headers=await s.auth("admin"))).status_code == 404


@pytest.mark.integration
async def test_r2_7_a_restricted_party_is_seen_only_by_chosen_users_admins_and_its_creator(
        rabbit_system: System) -> None:
    s = rabbit_system
    c = s.intake
    ejecutiva, ejecutivo, supervisora = (await me(s, "ejecutiva"), await me(s, "ejecutivo"),
                                         await me(s, "supervisora"))
    gas_user = await me(s, "ejecutiva", GAS)
    # The sharing list is validated: users of this tenant only, each bad entry reported.
    r = await c.post("/parties", json={"kind": "stakeholder", "name": "Municipalidad de Ñuñoa", "restricted": True,
                                       "shared_with": [str(ejecutiva), str(gas_user), str(uuid.uuid4())]},
                     headers=await s.auth("admin"))
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["shared_with.1", "shared_with.2"]
    party = await create_party(s, {"kind": "stakeholder", "name": "Municipalidad de Ñuñoa", "restricted": True,
                                   "shared_with": [str(ejecutiva)]}, as_user="admin")
    pid = party["id"]
    assert party["shared_with"] == [str(ejecutiva)]
    policy = (await c.post("/assets", json={"kind": "property", "code": "NU-1", "name": "Terreno Ñuñoa",
                                            "party_id": pid}, headers=await s.auth("admin"))).json()

    async def sees(local: str) -> bool:
        h = await s.auth(local)
        one = await c.get(f"/parties/{pid}", headers=h)
        found = (await c.get("/parties", params={"name": "nunoa"}, headers=h)).json()["items"]
        listed = [a["id"] for a in (await c.get("/assets", params={"kind": "property"}, headers=h)).json()["items"]]
        asset = await c.get(f"/assets/{policy['id']}", headers=h)
        history = await c.get(f"/parties/{pid}/history", headers=h)
        visible = one.status_code == 200
        # Every way in agrees: the party, the search, its asset, its history.
        assert visible == (len(found) == 1) == (policy["id"] in listed) == (asset.status_code == 200) \
            == (history.status_code == 200), local
        if not visible:
            assert one.status_code == asset.status_code == history.status_code == 404
            assert one.json()["title"] == "Cliente o parte no encontrado"
        return visible

    assert await sees("admin") and await sees("ejecutiva")
    assert not await sees("ejecutivo") and not await sees("supervisora") and not await sees("lectura")
    r = await c.post(f"/parties/{pid}/contacts", json={"name": "X"}, headers=await s.auth("ejecutivo"))
    assert r.status_code == 404  # not a 403: its existence is not revealed
    # The helper cases use (R2.7 hides the party's cases too).
    async with s.rt["intake"].db.engine.connect() as conn:
        exe = Principal(tenant="inmobiliaria-demo", roles=frozenset({Role.EXECUTOR}), user_id=ejecutivo)
        shared = Principal(tenant="inmobiliaria-demo", roles=frozenset({Role.EXECUTOR}), user_id=ejecutiva)
        assert not await can_see_party_id(conn, exe, uuid.UUID(pid))
        assert await can_see_party_id(conn, shared, uuid.UUID(pid)) and await can_see_party_id(conn, exe, None)
        q = select(parties.c.id).where(parties.c.tenant == "inmobiliaria-demo", party_visible(exe, parties.c.id))
        assert uuid.UUID(pid) not in set((await conn.execute(q)).scalars())
        q = select(parties.c.id).where(parties.c.tenant == "inmobiliaria-demo", party_visible(shared, parties.c.id))
        assert uuid.UUID(pid) in set((await conn.execute(q)).scalars())

    # The admin shares it with the supervisor too; then opens it to everyone.
    r = await c.put(f"/parties/{pid}/sharing", json={"restricted": True,
                                                     "shared_with": [str(ejecutiva), str(supervisora)]},
                    headers=await s.auth("admin"))
    assert r.status_code == 200 and set(r.json()["shared_with"]) == {str(ejecutiva), str(supervisora)}
    assert await sees("supervisora") and not await sees("ejecutivo")
    r = await c.put(f"/parties/{pid}/sharing", json={"restricted": False}, headers=await s.auth("admin"))
    assert r.status_code == 200 and r.json()["restricted"] is False and r.json()["shared_with"] == []
    assert await sees("ejecutivo") and await sees("lectura")

    # An executor restricts a party they created: they keep seeing it; a colleague doesn't.
    mine = await create_party(s, {"kind": "prospect", "name": "Prospecto reservado", "restricted": True},
                              as_user="ejecutivo")
    h = await s.auth("ejecutivo")
    assert (await c.get(f"/parties/{mine['id']}", headers=h)).status_code == 200
    assert (await c.get(f"/parties/{mine['id']}", headers=await s.auth("ejecutiva"))).status_code == 404
    r = await c.put(f"/parties/{mine['id']}/sharing", json={"restricted": True, "shared_with": [str(ejecutiva)]},
                    headers=h)
    assert r.status_code == 200
    assert (await c.get(f"/parties/{mine['id']}", headers=await s.auth("ejecutiva"))).status_code == 200
    # …but the colleague it is shared with may not re-share it.
    r = await c.put(f"/parties/{mine['id']}/sharing", json={"restricted": False}, headers=await s.auth("ejecutiva"))
    assert r.status_code == 403 and r.json()["detail"].startswith("Sólo un administrador o quien creó")


@pytest.mark.integration
async def test_search_by_name_national_id_email_phone_and_keyset_paging(rabbit_system: System) -> None:
    s = rabbit_system
    c = s.intake
    h = await s.auth("supervisora")
    made = {}
    for name, kind, nid, email, phone in (
            ("Héctor Contreras", "owner", "10.359.182-1", "hector@example.cl", "+56912345678"),
            ("HECTOR ALVARADO", "lessee", None, None, None),
            ("Ana María Pérez", "owner", "12.345.678-5", "ana.perez@correo.cl", "+56987654321"),
            ("Constructora 50%_Sur", "company", "76.086.428-5", None, None),
            ("Beatriz Soto", "non_owner", None, None, "+56955501234"),
            ("Carlos Díaz", "prospect", None, None, None),
            ("Daniela Ríos", "stakeholder", None, None, None)):
        body = {"kind": kind, "name": name, "national_id": nid, "email": email, "phone": phone}
        made[name] = await create_party(s, {k: v for k, v in body.items() if v is not None}, as_user="supervisora")
    await c.post(f"/parties/{made['Carlos Díaz']['id']}/contacts",
                 json={"name": "Pedro Díaz", "email": "pedro@constructora-diaz.cl", "phone": "+56944433322"}, headers=h)

    async def names(**params: Any) -> list[str]:
        r = await c.get("/parties", params=params, headers=h)
        assert r.status_code == 200, r.text
        return [p["name"] for p in r.json()["items"]]

    assert await names(name="hector") == ["HECTOR ALVARADO", "Héctor Contreras"]  # case, accents; by name
    assert await names(name="MARÍA pé") == ["Ana María Pérez"]
    assert await names(name="50%_") == ["Constructora 50%_Sur"]  # wildcards are literal
    assert await names(national_id="10359182-1") == ["Héctor Contreras"]
    assert await names(national_id="103591821") == ["Héctor Contreras"]
    assert await names(national_id="12.345.678-5") == ["Ana María Pérez"]
    assert await names(email="CORREO.cl") == ["Ana María Pérez"]
    assert await names(email="constructora-diaz") == ["Carlos Díaz"]  # a contact's e-mail finds the party
    assert await names(phone="9 5550 1234") == ["Beatriz Soto"]
    assert await names(phone="+56944433322") == ["Carlos Díaz"]
    assert await names(q="12.345.678-5") == ["Ana María Pérez"]
    assert await names(q="hector@example") == ["Héctor Contreras"]
    assert await names(kind=["owner", "lessee"], name="h") == ["HECTOR ALVARADO", "Héctor Contreras"]
    assert await names(name="hector", kind="owner") == ["Héctor Contreras"]
    assert await names(name="zzz") == []
    r = await c.get("/parties", params={"phone": "12"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "#/query/phone"

    # Keyset paging walks every party once, in name order, however small the page.
    everything = await names(limit=200)
    assert everything == sorted(everything, key=rules.fold)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await c.get("/parties", params=params, headers=h)).json()
        seen += [p["name"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything and len(seen) == 7
    for bad in ("not-a-cursor", "WyJ4Il0"):
        r = await c.get("/parties", params={"cursor": bad}, headers=h)
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "invalid_cursor"
    r = await c.get("/parties", params={"limit": 0, "kind": "alien"}, headers=h)
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"limit", "kind.0"}


@pytest.mark.integration
async def test_assets_policy_property_product_with_owner(rabbit_system: System) -> None:
    s = rabbit_system
    c = s.intake
    h = await s.auth("ejecutiva")
    owner = await create_party(s, {"kind": "owner", "name": "Francisca Méndez", "national_id": "14.123.456-0"})
    r = await c.post("/assets", json={"kind": "property", "code": "LR-A-1204", "name": "Los Robles depto. 1204",
                                      "attributes": {"tower": "A", "parking": "E-45"}, "party_id": owner["id"]},
                     headers=h)
    assert r.status_code == 201 and r.headers["location"] == f"/assets/{r.json()['id']}"
    prop = r.json()
    assert prop["read_only"] is False and prop["party_id"] == owner["id"] and prop["attributes"]["tower"] == "A"
    dup = await c.post("/assets", json={"kind": "property", "code": "LR-A-1204", "name": "Otra"}, headers=h)
    assert dup.status_code == 422 and dup.json()["errors"][0]["code"] == "duplicate_code"
    # The same code is fine for another kind of asset.
    assert (await c.post("/assets", json={"kind": "product", "code": "LR-A-1204", "name": "Seguro hogar"},
                         headers=h)).status_code == 201
    bad = await c.post("/assets", json={"kind": "car", "code": " ", "name": "", "party_id": str(uuid.uuid4())},
                       headers=h)
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"kind", "code", "name"}
    unknown = await c.post("/assets", json={"kind": "policy", "code": "P-1", "name": "X", "party_id": str(uuid.uuid4())},
                           headers=h)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "party_id"

    r = await c.patch(f"/assets/{prop['id']}", json={"name": "Los Robles departamento 1204"}, headers=h)
    assert r.status_code == 200 and r.json()["name"] == "Los Robles departamento 1204"
    r = await c.patch(f"/assets/{prop['id']}", json={"attributes": None, "active": None}, headers=h)
    assert r.status_code == 422 and sorted(e["field"] for e in r.json()["errors"]) == ["active", "attributes"]
    assert (await c.get(f"/assets/{prop['id']}", headers=h)).json()["name"] == "Los Robles departamento 1204"
    held = (await c.get(f"/parties/{owner['id']}/assets", headers=h)).json()["items"]
    assert [a["code"] for a in held] == ["LR-A-1204"]
    assert (await c.get("/assets", params={"q": "robles"}, headers=h)).json()["items"][0]["id"] == prop["id"]
    assert (await c.delete(f"/assets/{prop['id']}", headers=h)).status_code == 204
    assert (await c.get(f"/assets/{prop['id']}", headers=h)).json()["active"] is False
    assert (await c.get("/assets", params={"active": True, "kind": "property"}, headers=h)).json()["items"] == []
    assert (await c.get(f"/assets/{prop['id']}", headers=await s.auth("admin", GAS))).status_code == 404


SUPPLIES_CSV = (
    "external_id;name;party_national_id;party_name;party_kind;tariff;meter\n"
    "GM-1001;Medidor Los Aromos 456;7.654.321-6;Rosa Pizarro;person;BT-1;G4-1\n"
    "GM-1002;Medidor Los Aromos 458;7.654.321-6;;;BT-1;G4-2\n"
    "GM-1003;Medidor Pajaritos 3300;15614076-4;Fogón Ltda.;company;AT-2;G4-3\n"
    "GM-1004;Estanque granel Maipú;;;;;\n"
)


@pytest.mark.integration
async def test_r2_1_supplies_come_only_from_the_billing_import_and_are_read_only(rabbit_system: System) -> None:
    s = rabbit_system
    c = s.intake
    admin = await s.auth("admin", GAS)
    csv_h = {**admin, "Content-Type": "text/csv"}
    first = await c.post("/supplies/import", content=SUPPLIES_CSV.encode(), headers=csv_h)
    assert first.status_code == 200, first.text
    res = first.json()
    assert (res["created"], res["updated"], res["unchanged"], res["parties_created"]) == (3, 0, 0, 1)
    assert res["errors"] == [{"row": 3, "external_id": "GM-1003", "field": "party_national_id",
                              "code": "invalid_national_id",
                              "message": "El RUT no es válido (revise el dígito verificador)."}]
    # The holder was created once, normalised, and holds both of their supplies.
    found = (await c.get("/parties", params={"national_id": "7654321-6"}, headers=admin)).json()["items"]
    assert len(found) == 1 and found[0]["name"] == "Rosa Pizarro" and found[0]["source"] == "billing_import"
    held = (await c.get(f"/parties/{found[0]['id']}/assets", headers=admin)).json()["items"]
    assert [(a["code"], a["kind"], a["attributes"]) for a in held] == [
        ("GM-1001", "supply", {"tariff": "BT-1", "meter": "G4-1"}),
        ("GM-1002", "supply", {"tariff": "BT-1", "meter": "G4-2"})]
    assert all(a["read_only"] and a["source"] == "billing_import" for a in held)
    events_before = await events(s, "asset.upserted.v1")

    # Importing the same file again changes nothing and emits nothing (idempotent).
    again = (await c.post("/supplies/import", content=SUPPLIES_CSV.encode(), headers=csv_h)).json()
    assert (again["created"], again["updated"], again["unchanged"], again["parties_created"]) == (0, 0, 3, 0)
    assert await events(s, "asset.upserted.v1") == events_before

    # JSON from an API key: one changed, one unchanged, one new; bad rows reported, others loaded.
    key = (await c.post("/api-keys", json={"name": "facturación"}, headers=admin)).json()["key"]
    rows = [{"external_id": "GM-1001", "name": "Medidor Los Aromos 456", "party_national_id": "7654321-6",
             "tariff": "BT-1", "meter": "G4-1"},
            {"external_id": "GM-1002", "name": "Medidor Los Aromos 458 (cortado)", "party_national_id": "76543216",
             "active": False, "attributes": {"tariff": "BT-1", "meter": "G4-2", "status": "cortado por deuda"}},
            {"external_id": "GM-1005", "name": "Medidor nuevo", "party_national_id": "12.345.678-5"},
            {"external_id": "GM-1006", "name": "Sin titular identificado", "party_name": "Sin RUT"},
            {"external_id": "GM-1001", "name": "Repetido"},
            "not an object",
            {"external_id": "GM 1007!", "active": "quizás"}]
    r = await c.post("/supplies/import", json={"supplies": rows}, headers={"X-API-Key": key, "Accept-Language": "en"})
    assert r.status_code == 200, r.text
    res = r.json()
    assert (res["created"], res["updated"], res["unchanged"]) == (0, 1, 1)
    assert sorted((e["row"], e["field"], e["code"]) for e in res["errors"]) == [
        (3, "party_name", "party_name_required"),
        (4, "party_national_id", "party_national_id_required"),
        (5, "external_id", "duplicate_in_batch"),
        (6, "row", "model_type"),
        (7, "active", "bool_parsing"), (7, "external_id", "string_pattern_mismatch"), (7, "name", "missing")],\
        res["errors"]
    assert any(e["message"] == "The holder does not exist: give their name to create them." for e in res["errors"])
    cut = (await c.get("/assets", params={"code": "GM-1002"}, headers=admin)).json()["items"][0]
    assert cut["active"] is False and cut["attributes"]["status"] == "cortado por deuda"

    # Read-only everywhere else: not created, changed or deleted by users (R2.1).
    for local in ("admin", "ejecutiva"):
        h = await s.auth(local, GAS)
        r = await c.patch(f"/assets/{cut['id']}", json={"name": "Otro"}, headers=h)
        assert r.status_code == 403 and r.json()["detail"].startswith("Los suministros se importan desde el sistema")
        r = await c.delete(f"/assets/{cut['id']}", headers={**h, "Accept-Language": "en"})
        assert r.status_code == 403 and r.json()["detail"].startswith("Supplies are imported from the billing system")
        r = await c.post("/assets", json={"kind": "supply", "code": "GM-9", "name": "X"}, headers=h)
        assert r.status_code == 403
    assert (await c.put(f"/assets/{cut['id']}", json={"name": "X"}, headers=admin)).status_code == 405
    assert (await c.get(f"/assets/{cut['id']}", headers=admin)).json()["name"] == "Medidor Los Aromos 458 (cortado)"

    # Bodies that are not a usable file at all.
    r = await c.post("/supplies/import", content=b"external_id,name", headers={**admin, "Content-Type": "text/plain"})
    assert r.status_code == 415
    r = await c.post("/supplies/import", content=b"codigo;nombre\n1;x\n", headers=csv_h)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "missing_columns"
    r = await c.post("/supplies/import", content=b"{nope", headers={**admin, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "json_invalid"
    r = await c.post("/supplies/import", json={"supplies": []}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "empty_import"
    # Another tenant's import touches only its own supplies.
    other = await c.post("/supplies/import", json=[{"external_id": "GM-1001", "name": "Otro cliente"}],
                         headers=await s.auth("admin"))
    assert other.json()["created"] == 1
    assert (await c.get("/assets", params={"code": "GM-1001"}, headers=admin)).json()["items"][0]["name"] == \
        "Medidor Los Aromos 456"

    async def copied() -> bool:
        async with s.rt["reporting"].db.engine.connect() as conn:
            row = (await conn.execute(select(asset_facts).where(asset_facts.c.asset_id == uuid.UUID(cut["id"])))).first()
        return row is not None and row.active is False and row.kind == "supply"

    await wait_for(copied, what="reporting's copy of the supply")


async def test_demo_parties_load_once_and_work_embedded(embedded_system: System) -> None:
    """On SQLite (embedded mode): the demo parties load idempotently, accent-insensitive search
    works, and the restricted demo stakeholder is seen only by whom it is shared with (R2.7)."""
    s = embedded_system
    db = s.rt["intake"].db
    assert await load_parties(db) > 20
    assert await load_parties(db) == 0
    c = s.intake
    h = await s.auth("ejecutiva", "electrica-demo")
    r = await c.get("/parties", params={"name": "maria elena"}, headers=h)
    assert [p["national_id"] for p in r.json()["items"]] == ["00016297-5"]
    supplies = (await c.get("/assets", params={"kind": "supply"}, headers=h)).json()["items"]
    assert [a["code"] for a in supplies] == ["100200300", "100200301"]
    siget = demo_id("electrica-demo", "party", "siget")
    assert (await c.get(f"/parties/{siget}", headers=h)).status_code == 404
    tech = await s.auth("gerencia.tecnica", "electrica-demo")
    assert (await c.get(f"/parties/{siget}", headers=tech)).status_code == 200
    # Its assets too — the party has no creator (seeded): nothing NULL may let it through.
    r = await c.post("/assets", json={"kind": "product", "code": "REG-1", "name": "Pliego tarifario",
                                      "party_id": str(siget)}, headers=await s.auth("admin", "electrica-demo"))
    assert r.status_code == 201
    asset = r.json()["id"]
    key = (await c.post("/api-keys", json={"name": "bi"}, headers=await s.auth("admin", "electrica-demo"))).json()["key"]
    for hidden_from in (h, {"X-API-Key": key}):
        assert (await c.get(f"/assets/{asset}", headers=hidden_from)).status_code == 404
        assert (await c.get("/assets", params={"kind": "product"}, headers=hidden_from)).json()["items"] == []
    assert (await c.get(f"/assets/{asset}", headers=tech)).status_code == 200
    internal = (await c.get("/parties", params={"kind": "stakeholder", "internal": True}, headers=h)).json()["items"]
    assert [p["name"] for p in internal] == ["Gerencia de Tecnología (cliente interno)"]
    r = await c.post("/supplies/import", content=b"external_id,name\n100200300,Suministro renombrado\n",
                     headers={**await s.auth("admin", "electrica-demo"), "Content-Type": "text/csv"})
    assert r.json()["updated"] == 1
    # An import with the holder's DUI links the existing demo party instead of creating one.
    r = await c.post("/supplies/import", json=[{"external_id": "100200399", "name": "Nuevo",
                                                "party_national_id": "000162975"}],
                     headers=await s.auth("admin", "electrica-demo"))
    assert r.json()["created"] == 1 and r.json()["parties_created"] == 0

    async def copied() -> bool:
        async with s.rt["reporting"].db.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(party_facts))).scalar_one()) >= 15

    await wait_for(copied, what="reporting's copies of the demo parties")
